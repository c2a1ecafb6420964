package keyward

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RateLimit is at most Limit requests per WindowSeconds.
type RateLimit struct {
	Limit         int `json:"limit"`
	WindowSeconds int `json:"windowSeconds"`
}

// Bounds of a rate limit.
const (
	MaxRateLimit       = 1_000_000_000
	MaxRateLimitWindow = 86400
)

func (l RateLimit) window() time.Duration { return time.Duration(l.WindowSeconds) * time.Second }

func checkRateLimit(f *fieldErrors, field string, l RateLimit) {
	if l.Limit < 1 || l.Limit > MaxRateLimit {
		f.add(field+".limit", "must be between 1 and 1000000000")
	}
	if l.WindowSeconds < 1 || l.WindowSeconds > MaxRateLimitWindow {
		f.add(field+".windowSeconds", "must be between 1 and 86400")
	}
}

// ParseRateLimit reads "N/window", e.g. "1000/1s" or "20/1m", as used by
// the server's flags.
func ParseRateLimit(s string) (RateLimit, error) {
	n, w, ok := strings.Cut(s, "/")
	limit, err := strconv.Atoi(n)
	if !ok || err != nil {
		return RateLimit{}, fmt.Errorf("rate limit %q: want N/window, e.g. 1000/1s", s)
	}
	d, err := time.ParseDuration(w)
	if err != nil || d < time.Second || d%time.Second != 0 {
		return RateLimit{}, fmt.Errorf("rate limit %q: the window must be whole seconds, at least 1s", s)
	}
	l := RateLimit{Limit: limit, WindowSeconds: int(d / time.Second)}
	var f fieldErrors
	checkRateLimit(&f, "rateLimit", l)
	if len(f) > 0 {
		return RateLimit{}, fmt.Errorf("rate limit %q: %s %s", s, f[0].Field, f[0].Message)
	}
	return l, nil
}

// RateStatus is where a caller stands against a limit, as the RateLimit-*
// headers and the verify answer report it.
type RateStatus struct {
	Limit     int `json:"limit"`
	Remaining int `json:"remaining"`
	// Reset is the number of seconds until the window ends (at least 1).
	Reset int `json:"reset"`
}

// Limiter counts requests in fixed windows: Allow counts one request under
// key and says whether it is within limit for the current window.
// Implementations: in memory (one replica) and Redis (cluster-wide). An
// error means the count is unknown: callers refuse the request.
type Limiter interface {
	Allow(ctx context.Context, key string, limit RateLimit) (allowed bool, st RateStatus, err error)
	// Refund gives back one request counted by Allow in the current window
	// (an attempt reserved before it was evaluated, that succeeded).
	Refund(ctx context.Context, key string, limit RateLimit) error
}

// WindowOf returns the index of the window of l that holds now, and how
// long until it ends. Windows are aligned to the Unix epoch so that
// replicas agree on them.
func WindowOf(now time.Time, l RateLimit) (index int64, reset time.Duration) {
	w := l.window()
	index = now.UnixNano() / int64(w)
	end := time.Unix(0, (index+1)*int64(w))
	return index, end.Sub(now)
}

// NewRateStatus builds the RateStatus of a count in the window ending in reset.
func NewRateStatus(l RateLimit, count int64, reset time.Duration) RateStatus {
	rem := int64(l.Limit) - count
	if rem < 0 {
		rem = 0
	}
	secs := int((reset + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return RateStatus{Limit: l.Limit, Remaining: int(rem), Reset: secs}
}

// WindowKey names the counter of key in the current window of l.
func WindowKey(key string, l RateLimit, now time.Time) (string, time.Duration) {
	i, reset := WindowOf(now, l)
	return key + ":" + strconv.Itoa(l.WindowSeconds) + ":" + strconv.FormatInt(i, 10), reset
}

// errLimiterDown is the answer when the Limiter fails: the request is refused.
var errLimiterDown = Errorf(ELIMITERDOWN, "the rate limiter is unavailable; the request was refused, try again shortly")

// allow counts one request of key against l and returns a client error
// when it is over the limit or the limiter cannot tell (fail closed). kind
// is the refusal's metric label (LimitKey, LimitTenant); what names the
// limit in the refusal.
func (s *Service) allow(ctx context.Context, key string, l RateLimit, kind, what string) (RateStatus, error) {
	ok, st, err := s.limiter.Allow(ctx, key, l)
	if err != nil {
		s.logger.Warn("rate limiter unavailable: refusing", "error", err)
		s.ops.limited(LimitUnavailable)
		return st, errLimiterDown
	}
	if !ok {
		s.ops.limited(kind)
		return st, &Error{Code: ERATELIMITED, Message: what + " exceeded: " + strconv.Itoa(l.Limit) +
			" requests per " + strconv.Itoa(l.WindowSeconds) + "s", Rate: &st}
	}
	return st, nil
}

// limitKey applies the key's own limits (its rateLimit, its named limits
// and its owner's) and then its tenant's to one request authenticated by
// the key: a request the key's own limits refuse never spends the tenant's
// budget. It returns the status of the key's limit closest to refusing
// (nil without key limits).
func (s *Service) limitKey(ctx context.Context, snap *keySnapshot) (*RateStatus, error) {
	rate, err := s.limitNamed(ctx, snap)
	if err != nil {
		return rate, err
	}
	if s.tenantLimit != nil {
		if _, err := s.allow(ctx, snap.tenantCounter, *s.tenantLimit, LimitTenant, "tenant rate limit"); err != nil {
			return rate, err
		}
	}
	return rate, nil
}

// Attempt runs fn, an authentication by password or client secret that
// arrived from ip, under the failed-authentication limit: while ip is
// refused fn does not run, and fn's failure (EUNAUTHORIZED,
// EINVALIDCLIENT) counts against ip. Authenticate does the same itself.
func (s *Service) Attempt(ctx context.Context, ip string, fn func() error) error {
	if err := s.failedAuth.check(ip); err != nil {
		return err
	}
	err := fn()
	if code := ErrorCode(err); code == EUNAUTHORIZED || code == EINVALIDCLIENT {
		if ferr := s.failedAuth.record(ctx, ip, SchemeClientSecret); ferr != nil {
			return ferr
		}
	}
	return err
}
