// Package dialect holds what the compatibility dialects share. Each dialect
// (carbonext, piercloud, ...) only translates another system's documented
// requests and responses onto keyward's Service: every rule — permissions,
// levels, no escalation, tenants, secrets shown once, audit — stays there.
package dialect

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/gate"
)

// Host is what a dialect needs of the native API it is mounted beside:
// authentication with every scheme of keyward, and its problem answers.
type Host interface {
	Authenticate(r *http.Request) (*keyward.Principal, error)
	WriteError(w http.ResponseWriter, r *http.Request, err error)
	// ErrorStatus is the status of err from the native API's one table; it
	// sets the headers that go with it (WWW-Authenticate, RateLimit-*,
	// Retry-After on 429 and 503) and logs internal errors. Dialects that
	// answer errors in their own shape use it, so a rate-limited or
	// unavailable request is 429 or 503 with Retry-After everywhere.
	ErrorStatus(w http.ResponseWriter, r *http.Request, err error) int
	// ClientIP is the caller's address, for the failed-authentication limit.
	ClientIP(r *http.Request) string
	// Serve runs h for p, the principal Authenticate returned for r, as the
	// native API runs its authenticated handlers: a request refused as not
	// allowed (h wrote a 403, or returned an error the native table makes
	// 403) gives back the credits p's key spent on it. Every dialect route
	// that authenticates a principal runs through it.
	Serve(w http.ResponseWriter, r *http.Request, p *keyward.Principal, h func(http.ResponseWriter, *http.Request, *keyward.Principal) error) error
	// Idempotent makes h honour an Idempotency-Key header as the native
	// create and rotate do: the same caller sending the same request with
	// the same key within 24 hours gets h's first successful answer again
	// (kept sealed), another request with the key is EIDEMREUSED (422), and
	// a duplicate while the first runs EIDEMINPROGRESS (409); both errors
	// are returned for the dialect's adapter to answer. Every dialect route
	// that creates a key or hands out a new secret is wrapped in it.
	Idempotent(h func(http.ResponseWriter, *http.Request, *keyward.Principal) error) func(http.ResponseWriter, *http.Request, *keyward.Principal) error
}

// Handler is a dialect's handler: it answers success itself and returns
// any error, which the dialect's one adapter (Answer) turns into the
// dialect's error shape.
type Handler func(w http.ResponseWriter, r *http.Request) error

// Answer adapts h to net/http: the error h returns is answered by write,
// the dialect's error writer (with the native API's status and headers).
func Answer(h Handler, write func(http.ResponseWriter, *http.Request, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			write(w, r, err)
		}
	}
}

// MaxBody bounds every dialect request body, as on the native API.
const MaxBody = 1 << 20

// DecodeJSON reads a JSON body of at most MaxBody into v; shape is the
// message for a body that does not decode. Unknown members are ignored, as
// the original systems (Spring, ASP.NET, Express) ignore them: a client
// that sends back a model it read, or a newer model, keeps working. The
// native API stays strict.
func DecodeJSON(r *http.Request, v any, shape string) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return keyward.Errorf(keyward.EINVALID, "could not read the request body")
	}
	if len(body) > MaxBody {
		return keyward.Errorf(keyward.ETOOLARGE, "the request body is larger than 1 MiB")
	}
	if err := gate.JSON(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil || dec.More() {
		return keyward.Errorf(keyward.EINVALID, "%s", shape)
	}
	return nil
}

// RenameField reports a Service field error under the dialect's name.
func RenameField(err error, from, to string) error {
	var e *keyward.Error
	if !errors.As(err, &e) {
		return err
	}
	out := *e
	out.Fields = nil
	for _, f := range e.Fields {
		if f.Field == from {
			f.Field = to
			out.Message = to + ": " + f.Message
		}
		out.Fields = append(out.Fields, f)
	}
	return &out
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// FormDecode undoes the form encoding OAuth2 clients apply to Basic
// credentials (RFC 6749 §2.3.1).
func FormDecode(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// Whole reads a JSON number that must be a whole number between lo and hi:
// 3600, 3600.0 (what Python's timedelta.total_seconds() gives) and 3.6e3 are
// the same number; 2.5 is not whole. field names it in the error.
func Whole(n json.Number, field string, lo, hi int64) (int64, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, keyward.Invalid(keyward.FieldError{Field: field,
			Message: "must be a whole number from " + strconv.FormatInt(lo, 10) + " to " + strconv.FormatInt(hi, 10)})
	}
	return int64(f), nil
}
