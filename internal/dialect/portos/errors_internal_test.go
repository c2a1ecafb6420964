package portos

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestFailMapsEveryError: every domain error is Portos' shape {title, status} with the
// native status; 429 and 503 carry Retry-After; nothing internal leaks.
func TestFailMapsEveryError(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t))
	d := &api{svc: s.Svc, host: s.Host}
	for _, tc := range dialecttest.ErrorCases {
		t.Run(keyward.ErrorCode(tc.Err), func(t *testing.T) {
			rec := httptest.NewRecorder()
			d.host.WriteError(rec, httptest.NewRequest("GET", "/apikeys", nil), tc.Err)
			var body map[string]any
			json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.Status || body["status"] != float64(tc.Status) || body["title"] == nil || (rec.Header().Get("Retry-After") != "") != tc.Retry {
				t.Errorf("got %d Retry-After %q %s, want %d (Retry-After %v)", rec.Code, rec.Header().Get("Retry-After"), rec.Body, tc.Status, tc.Retry)
			}
			if strings.Contains(rec.Body.String(), "fire") {
				t.Errorf("an internal error leaks: %s", rec.Body)
			}
		})
	}
}
