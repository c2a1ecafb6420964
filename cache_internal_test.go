package keyward

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
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
// cached hash is indexed under its key, and the count is the shards' sum.
func checkCache(t *testing.T, c *keyCache) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		if len(sh.m) > sh.cap {
			t.Errorf("shard %d holds %d entries; want at most %d", i, len(sh.m), sh.cap)
		}
		n += len(sh.m)
		for h, s := range sh.m {
			if cur, ok := c.refs[c.refHash(s)]; (!ok || cur != h) && !slicesContains(c.extra[c.refHash(s)], h) {
				t.Errorf("entry of %s is not indexed: invalidating it would miss it", s.ID)
			}
		}
	}
	if got := c.len(); got != n {
		t.Errorf("got len %d, want %d (the shards' entries)", got, n)
	}
	if n > c.max {
		t.Errorf("holds %d entries; want at most %d", n, c.max)
	}
}

func slicesContains(hs [][32]byte, h [32]byte) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
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
			if len(c.refs) != 0 || len(c.extra) != 0 {
				t.Errorf("index holds %d+%d keys after invalidating every key, want none", len(c.refs), len(c.extra))
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
