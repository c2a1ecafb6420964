package piercloud

import (
	"net/http"
	"testing"

	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestFailMapsEveryError: every domain error is Pier Cloud's shape with the native
// status; 429 and 503 carry Retry-After; nothing internal leaks.
func TestFailMapsEveryError(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t))
	d := &api{svc: s.Svc, host: s.Host}
	dialecttest.CheckErrorMapping(t, "GET", "/auth", func(w http.ResponseWriter, r *http.Request, err error) { d.fail(w, r, err) },
		func(body map[string]any, status int) bool {
			return body["code"] != nil && body["code"] != "" && body["message"] != nil && body["message"] != ""
		})
}
