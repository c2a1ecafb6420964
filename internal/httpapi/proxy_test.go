package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

func TestClientAddressBehindTrustedProxies(t *testing.T) {
	s := newServer(t, sqltest.SQLite(t))
	api := httpapi.New(s.svc, nil, nil)
	var got string
	api.Mux().HandleFunc("GET /test-client-ip", func(w http.ResponseWriter, r *http.Request) { got = api.ClientIP(r) })
	api.TrustProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")})
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct client", "203.0.113.9:5000", "", "203.0.113.9"},
		{"untrusted peer cannot claim another address", "203.0.113.9:5000", "198.51.100.1", "203.0.113.9"},
		{"trusted proxy", "10.1.2.3:5000", "198.51.100.1", "198.51.100.1"},
		{"chain of trusted proxies", "10.1.2.3:5000", "198.51.100.1, 10.9.9.9", "198.51.100.1"},
		{"a forged left-most entry is ignored", "10.1.2.3:5000", "192.0.2.66, 198.51.100.1", "198.51.100.1"},
		{"malformed chain keeps the proxy", "10.1.2.3:5000", "not-an-ip", "10.1.2.3"},
		{"trusted proxy without the header", "10.1.2.3:5000", "", "10.1.2.3"},
		{"IPv6 proxy", "[::1]:5000", "2001:db8::7", "2001:db8::7"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/test-client-ip", nil)
		req.RemoteAddr = tt.remote
		if tt.xff != "" {
			req.Header.Set("X-Forwarded-For", tt.xff)
		}
		got = ""
		api.ServeHTTP(httptest.NewRecorder(), req)
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
