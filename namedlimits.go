package keyward

import (
	"context"
	"regexp"
	"slices"
	"strconv"
)

// NamedRateLimit is one of several rate limits of a key or a user: at most
// Limit requests per WindowSeconds, e.g. {"burst", 10, 1} and {"daily",
// 10000, 86400}. A user's limits are shared by all the user's keys.
type NamedRateLimit struct {
	Name          string `json:"name"`
	Limit         int    `json:"limit"`
	WindowSeconds int    `json:"windowSeconds"`
}

// MaxNamedRateLimits bounds the named limits of one key or user.
const MaxNamedRateLimits = 16

var limitNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// checkNamedRateLimits validates ls (field "rateLimits").
func checkNamedRateLimits(f *fieldErrors, ls []NamedRateLimit) {
	if len(ls) > MaxNamedRateLimits {
		f.add("rateLimits", "must hold at most "+strconv.Itoa(MaxNamedRateLimits)+" limits")
		return
	}
	seen := map[string]bool{}
	for i, l := range ls {
		field := "rateLimits[" + strconv.Itoa(i) + "]"
		if !limitNameRE.MatchString(l.Name) {
			f.add(field+".name", "must be 1-64 of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
		} else if seen[l.Name] {
			f.add(field+".name", "is given twice")
		}
		seen[l.Name] = true
		checkRateLimit(f, field, RateLimit{Limit: l.Limit, WindowSeconds: l.WindowSeconds})
	}
}

// sortNamedRateLimits returns valid limits as they are stored: sorted by
// name, none as nil.
func sortNamedRateLimits(ls []NamedRateLimit) []NamedRateLimit {
	if len(ls) == 0 {
		return nil
	}
	out := slices.Clone(ls)
	slices.SortFunc(out, func(a, b NamedRateLimit) int {
		if a.Name < b.Name {
			return -1
		} else if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

func sameNamedRateLimits(a, b []NamedRateLimit) bool { return slices.Equal(a, b) }

// snapLimit is one limit a key's requests count against, with the
// limiter's name of its counter and how a refusal names it.
type snapLimit struct {
	counter string
	limit   RateLimit
	what    string // e.g. `key rate limit "burst"`
}

// keyLimits lists the limits of a key's requests: its own rateLimit, its
// named limits, then its owner's (counted under the owner, so that all the
// owner's keys share them).
func keyLimits(k *APIKey, owner *User) []snapLimit {
	ref := KeyRef{TenantID: k.TenantID, ID: k.ID}.String()
	var out []snapLimit
	if k.RateLimit != nil {
		out = append(out, snapLimit{counter: "key:" + ref, limit: *k.RateLimit, what: "key rate limit"})
	}
	for _, l := range k.RateLimits {
		out = append(out, snapLimit{counter: "key:" + ref + ":" + l.Name, limit: RateLimit{Limit: l.Limit, WindowSeconds: l.WindowSeconds},
			what: "key rate limit " + strconv.Quote(l.Name)})
	}
	if owner != nil {
		uref := KeyRef{TenantID: owner.TenantID, ID: owner.ID}.String()
		for _, l := range owner.RateLimits {
			out = append(out, snapLimit{counter: "user:" + uref + ":" + l.Name, limit: RateLimit{Limit: l.Limit, WindowSeconds: l.WindowSeconds},
				what: "owner's rate limit " + strconv.Quote(l.Name)})
		}
	}
	return out
}

// closer reports whether a is closer to refusing than b: fewer requests
// left, or as many for longer.
func closer(a, b RateStatus) bool {
	return a.Remaining < b.Remaining || (a.Remaining == b.Remaining && a.Reset > b.Reset)
}

// limitNamed counts one request against every limit of the key's (in
// order) and returns the status of the one closest to refusing (nil
// without limits). A refusal gives back what the limits before it counted,
// so a refused request counts against no limit but the one that refused.
func (s *Service) limitNamed(ctx context.Context, snap *keySnapshot) (*RateStatus, error) {
	var rate *RateStatus
	for i, l := range snap.limits {
		st, err := s.allow(ctx, l.counter, l.limit, LimitKey, l.what)
		if err != nil {
			for _, c := range snap.limits[:i] {
				if rerr := s.limiter.Refund(context.WithoutCancel(ctx), c.counter, c.limit); rerr != nil {
					s.logger.Warn("rate limiter: refunding a request", "error", rerr)
				}
			}
			return &st, err
		}
		if rate == nil || closer(st, *rate) {
			rate = &st
		}
	}
	return rate, nil
}
