package client

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/keyward/keyward"
)

// Error is a non-2xx answer from the server, read from its RFC 9457
// problem+json body. Code is one of keyward's error codes (keyward.ENOTFOUND,
// keyward.EINVALID, ...); when the body is not a keyward problem (a proxy's
// error page, say), Code is derived from the status.
type Error struct {
	StatusCode int                  // HTTP status, e.g. 404
	Code       string               // machine code, e.g. "not_found"
	Title      string               // short summary, e.g. "Not Found"
	Detail     string               // what went wrong, safe to show
	Fields     []keyward.FieldError // one per invalid input field (code invalid)
	Type       string               // problem type URI, e.g. "urn:keyward:problem:not_found"
	RetryAfter time.Duration        // from Retry-After on 429 and 503; 0 if absent
}

// Error reads as one line fit for a terminal:
//
//	api key not found (HTTP 404, not_found)
//	the request is invalid: name: is required; level: must be between 0 and 8 (HTTP 400, invalid)
func (e *Error) Error() string {
	var b strings.Builder
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if msg == "" {
		msg = "request failed"
	}
	b.WriteString(msg)
	sep := ": "
	for _, f := range e.Fields {
		one := f.Field + ": " + f.Message
		if f.Field == "" {
			one = f.Message
		}
		if one == e.Detail {
			continue // keyward.Invalid puts a lone field error in the detail too
		}
		b.WriteString(sep)
		b.WriteString(one)
		sep = "; "
	}
	b.WriteString(" (HTTP ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.Code != "" {
		b.WriteString(", ")
		b.WriteString(e.Code)
	}
	b.WriteString(")")
	return b.String()
}

// HasCode reports whether err is (or wraps) an *Error with the given code,
// such as keyward.ENOTFOUND.
func HasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// problem is the RFC 9457 body keyward answers errors with.
type problem struct {
	Type   string               `json:"type"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail"`
	Code   string               `json:"code"`
	Errors []keyward.FieldError `json:"errors"`
}

// codeOfStatus gives a code to answers without one.
var codeOfStatus = map[int]string{
	http.StatusBadRequest:            keyward.EINVALID,
	http.StatusUnauthorized:          keyward.EUNAUTHORIZED,
	http.StatusForbidden:             keyward.EFORBIDDEN,
	http.StatusNotFound:              keyward.ENOTFOUND,
	http.StatusConflict:              keyward.ECONFLICT,
	http.StatusPreconditionFailed:    keyward.EPRECONDITION,
	http.StatusRequestEntityTooLarge: keyward.ETOOLARGE,
	http.StatusTooManyRequests:       keyward.ERATELIMITED,
	http.StatusBadGateway:            keyward.EUNAVAILABLE,
	http.StatusServiceUnavailable:    keyward.EUNAVAILABLE,
	http.StatusGatewayTimeout:        keyward.EUNAVAILABLE,
	http.StatusInternalServerError:   keyward.EINTERNAL,
}

// parseError turns a non-2xx answer into an *Error. It tolerates bodies
// that are not problem+json: plain text becomes the detail (one line, at
// most 200 characters); anything else (HTML, binary) is dropped.
func parseError(res *http.Response, body []byte) *Error {
	e := &Error{StatusCode: res.StatusCode}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	switch {
	case mt == "application/problem+json" || mt == "application/json" || (mt == "" && json.Valid(body)):
		var p problem
		if json.Unmarshal(body, &p) == nil {
			e.Type, e.Title, e.Detail, e.Code, e.Fields = p.Type, clean(p.Title), clean(p.Detail), p.Code, p.Errors
			for i, f := range e.Fields {
				e.Fields[i] = keyward.FieldError{Field: clean(f.Field), Message: clean(f.Message)}
			}
		}
	case mt == "text/plain":
		e.Detail = clean(string(body))
	}
	if e.Title == "" {
		e.Title = http.StatusText(res.StatusCode)
	}
	if e.Code == "" {
		e.Code = codeOfStatus[res.StatusCode]
		if e.Code == "" && res.StatusCode >= 500 {
			e.Code = keyward.EINTERNAL
		}
	}
	if s, err := strconv.Atoi(strings.TrimSpace(res.Header.Get("Retry-After"))); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// clean makes server text safe for a terminal: its first line only, no
// control characters, at most 200 characters.
func clean(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
