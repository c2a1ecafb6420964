package keyward

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// UsageOutcomes are the verification outcomes counted per key and hour, in
// the order charts stack them: the codes of POST /v1/keys/verify.
//
// Where each is counted: the verify endpoints (keys, client credentials,
// access tokens and signed requests) count the answer they give on the key
// verified; a key authenticating to keyward itself (plain key, Basic,
// bearer access token, signed request, the client-credentials grant)
// counts VALID, RATE_LIMITED, DISABLED, EXPIRED or INVALID_SIGNATURE on
// itself. NOT_FOUND has no key to count against: it is counted on the key
// that asked (a resource server's verifier key), so its page shows how many
// unknown keys it was shown.
var UsageOutcomes = []string{CodeValid, CodeInsufficientPermissions, CodeRateLimited, CodeUsageExceeded,
	CodeIPNotAllowed, CodeDisabled, CodeExpired, CodeInvalidSignature, CodeNotFound}

// KeyOutcome names one counter: a key (of a tenant) and an outcome.
type KeyOutcome struct {
	Key     KeyRef
	Outcome string
}

// OutcomeCount is how many verifications of a key had one outcome in the
// hour starting at Start.
type OutcomeCount struct {
	KeyID   string
	Start   time.Time
	Outcome string
	Count   int64
}

// outcomeCounter counts outcomes in memory between flushes: the verify path
// adds under a read lock, so take, which swaps the map under the write
// lock, never misses an addition.
type outcomeCounter struct {
	mu sync.RWMutex
	m  map[KeyOutcome]*atomic.Int64
}

func (c *outcomeCounter) add(key KeyRef, outcome string) {
	k := KeyOutcome{key, outcome}
	c.mu.RLock()
	if n := c.m[k]; n != nil {
		n.Add(1)
		c.mu.RUnlock()
		return
	}
	c.mu.RUnlock()
	c.mu.Lock()
	if c.m == nil {
		c.m = map[KeyOutcome]*atomic.Int64{}
	}
	n := c.m[k]
	if n == nil {
		n = new(atomic.Int64)
		c.m[k] = n
	}
	n.Add(1)
	c.mu.Unlock()
}

// take returns the counts since the previous call and starts again.
func (c *outcomeCounter) take() map[KeyOutcome]int64 {
	c.mu.Lock()
	m := c.m
	c.m = nil
	c.mu.Unlock()
	if len(m) == 0 {
		return nil
	}
	out := make(map[KeyOutcome]int64, len(m))
	for k, n := range m {
		out[k] = n.Load()
	}
	return out
}

// drop forgets the counts of the keys of refs, which are deleted.
func (c *outcomeCounter) drop(refs ...KeyRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if slices.Contains(refs, k.Key) {
			delete(c.m, k)
		}
	}
}

// countOutcome counts one verification of key with outcome code.
func (s *Service) countOutcome(key KeyRef, code string) {
	if key.ID != "" && code != "" {
		s.outcomes.add(key, code)
	}
}

// countResult counts a verify answer: on the key it names, or NOT_FOUND on
// the key that asked.
func (s *Service) countResult(p *Principal, res *VerifyResult, err error) {
	switch {
	case err != nil || res == nil:
	case res.KeyID != nil && p != nil: // a verify answer names a key of the verifier's tenant
		s.countOutcome(KeyRef{TenantID: p.TenantID, ID: *res.KeyID}, res.Code)
	case res.Code == CodeNotFound && p != nil && p.Kind == KindAPIKey:
		s.countOutcome(KeyRef{TenantID: p.TenantID, ID: p.ID}, CodeNotFound)
	}
}

// countAuthentication counts a key's authentication to keyward: VALID, or
// RATE_LIMITED, USAGE_EXCEEDED or IP_NOT_ALLOWED when its limits, credits
// or address allowlist refused it.
func (s *Service) countAuthentication(snap *keySnapshot, err error) {
	switch {
	case snap == nil:
	case err == nil:
		s.countOutcome(snap.ref(), CodeValid)
	case ErrorCode(err) == ERATELIMITED:
		s.countOutcome(snap.ref(), CodeRateLimited)
	case ErrorCode(err) == EUSAGEEXCEEDED:
		s.countOutcome(snap.ref(), CodeUsageExceeded)
	case ErrorCode(err) == EIPNOTALLOWED:
		s.countOutcome(snap.ref(), CodeIPNotAllowed)
	}
}

// outcomeTotals returns a map with every outcome at 0.
func outcomeTotals() map[string]int64 {
	m := make(map[string]int64, len(UsageOutcomes))
	for _, o := range UsageOutcomes {
		m[o] = 0
	}
	return m
}

// fillUsage spreads hourly outcome counts over u's days (and hours).
func fillUsage(u *KeyUsage, first time.Time, counts []OutcomeCount) {
	for _, c := range counts {
		if _, known := u.Outcomes[c.Outcome]; !known {
			continue
		}
		d := int(c.Start.Sub(first) / (24 * time.Hour))
		if d >= 0 && d < len(u.Days) {
			u.Days[d].Outcomes[c.Outcome] += c.Count
			u.Outcomes[c.Outcome] += c.Count
		}
		h := int(c.Start.Sub(first) / time.Hour)
		if u.Hours != nil && h >= 0 && h < len(u.Hours) {
			u.Hours[h].Outcomes[c.Outcome] += c.Count
		}
	}
}

// APIKeysUsage returns the usage per day of each of keys over the last days
// days, for a list's sparklines: one store read for the page. Keys the
// caller may not read, or of another tenant, are left out.
func (s *Service) APIKeysUsage(ctx context.Context, p *Principal, keys []*APIKey, days int) (map[string]*KeyUsage, error) {
	if days < 1 || days > MaxUsageDays {
		return nil, Invalid(FieldError{Field: "days", Message: "must be between 1 and 90"})
	}
	today := s.now().UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(days - 1))
	out := map[string]*KeyUsage{}
	var ids []string
	for _, k := range keys {
		if k.TenantID != p.TenantID || (!p.canKey(PermAPIKeysRead, k.OwnerID) && !p.canKey(PermAPIKeysWrite, k.OwnerID)) {
			continue
		}
		ids = append(ids, k.ID)
		out[k.ID] = newKeyUsage(k.ID, first, days, false)
	}
	if len(ids) == 0 {
		return out, nil
	}
	counts, err := s.store.KeyOutcomes(ctx, p.TenantID, ids, first)
	if err != nil {
		return nil, err
	}
	byKey := map[string][]OutcomeCount{}
	for _, c := range counts {
		byKey[c.KeyID] = append(byKey[c.KeyID], c)
	}
	for id, u := range out {
		fillUsage(u, first, byKey[id])
	}
	return out, nil
}

// newKeyUsage is an empty KeyUsage of days days from first, with hours when
// hourly.
func newKeyUsage(id string, first time.Time, days int, hourly bool) *KeyUsage {
	u := &KeyUsage{KeyID: id, Granularity: "day", Days: make([]UsageCount, days), Outcomes: outcomeTotals()}
	for i := range u.Days {
		u.Days[i].Start = first.AddDate(0, 0, i)
		u.Days[i].Outcomes = outcomeTotals()
	}
	if hourly {
		u.Granularity = "hour"
		u.Hours = make([]UsageCount, days*24)
		for i := range u.Hours {
			u.Hours[i].Start = first.Add(time.Duration(i) * time.Hour)
			u.Hours[i].Outcomes = outcomeTotals()
		}
	}
	return u
}
