package clientaddr

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestResolve(t *testing.T) {
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tt := range []struct {
		peer, xff, want string
	}{
		{"192.0.2.1:1234", "198.51.100.7", "192.0.2.1"},             // an untrusted peer is the client
		{"10.0.0.1:1234", "198.51.100.7", "198.51.100.7"},           // a proxy's forwarded client
		{"10.0.0.1:1234", "198.51.100.7, 10.0.0.2", "198.51.100.7"}, // right-most untrusted
		{"10.0.0.1:1234", "203.0.113.9, 198.51.100.7", "198.51.100.7"},
		{"10.0.0.1:1234", "garbage", "10.0.0.1"},              // a malformed chain keeps the proxy
		{"10.0.0.1:1234", "", "10.0.0.1"},                     // nothing forwarded
		{"[::1]:1234", "::ffff:198.51.100.7", "198.51.100.7"}, // mapped addresses unmapped
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		proxies.Resolve(r)
		if got := IP(r); got != tt.want {
			t.Errorf("peer %s, X-Forwarded-For %q: got %s, want %s", tt.peer, tt.xff, got, tt.want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1234"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	Proxies(nil).Resolve(r)
	if got := IP(r); got != "10.0.0.1" {
		t.Errorf("without trusted proxies: got %s, want the peer", got)
	}
}
