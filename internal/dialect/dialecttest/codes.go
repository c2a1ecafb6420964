package dialecttest

import (
	"errors"
	"net/http"

	"github.com/keyward/keyward"
)

// ErrorCase is a domain error and the status every surface must answer it
// with; Retry says whether Retry-After must come with it.
type ErrorCase struct {
	Err    error
	Status int
	Retry  bool
}

// ErrorCases covers every code of the native API's table that a dialect
// handler can meet, and an internal error.
var ErrorCases = []ErrorCase{
	{keyward.Invalid(keyward.FieldError{Field: "name", Message: "is required"}), http.StatusBadRequest, false},
	{keyward.Errorf(keyward.EUNAUTHORIZED, "no"), http.StatusUnauthorized, false},
	{keyward.Errorf(keyward.EFORBIDDEN, "no"), http.StatusForbidden, false},
	{keyward.Errorf(keyward.EIPNOTALLOWED, "not from here"), http.StatusForbidden, false},
	{keyward.Errorf(keyward.ENOTFOUND, "no"), http.StatusNotFound, false},
	{keyward.Errorf(keyward.ECONFLICT, "taken"), http.StatusConflict, false},
	{keyward.Errorf(keyward.EVERSIONCONFLICT, "stale"), http.StatusConflict, false},
	{keyward.Errorf(keyward.EPRECONDITION, "stale"), http.StatusPreconditionFailed, false},
	{keyward.Errorf(keyward.ETOOLARGE, "big"), http.StatusRequestEntityTooLarge, false},
	{&keyward.Error{Code: keyward.ERATELIMITED, Message: "slow down", Rate: &keyward.RateStatus{Limit: 1, Reset: 7}}, http.StatusTooManyRequests, true},
	{&keyward.Error{Code: keyward.EUSAGEEXCEEDED, Message: "spent", RetryAfter: 3600}, http.StatusTooManyRequests, true},
	{keyward.Errorf(keyward.EUNAVAILABLE, "the database does not answer"), http.StatusServiceUnavailable, true},
	{keyward.Errorf(keyward.ELIMITERDOWN, "the rate limiter is down"), http.StatusServiceUnavailable, true},
	{errors.New("disk on fire"), http.StatusInternalServerError, false},
}
