package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/keyward/keyward/internal/httpapi"
)

// TestUnmatchedRoutesAnswerProblems: a path no route serves is a 404
// problem and a method a route does not take a 405 problem with Allow, not
// the mux's plain text.
func TestUnmatchedRoutesAnswerProblems(t *testing.T) {
	s := sqliteServer(t)
	tests := []struct {
		method, path string
		want         int
		wantCode     string
		wantAllow    string
	}{
		{"GET", "/nowhere", http.StatusNotFound, "not_found", ""},
		{"GET", "/healthz/0", http.StatusNotFound, "not_found", ""},
		{"DELETE", "/healthz", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{"PUT", "/v1/apikeys", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := s.raw(tt.method, tt.path, "", nil)
			if res.Status != tt.want {
				t.Fatalf("got %d %s, want %d", res.Status, res.Body, tt.want)
			}
			var p httpapi.Problem
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type: got %q, want application/problem+json", ct)
			}
			if err := json.Unmarshal(res.Body, &p); err != nil || p.Code != tt.wantCode || p.Status != tt.want {
				t.Errorf("got %s, want a problem with code %s and status %d", res.Body, tt.wantCode, tt.want)
			}
			if got := res.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow: got %q, want %q", got, tt.wantAllow)
			}
		})
	}
}
