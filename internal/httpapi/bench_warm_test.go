package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire/wiretest"
)

// The warm benchmarks send keyward-bench's warm scenarios through the real
// handler (request id, log line, metrics, routing, authentication, the
// handler and its JSON) without a network, so that the cost a route adds
// to /healthz shows as ns/op, cpu-ns/op (the process's CPU time per
// request, which other load on the machine does not inflate) and
// allocs/op, and in a profile:
//
//	go test -run '^$' -bench 'Warm' -benchmem ./internal/httpapi
//	go test -run '^$' -bench 'Warm/whoami' -cpuprofile /tmp/cpu.out ./internal/httpapi
func BenchmarkWarm(b *testing.B) {
	// The request log goes where serve sends it, a JSON handler, here to
	// nowhere: its formatting is counted, not the write.
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	w := wiretest.Start(b, sqltest.SQLite(b), wiretest.Options{Logger: logger})
	// The request log as serve writes it by default (json).
	w.API.LogRequestsTo(httpapi.JSONRequestLog(io.Discard, slog.LevelInfo))
	s := &server{t: b, URL: w.URL, svc: w.Svc, admin: w.Admin, clock: w.Clock}
	var client, verifier struct{ ClientID, ClientSecret string }
	s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "bench client", "level": 1}, 201, &client)
	s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "bench verifier", "level": 1,
		"permissions": []map[string]string{{"name": "keys:verify"}}}, 201, &verifier)
	verifyBody := `{"key":"` + client.ClientSecret + `"}`
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
	}{
		{"healthz", "GET", "/healthz", "", nil},
		{"whoami", "GET", "/v1/whoami", "", map[string]string{"Authorization": "Bearer " + client.ClientSecret}},
		{"verify", "POST", "/v1/keys/verify", verifyBody, map[string]string{"Authorization": "Bearer " + verifier.ClientSecret, "Content-Type": "application/json"}},
		{"token", "POST", "/oauth2/token", "grant_type=client_credentials", map[string]string{"Authorization": basic(client.ClientID, client.ClientSecret), "Content-Type": "application/x-www-form-urlencoded"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := func() *http.Request {
				var r *http.Request
				if c.body != "" {
					r = httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
				} else {
					r = httptest.NewRequest(c.method, c.path, nil)
				}
				r.RemoteAddr = "127.0.0.1:40000"
				for k, v := range c.header {
					r.Header.Set(k, v)
				}
				return r
			}
			rec := httptest.NewRecorder()
			w.API.ServeHTTP(rec, req())
			if rec.Code != http.StatusOK {
				b.Fatalf("%s %s: got status %d, want 200; body %s", c.method, c.path, rec.Code, rec.Body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := sqltest.ProcessCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rec := httptest.NewRecorder()
					w.API.ServeHTTP(rec, req())
					if rec.Code != http.StatusOK {
						b.Errorf("got status %d", rec.Code)
						return
					}
				}
			})
			// The process's CPU time per request: unlike ns/op, it does
			// not grow when other processes share the machine.
			b.ReportMetric(float64(sqltest.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
