// Package keyward holds the domain of the keyward service: tenants, users,
// permissions, API keys, principals, the Store contract that every database
// backend implements, and the Service in which every business rule lives.
//
// Implementations (storage, HTTP, dialects) live in packages that import this
// one; this package imports none of them.
package keyward

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to exactly one HTTP status in internal/httpapi.
const (
	EINVALID         = "invalid"                  // 400: malformed or invalid input
	EUNAUTHORIZED    = "unauthorized"             // 401: no or bad credentials
	EFORBIDDEN       = "forbidden"                // 403: authenticated but not allowed
	ENOTFOUND        = "not_found"                // 404: missing or not visible to the caller
	ECONFLICT        = "conflict"                 // 409: version conflict or duplicate
	EPRECONDITION    = "precondition"             // 412: If-Match did not match
	ETOOLARGE        = "too_large"                // 413: request body too large
	ERATELIMITED     = "rate_limited"             // 429: rate limited
	EUNAVAILABLE     = "unavailable"              // 503: a dependency is down
	ELIMITERDOWN     = "rate_limiter_unavailable" // 503: the rate limiter cannot count; the request is refused
	EDBUNAVAILABLE   = "database_unavailable"     // 503: the database did not answer in time, or is saturated
	EINTERNAL        = "internal"                 // 500: never shown to clients in detail
	EVERSIONCONFLICT = "version_conflict"         // 409: stored version differs from the one given
	EUSAGEEXCEEDED   = "usage_exceeded"           // 429: the key's credits are spent until RetryAfter
)

// Error is the one error type that crosses package boundaries with a meaning
// for clients. Message is safe to show to the caller; it never holds a secret
// or internal detail.
type Error struct {
	Code    string
	Message string
	// Fields lists validation problems, one per offending input field.
	Fields []FieldError
	// Rate is where the caller stands against the limit it exceeded
	// (ERATELIMITED): the source of Retry-After and RateLimit-* headers.
	Rate *RateStatus
	// RetryAfter is the number of seconds after which the request may
	// succeed (EUSAGEEXCEEDED: until the credits' refill), 0 if unknown.
	RetryAfter int
}

// FieldError names one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("keyward error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted, client-safe message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error listing the offending fields.
func Invalid(fields ...FieldError) *Error {
	msg := "the request is invalid"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fields}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// EINTERNAL otherwise. A nil error has no code.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err, or a generic text for
// errors that are not *Error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
