package dialecttest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// ErrorCase is a domain error and the status every surface must answer it
// with; Retry says whether Retry-After must come with it.
type ErrorCase struct {
	Err    error
	Status int
	Retry  bool
}

// ErrorCases covers every code of keyward.Codes, the one table, with the
// status it gives (a rate-limited and a spent key also as the Service
// returns them, with the wait), and an internal error. A code added to the
// table is checked on every dialect.
var ErrorCases = func() []ErrorCase {
	cases := []ErrorCase{
		{keyward.Invalid(keyward.FieldError{Field: "name", Message: "is required"}), http.StatusBadRequest, false},
		{&keyward.Error{Code: keyward.ERATELIMITED, Message: "slow down", Rate: &keyward.RateStatus{Limit: 1, Reset: 7}}, http.StatusTooManyRequests, true},
		{&keyward.Error{Code: keyward.EUSAGEEXCEEDED, Message: "spent", RetryAfter: 3600}, http.StatusTooManyRequests, true},
	}
	for _, c := range keyward.Codes {
		retry := c.Status == http.StatusTooManyRequests || c.Status == http.StatusServiceUnavailable
		cases = append(cases, ErrorCase{keyward.Errorf(c.Code, "refused: %s", c.Meaning), c.Status, retry})
	}
	return append(cases, ErrorCase{errors.New("disk on fire"), http.StatusInternalServerError, false})
}()

// CheckErrorMapping sends every ErrorCase through write, a dialect's error
// writer, for a method and path of the dialect, and checks each answer: the
// native status, Retry-After exactly with 429 and 503, the dialect's own
// shape (shaped says whether a decoded body is it) and no internal detail.
func CheckErrorMapping(t *testing.T, method, path string, write func(http.ResponseWriter, *http.Request, error),
	shaped func(body map[string]any, status int) bool) {
	t.Helper()
	for _, tc := range ErrorCases {
		t.Run(keyward.ErrorCode(tc.Err), func(t *testing.T) {
			rec := httptest.NewRecorder()
			write(rec, httptest.NewRequest(method, path, nil), tc.Err)
			var body map[string]any
			json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.Status || !shaped(body, tc.Status) || (rec.Header().Get("Retry-After") != "") != tc.Retry {
				t.Errorf("got %d Retry-After %q %s, want %d (Retry-After %v) in the dialect's shape",
					rec.Code, rec.Header().Get("Retry-After"), rec.Body, tc.Status, tc.Retry)
			}
			if strings.Contains(rec.Body.String(), "fire") {
				t.Errorf("an internal error leaks: %s", rec.Body)
			}
		})
	}
}
