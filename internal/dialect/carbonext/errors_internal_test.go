package carbonext

import (
	"net/http"
	"testing"

	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestTokenErrorMapsEveryError: every domain error is Keycloak's token error shape with
// the native status; 429 and 503 carry Retry-After; nothing internal leaks.
func TestTokenErrorMapsEveryError(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t))
	d := &api{svc: s.Svc, host: s.Host}
	dialecttest.CheckErrorMapping(t, "POST", "/auth/realms/x/protocol/openid-connect/token", func(w http.ResponseWriter, r *http.Request, err error) { d.tokenError(w, r, err) },
		func(body map[string]any, status int) bool {
			return body["error"] != nil && body["error"] != "" && body["error_description"] != nil && body["error_description"] != ""
		})
}
