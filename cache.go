package keyward

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// keySnapshot is what the verify path needs of a key, resolved once and
// cached by secret hash. It holds no secret in the clear: an HMAC key's
// secrets only sealed with the master key (sealed).
type keySnapshot struct {
	ID          string
	TenantID    string
	ClientID    string
	Name        string
	OwnerID     string
	Level       int
	Permissions []string // explicit, composites expanded, sorted
	// explicit holds Permissions as a set: what verify's required
	// permissions are checked against.
	explicit map[string]bool
	// perms holds every permission the key acts with (level-implied
	// included), its grant intersected with its owner's current rights.
	perms                map[string]bool
	ExpiresAt            *time.Time
	Meta                 json.RawMessage
	TokenLifespanSeconds int
	HMACEnabled          bool
	RateLimit            *RateLimit
	// audiences are the key's allowed token audiences (none: keyward's
	// default).
	audiences []string
	// hasCredits says whether the key has credits, and refill how they are
	// refilled; the remaining count is never cached (see Credits).
	hasCredits bool
	refill     *Refill
	// creditGen is the credits' generation, and lease the lease they were
	// last spent from (see creditlease.go).
	creditGen int64
	lease     atomic.Pointer[creditLease]
	// limits are the key's rate limits, its owner's included (not the
	// tenant's); tenantCounter names the tenant's counter.
	limits        []snapLimit
	tenantCounter string
	// Why the key fails, if it does regardless of time: "" (it works),
	// or a VerifyCode such as CodeDisabled.
	disabled string
	// validUntil is set when the hash matched the previous secret of a
	// rotation: it stops working then.
	validUntil *time.Time
	rootTenant bool
	// generation is the key's secret generation; prevUntil ends the grace
	// period of the previous secret (and of its tokens).
	generation int
	prevUntil  *time.Time
	// effective lists every permission name the key holds, explicit and by
	// level, on every key or on its own: what an access token's scope may
	// ask for. scopable holds the same as a set.
	effective []string
	scopable  map[string]bool
	// sealed holds the AES-GCM sealed secrets of an HMAC key: the current
	// one, then the previous during a rotation's grace period.
	sealed [][]byte
	// allowed are the client prefixes the key works from (nil: any).
	allowed allowList
	// catalog is the tenant's catalog the snapshot was made with.
	catalog []*Permission

	cachedAt time.Time
	lastUsed atomic.Int64 // unix microseconds of the last successful use
	dirty    atomic.Bool  // lastUsed not yet flushed to the store
	uses     atomic.Int64 // successful uses since the last flush
}

// ref names the snapshot's key.
func (s *keySnapshot) ref() KeyRef { return KeyRef{TenantID: s.TenantID, ID: s.ID} }

// keyCache maps SHA-256(secret) to a snapshot of the key. Every change made
// through the Service invalidates the affected entries before it returns, and
// entries older than ttl are refetched. gen increases on every invalidation,
// so a fill that raced with a change is dropped instead of cached stale.
type keyCache struct {
	mu      sync.RWMutex
	entries map[[32]byte]*keySnapshot
	byKey   map[string][][32]byte // KeyRef string → hashes cached for it
	gen     atomic.Uint64
	ttl     time.Duration
	max     int

	hits, misses atomic.Uint64
	// disabled is set while changes from other replicas may be missed:
	// nothing is then served from or put into the cache.
	disabled atomic.Bool

	dirtyMu sync.Mutex
	dirty   []*keySnapshot
}

func newKeyCache(ttl time.Duration, max int) *keyCache {
	return &keyCache{
		entries: map[[32]byte]*keySnapshot{},
		byKey:   map[string][][32]byte{},
		ttl:     ttl,
		max:     max,
	}
}

func (c *keyCache) get(h [32]byte, now time.Time) *keySnapshot {
	if c.disabled.Load() {
		c.misses.Add(1)
		return nil
	}
	c.mu.RLock()
	s := c.entries[h]
	c.mu.RUnlock()
	if s == nil || now.Sub(s.cachedAt) > c.ttl {
		c.misses.Add(1)
		return nil
	}
	c.hits.Add(1)
	return s
}

// put caches s under h unless an invalidation happened since gen was read.
func (c *keyCache) put(h [32]byte, s *keySnapshot, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen || c.disabled.Load() {
		return
	}
	if len(c.entries) >= c.max {
		// Bounded memory: start over rather than track recency on the hot path.
		c.entries = map[[32]byte]*keySnapshot{}
		c.byKey = map[string][][32]byte{}
	}
	if _, ok := c.entries[h]; !ok {
		ref := s.ref().String()
		c.byKey[ref] = append(c.byKey[ref], h)
	}
	c.entries[h] = s
}

// invalidate drops every entry of the given keys (KeyRef strings).
func (c *keyCache) invalidate(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for _, id := range ids {
		for _, h := range c.byKey[id] {
			delete(c.entries, h)
		}
		delete(c.byKey, id)
	}
}

// setEnabled turns caching on or off.
func (c *keyCache) setEnabled(on bool) { c.disabled.Store(!on) }

// clear drops every entry.
func (c *keyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	c.entries = map[[32]byte]*keySnapshot{}
	c.byKey = map[string][][32]byte{}
}

func (c *keyCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// markUsed records a successful use; the first use since the last flush
// queues the snapshot for flushing.
func (c *keyCache) markUsed(s *keySnapshot, now time.Time) {
	s.lastUsed.Store(now.UnixMicro())
	s.uses.Add(1)
	if s.dirty.CompareAndSwap(false, true) {
		c.dirtyMu.Lock()
		c.dirty = append(c.dirty, s)
		c.dirtyMu.Unlock()
	}
}

// takeUsed returns the last-use times and use counts queued since the
// previous call.
func (c *keyCache) takeUsed() (map[KeyRef]time.Time, map[KeyRef]int64) {
	c.dirtyMu.Lock()
	list := c.dirty
	c.dirty = nil
	c.dirtyMu.Unlock()
	if len(list) == 0 {
		return nil, nil
	}
	out := make(map[KeyRef]time.Time, len(list))
	counts := make(map[KeyRef]int64, len(list))
	for _, s := range list {
		s.dirty.Store(false)
		t := time.UnixMicro(s.lastUsed.Load()).UTC()
		r := s.ref()
		if prev, ok := out[r]; !ok || t.After(prev) {
			out[r] = t
		}
		counts[r] += s.uses.Swap(0)
	}
	return out, counts
}

// catalogCache holds each tenant's permission catalog for the read paths
// (login tokens, whoami, key snapshots). Permission and tenant changes
// through the Service clear it; entries older than ttl are reloaded.
type catalogCache struct {
	mu      sync.RWMutex
	entries map[string]catalogEntry
	gen     uint64
	ttl     time.Duration
}

type catalogEntry struct {
	perms []*Permission
	at    time.Time
	// version is the catalog's version (VerificationRecord) when
	// versioned: the entry then serves, whatever its age, every read that
	// found that version.
	version   string
	versioned bool
}

// catalog returns the permission catalog of tenantID. Callers must not
// change the result.
func (s *Service) catalog(ctx context.Context, tenantID string) ([]*Permission, error) {
	c := &s.catalogs
	now := s.now()
	c.mu.RLock()
	e, ok := c.entries[tenantID]
	gen := c.gen
	c.mu.RUnlock()
	if ok && now.Sub(e.at) <= c.ttl {
		return e.perms, nil
	}
	perms, err := s.store.ListPermissions(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	c.put(tenantID, catalogEntry{perms: perms, at: now}, gen)
	return perms, nil
}

// put caches e for tenantID unless the catalogs were cleared since gen was
// read (the entry may predate the change that cleared them).
func (c *catalogCache) put(tenantID string, e catalogEntry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		if c.entries == nil {
			c.entries = map[string]catalogEntry{}
		}
		c.entries[tenantID] = e
	}
}

// catalogAt returns the permission catalog of tenantID at version (read
// by KeyForVerification): the cached one if it is at that version, else
// read from the store once and cached at that version. Callers must not
// change the result.
//
// The catalog read may already be newer than version (a change between
// the two reads): it is then cached under the older version, which the
// next read finds changed (one more read): the version is a counter that
// every permission write bumps, so it never comes back.
func (s *Service) catalogAt(ctx context.Context, tenantID, version string) ([]*Permission, error) {
	c := &s.catalogs
	c.mu.RLock()
	e, ok := c.entries[tenantID]
	gen := c.gen
	c.mu.RUnlock()
	if ok && e.versioned && e.version == version {
		return e.perms, nil
	}
	perms, err := s.store.ListPermissions(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	c.put(tenantID, catalogEntry{perms: perms, at: s.now(), version: version, versioned: true}, gen)
	return perms, nil
}

// clear drops every cached catalog.
func (c *catalogCache) clear() {
	c.mu.Lock()
	c.entries = nil
	c.gen++
	c.mu.Unlock()
}
