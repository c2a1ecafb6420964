package portos

import (
	"net/http"
	"testing"

	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestFailMapsEveryError: every domain error is Portos' shape {title, status} with the
// native status; 429 and 503 carry Retry-After; nothing internal leaks.
func TestFailMapsEveryError(t *testing.T) {
	s := dialecttest.Start(t, sqltest.SQLite(t))
	d := &api{svc: s.Svc, host: s.Host}
	dialecttest.CheckErrorMapping(t, "GET", "/apikeys", func(w http.ResponseWriter, r *http.Request, err error) { d.host.WriteError(w, r, err) },
		func(body map[string]any, status int) bool {
			return body["status"] == float64(status) && body["title"] != nil
		})
}
