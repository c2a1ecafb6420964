package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/keyward/keyward"
)

// Idempotent makes h honour an Idempotency-Key header
// (draft-ietf-httpapi-idempotency-key-header): the same principal sending
// the same request (method, path, query, body) with the same key within 24
// hours gets the first answer again, secret included (kept sealed), with
// Idempotent-Replayed: true. The key with another request is 422
// idempotency_key_reused; while the first is running, 409
// idempotency_in_progress. Only successful answers are kept: after a
// failure the key may be retried.
//
// Idempotent is the same for the dialects (dialect.Host): h answers
// success in the dialect's shape, which is what is kept, and the errors
// come back to the dialect's adapter.
func (s *Server) Idempotent(h func(http.ResponseWriter, *http.Request, *keyward.Principal) error) func(http.ResponseWriter, *http.Request, *keyward.Principal) error {
	return s.idempotent(h)
}

// idempotent is Idempotent, for the native routes.
func (s *Server) idempotent(h func(http.ResponseWriter, *http.Request, *keyward.Principal) error) func(http.ResponseWriter, *http.Request, *keyward.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
		values := r.Header.Values("Idempotency-Key")
		if len(values) == 0 {
			return h(w, r, p)
		}
		key, ok := idempotencyKey(values)
		if !ok {
			return keyward.Invalid(keyward.FieldError{Field: "Idempotency-Key",
				Message: `must be one string of 1 to 255 printable ASCII characters, e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324"`})
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			return keyward.Errorf(keyward.EINVALID, "could not read the request body")
		}
		if len(body) > MaxBodyBytes {
			return keyward.Errorf(keyward.ETOOLARGE, "the request body is larger than 1 MiB")
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h256 := sha256.New()
		for _, part := range []string{r.Method, r.URL.Path, r.URL.RawQuery} {
			h256.Write([]byte(part))
			h256.Write([]byte{0})
		}
		h256.Write(body)
		kept, err := s.svc.BeginIdempotent(r.Context(), p, key, h256.Sum(nil))
		if err != nil {
			return err
		}
		if kept != nil {
			for name, v := range kept.Header {
				w.Header().Set(name, v)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(kept.Status)
			w.Write(kept.Body)
			return nil
		}
		cw := &answerCopier{ResponseWriter: w}
		defer func() {
			var a *keyward.IdempotentAnswer
			if cw.status >= 200 && cw.status < 300 {
				a = &keyward.IdempotentAnswer{Status: cw.status, Body: cw.body.Bytes(), Header: map[string]string{}}
				for _, name := range []string{"Content-Type", "ETag", "Location", "Cache-Control"} {
					if v := w.Header().Get(name); v != "" {
						a.Header[name] = v
					}
				}
			}
			// Kept even when the client went away: its retry finds it.
			if err := s.svc.FinishIdempotent(context.WithoutCancel(r.Context()), p, key, a); err != nil {
				s.logger.ErrorContext(r.Context(), "keeping an idempotent answer", slog.String("request_id", requestID(r.Context())), slog.Any("error", err))
			}
		}()
		return h(cw, r, p)
	}
}

// idempotencyKey reads the header's one value: a structured-field string
// ("…", as the draft specifies) or, leniently, a bare token.
func idempotencyKey(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	v := strings.TrimSpace(values[0])
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		if strings.ContainsAny(v, `"\`) {
			return "", false
		}
	}
	if v == "" || len(v) > keyward.MaxIdempotencyKey || strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
		return "", false
	}
	return v, true
}

// answerCopier copies what a handler answers, to keep it.
type answerCopier struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *answerCopier) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *answerCopier) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

func (c *answerCopier) Unwrap() http.ResponseWriter { return c.ResponseWriter }
