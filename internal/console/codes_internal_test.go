package console

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestEveryCodeInTheConsole: every code of keyward.Codes, the one table,
// is answered by the console's adapter as a status page with the table's
// status, but 401, which goes back to the login form; internal detail is
// never shown.
func TestEveryCodeInTheConsole(t *testing.T) {
	c := &Console{logger: slog.New(slog.DiscardHandler), pages: parsePages()}
	for _, code := range keyward.Codes {
		t.Run(code.Code, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c.fail(rec, httptest.NewRequest("GET", Prefix+"/keys", nil), nil, keyward.Errorf(code.Code, "refused: %s", code.Meaning))
			if code.Status == http.StatusUnauthorized {
				if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), Prefix+"/login") {
					t.Errorf("got %d to %q, want 303 to the login form", rec.Code, rec.Header().Get("Location"))
				}
				return
			}
			body := rec.Body.String()
			if rec.Code != code.Status || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
				!strings.Contains(body, `class="card status"`) {
				t.Errorf("got %d %s, want a status page of %d", rec.Code, rec.Header().Get("Content-Type"), code.Status)
			}
			if code.Status >= 500 && strings.Contains(body, code.Meaning) {
				t.Errorf("a %d page shows the error's detail: %s", code.Status, body)
			}
		})
	}
}

// TestRefusalIsItsPage: a handler's refusal is answered with its own status
// and message, as it was written.
func TestRefusalIsItsPage(t *testing.T) {
	c := &Console{logger: slog.New(slog.DiscardHandler), pages: parsePages()}
	rec := httptest.NewRecorder()
	c.fail(rec, httptest.NewRequest("GET", Prefix+"/keys/new", nil), nil, refuse(http.StatusConflict, "This form was already sent."))
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "This form was already sent.") {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
}
