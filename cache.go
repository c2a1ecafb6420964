package keyward

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// keySnapshot is what the verify path needs of a key, resolved once and
// cached by secret hash. It holds no secret in the clear: an HMAC key's
// secrets only sealed with the master key (sealed). What many keys hold
// alike (their rights, resolved against the tenant's catalog) is shared
// through keyRights (TenantID and Level among them); OwnerID is an
// interned string. What few keys have is in keyExtras, which keys with
// none of it share: a million cached keys are a million of these small
// structs (issue 13 wants at most 1 KiB of memory per cached key).
type keySnapshot struct {
	*keyRights
	*keyExtras

	ID        string
	ClientID  string
	Name      string
	OwnerID   string
	ExpiresAt *time.Time
	// generation is the key's secret generation (see prevUntil): one more
	// per rotation, far below 2^31.
	generation int32
	// off says the key fails regardless of time: it, its tenant or its
	// owner is deactivated, or its secret revoked (CodeDisabled).
	off bool

	// cachedAt is when the snapshot was made, as a clockStamp.
	cachedAt int64
	lastUsed atomic.Int64 // unix microseconds of the last successful use
	uses     atomic.Int64 // successful uses since the last flush
	dirty    atomic.Bool  // lastUsed not yet flushed to the store
	// seen is set when the cache serves the snapshot, and cleared when
	// eviction passes over it (see keyShard.evict).
	seen atomic.Bool
}

// keyExtras is the part of a keySnapshot that most keys do not have, or
// have alike. Snapshots whose extras are those of many keys share them
// (sharedExtras): a snapshot's extras are never changed once it is made,
// but for the credit lease of a key with credits, whose extras are never
// shared.
type keyExtras struct {
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
	// tenant's).
	limits []snapLimit
	// validUntil is set when the hash matched the previous secret of a
	// rotation: it stops working then.
	validUntil *time.Time
	// prevUntil ends the grace period of the previous secret (and of its
	// tokens).
	prevUntil *time.Time
	// sealed holds the AES-GCM sealed secrets of an HMAC key: the current
	// one, then the previous during a rotation's grace period.
	sealed [][]byte
	// allowed are the client prefixes the key works from (nil: any).
	allowed allowList
}

// sharedExtras are the extras most keys have: none, or only the meta and
// token lifespan a key gets by default.
var sharedExtras = []*keyExtras{
	{},
	{Meta: json.RawMessage("{}"), TokenLifespanSeconds: DefaultTokenLifespan},
	{TokenLifespanSeconds: DefaultTokenLifespan},
}

// shareExtras replaces the extras of s, while s is being made, by shared
// ones that are exactly alike, if any.
func (s *keySnapshot) shareExtras() {
	for _, e := range sharedExtras {
		if reflect.DeepEqual(s.keyExtras, e) {
			s.keyExtras = e
			return
		}
	}
}

// clockBase is what clockStamp measures from.
var clockBase = time.Now()

// clockStamp is t as nanoseconds since clockBase: 8 bytes where a
// time.Time takes 24. Two stamps of the process's clock differ by its
// monotonic reading, as time.Time.Sub does; a clock without one (a test's)
// by the wall clock.
func clockStamp(t time.Time) int64 { return int64(t.Sub(clockBase)) }

// ref names the snapshot's key.
func (s *keySnapshot) ref() KeyRef { return KeyRef{TenantID: s.TenantID, ID: s.ID} }

// keyCache maps SHA-256(secret) to a snapshot of the key, holding at most
// max snapshots. Every change made through the Service invalidates the
// affected entries before it returns, and entries older than ttl are
// refetched. gen increases on every invalidation, so a fill that raced with
// a change is dropped instead of cached stale.
//
// Reads take only the read lock of one of up to 64 shards (chosen by the
// hash). Writes (fills, invalidations, clears) take mu, which guards the
// index from keys to hashes, then the shard's lock: a fill's check of gen,
// its insertion and its eviction are one step against invalidations. A full
// shard evicts one entry per fill, chosen by sampling (see keyShard.evict):
// constant work, no list to maintain on the read path.
type keyCache struct {
	shards []keyShard
	mask   uint64 // len(shards) - 1
	gen    atomic.Uint64
	ttl    time.Duration
	max    int

	mu   sync.Mutex
	seed maphash.Seed
	// refs maps the hash of a KeyRef string to the secret hash cached for
	// it; extra holds further ones (the previous secret during a
	// rotation's grace period, or another key whose ref hashes alike:
	// invalidating one then drops both, which is safe).
	refs  map[uint64][32]byte
	extra map[uint64][][32]byte

	entries                 atomic.Int64
	hits, misses, evictions atomic.Uint64
	// disabled is set while changes from other replicas may be missed:
	// nothing is then served from or put into the cache.
	disabled atomic.Bool

	dirtyMu sync.Mutex
	dirty   []*keySnapshot
}

// keyShard is one part of the cache; cap is its share of the bound.
type keyShard struct {
	mu  sync.RWMutex
	m   map[[32]byte]*keySnapshot
	cap int
	_   [64 - 24 - 8 - 8]byte // one cache line each
}

// maxKeyShards bounds the shards; a shard holds at least minShardKeys
// keys when the cache holds more than that.
const (
	maxKeyShards = 64
	minShardKeys = 1024
)

// newKeyCache returns a cache of at most size keys (size <= 0: it caches
// nothing).
func newKeyCache(ttl time.Duration, size int) *keyCache {
	max := max(size, 0)
	n := 1
	for n < maxKeyShards && max/(2*n) >= minShardKeys {
		n *= 2
	}
	c := &keyCache{shards: make([]keyShard, n), mask: uint64(n - 1), ttl: ttl, max: max, seed: maphash.MakeSeed(),
		refs: map[uint64][32]byte{}, extra: map[uint64][][32]byte{}}
	for i := range c.shards {
		c.shards[i].m = map[[32]byte]*keySnapshot{}
		c.shards[i].cap = max / n
		if i < max%n {
			c.shards[i].cap++
		}
	}
	return c
}

func (c *keyCache) shard(h [32]byte) *keyShard {
	return &c.shards[binary.LittleEndian.Uint64(h[:8])&c.mask]
}

func (c *keyCache) get(h [32]byte, now time.Time) *keySnapshot {
	if c.disabled.Load() {
		c.misses.Add(1)
		return nil
	}
	sh := c.shard(h)
	sh.mu.RLock()
	s := sh.m[h]
	sh.mu.RUnlock()
	if s == nil || time.Duration(clockStamp(now)-s.cachedAt) > c.ttl {
		c.misses.Add(1)
		return nil
	}
	if !s.seen.Load() { // written once, not on every hit
		s.seen.Store(true)
	}
	c.hits.Add(1)
	return s
}

// put caches s under h unless an invalidation happened since gen was read.
// A full shard first evicts one entry.
func (c *keyCache) put(h [32]byte, s *keySnapshot, gen uint64) {
	if c.max == 0 {
		return
	}
	rh := c.refHash(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen || c.disabled.Load() {
		return
	}
	sh := c.shard(h)
	sh.mu.Lock()
	old := sh.m[h]
	var victim *keySnapshot
	var victimHash [32]byte
	if old == nil && len(sh.m) >= sh.cap {
		victimHash, victim = sh.evict(s.cachedAt, c.ttl)
	}
	sh.m[h] = s
	sh.mu.Unlock()
	switch {
	case victim != nil:
		c.unindex(c.refHash(victim), victimHash)
		c.evictions.Add(1)
	case old == nil:
		c.entries.Add(1)
	}
	if old != nil && old.ref() != s.ref() {
		c.unindex(c.refHash(old), h) // the secret hash is now another key's
	}
	c.index(rh, h)
}

// refHash is the hash of s.ref().String() in the cache's index.
func (c *keyCache) refHash(s *keySnapshot) uint64 {
	return maphash.String(c.seed, s.ref().String())
}

// evict removes and returns an entry of the full shard sh: of a few
// entries sampled where the map's randomized iteration starts, the first
// that expired or was not served since eviction last passed over it (whose
// seen mark it clears), else the first sampled. The caller holds sh.mu.
func (sh *keyShard) evict(now int64, ttl time.Duration) ([32]byte, *keySnapshot) {
	const samples = 5
	var first [32]byte
	i := 0
	for h, s := range sh.m {
		if i == 0 {
			first = h
		}
		if !s.seen.Load() || time.Duration(now-s.cachedAt) > ttl {
			delete(sh.m, h)
			return h, s
		}
		s.seen.Store(false)
		if i++; i == samples {
			break
		}
	}
	s := sh.m[first]
	delete(sh.m, first)
	return first, s
}

// index records that h is cached for the key whose ref hashes to rh. The
// caller holds c.mu.
func (c *keyCache) index(rh uint64, h [32]byte) {
	cur, ok := c.refs[rh]
	switch {
	case !ok:
		c.refs[rh] = h
	case cur != h && !slices.Contains(c.extra[rh], h):
		c.extra[rh] = append(c.extra[rh], h)
	}
}

// unindex forgets that h is cached for the key whose ref hashes to rh. The
// caller holds c.mu.
func (c *keyCache) unindex(rh uint64, h [32]byte) {
	ex := c.extra[rh]
	if cur, ok := c.refs[rh]; ok && cur == h {
		if len(ex) == 0 {
			delete(c.refs, rh)
			return
		}
		c.refs[rh], ex = ex[len(ex)-1], ex[:len(ex)-1]
	} else if i := slices.Index(ex, h); i >= 0 {
		ex = slices.Delete(ex, i, i+1)
	}
	if len(ex) == 0 {
		delete(c.extra, rh)
	} else {
		c.extra[rh] = ex
	}
}

// drop removes the entry of h, if any. The caller holds c.mu.
func (c *keyCache) drop(h [32]byte) {
	sh := c.shard(h)
	sh.mu.Lock()
	if _, ok := sh.m[h]; ok {
		delete(sh.m, h)
		c.entries.Add(-1)
	}
	sh.mu.Unlock()
}

// invalidate drops every entry of the given keys (KeyRef strings).
func (c *keyCache) invalidate(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for _, id := range ids {
		rh := maphash.String(c.seed, id)
		if h, ok := c.refs[rh]; ok {
			c.drop(h)
			delete(c.refs, rh)
		}
		for _, h := range c.extra[rh] {
			c.drop(h)
		}
		delete(c.extra, rh)
	}
}

// setEnabled turns caching on or off.
func (c *keyCache) setEnabled(on bool) { c.disabled.Store(!on) }

// clear drops every entry.
func (c *keyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.m = map[[32]byte]*keySnapshot{}
		sh.mu.Unlock()
	}
	c.refs, c.extra = map[uint64][32]byte{}, map[uint64][][32]byte{}
	c.entries.Store(0)
}

// len is the number of cached keys.
func (c *keyCache) len() int { return int(c.entries.Load()) }

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
