//go:build unix

package keyward

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// BenchmarkKeyCacheGet looks up cached keys in a cache of n keys, in an
// order that defeats the CPU's caches when n is large: the read path of a
// warm verification, without the rest of it. cpu-ns/op is the process's
// CPU time per lookup, which other load on the machine does not inflate.
//
//	go test -run '^$' -bench KeyCacheGet -benchmem .
func BenchmarkKeyCacheGet(b *testing.B) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, n := range []int{1000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			c := newKeyCache(time.Hour, n+n/10+1000) // room in every shard
			hashes := make([][32]byte, n)
			for i := range hashes {
				var buf [8]byte
				binary.LittleEndian.PutUint64(buf[:], uint64(i))
				hashes[i] = sha256.Sum256(buf[:])
				s := &keySnapshot{ID: strconv.Itoa(i), keyRights: &keyRights{TenantID: "t"}, cachedAt: clockStamp(now), keyExtras: sharedExtras[0]}
				c.put(hashes[i], s, c.gen.Load())
			}
			b.ResetTimer()
			cpu := processCPU()
			j := 0
			for range b.N {
				if c.get(hashes[j], now) == nil {
					b.Fatal("miss")
				}
				j = (j + 7919) % n
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkKeyCacheFill fills a cache with n snapshots shaped like those
// of keys verified through the Service (a UUID, a client id and a name in
// one string, shared rights and extras) and reports the Go heap's and the
// process's resident memory's growth per cached key: the cache's own
// share of BenchmarkKeyCacheMemory, without a database to seed. n is
// KEYWARD_BENCH_CACHE_KEYS (default 1,000,000):
//
//	go test -run '^$' -bench KeyCacheFill -benchtime 1x .
func BenchmarkKeyCacheFill(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("KEYWARD_BENCH_CACHE_KEYS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("KEYWARD_BENCH_CACHE_KEYS=%q: want a positive number", v)
		}
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rights := &keyRights{TenantID: "t"}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	rss := func() int64 {
		f, err := os.ReadFile("/proc/self/statm")
		if err != nil {
			return 0
		}
		var size, resident int64
		fmt.Sscan(string(f), &size, &resident)
		return resident * int64(os.Getpagesize())
	}
	for range b.N {
		c := newKeyCache(time.Hour, n+n/10+1000) // room in every shard
		before, rssBefore := heap(), rss()
		for i := range n {
			id, client, name := secret.NewID(), fmt.Sprintf("kw_id_%016d", i), fmt.Sprintf("service %d", i)
			strs := id + client + name
			s := &keySnapshot{ID: strs[:len(id)], ClientID: strs[len(id) : len(id)+len(client)], Name: strs[len(id)+len(client):],
				keyRights: rights, keyExtras: sharedExtras[1], cachedAt: clockStamp(now)}
			c.put(sha256.Sum256([]byte(client)), s, c.gen.Load())
		}
		after, rssAfter := heap(), rss()
		if c.len() != n {
			b.Fatalf("cache holds %d keys; want %d", c.len(), n)
		}
		b.ReportMetric(float64(int64(after)-int64(before))/float64(n), "bytes/key")
		b.ReportMetric(float64(rssAfter-rssBefore)/float64(n), "rss-bytes/key")
		runtime.KeepAlive(c)
	}
}

// processCPU is the process's CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
