package keyward

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// cacheEntry is a snapshot of key id (tenant t) as cached under the hash
// of secret.
func cacheEntry(id, secret string, at time.Time) ([32]byte, *keySnapshot) {
	return sha256.Sum256([]byte(secret)), &keySnapshot{ID: id, keyRights: &keyRights{TenantID: "t"}, cachedAt: clockStamp(at), keyExtras: sharedExtras[0]}
}

// checkCache fails t unless c's count, shards and index agree: every
// cached snapshot is found by its hash in its shard and indexed once under
// its key, and the count is the shards' sum.
func checkCache(t *testing.T, c *keyCache) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	cached := map[*keySnapshot]bool{}
	for i := range c.shards {
		sh := &c.shards[i]
		checkTable(t, &sh.t, hashKey)
		if sh.t.n > sh.cap {
			t.Errorf("shard %d holds %d entries; want at most %d", i, sh.t.n, sh.cap)
		}
		n += sh.t.n
		for _, s := range sh.t.slots {
			if s == nil {
				continue
			}
			if c.shard(s.hash) != sh {
				t.Errorf("entry of %s is in shard %d, not its hash's", s.ID, i)
			}
			if j := sh.t.find(&s.hash); j < 0 || sh.t.slots[j] != s {
				t.Errorf("entry of %s is not found by its hash", s.ID)
			}
			cached[s] = true
		}
	}
	indexed := map[*keySnapshot]bool{}
	for i := range c.refs {
		checkTable(t, &c.refs[i], c.refHash)
		for _, s := range c.refs[i].slots {
			switch {
			case s == nil:
			case indexed[s]:
				t.Errorf("entry of %s is indexed twice", s.ID)
			case !cached[s]:
				t.Errorf("the index holds %s, which is not cached", s.ID)
			case c.refHash(s)&c.mask != uint64(i):
				t.Errorf("entry of %s is indexed in part %d, not its key's", s.ID, i)
			default:
				indexed[s] = true
			}
		}
	}
	if len(indexed) != n {
		t.Errorf("index holds %d entries, the shards %d: invalidating a key would miss some", len(indexed), n)
	}
	if got := c.len(); got != n {
		t.Errorf("got len %d, want %d (the shards' entries)", got, n)
	}
	if n > c.max {
		t.Errorf("holds %d entries; want at most %d", n, c.max)
	}
}

// checkTable fails t unless tb's count, tags and probing agree: every
// entry is reached by probing from its home slot without an empty slot in
// between, and at least a quarter of the slots are empty.
func checkTable(t *testing.T, tb *snapTable, keyOf func(*keySnapshot) uint64) {
	t.Helper()
	mask := uint64(len(tb.slots) - 1)
	if len(tb.slots)&int(mask) != 0 || len(tb.tags) != len(tb.slots) {
		t.Fatalf("table of %d slots, %d tags; want a power of two of each", len(tb.slots), len(tb.tags))
	}
	n := 0
	for i, s := range tb.slots {
		if s == nil {
			if tb.tags[i] != 0 {
				t.Errorf("empty slot %d has tag %d", i, tb.tags[i])
			}
			continue
		}
		n++
		key := keyOf(s)
		if tb.tags[i] != tagOf(key) {
			t.Errorf("slot %d has tag %d; want %d", i, tb.tags[i], tagOf(key))
		}
		for j := (key >> 8) & mask; j != uint64(i); j = (j + 1) & mask {
			if tb.slots[j] == nil {
				t.Errorf("slot %d is not reached from its home slot %d: empty slot %d between", i, (key>>8)&mask, j)
				break
			}
		}
	}
	if n != tb.n {
		t.Errorf("table counts %d entries; holds %d", tb.n, n)
	}
	if 4*n > 3*len(tb.slots) {
		t.Errorf("table holds %d entries in %d slots; want at most three quarters full", n, len(tb.slots))
	}
}

// indexLen is the number of entries in c's index.
func indexLen(c *keyCache) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i := range c.refs {
		n += c.refs[i].n
	}
	return n
}

func TestKeyCacheBoundUnderConcurrentFills(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, size := range []int{1, 7, 100, 5000, 70000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			c := newKeyCache(time.Hour, size)
			const workers = 8
			per := 2*size/workers + 50
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range per {
						id := fmt.Sprintf("k%d-%d", w, i)
						h, s := cacheEntry(id, id, now)
						c.put(h, s, c.gen.Load())
						c.get(h, now)
						if i%10 == 0 { // a rotation: the previous secret cached too
							h, s := cacheEntry(id, id+"-previous", now)
							c.put(h, s, c.gen.Load())
						}
						if i%7 == 0 {
							c.invalidate(fmt.Sprintf("t/k%d-%d", w, i/2))
						}
					}
				})
			}
			wg.Wait()
			checkCache(t, c)
			if got := c.len(); got > size || got < size/2 {
				t.Errorf("got %d entries, want at most %d and about as many", got, size)
			}
			if c.evictions.Load() == 0 {
				t.Errorf("got no evictions after %d fills of a %d-key cache", workers*per, size)
			}
			// Every key ever cached is found by invalidation: evicted
			// entries simply miss, present ones are dropped.
			for w := range workers {
				for i := range per {
					c.invalidate(fmt.Sprintf("t/k%d-%d", w, i))
				}
			}
			checkCache(t, c)
			if got := c.len(); got != 0 {
				t.Errorf("got %d entries after invalidating every key, want 0", got)
			}
			if n := indexLen(c); n != 0 {
				t.Errorf("index holds %d entries after invalidating every key, want none", n)
			}
		})
	}
}

func TestKeyCacheInvalidation(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newKeyCache(time.Hour, 100)
	h1, a := cacheEntry("a", "a1", now)
	h2, a2 := cacheEntry("a", "a0", now) // a's previous secret
	hb, b := cacheEntry("b", "b1", now)
	for _, e := range []struct {
		h [32]byte
		s *keySnapshot
	}{{h1, a}, {h2, a2}, {hb, b}} {
		c.put(e.h, e.s, c.gen.Load())
	}
	c.invalidate("t/a")
	if c.get(h1, now) != nil || c.get(h2, now) != nil {
		t.Errorf("a's secrets are served after its invalidation")
	}
	if c.get(hb, now) != b {
		t.Errorf("b is not served after a's invalidation")
	}
	// A fill that read gen before an invalidation is dropped.
	gen := c.gen.Load()
	c.invalidate("t/a")
	c.put(h1, a, gen)
	if c.get(h1, now) != nil {
		t.Errorf("a fill older than an invalidation is served")
	}
	// A secret hash that moved to another key: invalidating the new one drops it.
	_, moved := cacheEntry("c", "a1", now)
	c.put(h1, moved, c.gen.Load())
	c.invalidate("t/c")
	if c.get(h1, now) != nil {
		t.Errorf("c is served after its invalidation")
	}
	checkCache(t, c)
	if c.get(h1, now.Add(2*time.Hour)) != nil || c.get(hb, now.Add(2*time.Hour)) != nil {
		t.Errorf("an entry older than the TTL is served")
	}
}

func TestKeyCacheSizeZeroCachesNothing(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, size := range []int{0, -1} {
		c := newKeyCache(time.Hour, size)
		h, s := cacheEntry("a", "a1", now)
		c.put(h, s, c.gen.Load())
		if c.get(h, now) != nil || c.len() != 0 || c.max != 0 {
			t.Errorf("size %d: got %d entries, capacity %d; want none", size, c.len(), c.max)
		}
	}
}

// A hot key survives a stream of keys used once: eviction passes over
// entries served since it last looked.
func TestKeyCacheKeepsHotKeys(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newKeyCache(time.Hour, 64)
	hot, s := cacheEntry("hot", "hot", now)
	c.put(hot, s, c.gen.Load())
	misses := 0
	for i := range 10_000 {
		if c.get(hot, now) == nil {
			misses++
			c.put(hot, s, c.gen.Load())
		}
		h, s := cacheEntry(strconv.Itoa(i), strconv.Itoa(i), now)
		c.put(h, s, c.gen.Load())
	}
	if misses > 100 {
		t.Errorf("the hot key missed %d times in 10,000 uses; want few", misses)
	}
}

// TestSnapshotExtrasShared: a snapshot shares the extras of many keys only
// when its own are exactly alike; one that differs in any field (an
// allowlist, a rate limit, credits, a rotation, meta ...) keeps its own.
// Every field of keyExtras must be differed in by a case here.
func TestSnapshotExtrasShared(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, e := range sharedExtras {
		s := &keySnapshot{keyExtras: &keyExtras{Meta: e.Meta, TokenLifespanSeconds: e.TokenLifespanSeconds}}
		if s.shareExtras(); s.keyExtras != e {
			t.Errorf("extras %+v: not shared; want the shared ones", e)
		}
	}
	covered := map[string]bool{"lease": true} // taken after the snapshot is made, only with credits
	for i, e := range []*keyExtras{
		{Meta: json.RawMessage(`{"team":"a"}`), TokenLifespanSeconds: DefaultTokenLifespan},
		{Meta: json.RawMessage("{}"), TokenLifespanSeconds: 60},
		{Meta: json.RawMessage("{}"), TokenLifespanSeconds: DefaultTokenLifespan, HMACEnabled: true},
		{RateLimit: &RateLimit{Limit: 10, WindowSeconds: 1}},
		{audiences: []string{"api"}},
		{hasCredits: true},
		{hasCredits: true, refill: &Refill{Amount: 1, Interval: "daily"}},
		{hasCredits: true, creditGen: 2},
		{limits: []snapLimit{{counter: "key:t/k"}}},
		{validUntil: &at},
		{prevUntil: &at},
		{sealed: [][]byte{{1}}},
		{allowed: newAllowList([]string{"203.0.113.0/24"})},
		{allowed: allowList{set: true}}, // allows nothing
	} {
		v := reflect.ValueOf(e).Elem()
		for f := range v.NumField() {
			if !v.Field(f).IsZero() {
				covered[v.Type().Field(f).Name] = true
			}
		}
		s := &keySnapshot{keyExtras: e}
		if s.shareExtras(); s.keyExtras != e {
			t.Errorf("case %d: extras %+v were replaced by shared ones %+v", i, e, s.keyExtras)
		}
	}
	for f := range reflect.TypeFor[keyExtras]().Fields() {
		if !covered[f.Name] {
			t.Errorf("no case has keyExtras.%s: a snapshot differing only there must keep its own extras", f.Name)
		}
	}
	for i, e := range sharedExtras {
		if e.lease.Load() != nil {
			t.Errorf("shared extras %d hold a credit lease", i)
		}
	}
}

// TestSnapTable checks inserts and deletions against a map, with keys
// whose home slots crowd a few places (long probe runs, wrapping past the
// table's end) or spread out.
func TestSnapTable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		homes uint64 // distinct home slots keys fall in (before masking)
		ops   int
	}{
		{"one home", 1, 2000},
		{"last slots", 3, 2000},
		{"few homes", 16, 5000},
		{"spread", 1 << 40, 20000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			keys := map[*keySnapshot]uint64{}
			keyOf := func(s *keySnapshot) uint64 { return keys[s] }
			tb := newSnapTable(minTableSlots)
			var live []*keySnapshot
			for op := range tc.ops {
				if len(live) > 0 && (rng.IntN(3) == 0 || len(live) > 300) {
					k := rng.IntN(len(live))
					s := live[k]
					i := slices.Index(tb.slots, s)
					if i < 0 {
						t.Fatalf("op %d: entry %s is missing", op, s.ID)
					}
					tb.deleteAt(uint64(i), keyOf)
					live = slices.Delete(live, k, k+1)
				} else {
					// Homes past the end wrap: 1<<8 - 1 is the last slot of
					// any table.
					home := (rng.Uint64()%tc.homes + (1<<40 - 2)) % (1 << 40)
					s := &keySnapshot{ID: strconv.Itoa(op)}
					keys[s] = home<<8 | rng.Uint64()>>56<<56
					if tb.full() {
						tb = tb.grown(keyOf)
					}
					tb.insert(s, keys[s])
					live = append(live, s)
				}
				checkTable(t, &tb, keyOf)
				if t.Failed() {
					t.Fatalf("after op %d", op)
				}
			}
			for _, s := range live {
				if !slices.Contains(tb.slots, s) {
					t.Errorf("entry %s is missing", s.ID)
				}
			}
		})
	}
}

// The index finds a key by its KeyRef string: refHash hashes the same
// bytes without making the string, and isRef matches it exactly.
func TestKeyCacheRef(t *testing.T) {
	c := newKeyCache(time.Hour, 10)
	for _, tc := range []struct {
		tenant, id, ref string
		want            bool
	}{
		{"t", "a", "t/a", true},
		{"t", "a", "t/ab", false},
		{"t", "ab", "t/a", false},
		{"t", "a", "tx/a", false},
		{"tx", "a", "t/xa", false},
		{"", "a", "/a", true},
		{"t", "a/b", "t/a/b", true},
	} {
		s := &keySnapshot{keyRights: &keyRights{TenantID: tc.tenant}, ID: tc.id}
		if got := s.isRef(tc.ref); got != tc.want {
			t.Errorf("%s/%s isRef(%q): got %v, want %v", tc.tenant, tc.id, tc.ref, got, tc.want)
		}
		if got, want := c.refHash(s), maphash.String(c.seed, s.ref().String()); got != want {
			t.Errorf("%s/%s: refHash %x, want %x (the hash of %q)", tc.tenant, tc.id, got, want, s.ref().String())
		}
	}
}

// A snapshot is cached under one hash: putting it under another leaves it
// where it is, and replacing it under its hash drops it from the index.
func TestKeyCacheSnapshotUnderOneHash(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newKeyCache(time.Hour, 100)
	h1, s := cacheEntry("a", "a1", now)
	h2 := sha256.Sum256([]byte("a2"))
	c.put(h1, s, c.gen.Load())
	c.put(h2, s, c.gen.Load())
	if c.get(h1, now) != s || c.get(h2, now) != nil || c.len() != 1 {
		t.Errorf("got %v under its hash, %v under another, %d entries; want it under its hash only", c.get(h1, now), c.get(h2, now), c.len())
	}
	_, b := cacheEntry("b", "a1", now) // the secret hash now another key's
	c.put(h1, b, c.gen.Load())
	checkCache(t, c)
	if got := c.get(h1, now); got != b {
		t.Errorf("got %v under the hash, want b's snapshot", got)
	}
	c.invalidate("t/a")
	if got := c.get(h1, now); got != b {
		t.Errorf("invalidating a dropped b's snapshot: got %v", got)
	}
	c.invalidate("t/b")
	if c.get(h1, now) != nil || c.len() != 0 || indexLen(c) != 0 {
		t.Errorf("b is served after its invalidation, or left in the cache (%d entries, %d indexed)", c.len(), indexLen(c))
	}
}
