package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keyward/keyward"
)

// TestEveryCodeOnTheNativeAPI: every code of keyward.Codes, the one table,
// is answered by the native API's adapter as a problem with the table's
// status and the code, and by the OAuth2 endpoints' adapter with the same
// status (RFC 6749's shape for the codes it knows, a problem otherwise);
// 401 carries a challenge, 429 and 503 Retry-After.
func TestEveryCodeOnTheNativeAPI(t *testing.T) {
	s := &Server{logger: slog.New(slog.DiscardHandler)}
	for _, c := range keyward.Codes {
		t.Run(c.Code, func(t *testing.T) {
			err := keyward.Errorf(c.Code, "refused: %s", c.Meaning)
			rec := httptest.NewRecorder()
			answer(func(w http.ResponseWriter, r *http.Request) error { return err }, s.writeError).
				ServeHTTP(rec, httptest.NewRequest("GET", "/v1/whoami", nil))
			var p Problem
			if json.Unmarshal(rec.Body.Bytes(), &p); rec.Code != c.Status || p.Status != c.Status || p.Code != c.Code ||
				rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("native: got %d %s %s, want %d with code %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body, c.Status, c.Code)
			}
			checkHeaders(t, "native", rec, c.Status)

			rec = httptest.NewRecorder()
			answer(func(w http.ResponseWriter, r *http.Request) error { return err }, s.writeOAuthError).
				ServeHTTP(rec, httptest.NewRequest("POST", "/oauth2/token", nil))
			var body map[string]any
			if json.Unmarshal(rec.Body.Bytes(), &body); rec.Code != c.Status || (body["error"] == nil && body["code"] != c.Code) {
				t.Errorf("oauth: got %d %s, want %d with an OAuth2 error or a problem", rec.Code, rec.Body, c.Status)
			}
			checkHeaders(t, "oauth", rec, c.Status)
		})
	}
}

func checkHeaders(t *testing.T, surface string, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if (rec.Header().Get("WWW-Authenticate") != "") != (status == http.StatusUnauthorized) {
		t.Errorf("%s: %d with WWW-Authenticate %q", surface, status, rec.Header().Get("WWW-Authenticate"))
	}
	retry := status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
	if (rec.Header().Get("Retry-After") != "") != retry {
		t.Errorf("%s: %d with Retry-After %q", surface, status, rec.Header().Get("Retry-After"))
	}
}

// TestJSONKindNamesNoGoType: a body of the wrong JSON type is explained in
// JSON's words, never with a Go type's name.
func TestJSONKindNamesNoGoType(t *testing.T) {
	for goType, want := range map[string]string{
		"keyward.ImportLine": "an object", "*keyward.RateLimit": "an object", "map[string]any": "an object",
		"int64": "an integer", "string": "a string", "[]string": "an array", "time.Time": "an RFC 3339 time",
	} {
		if got := jsonKind(goType); got != want {
			t.Errorf("jsonKind(%q) = %q, want %q", goType, got, want)
		}
	}
}
