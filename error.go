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

// Error codes: the reason of an *Error, as clients read it. Every code is
// in Codes below with the status it answers; a test fails for a code
// declared anywhere in this package without one.
const (
	EINVALID         = "invalid"
	EUNAUTHORIZED    = "unauthorized"
	EFORBIDDEN       = "forbidden"
	ENOTFOUND        = "not_found"
	ECONFLICT        = "conflict"
	EPRECONDITION    = "precondition"
	ETOOLARGE        = "too_large"
	ERATELIMITED     = "rate_limited"
	EUNAVAILABLE     = "unavailable"
	ELIMITERDOWN     = "rate_limiter_unavailable"
	EDBUNAVAILABLE   = "database_unavailable"
	EINTERNAL        = "internal"
	EVERSIONCONFLICT = "version_conflict"
	EUSAGEEXCEEDED   = "usage_exceeded"

	// EMETHODNOTALLOWED: a route matches the path, but not the method.
	EMETHODNOTALLOWED = "method_not_allowed"

	// OAuth2 error codes (RFC 6749 §5.2). The OAuth endpoints answer them
	// in RFC 6749's shape, the rest of the API as problems.
	EINVALIDCLIENT    = "invalid_client"
	EINVALIDSCOPE     = "invalid_scope"
	EINVALIDTARGET    = "invalid_target"
	EUNSUPPORTEDGRANT = "unsupported_grant_type"

	// Signed-request authentication, one code per reason.
	ESIGMISSING     = "signature_missing"
	ESIGMALFORMED   = "signature_malformed"
	ESIGTAG         = "signature_tag"
	ESIGCOMPONENT   = "signature_component_missing"
	ESIGINVALID     = "signature_invalid"
	EDIGESTMISMATCH = "digest_mismatch"
	EREPLAY         = "replay_detected"
	ESIGTOOOLD      = "signature_too_old"
	ESIGFUTURE      = "signature_in_future"
	ESIGEXPIRED     = "signature_expired"
	ESIGWINDOW      = "signature_window_too_long"
	EKEYUNKNOWN     = "key_not_found"
	EKEYDISABLED    = "key_disabled"
	EKEYEXPIRED     = "key_expired"
	EHMACNOTENABLED = "hmac_not_enabled"
	EBODYTOOLARGE   = "body_too_large"

	// EIPNOTALLOWED refuses a key used from an address outside its
	// allowedCidrs.
	EIPNOTALLOWED = "ip_not_allowed"

	// Idempotency-Key requests.
	EIDEMREUSED     = "idempotency_key_reused"
	EIDEMINPROGRESS = "idempotency_in_progress"
)

// CodeInfo is one error code: the HTTP status the native API answers it
// with (a plain number: this package speaks no HTTP; each surface — the
// native API, every dialect, the console — turns it into its own answer)
// and what it means.
type CodeInfo struct {
	Code    string
	Status  int
	Meaning string
}

// Codes is the one table of error codes.
var Codes = []CodeInfo{
	{EINVALID, 400, "malformed or invalid input"},
	{EUNAUTHORIZED, 401, "no or bad credentials"},
	{EFORBIDDEN, 403, "authenticated but not allowed"},
	{ENOTFOUND, 404, "missing or not visible to the caller"},
	{ECONFLICT, 409, "a duplicate, or a state that forbids the change"},
	{EVERSIONCONFLICT, 409, "the stored version differs from the one given"},
	{EPRECONDITION, 412, "If-Match did not match"},
	{ETOOLARGE, 413, "the request body is too large"},
	{ERATELIMITED, 429, "rate limited: Rate says until when"},
	{EUSAGEEXCEEDED, 429, "the key's credits are spent until RetryAfter"},
	{EUNAVAILABLE, 503, "a dependency is down"},
	{ELIMITERDOWN, 503, "the rate limiter cannot count; the request is refused"},
	{EDBUNAVAILABLE, 503, "the database did not answer in time, or is saturated"},
	{EINTERNAL, 500, "a failure of keyward itself: logged, never shown to clients in detail"},
	{EMETHODNOTALLOWED, 405, "the route does not accept the method (see Allow)"},

	{EINVALIDCLIENT, 401, "OAuth2 client authentication failed"},
	{EINVALIDSCOPE, 400, "OAuth2: a scope the client may not have"},
	{EINVALIDTARGET, 400, "OAuth2: an audience the key may not have (RFC 8707 §2)"},
	{EUNSUPPORTEDGRANT, 400, "OAuth2: a grant type other than client_credentials"},

	{ESIGMISSING, 401, "no Signature-Input/Signature (or NWS4 Authorization)"},
	{ESIGMALFORMED, 400, "signature headers that do not parse"},
	{ESIGTAG, 401, "no keyward-v1 signature"},
	{ESIGCOMPONENT, 401, "a required component is not covered by the signature"},
	{ESIGINVALID, 401, "the MAC does not match"},
	{EDIGESTMISMATCH, 401, "the body is not the one signed"},
	{EREPLAY, 401, "the nonce was used before"},
	{ESIGTOOOLD, 401, "created more than 300 s ago"},
	{ESIGFUTURE, 401, "created more than 60 s ahead"},
	{ESIGEXPIRED, 401, "expires has passed"},
	{ESIGWINDOW, 401, "expires - created over 300 s"},
	{EKEYUNKNOWN, 401, "the signing key does not exist"},
	{EKEYDISABLED, 401, "inactive key, owner or tenant"},
	{EKEYEXPIRED, 401, "past the key's expiresAt"},
	{EHMACNOTENABLED, 401, "the key may not sign requests"},
	{EBODYTOOLARGE, 413, "a signed body over 10 MiB"},

	{EIPNOTALLOWED, 403, "a key used from an address outside its allowedCidrs"},

	{EIDEMREUSED, 422, "the Idempotency-Key was used with another request"},
	{EIDEMINPROGRESS, 409, "the first request with the Idempotency-Key is still running"},
}

var codeStatus = func() map[string]int {
	m := make(map[string]int, len(Codes))
	for _, c := range Codes {
		m[c.Code] = c.Status
	}
	return m
}()

// CodeStatus returns the HTTP status of code from Codes: 500 for a code
// that is not there (and for EINTERNAL).
func CodeStatus(code string) int {
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return 500
}

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
	if err == nil {
		return "" // before e, which errors.As moves to the heap
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err, or a generic text for
// errors that are not *Error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
