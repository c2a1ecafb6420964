package httpapi

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// nopWriter is the least a ResponseWriter can be: a header map cleared
// between requests, writes dropped.
type nopWriter struct {
	h      http.Header
	status int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) WriteHeader(code int)        { w.status = code }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }

// chainServer is a Server as serve configures it (JSON request log, a
// store budget) with no Service: /healthz and unmatched paths need none.
func chainServer() *Server {
	s := New(nil, slog.New(slog.DiscardHandler), nil)
	s.LogRequestsTo(JSONRequestLog(io.Discard, slog.LevelInfo))
	s.StoreBudget(5 * time.Second)
	return s
}

func healthzRequest() *http.Request {
	r, _ := http.NewRequest("GET", "http://127.0.0.1/healthz", nil)
	r.RemoteAddr, r.RequestURI = "127.0.0.1:40000", "/healthz"
	return r
}

// BenchmarkChainHealthz: keyward's handler chain around /healthz (request
// id, client address, store budget, routing, gate, metrics, the answer)
// without net/http's reading and writing.
//
//	go test -run '^$' -bench ChainHealthz -cpu 1 ./internal/httpapi
func BenchmarkChainHealthz(b *testing.B) {
	s, r0 := chainServer(), healthzRequest()
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		r := *r0
		clear(w.h)
		w.status = 0
		s.ServeHTTP(w, &r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// TestChainHealthzAllocs: the chain around /healthz allocated 13 times
// (1,576 bytes) at 11d7aeb with serve's storeBudget around it, 12 without;
// 6 (808 bytes) since the answer is pre-built and the store budget rides in
// the request's own context instead of a second copy of the request.
func TestChainHealthzAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s, r0 := chainServer(), healthzRequest()
	w := &nopWriter{h: http.Header{}}
	n := testing.AllocsPerRun(200, func() {
		r := *r0
		clear(w.h)
		s.ServeHTTP(w, &r)
	})
	if n > 6 {
		t.Errorf("GET /healthz through the chain: %v allocations, want at most 6", n)
	}
}

// TestHealthzBody: the pre-built answer is the bytes encode writes for
// {"status":"ok"}, with its Content-Type.
func TestHealthzBody(t *testing.T) {
	want := httptest.NewRecorder()
	encode(want, http.StatusOK, map[string]string{"status": "ok"})
	got := httptest.NewRecorder()
	chainServer().ServeHTTP(got, healthzRequest())
	if got.Code != http.StatusOK || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Errorf("got %d %q, want 200 %q", got.Code, got.Body, want.Body)
	}
	if ct := got.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
}

// TestStoreBudgetInContext: with StoreBudget(d) every request's context
// carries keyward.StoreBudget = its arrival + d (what serve's --db-timeout
// relies on), through the unmatched-route layer and the mux; without it,
// none.
func TestStoreBudgetInContext(t *testing.T) {
	for _, d := range []time.Duration{0, 3 * time.Second} {
		s := New(nil, nil, nil)
		s.StoreBudget(d)
		var got time.Time
		var ok bool
		s.Mux().HandleFunc("GET /budget", func(w http.ResponseWriter, r *http.Request) {
			got, ok = keyward.StoreBudget(r.Context())
		})
		before := time.Now()
		r := httptest.NewRequest("GET", "/budget", nil)
		s.ServeHTTP(httptest.NewRecorder(), r)
		after := time.Now()
		if d == 0 {
			if ok {
				t.Errorf("no StoreBudget: got a budget %v", got)
			}
			continue
		}
		if !ok || got.Before(before.Add(d)) || got.After(after.Add(d)) {
			t.Errorf("StoreBudget(%v): got %v %v, want between %v and %v", d, got, ok, before.Add(d), after.Add(d))
		}
	}
}
