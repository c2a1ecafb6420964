package keyward

import (
	"testing"
	"time"
)

// TestKeyBoundsCover: a bounded key sets no bound looser than its own, on
// create (every bound) and on a change (the bounds it changes); an
// unbounded dimension of the caller bounds nothing.
func TestKeyBoundsCover(t *testing.T) {
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	before, after := at.Add(-time.Minute), at.Add(time.Minute)
	rl := func(limit, window int) *RateLimit { return &RateLimit{Limit: limit, WindowSeconds: window} }
	daily := func(limit, window int) []NamedRateLimit {
		return []NamedRateLimit{{Name: "burst", Limit: 1, WindowSeconds: 1}, {Name: "daily", Limit: limit, WindowSeconds: window}}
	}
	caller := &keyBounds{ExpiresAt: &at, RateLimit: rl(10, 3600), RateLimits: daily(5, 86400)[1:], AllowedCIDRs: []string{"10.0.0.0/8"}}
	within := keyBounds{ExpiresAt: &before, RateLimit: rl(5, 3600), RateLimits: daily(4, 86400), AllowedCIDRs: []string{"10.1.0.0/16"}}
	with := func(f func(*keyBounds)) keyBounds { b := within; f(&b); return b }
	loose := keyBounds{}
	for _, tt := range []struct {
		name   string
		caller *keyBounds
		prev   *keyBounds
		next   keyBounds
		want   bool // allowed
	}{
		{"create within", caller, nil, within, true},
		{"create with the caller's own", caller, nil, *caller, true},
		{"create without an expiry", caller, nil, with(func(b *keyBounds) { b.ExpiresAt = nil }), false},
		{"create expiring later", caller, nil, with(func(b *keyBounds) { b.ExpiresAt = &after }), false},
		{"create without a rate limit", caller, nil, with(func(b *keyBounds) { b.RateLimit = nil }), false},
		{"create with a faster rate", caller, nil, with(func(b *keyBounds) { b.RateLimit = rl(1, 60) }), false},
		{"create with the same rate over a longer window, a larger burst", caller, nil, with(func(b *keyBounds) { b.RateLimit = rl(20, 7200) }), false},
		{"create with the same limit over a longer window", caller, nil, with(func(b *keyBounds) { b.RateLimit = rl(10, 7200) }), true},
		{"create without named limits", caller, nil, with(func(b *keyBounds) { b.RateLimits = nil }), false},
		{"create with other named limits only", caller, nil, with(func(b *keyBounds) { b.RateLimits = b.RateLimits[:1] }), false},
		{"create with a larger daily limit", caller, nil, with(func(b *keyBounds) { b.RateLimits = daily(6, 86400) }), false},
		{"create with a faster daily rate", caller, nil, with(func(b *keyBounds) { b.RateLimits = daily(5, 3600) }), false},
		{"create with the same daily limit over a longer window", caller, nil, with(func(b *keyBounds) { b.RateLimits = daily(5, 172800) }), true},
		{"create from any address", caller, nil, with(func(b *keyBounds) { b.AllowedCIDRs = nil }), false},
		{"create from other addresses", caller, nil, with(func(b *keyBounds) { b.AllowedCIDRs = []string{"192.168.0.0/16"} }), false},
		{"an unbounded caller", &keyBounds{}, nil, loose, true},
		{"change nothing of a loose key", caller, &loose, loose, true},
		{"tighten one bound of a loose key, still looser", caller, &loose, keyBounds{ExpiresAt: &after}, false},
		{"tighten one bound of a loose key to within", caller, &loose, keyBounds{ExpiresAt: &before}, true},
		{"loosen a bounded key", caller, &within, with(func(b *keyBounds) { b.RateLimit = nil }), false},
		{"lift a bounded key's named limits", caller, &within, with(func(b *keyBounds) { b.RateLimits = []NamedRateLimit{} }), false},
		{"change another bound of a key without named limits", caller, &keyBounds{}, keyBounds{ExpiresAt: &before}, true},
	} {
		err := tt.caller.cover(tt.prev, tt.next)
		if got := err == nil; got != tt.want {
			t.Errorf("%s: got allowed %v (%v), want %v", tt.name, got, err, tt.want)
		} else if err != nil && err.Code != EFORBIDDEN {
			t.Errorf("%s: got code %s, want %s", tt.name, err.Code, EFORBIDDEN)
		}
	}
}

// TestBoundedKeyHandsOutNoUserCredential: a key with any bound may not
// create a user or set a password (the user's keys would be bounded by
// none of its bounds); a key without bounds, and a user, may.
func TestBoundedKeyHandsOutNoUserCredential(t *testing.T) {
	at := time.Now()
	p := &Principal{Kind: KindAPIKey}
	for _, tt := range []struct {
		name    string
		credits *Credits
		bounds  *keyBounds
		want    bool // allowed
	}{
		{"a user", nil, nil, true},
		{"a key without bounds", nil, &keyBounds{}, true},
		{"an expiry", nil, &keyBounds{ExpiresAt: &at}, false},
		{"a rate limit", nil, &keyBounds{RateLimit: &RateLimit{Limit: 100, WindowSeconds: 60}}, false},
		{"named rate limits", nil, &keyBounds{RateLimits: []NamedRateLimit{{Name: "daily", Limit: 5, WindowSeconds: 86400}}}, false},
		{"allowedCidrs", nil, &keyBounds{AllowedCIDRs: []string{"127.0.0.1/32"}}, false},
		{"credits", &Credits{Remaining: 10}, &keyBounds{}, false},
	} {
		err := p.authorizeUserCredential(tt.credits, tt.bounds)
		if got := err == nil; got != tt.want {
			t.Errorf("%s: got allowed %v (%v), want %v", tt.name, got, err, tt.want)
		} else if err != nil && ErrorCode(err) != EFORBIDDEN {
			t.Errorf("%s: got %v, want %s", tt.name, err, EFORBIDDEN)
		}
	}
}
