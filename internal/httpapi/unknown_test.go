package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestUnknownRoutes: a path under /v1, /oauth2 or /.well-known that no
// route serves answers problem+json, 404 or 405 with Allow.
func TestUnknownRoutes(t *testing.T) {
	s := sqliteServer(t)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/v1/nothing", http.StatusNotFound, "not_found", ""},
		{"GET", "/v1/apikeys/x/y/z", http.StatusNotFound, "not_found", ""},
		{"POST", "/v1/", http.StatusNotFound, "not_found", ""},
		{"GET", "/oauth2/authorize", http.StatusNotFound, "not_found", ""},
		{"GET", "/.well-known/nothing", http.StatusNotFound, "not_found", ""},
		{"DELETE", "/v1/whoami", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{"GET", "/oauth2/token", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"PUT", "/v1/apikeys", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
	}
	for _, tt := range tests {
		res := s.raw(tt.method, tt.path, "", nil)
		var p struct {
			Status int
			Code   string
		}
		err := json.Unmarshal(res.Body, &p)
		if res.Status != tt.status || err != nil || p.Status != tt.status || p.Code != tt.code ||
			res.Header.Get("Content-Type") != "application/problem+json" || res.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: got %d %s Allow %q %s, want %d problem+json %s Allow %q", tt.method, tt.path, res.Status,
				res.Header.Get("Content-Type"), res.Header.Get("Allow"), res.Body, tt.status, tt.code, tt.allow)
		}
	}
	// Served routes are unchanged.
	if res := s.raw("GET", "/v1/whoami", "Bearer "+s.admin, nil); res.Status != http.StatusOK {
		t.Errorf("GET /v1/whoami: got %d", res.Status)
	}
}
