package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// The memory scenario (issue 13: at most 1 KiB of memory per cached key)
// verifies each key of a seeded tenant once, through POST
// /v1/keys/verify:batch (which caches every key it reads, as single verifies
// do), and reads the server's resident memory from /metrics before and
// after. RSS can only be read as it is: no garbage collection can be forced
// from outside, so it includes garbage not yet collected (an overstatement)
// and heap the server freed before, e.g. after an import, and reuses for the
// cache (an understatement: measure on a server started after the seed).
const (
	memoryBatch   = 100 // keys per verify:batch request (keyward.MaxVerifyBatch)
	memoryMaxSize = 1024
	memorySample  = 10_000 // keys verified again to see whether the cache kept them
)

// memory metrics read from /metrics.
const (
	metricRSS     = "process_resident_memory_bytes"
	metricHeap    = "go_memstats_heap_inuse_bytes"
	metricEntries = "keyward_key_cache_entries"
	metricHits    = "keyward_key_cache_hits_total"
	metricMisses  = "keyward_key_cache_misses_total"
)

// memoryResult is what the memory scenario measured.
type memoryResult struct {
	keys                  int
	rss0, rss1            float64
	heap0, heap1          float64
	entries0, entries1    float64
	hasHeap, hasEntries   bool
	sampled, sampleMisses float64
	hasMisses             bool
}

// perKey returns the RSS growth per cached key.
func (m memoryResult) perKey() float64 { return (m.rss1 - m.rss0) / m.cached() }

// cached returns the keys the pass cached: the new cache entries when
// /metrics counts them, else the keys verified.
func (m memoryResult) cached() float64 {
	if m.hasEntries && m.entries1 > m.entries0 {
		return m.entries1 - m.entries0
	}
	return float64(m.keys)
}

// memory runs the memory scenario over s's keys and returns its row and
// notes.
func (b *bench) memory(ctx context.Context, s *seed, stderr io.Writer) (row, []string, error) {
	var k struct{ ID, ClientSecret string }
	code, err := b.call(ctx, "POST", inTenant("/v1/apikeys", s.tenant), b.adminHdr(true),
		jsonBody(map[string]any{"name": "keyward-bench memory verifier", "level": 1, "permissions": []map[string]string{{"name": "keys:verify"}}}), &k)
	if err != nil || code != 201 {
		return row{}, nil, fmt.Errorf("creating the verifier in %s: status %d %v", s.tenant, code, err)
	}
	s.verifier, s.verifyID = k.ClientSecret, k.ID
	h := map[string]string{"Authorization": "Bearer " + s.verifier, "Content-Type": "application/json"}
	// verify verifies the secrets in one request and reports whether the
	// server answered each.
	verifySecrets := func(ctx context.Context, secrets ...string) bool {
		var body bytes.Buffer
		body.WriteString(`{"items":[`)
		for j, sec := range secrets {
			if j > 0 {
				body.WriteByte(',')
			}
			body.WriteString(`{"key":"` + sec + `"}`)
		}
		body.WriteString(`]}`)
		var a struct{ Items []struct{ Code string } }
		code, err := b.call(ctx, "POST", "/v1/keys/verify:batch", h, &body, &a)
		return err == nil && code == 200 && len(a.Items) == len(secrets)
	}
	verify := func(ctx context.Context, keys []int) bool {
		secrets := make([]string, len(keys))
		for j, i := range keys {
			secrets[j] = s.secret(i)
		}
		return verifySecrets(ctx, secrets...)
	}
	// The verifier's own key is cached before the first reading (it
	// verifies itself: no seeded key is cached before the pass).
	if !verifySecrets(ctx, s.verifier) {
		return row{}, nil, fmt.Errorf("POST /v1/keys/verify:batch in %s failed", s.tenant)
	}
	read := func() (map[string]float64, error) {
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return b.metrics(mctx, b.servers[0], metricRSS, metricHeap, metricEntries, metricHits, metricMisses)
	}
	m0, err := read()
	if err != nil {
		return row{}, nil, err
	}
	if _, ok := m0[metricRSS]; !ok {
		return row{}, nil, fmt.Errorf("/metrics has no %s: the memory scenario cannot measure", metricRSS)
	}

	fmt.Fprintf(stderr, "keyward-bench: memory: verifying each of the %d keys of %s once, %d a request…\n", s.n, s.tenant, memoryBatch)
	batches := (s.n + memoryBatch - 1) / memoryBatch
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	start := time.Now()
	b.parallel(batches, func(j int) error {
		keys := make([]int, 0, memoryBatch)
		for i := j * memoryBatch; i < min(s.n, (j+1)*memoryBatch); i++ {
			keys = append(keys, i)
		}
		t := time.Now()
		ok := verify(ctx, keys)
		d := time.Since(t)
		mu.Lock()
		lat = append(lat, d)
		if !ok {
			errs++
		}
		mu.Unlock()
		return nil
	})
	elapsed := time.Since(start)
	m1, err := read()
	if err != nil {
		return row{}, nil, err
	}

	// A sample verified again: a miss is a key the cache no longer holds.
	stride := max(1, s.n/memorySample)
	var sample []int
	for i := 0; i < s.n; i += stride {
		sample = append(sample, i)
	}
	for from := 0; from < len(sample); from += memoryBatch {
		if !verify(ctx, sample[from:min(len(sample), from+memoryBatch)]) {
			errs++
		}
	}
	m2, err := read()
	if err != nil {
		return row{}, nil, err
	}

	r := memoryResult{keys: s.n, rss0: m0[metricRSS], rss1: m1[metricRSS], heap0: m0[metricHeap], heap1: m1[metricHeap],
		entries0: m0[metricEntries], entries1: m1[metricEntries], sampled: float64(len(sample))}
	_, r.hasHeap = m0[metricHeap]
	_, r.hasEntries = m0[metricEntries]
	if _, ok := m1[metricMisses]; ok {
		r.hasMisses, r.sampleMisses = true, m2[metricMisses]-m1[metricMisses]
	}
	slices.Sort(lat)
	x := row{name: "memory", result: result{n: s.n, errors: errs, rps: float64(s.n) / elapsed.Seconds()}}
	if len(lat) > 0 {
		x.p50, x.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	x.memory = &r
	return x, r.notes(), nil
}

// notes explain a memory measurement.
func (m memoryResult) notes() []string {
	mib := func(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }
	n := []string{fmt.Sprintf("memory: %d keys verified once (%d a request; req/s above counts keys, p50 and p99 are per request): RSS %s before, %s after: %.0f bytes per cached key (target ≤ %d)",
		m.keys, memoryBatch, mib(m.rss0), mib(m.rss1), m.perKey(), memoryMaxSize)}
	if m.hasHeap {
		n = append(n, fmt.Sprintf("memory: Go heap in use %s before, %s after: %.0f bytes per key (RSS is read as it is: garbage not yet collected counts, and heap freed earlier, e.g. by an import, may be reused by the cache; for the cleanest figure start the server after the seed)",
			mib(m.heap0), mib(m.heap1), (m.heap1-m.heap0)/m.cached()))
	}
	switch {
	case !m.hasEntries:
		n = append(n, "memory: /metrics has no "+metricEntries+": growth is divided by the keys verified, not by the keys cached")
	case m.entries1-m.entries0 < 0.99*float64(m.keys):
		n = append(n, fmt.Sprintf("memory: the key cache grew by %.0f entries for %d keys: it evicted (run the server with a larger cache size and a --cache-ttl longer than the run, e.g. 1h); bytes per key are per entry it holds", m.entries1-m.entries0, m.keys))
	default:
		n = append(n, fmt.Sprintf("memory: the key cache grew by %.0f entries (%s)", m.entries1-m.entries0, metricEntries))
	}
	if m.hasMisses && m.sampleMisses > 0.01*m.sampled {
		n = append(n, fmt.Sprintf("memory: %.0f of %.0f keys verified again missed the cache: it evicted or expired them (run the server with --cache-ttl longer than the run, e.g. 1h)", m.sampleMisses, m.sampled))
	}
	return n
}
