package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// TestClientGoneIsNotAnInternalError: an error that is the request's
// context canceled (the client went away) is logged at info as such, not
// as an internal error; any other internal error, or a cancel while the
// client is still there, is logged at error.
func TestClientGoneIsNotAnInternalError(t *testing.T) {
	for _, tt := range []struct {
		name      string
		err       error
		gone      bool
		wantLevel string
		wantMsg   string
	}{
		{"client went away", fmt.Errorf("deleting an api key: %w", context.Canceled), true, "INFO", "client went away"},
		{"another error after the client went away", errors.New("disk full"), true, "ERROR", "internal error"},
		{"canceled while the client is there", context.Canceled, false, "ERROR", "internal error"},
		{"an internal error", errors.New("disk full"), false, "ERROR", "internal error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := &Server{logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			r := httptest.NewRequest("DELETE", "/v1/apikeys/k1", nil)
			if tt.gone {
				ctx, cancel := context.WithCancel(r.Context())
				cancel()
				r = r.WithContext(ctx)
			}
			rec := httptest.NewRecorder()
			if got := s.ErrorStatus(rec, r, tt.err); got != http.StatusInternalServerError {
				t.Errorf("status: got %d, want 500", got)
			}
			var line struct{ Level, Msg string }
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line.Level != tt.wantLevel || line.Msg != tt.wantMsg {
				t.Errorf("log: got %s, want level %s and msg %q", logs.String(), tt.wantLevel, tt.wantMsg)
			}
		})
	}
}
