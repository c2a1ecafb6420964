package freesewing

import (
	"net/http"
	"testing"

	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestFailMapsEveryError: every domain error is FreeSewing's shape with the native
// status; 429 and 503 carry Retry-After; nothing internal leaks.
func TestFailMapsEveryError(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t))
	d := &api{svc: s.Svc, host: s.Host}
	dialecttest.CheckErrorMapping(t, "GET", "/whoami/key", func(w http.ResponseWriter, r *http.Request, err error) { d.fail(w, r, err) },
		func(body map[string]any, status int) bool {
			return body["result"] == "error" && body["error"] != nil && body["error"] != ""
		})
}
