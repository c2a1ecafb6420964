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
	// hash is what the cache holds the snapshot under (see keyCache.put).
	hash     [32]byte
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
// index from keys to snapshots, then the shard's lock: a fill's check of
// gen, its insertion and its eviction are one step against invalidations.
// Only writers change a table, all of them holding mu, so a writer reads
// the tables under mu alone and takes a shard's lock only to change it. A
// full shard evicts one entry per fill, chosen by sampling (see
// keyShard.victim): constant work, no list to maintain on the read path.
//
// Each shard, and each part of the index, is one open-addressing table of
// snapshot pointers (snapTable); a snapshot holds the hash it is cached
// under. About 35 bytes per cached key where two maps took about 120
// (issue 13 wants at most 1 KiB of memory per cached key).
type keyCache struct {
	shards []keyShard
	mask   uint64 // len(shards) - 1
	gen    atomic.Uint64
	ttl    time.Duration
	max    int

	mu   sync.Mutex
	seed maphash.Seed
	// refs holds every cached snapshot once, found by the hash of its
	// KeyRef string (refHash), in the table its low bits choose: the
	// secrets a key is cached under (its previous one during a rotation's
	// grace period too) are found by invalidating the key.
	refs []snapTable

	entries                 atomic.Int64
	hits, misses, evictions atomic.Uint64
	// disabled is set while changes from other replicas may be missed:
	// nothing is then served from or put into the cache.
	disabled atomic.Bool

	dirtyMu sync.Mutex
	dirty   []*keySnapshot
}

// keyShard is one part of the cache; cap is its share of the bound, hand
// where eviction looks next.
type keyShard struct {
	mu   sync.RWMutex
	t    snapTable
	cap  int
	hand uint64
	_    [128 - 24 - 56 - 8 - 8]byte // two cache lines each
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
		refs: make([]snapTable, n)}
	for i := range c.shards {
		c.shards[i].t = newSnapTable(minTableSlots)
		c.refs[i] = newSnapTable(minTableSlots)
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

// hashKey is the probing key of a snapshot in its shard: bytes the shard's
// choice does not use.
func hashKey(s *keySnapshot) uint64 { return binary.LittleEndian.Uint64(s.hash[8:16]) }

func (c *keyCache) get(h [32]byte, now time.Time) *keySnapshot {
	if c.disabled.Load() {
		c.misses.Add(1)
		return nil
	}
	sh := c.shard(h)
	sh.mu.RLock()
	var s *keySnapshot
	if i := sh.t.find(&h); i >= 0 {
		s = sh.t.slots[i]
	}
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
// A full shard first evicts one entry. A snapshot is cached under one hash
// only: one already cached under another is not cached again.
func (c *keyCache) put(h [32]byte, s *keySnapshot, gen uint64) {
	if c.max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen || c.disabled.Load() || (s.hash != h && s.hash != [32]byte{}) {
		return
	}
	sh := c.shard(h)
	var old, victim *keySnapshot
	i := sh.t.find(&h)
	if i >= 0 {
		if old = sh.t.slots[i]; old == s {
			return
		}
	}
	var vi uint64
	grown := sh.t
	switch {
	case old != nil:
	case sh.t.n >= sh.cap:
		vi = sh.victim(s.cachedAt, c.ttl)
		victim = sh.t.slots[vi]
	case sh.t.full():
		grown = sh.t.grown(hashKey) // while readers use sh.t
	}
	sh.mu.Lock()
	s.hash = h
	switch {
	case old != nil:
		sh.t.slots[i] = s // the same hash: the same tag
	case victim != nil:
		sh.t.deleteAt(vi, hashKey)
		sh.t.insert(s, hashKey(s))
	default:
		sh.t = grown
		sh.t.insert(s, hashKey(s))
	}
	sh.mu.Unlock()
	switch {
	case victim != nil:
		c.unindex(victim)
		c.evictions.Add(1)
	case old != nil:
		c.unindex(old)
	default:
		c.entries.Add(1)
	}
	rh := c.refHash(s)
	t := &c.refs[rh&c.mask]
	if t.full() {
		*t = t.grown(c.refHash)
	}
	t.insert(s, rh)
}

// refHash is the hash of s.ref().String() in the cache's index.
func (c *keyCache) refHash(s *keySnapshot) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(s.TenantID)
	h.WriteByte('/')
	h.WriteString(s.ID)
	return h.Sum64()
}

// isRef reports whether ref (a KeyRef string) names s's key.
func (s *keySnapshot) isRef(ref string) bool {
	t := len(s.TenantID)
	return len(ref) == t+1+len(s.ID) && ref[t] == '/' && ref[:t] == s.TenantID && ref[t+1:] == s.ID
}

// victim returns the slot of the entry the full shard sh evicts: of a few
// entries sampled from its hand on, the first that expired or was not
// served since eviction last passed over it (whose seen mark it clears),
// else the first sampled. The caller holds c.mu.
func (sh *keyShard) victim(now int64, ttl time.Duration) uint64 {
	const samples = 5
	t := &sh.t
	mask := uint64(len(t.slots) - 1)
	first, n := -1, 0
	for i := sh.hand & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == nil {
			continue
		}
		if first < 0 {
			first = int(i)
		}
		if !s.seen.Load() || time.Duration(now-s.cachedAt) > ttl {
			sh.hand = i + 1
			return i
		}
		s.seen.Store(false)
		if n++; n == samples {
			sh.hand = i + 1
			return uint64(first)
		}
	}
}

// unindex removes s from the index. The caller holds c.mu.
func (c *keyCache) unindex(s *keySnapshot) {
	rh := c.refHash(s)
	t := &c.refs[rh&c.mask]
	mask := uint64(len(t.slots) - 1)
	for i := (rh >> 8) & mask; t.tags[i] != 0; i = (i + 1) & mask {
		if t.slots[i] == s {
			t.deleteAt(i, c.refHash)
			return
		}
	}
}

// drop removes s, cached, from its shard and the index. The caller holds
// c.mu.
func (c *keyCache) drop(s *keySnapshot) {
	sh := c.shard(s.hash)
	if i := sh.t.find(&s.hash); i >= 0 && sh.t.slots[i] == s {
		sh.mu.Lock()
		sh.t.deleteAt(uint64(i), hashKey)
		sh.mu.Unlock()
		c.entries.Add(-1)
	}
	c.unindex(s)
}

// invalidate drops every entry of the given keys (KeyRef strings).
func (c *keyCache) invalidate(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for _, id := range ids {
		rh := maphash.String(c.seed, id)
		t := &c.refs[rh&c.mask]
		mask, tag := uint64(len(t.slots)-1), tagOf(rh)
		var buf [4]*keySnapshot
		found := buf[:0]
		for i := (rh >> 8) & mask; t.tags[i] != 0; i = (i + 1) & mask {
			if t.tags[i] == tag && t.slots[i].isRef(id) {
				found = append(found, t.slots[i])
			}
		}
		for _, s := range found {
			c.drop(s)
		}
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
		sh.t = newSnapTable(minTableSlots)
		sh.mu.Unlock()
		c.refs[i] = newSnapTable(minTableSlots)
	}
	c.entries.Store(0)
}

// snapTable is an open-addressing table of snapshots, each found by a
// 64-bit key: linear probing from the slot its bits 8 and up choose, with
// no tombstones (deleteAt moves back the entries probed past the deleted
// one). Its length is a power of two, and it is at most three quarters
// full: probing always ends at an empty slot. A slot's tag is 0 when it is
// empty, else the top byte of its entry's key (1 for 0), compared before
// the entry is read. 9 bytes a slot, where a map entry of a 32-byte key
// and a pointer takes about 41.
type snapTable struct {
	slots []*keySnapshot
	tags  []uint8
	n     int
}

const minTableSlots = 8

func newSnapTable(size int) snapTable {
	return snapTable{slots: make([]*keySnapshot, size), tags: make([]uint8, size)}
}

func tagOf(key uint64) uint8 { return max(uint8(key>>56), 1) }

// find returns the slot of the entry cached under h in a shard's table, or
// -1.
func (t *snapTable) find(h *[32]byte) int {
	key := binary.LittleEndian.Uint64(h[8:16])
	mask, tag := uint64(len(t.slots)-1), tagOf(key)
	for i := (key >> 8) & mask; ; i = (i + 1) & mask {
		switch t.tags[i] {
		case 0:
			return -1
		case tag:
			if t.slots[i].hash == *h {
				return int(i)
			}
		}
	}
}

// full reports whether one more entry would fill t past three quarters.
func (t *snapTable) full() bool { return (t.n+1)*4 > len(t.slots)*3 }

// grown is a copy of t twice as long; keyOf gives an entry's key.
func (t *snapTable) grown(keyOf func(*keySnapshot) uint64) snapTable {
	g := newSnapTable(2 * len(t.slots))
	for _, s := range t.slots {
		if s != nil {
			g.insert(s, keyOf(s))
		}
	}
	return g
}

// insert adds s, whose key is key, to t, which is not full.
func (t *snapTable) insert(s *keySnapshot, key uint64) {
	mask := uint64(len(t.slots) - 1)
	i := (key >> 8) & mask
	for t.tags[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i], t.tags[i] = s, tagOf(key)
	t.n++
}

// deleteAt removes the entry of slot i, moving back each entry after it
// that probing would no longer reach; keyOf gives an entry's key.
func (t *snapTable) deleteAt(i uint64, keyOf func(*keySnapshot) uint64) {
	mask := uint64(len(t.slots) - 1)
	for j := (i + 1) & mask; t.tags[j] != 0; j = (j + 1) & mask {
		// The entry of j moves to i unless its home slot lies after i
		// (cyclically, up to j).
		if home := (keyOf(t.slots[j]) >> 8) & mask; (j-home)&mask >= (j-i)&mask {
			t.slots[i], t.tags[i] = t.slots[j], t.tags[j]
			i = j
		}
	}
	t.slots[i], t.tags[i] = nil, 0
	t.n--
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

// dropUsed forgets the uses queued for the keys of refs, which are deleted:
// a later flush would write them to whatever key has the id by then (one
// re-created at once).
func (c *keyCache) dropUsed(refs ...KeyRef) {
	c.dirtyMu.Lock()
	defer c.dirtyMu.Unlock()
	kept := c.dirty[:0]
	for _, s := range c.dirty {
		if r := s.ref(); slices.Contains(refs, r) {
			s.uses.Store(0)
			s.dirty.Store(false)
			continue
		}
		kept = append(kept, s)
	}
	clear(c.dirty[len(kept):])
	c.dirty = kept
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
