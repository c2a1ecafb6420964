package carbonext

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestTokenErrorMapsEveryError: every domain error is Keycloak's token error shape with the
// native status; 429 and 503 carry Retry-After; nothing internal leaks.
func TestTokenErrorMapsEveryError(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t))
	d := &api{svc: s.Svc, host: s.Host}
	for _, tc := range dialecttest.ErrorCases {
		t.Run(keyward.ErrorCode(tc.Err), func(t *testing.T) {
			rec := httptest.NewRecorder()
			d.tokenError(rec, httptest.NewRequest("POST", "/auth/realms/x/protocol/openid-connect/token", nil), tc.Err)
			var body map[string]string
			json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.Status || body["error"] == "" || body["error_description"] == "" || (rec.Header().Get("Retry-After") != "") != tc.Retry {
				t.Errorf("got %d Retry-After %q %s, want %d (Retry-After %v)", rec.Code, rec.Header().Get("Retry-After"), rec.Body, tc.Status, tc.Retry)
			}
			if strings.Contains(rec.Body.String(), "fire") {
				t.Errorf("an internal error leaks: %s", rec.Body)
			}
		})
	}
}
