package keyward

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// failedAuth is the failed-authentication limit (Config.FailedAuthLimit):
// a client address that failed to authenticate Limit times in a window is
// refused until the window ends. The count itself is the Limiter's
// (cluster-wide with Redis); blocked only spares the limiter a call on
// every request. Without a limit nothing is counted or refused.
type failedAuth struct {
	limit   *RateLimit
	limiter Limiter
	logger  *slog.Logger
	now     func() time.Time
	ops     *opCounts
	blocked failures
}

// failures remembers, per client address, until when it is refused.
type failures struct {
	n       atomic.Int64 // len(blocked): with none, no lock is taken
	mu      sync.RWMutex
	blocked map[string]time.Time
}

func (f *failures) until(ip string, now time.Time) (time.Time, bool) {
	if f.n.Load() == 0 {
		return time.Time{}, false
	}
	f.mu.RLock()
	t, ok := f.blocked[ip]
	f.mu.RUnlock()
	if ok && !now.Before(t) {
		f.mu.Lock()
		if t2, still := f.blocked[ip]; still && !now.Before(t2) {
			delete(f.blocked, ip)
			f.n.Store(int64(len(f.blocked)))
		}
		f.mu.Unlock()
		return t, false
	}
	return t, ok
}

func (f *failures) block(ip string, until, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.blocked == nil {
		f.blocked = map[string]time.Time{}
	}
	if len(f.blocked) >= 100_000 { // bounded: drop expired entries first
		for k, t := range f.blocked {
			if !now.Before(t) {
				delete(f.blocked, k)
			}
		}
	}
	f.blocked[ip] = until
	f.n.Store(int64(len(f.blocked)))
}

// check refuses a client address that failed too often.
func (f *failedAuth) check(ip string) error {
	if f.limit == nil || ip == "" {
		return nil
	}
	now := f.now()
	until, blocked := f.blocked.until(ip, now)
	if !blocked {
		return nil
	}
	st := NewRateStatus(*f.limit, int64(f.limit.Limit)+1, until.Sub(now))
	f.ops.limited(LimitFailedAuth)
	return &Error{Code: ERATELIMITED, Message: "too many failed authentications from this address; try again later", Rate: &st}
}

// record counts a failed authentication of ip by scheme (for the
// metrics); the failure that reaches the limit closes the address until the
// window ends, so a limit of N lets N failures be checked, not N+1.
func (f *failedAuth) record(ctx context.Context, ip, scheme string) error {
	f.ops.authFailed(scheme)
	_, err := f.count(ctx, ip, true)
	return err
}

// reserve counts an authentication attempt from ip before it is
// evaluated; past the limit the address is refused and so is the attempt.
func (f *failedAuth) reserve(ctx context.Context, ip string) error {
	if blocked, err := f.count(ctx, ip, false); err != nil || !blocked {
		return err
	}
	return f.check(ip)
}

// count counts one failed (or reserved) authentication of ip and
// reports whether that closed the address until the window ends: past the
// limit, or — atLimit, for a failure counted after it was checked — on
// reaching it.
func (f *failedAuth) count(ctx context.Context, ip string, atLimit bool) (blocked bool, err error) {
	if f.limit == nil || ip == "" {
		return false, nil
	}
	ok, st, err := f.limiter.Allow(ctx, "fail:"+ip, *f.limit)
	if err != nil {
		f.logger.Warn("rate limiter unavailable: refusing", "error", err)
		f.ops.limited(LimitUnavailable)
		return false, errLimiterDown
	}
	if !ok || (atLimit && st.Remaining == 0) {
		now := f.now()
		f.blocked.block(ip, now.Add(time.Duration(st.Reset)*time.Second), now)
		return true, nil
	}
	return false, nil
}

// refund gives back an attempt counted by reserve.
func (f *failedAuth) refund(ctx context.Context, ip string) {
	if f.limit == nil || ip == "" {
		return
	}
	if err := f.limiter.Refund(context.WithoutCancel(ctx), "fail:"+ip, *f.limit); err != nil {
		f.logger.Warn("rate limiter: refunding an attempt", "error", err)
	}
}
