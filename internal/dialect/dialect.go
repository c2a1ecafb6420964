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
	"net/http"
	"net/url"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/gate"
)

// Host is what a dialect needs of the native API it is mounted beside:
// authentication with every scheme of keyward, and its problem answers.
type Host interface {
	Authenticate(r *http.Request) (*keyward.Principal, error)
	WriteError(w http.ResponseWriter, r *http.Request, err error)
	// ClientIP is the caller's address, for the failed-authentication limit.
	ClientIP(r *http.Request) string
}

// MaxBody bounds every dialect request body, as on the native API.
const MaxBody = 1 << 20

// DecodeJSON reads a JSON body of at most MaxBody into v, rejecting unknown
// fields; shape is the message for a body that does not decode.
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
	dec.DisallowUnknownFields()
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
