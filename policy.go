package keyward

import (
	"slices"
	"strconv"
	"time"
)

// The authorization policy (SPEC §3). Every decision "may this principal do
// this to that target" that gives someone a credential or changes anyone's
// rights is made here, from facts the Service has already read: nothing in
// this file does I/O, so the rules can be read, and tested, on their own.
//
// The rule: nobody obtains rights they do not hold. A principal's rights are
// its level and its effective permissions; P covers T when P's level is at
// least T's and P holds every permission T holds. Any action that hands the
// caller a secret or changes rights needs the caller to cover the target as
// it will be (and, for a change, as it was).

// Rights are a level and every permission name held tenant-wide: explicit
// ones with composites expanded, and the built-ins the level implies.
type Rights struct {
	Level int
	Perms map[string]bool
}

// grantRights returns the rights of a grant: a level and explicit
// permissions (expanded) in a tenant whose catalog is given.
func grantRights(level int, explicit map[string]bool, root bool, catalog []*Permission) Rights {
	p := &Principal{Level: level, perms: explicit, rootTenant: root}
	wide, _ := p.EffectivePermissions(catalog)
	r := Rights{Level: level, Perms: make(map[string]bool, len(wide))}
	for _, name := range wide {
		r.Perms[name] = true
	}
	return r
}

// intersect returns the rights held by both r and o: a key never holds more
// than its owner holds now.
func (r Rights) intersect(o Rights) Rights {
	out := Rights{Level: min(r.Level, o.Level), Perms: map[string]bool{}}
	for name := range r.Perms {
		if o.Perms[name] {
			out.Perms[name] = true
		}
	}
	return out
}

// union returns the rights of r and o together.
func (r Rights) union(o Rights) Rights {
	out := Rights{Level: max(r.Level, o.Level), Perms: map[string]bool{}}
	for name := range r.Perms {
		out.Perms[name] = true
	}
	for name := range o.Perms {
		out.Perms[name] = true
	}
	return out
}

// uncovered explains why the principal does not cover t, or returns nil.
func (p *Principal) uncovered(t Rights) *Error {
	if t.Level > p.Level {
		return Errorf(EFORBIDDEN, "level %d is above your own level %d", t.Level, p.Level)
	}
	var missing string
	for name := range t.Perms {
		if !p.canGrant(name) && (missing == "" || name < missing) {
			missing = name // the first in name order, so the answer is stable
		}
	}
	if missing != "" {
		return Errorf(EFORBIDDEN, "you cannot grant permission %s: you do not hold it", missing)
	}
	return nil
}

// keyFacts is what the policy needs to know of a key.
type keyFacts struct {
	ID      string
	OwnerID string // "" for an ownerless key
	// Rights are the key's grant: what its secret may do at most, whatever
	// its owner holds later. For a key that acts as its owner, the owner's.
	Rights Rights
}

// keyChange describes a create or an update of a key for the policy.
type keyChange struct {
	prev *keyFacts // nil on create
	next keyFacts
	// rights is set when the change gives the key rights: a create, or a
	// change of level, permissions, owner or acting as the owner.
	rights bool
	// owner holds the rights of next's owner when the owner is set or
	// changed to a user other than the caller's own.
	owner *Rights
	// ownerLevel is the level of next's owner when the owner or the key's
	// level changes and the key has a grant of its own (it does not act as
	// its owner): a key's level never exceeds its owner's.
	ownerLevel *int
	// callerCredits are the credits of the calling key when it has some:
	// a metered key gives no key more use than it has itself.
	callerCredits *Credits
	// credits are next's credits, and creditsGrant whether the change
	// gives the key credits (a create, more remaining, another refill, or
	// none at all).
	credits      *Credits
	creditsGrant bool
	// callerBounds are the bounds of the calling key (nil for a user):
	// a key gives no key a later expiry, a looser rate limit or a wider
	// allowlist than its own. bounds are next's, prevBounds prev's (nil on
	// create).
	callerBounds *keyBounds
	bounds       keyBounds
	prevBounds   *keyBounds
}

// keyBounds are what bounds when, how often and from where a key works.
type keyBounds struct {
	ExpiresAt    *time.Time       // nil: never expires
	RateLimit    *RateLimit       // nil: none of its own
	RateLimits   []NamedRateLimit // its named limits (empty: none)
	AllowedCIDRs []string         // empty: any address
}

// authorizeKeyChange decides a create, replace or update of a key.
func (p *Principal) authorizeKeyChange(c keyChange) error {
	if c.prev != nil {
		if !p.canKey(PermAPIKeysWrite, c.prev.OwnerID) {
			return Errorf(EFORBIDDEN, "apikeys:write is required on this key")
		}
		if c.prev.Rights.Level > p.Level {
			return Errorf(EFORBIDDEN, "the key's level %d is above yours (%d)", c.prev.Rights.Level, p.Level)
		}
	}
	if !p.canKey(PermAPIKeysWrite, c.next.OwnerID) {
		if c.prev == nil && c.next.OwnerID != p.OwnerID {
			return Errorf(EFORBIDDEN, "apikeys:write on every key of the tenant is required to create keys for another owner")
		}
		return Errorf(EFORBIDDEN, "apikeys:write is required")
	}
	if c.callerBounds != nil {
		if err := c.callerBounds.cover(c.prevBounds, c.bounds); err != nil {
			return err
		}
	}
	if !c.rights {
		return nil
	}
	if c.next.OwnerID == "" && !p.mayManageOwnerless() {
		return Errorf(EFORBIDDEN, "keys without an owner need level 8")
	}
	if c.prev != nil {
		// As it was: taking rights away from a key one does not cover (and
		// then rotating it, or giving it to oneself) is no less an escalation.
		if err := p.uncovered(c.prev.Rights); err != nil {
			return Errorf(EFORBIDDEN, "you may only change the rights of keys you cover: %s", err.Message)
		}
	}
	if err := p.uncovered(c.next.Rights); err != nil {
		return err
	}
	if c.owner != nil {
		if err := p.uncovered(*c.owner); err != nil {
			return Errorf(EFORBIDDEN, "you may only give keys to users you cover: %s", err.Message)
		}
	}
	if c.ownerLevel != nil && c.next.Rights.Level > *c.ownerLevel {
		return Errorf(EFORBIDDEN, "level %d is above the owner's level %d", c.next.Rights.Level, *c.ownerLevel)
	}
	if c.callerCredits != nil && c.creditsGrant && !creditsWithin(c.credits, c.callerCredits) {
		return Errorf(EFORBIDDEN, "a key with credits may only give a key credits within its own (%d remaining)", c.callerCredits.Remaining)
	}
	return nil
}

// cover decides whether a key bounded by b may turn a key bounded by prev
// (nil on create) into one bounded by next: each bound it sets (all of
// them on create) must be within b's, lest the key it makes or changes
// outlive it, outpace it or work from where it does not. A bound left as it
// was is not its doing.
func (b *keyBounds) cover(prev *keyBounds, next keyBounds) *Error {
	if b.ExpiresAt != nil && (prev == nil || !sameTime(prev.ExpiresAt, next.ExpiresAt)) &&
		(next.ExpiresAt == nil || next.ExpiresAt.After(*b.ExpiresAt)) {
		return Errorf(EFORBIDDEN, "a key that expires may only give a key an expiry no later than its own (%s)", b.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if b.RateLimit != nil && (prev == nil || !sameRateLimit(prev.RateLimit, next.RateLimit)) && !rateLimitWithin(next.RateLimit, b.RateLimit) {
		return Errorf(EFORBIDDEN, "a key with a rate limit may only give a key a rate limit no looser than its own (%d per %d seconds)", b.RateLimit.Limit, b.RateLimit.WindowSeconds)
	}
	if len(b.RateLimits) > 0 && (prev == nil || !sameNamedRateLimits(prev.RateLimits, next.RateLimits)) {
		if l, ok := namedRateLimitsWithin(next.RateLimits, b.RateLimits); !ok {
			return Errorf(EFORBIDDEN, "a key with rateLimits may only give a key its named limits or tighter ones (%q: %d per %d seconds)", l.Name, l.Limit, l.WindowSeconds)
		}
	}
	if len(b.AllowedCIDRs) > 0 && (prev == nil || !slices.Equal(prev.AllowedCIDRs, next.AllowedCIDRs)) && widensAllowlist(b.AllowedCIDRs, next.AllowedCIDRs) {
		return Errorf(EFORBIDDEN, "a key with allowedCidrs may only give a key addresses within its own")
	}
	return nil
}

// rateLimitWithin reports whether l lets through no more than bound: no
// more requests per second (limit/window at most bound's) and no larger
// burst (limit at most bound's: 20 per 7,200 s would let 20 through at once
// where 10 per 3,600 s lets 10). None at all is not within.
func rateLimitWithin(l, bound *RateLimit) bool {
	return l != nil && l.Limit <= bound.Limit &&
		int64(l.Limit)*int64(bound.WindowSeconds) <= int64(bound.Limit)*int64(l.WindowSeconds)
}

// namedRateLimitsWithin reports whether ls carry, for each of bound's
// named limits, one of the same name within it (rateLimitWithin); if not,
// it returns the first of bound's that ls do not.
func namedRateLimitsWithin(ls, bound []NamedRateLimit) (NamedRateLimit, bool) {
	for _, b := range bound {
		i := slices.IndexFunc(ls, func(l NamedRateLimit) bool { return l.Name == b.Name })
		if i < 0 || !rateLimitWithin(&RateLimit{Limit: ls[i].Limit, WindowSeconds: ls[i].WindowSeconds}, &RateLimit{Limit: b.Limit, WindowSeconds: b.WindowSeconds}) {
			return b, false
		}
	}
	return NamedRateLimit{}, true
}

// bounded reports whether a key bounded by b and metered by credits has
// any bound at all.
func (b *keyBounds) bounded(credits *Credits) bool {
	return b != nil && (credits != nil || b.ExpiresAt != nil || b.RateLimit != nil || len(b.RateLimits) > 0 || len(b.AllowedCIDRs) > 0)
}

// authorizeUserCredential decides whether p, the key bounded by
// callerBounds and metered by callerCredits when p is one, may hand out a
// user credential: create a user or set a user's password. A user's keys
// are bounded by nothing of the key's, so a key with any bound (an
// expiry, a rate limit, named rate limits, an allowlist, credits) may
// not: it would escape them all through the user it made.
func (p *Principal) authorizeUserCredential(callerCredits *Credits, callerBounds *keyBounds) error {
	if callerBounds.bounded(callerCredits) {
		return Errorf(EFORBIDDEN, "a key with an expiry, rate limits, allowedCidrs or credits may not create users or set their passwords")
	}
	return nil
}

// creditsWithin reports whether credits c give no more use than bound:
// some credits, no more remaining, and a refill only of bound's interval
// and at most its amount.
func creditsWithin(c, bound *Credits) bool {
	switch {
	case c == nil:
		return false
	case c.Remaining > bound.Remaining:
		return false
	case c.Refill == nil:
		return true
	case bound.Refill == nil:
		return false
	}
	return c.Refill.Interval == bound.Refill.Interval && c.Refill.Amount <= bound.Refill.Amount
}

// ownKeyChange is what a key changing itself changes of what bounds it.
type ownKeyChange struct {
	expiryOrRateLimit bool // expiresAt or rateLimit given, even unchanged
	credits           bool // its credits change
	rateLimits        bool // its named rate limits change
	widensAllowlist   bool // it would work from more addresses
	audiences         bool // its audiences change
}

// authorizeOwnKeyChange decides what a key may change of itself: nothing
// that bounds it, which someone else sets.
func (p *Principal) authorizeOwnKeyChange(c ownKeyChange) error {
	switch {
	case c.expiryOrRateLimit:
		return Errorf(EFORBIDDEN, "a key may not change its own expiry or rate limit")
	case c.credits:
		return Errorf(EFORBIDDEN, "a key may not change its own credits")
	case c.rateLimits:
		return Errorf(EFORBIDDEN, "a key may not change its own rate limits")
	case c.widensAllowlist:
		return Errorf(EFORBIDDEN, "a key may not widen its own allowedCidrs")
	case c.audiences:
		// Any change may widen: an added audience reaches another API, and
		// none at all is keyward's own, the management API.
		return Errorf(EFORBIDDEN, "a key may not change its own audiences")
	}
	return nil
}

// rotatesItself reports whether the principal is key id (of the tenant it
// acts in) with all of its rights (its secret, or a token of it without a
// scope).
func (p *Principal) rotatesItself(id string) bool {
	return p.isKey(p.TenantID, id) && p.scope == nil
}

// mayManageOwnerless reports whether the principal may give out keys
// without an owner, which outlive every user: level 8, or an ownerless key
// itself (a tenant's integration key), whose keys die with it.
func (p *Principal) mayManageOwnerless() bool {
	return p.Level >= minLevelAllPermission || (p.Kind == KindAPIKey && p.OwnerID == "")
}

// authorizeKeyRotate decides a rotation: the caller receives the new
// secret, so it must cover the key. A key may always rotate itself with its
// current secret — not with a narrower token of it, nor with the previous
// secret of a grace period.
//
// A key with credits (bound) may rotate another key only if that key's
// credits are within its own: else the new secret would be more use than
// the caller has. Likewise a key with bounds (callerBounds: an expiry, a
// rate limit, an allowlist) may rotate only a key whose bounds are within
// its own.
func (p *Principal) authorizeKeyRotate(k keyFacts, credits, bound *Credits, bounds keyBounds, callerBounds *keyBounds) error {
	if p.rotatesItself(k.ID) {
		if p.prevSecret {
			return Errorf(EFORBIDDEN, "a key rotates itself with its current secret, not the previous one")
		}
		return nil
	}
	if !p.canKey(PermAPIKeysWrite, k.OwnerID) {
		return Errorf(EFORBIDDEN, "apikeys:write is required on this key")
	}
	if k.OwnerID == "" && !p.mayManageOwnerless() {
		return Errorf(EFORBIDDEN, "keys without an owner need level 8")
	}
	if err := p.uncovered(k.Rights); err != nil {
		return Errorf(EFORBIDDEN, "rotating hands you the key's secret, so you must hold its rights: %s", err.Message)
	}
	if bound != nil && !creditsWithin(credits, bound) {
		return Errorf(EFORBIDDEN, "a key with credits may only rotate keys whose credits are within its own (%d remaining)", bound.Remaining)
	}
	if callerBounds != nil {
		if err := callerBounds.cover(nil, bounds); err != nil {
			return Errorf(EFORBIDDEN, "rotating hands you the key's secret: %s", err.Message)
		}
	}
	return nil
}

// authorizePermissionChange decides a rename, a change of a composite's
// members or a deletion: each changes the rights of every user and key that
// holds the permission, so the caller must cover them all — level 8, which
// holds every permission of its tenant.
func (p *Principal) authorizePermissionChange() error {
	if !p.Has(PermPermissionsWrite) {
		return Errorf(EFORBIDDEN, "permissions:write is required")
	}
	if p.Level < minLevelAllPermission || p.scope != nil {
		return Errorf(EFORBIDDEN, "changing or deleting a permission changes the rights of all who hold it: level 8 is required")
	}
	return nil
}

// authorizeCompose decides whether the principal may put permission name
// into a composite: only one it holds, lest the composite hand out more
// than the caller has.
func (p *Principal) authorizeCompose(name string) error {
	if !p.canGrant(name) {
		return Errorf(EFORBIDDEN, "you cannot compose permission %s: you do not hold it", name)
	}
	return nil
}

// authorizePermissionDelete decides whether the principal may delete
// permission name from the catalog: only one it holds.
func (p *Principal) authorizePermissionDelete(name string) error {
	if !p.canGrant(name) {
		return Errorf(EFORBIDDEN, "you cannot delete permission %s: you do not hold it", name)
	}
	return nil
}

// authorizeKeyDelete decides a deletion: it takes rights away, so the
// caller needs apikeys:delete on the key and a level at least the key's.
func (p *Principal) authorizeKeyDelete(k keyFacts) error {
	if !p.canKey(PermAPIKeysDelete, k.OwnerID) {
		return Errorf(EFORBIDDEN, "apikeys:delete is required on this key")
	}
	if k.Rights.Level > p.Level {
		return Errorf(EFORBIDDEN, "the key's level %d is above yours (%d)", k.Rights.Level, p.Level)
	}
	return nil
}

// authorizeUserChange decides a create (prev nil), update or delete (next
// nil) of a user: users:write, and covering the user as it was and as it
// will be. A password, level, permission or activation change of someone
// with more rights than the caller would hand the caller those rights.
func (p *Principal) authorizeUserChange(prev, next *Rights) error {
	if err := p.authorizeUserWrite(); err != nil {
		return err
	}
	if prev != nil {
		if prev.Level > p.Level {
			return Errorf(EFORBIDDEN, "the user's level %d is above yours (%d)", prev.Level, p.Level)
		}
		if err := p.uncovered(*prev); err != nil {
			return Errorf(EFORBIDDEN, "the user holds rights you do not: %s", err.Message)
		}
	}
	if next != nil {
		if err := p.uncovered(*next); err != nil {
			return err
		}
	}
	return nil
}

// authorizeUserWrite decides whether the principal may create, change or
// delete users at all: users:write.
func (p *Principal) authorizeUserWrite() error {
	if !p.Has(PermUsersWrite) {
		return Errorf(EFORBIDDEN, "users:write is required")
	}
	return nil
}

// authorizeOwnUserChange decides what a user, or a key acting for it, may
// change of the user itself: not its rate limits, which someone else sets,
// as a key's own.
func (p *Principal) authorizeOwnUserChange(prev, next *User) error {
	if prev.TenantID == p.TenantID && p.OwnerID == prev.ID && !sameNamedRateLimits(prev.RateLimits, next.RateLimits) {
		return Errorf(EFORBIDDEN, "a user may not change their own rate limits")
	}
	return nil
}

// MaxCompositeDepth bounds how deeply composites may nest, so that every
// grant expands fully and the same way everywhere.
const MaxCompositeDepth = 16

// compositeDepth returns the longest chain of nested composites in catalog
// (1 for a plain permission), or MaxCompositeDepth+1 as soon as it is
// deeper. The catalog has no cycles: the Service refuses them.
func compositeDepth(catalog []*Permission) int {
	byID := make(map[string]*Permission, len(catalog))
	for _, c := range catalog {
		byID[c.ID] = c
	}
	depth := map[string]int{}
	var walk func(id string, onPath int) int
	walk = func(id string, onPath int) int {
		if d, ok := depth[id]; ok {
			return d
		}
		if onPath > MaxCompositeDepth {
			return MaxCompositeDepth + 1
		}
		d := 1
		if c := byID[id]; c != nil {
			for _, ch := range c.Children {
				d = max(d, 1+walk(ch, onPath+1))
			}
		}
		depth[id] = d
		return d
	}
	deepest := 0
	for _, c := range catalog {
		deepest = max(deepest, walk(c.ID, 1))
	}
	return deepest
}

// depthError is the field error of a composite that nests too deeply.
func depthError() FieldError {
	return FieldError{Field: "children", Message: "composites may nest at most " + strconv.Itoa(MaxCompositeDepth) + " deep"}
}
