package keyward

import (
	"context"
	"sync"
)

// missFlights makes concurrent cache misses of one secret share one store
// read: the first miss (the leader) reads, the others wait for its answer.
// A hot key whose cache entry expires under traffic is read once, not once
// per request in flight (16 connections read it 16 times at once before,
// growing the PostgreSQL pool to match).
//
// Only a found key is shared, and only with misses that began before any
// invalidation since the leader began (a flight belongs to one cache
// generation): a waiter gets what the cache would have given it. A key not
// found, or a failed read, is never shared: each waiter then reads for
// itself, so that a key created on another replica while the leader read
// is found by every request that arrived after it was made.
type missFlights struct {
	shards [16]flightShard
}

type flightShard struct {
	mu sync.Mutex
	m  map[flightKey]*flight
}

type flightKey struct {
	h   [32]byte
	gen uint64
}

type flight struct {
	done    chan struct{}
	snap    *keySnapshot
	waiters int // under the shard's mutex, for tests
}

// do returns load's snapshot for the hash h at cache generation gen, as
// read by this call or by a concurrent one of the same (h, gen). leader
// says whether this call read (and so should cache what it read).
func (f *missFlights) do(ctx context.Context, h [32]byte, gen uint64, load func() (*keySnapshot, error)) (snap *keySnapshot, leader bool, err error) {
	sh := &f.shards[h[0]%uint8(len(f.shards))]
	k := flightKey{h: h, gen: gen}
	sh.mu.Lock()
	if fl, ok := sh.m[k]; ok {
		fl.waiters++
		sh.mu.Unlock()
		select {
		case <-fl.done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if fl.snap != nil {
			return fl.snap, false, nil
		}
		snap, err := load()
		return snap, true, err
	}
	if sh.m == nil {
		sh.m = make(map[flightKey]*flight)
	}
	fl := &flight{done: make(chan struct{})}
	sh.m[k] = fl
	sh.mu.Unlock()

	snap, err = load()
	if err == nil {
		fl.snap = snap
	}
	sh.mu.Lock()
	delete(sh.m, k)
	sh.mu.Unlock()
	close(fl.done)
	return snap, true, err
}

// waiting is the number of calls waiting for a leader's read, for tests.
func (f *missFlights) waiting() int {
	n := 0
	for i := range f.shards {
		sh := &f.shards[i]
		sh.mu.Lock()
		for _, fl := range sh.m {
			n += fl.waiters
		}
		sh.mu.Unlock()
	}
	return n
}
