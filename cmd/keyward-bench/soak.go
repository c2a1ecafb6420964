package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/client"
)

// The soak (--soak DURATION) runs a mixed workload against one server for a
// long time and checks, as it goes, what must hold however long keyward
// runs: no answer is 5xx or otherwise unexpected, and after a warm-up the
// server's resident memory and goroutines stay flat (growth under
// soakMaxGrowth). It prints a line every soakReport.
const (
	soakReport    = 10 * time.Second
	soakSample    = 2 * time.Second
	soakMaxGrowth = 0.10
	soakMaxWarmUp = 5 * time.Minute
)

// soakOps is the workload: each worker cycles through it.
var soakOps = []string{"verify", "key", "token", "verify", "key", "create", "list", "verify", "key", "rotate", "token", "signed"}

// soakStats collects one reporting interval.
type soakStats struct {
	mu         sync.Mutex
	lat        []time.Duration
	n          int64
	serverErrs int64 // 5xx
	unexpected int64 // any other answer than the one the operation expects
	lastErr    string
}

func (s *soakStats) add(d time.Duration, status int, want int, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lat = append(s.lat, d)
	s.n++
	switch {
	case status >= 500:
		s.serverErrs++
		s.lastErr = fmt.Sprintf("%s: %d", what, status)
	case status != want:
		s.unexpected++
		s.lastErr = fmt.Sprintf("%s: got %d, want %d", what, status, want)
	}
}

// take returns the interval's latencies and resets them.
func (s *soakStats) take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	lat := s.lat
	s.lat = nil
	return lat
}

// serverGauges reads the server's resident memory and goroutines from
// /metrics.
func (b *bench) serverGauges(ctx context.Context) (rss, goroutines float64, err error) {
	req, err := http.NewRequestWithContext(ctx, "GET", b.servers[0]+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	res, err := b.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := 0
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			rss, _ = strconv.ParseFloat(value, 64)
			found++
		case "go_goroutines":
			goroutines, _ = strconv.ParseFloat(value, 64)
			found++
		}
	}
	if found < 2 {
		return 0, 0, fmt.Errorf("/metrics has no process_resident_memory_bytes or go_goroutines")
	}
	return rss, goroutines, sc.Err()
}

// soakOp returns one operation of the workload and the status it expects.
func (b *bench) soakOp(name string, created *keyRing) func(ctx context.Context) (int, error) {
	jsonHdr := func(auth string) map[string]string {
		return map[string]string{"Authorization": auth, "Content-Type": "application/json"}
	}
	switch name {
	case "verify":
		h := jsonHdr("Bearer " + b.verifierSecret)
		return func(ctx context.Context) (int, error) {
			return b.call(ctx, "POST", "/v1/keys/verify", h, jsonBody(map[string]string{"key": b.secret}), nil)
		}
	case "key":
		h := map[string]string{"Authorization": "Bearer " + b.secret}
		return func(ctx context.Context) (int, error) { return b.call(ctx, "GET", "/v1/whoami", h, nil, nil) }
	case "token":
		h := b.basicForm()
		return func(ctx context.Context) (int, error) {
			return b.call(ctx, "POST", "/oauth2/token", h, strings.NewReader("grant_type=client_credentials"), nil)
		}
	case "create":
		// Keys are created and, beyond the last few, deleted again, so that
		// the database stays the same size however long the soak runs.
		return func(ctx context.Context) (int, error) {
			var k struct{ ID string }
			code, err := b.call(ctx, "POST", "/v1/apikeys", jsonHdr(b.admin), jsonBody(map[string]any{"name": "keyward-bench soak", "level": 1}), &k)
			if err != nil || code != 201 {
				return code, err
			}
			if old := created.push(k.ID); old != "" {
				if code, err := b.call(ctx, "DELETE", "/v1/apikeys/"+old, map[string]string{"Authorization": b.admin}, nil, nil); err != nil || code != 200 {
					return code, err
				}
			}
			return 201, nil
		}
	case "list":
		h := map[string]string{"Authorization": b.admin}
		return func(ctx context.Context) (int, error) {
			return b.call(ctx, "GET", "/v1/apikeys?page-size=20&q=soak", h, nil, nil)
		}
	case "rotate":
		return func(ctx context.Context) (int, error) {
			return b.call(ctx, "POST", "/v1/apikeys/"+b.limitedID+"/rotate", jsonHdr(b.admin), jsonBody(map[string]int{"gracePeriodSeconds": 0}), nil)
		}
	case "signed":
		signer := &http.Client{Transport: client.NewSigner(b.hmacClient, b.hmacSecret, b.http.Transport), Timeout: 10 * time.Second}
		return func(ctx context.Context) (int, error) {
			req, err := http.NewRequestWithContext(ctx, "GET", b.server()+"/v1/whoami", nil)
			if err != nil {
				return 0, err
			}
			res, err := signer.Do(req)
			if err != nil {
				return 0, err
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode, nil
		}
	}
	panic("unknown soak operation " + name)
}

// keyRing remembers the last keys the soak created.
type keyRing struct {
	mu  sync.Mutex
	ids []string
}

// push adds id and returns the oldest id once more than 32 are held.
func (r *keyRing) push(id string) (evicted string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
	if len(r.ids) > 32 {
		evicted, r.ids = r.ids[0], r.ids[1:]
	}
	return evicted
}

// soak runs the workload for d and reports whether every invariant held.
func (b *bench) soak(ctx context.Context, d time.Duration, stdout io.Writer) bool {
	wantStatus := map[string]int{"create": 201}
	created := &keyRing{}
	ops := make([]func(context.Context) (int, error), len(soakOps))
	for i, name := range soakOps {
		ops[i] = b.soakOp(name, created)
	}
	warmUp := min(d/3, soakMaxWarmUp)
	fmt.Fprintf(stdout, "soak: %s with %d connections (warm-up %s): %s\n", d, b.cfg.concurrency, warmUp.Round(time.Second), strings.Join(soakOps, ","))

	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	stats := &soakStats{}
	var wg sync.WaitGroup
	var worker atomic.Int64
	for range b.cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(worker.Add(1)); ctx.Err() == nil; i++ {
				k := i % len(ops)
				t := time.Now()
				code, err := ops[k](ctx)
				if ctx.Err() != nil {
					return
				}
				want := wantStatus[soakOps[k]]
				if want == 0 {
					want = 200
				}
				if err != nil {
					code = -1
				}
				stats.add(time.Since(t), code, want, soakOps[k])
			}
		}()
	}

	start := time.Now()
	var rssAfter, gAfter []float64
	ok := true
	sample := time.NewTicker(min(soakSample, d/10))
	defer sample.Stop()
	lastReport, lastN := start, int64(0)
	var lastRSS, lastG float64
	report := func(now time.Time, rss, g float64) {
		lat := stats.take()
		slices.Sort(lat)
		var p50, p99 time.Duration
		if len(lat) > 0 {
			p50, p99 = lat[len(lat)/2], lat[len(lat)*99/100]
		}
		stats.mu.Lock()
		n, s5, bad, last := stats.n, stats.serverErrs, stats.unexpected, stats.lastErr
		stats.mu.Unlock()
		rps := float64(n-lastN) / now.Sub(lastReport).Seconds()
		fmt.Fprintf(stdout, "soak %6s: %8d requests %7.0f req/s  p50 %-9v p99 %-9v 5xx %d  unexpected %d  rss %.1f MiB  goroutines %.0f",
			now.Sub(start).Round(time.Second), n, rps, p50.Round(time.Microsecond), p99.Round(time.Microsecond), s5, bad, rss/(1<<20), g)
		if last != "" {
			fmt.Fprintf(stdout, "  (last: %s)", last)
		}
		fmt.Fprintln(stdout)
		lastReport, lastN = now, n
	}
	for {
		var now time.Time
		select {
		case now = <-sample.C:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			// The workers are stopping: their goroutines no longer count.
			report(time.Now(), lastRSS, lastG)
			break
		}
		gctx, gcancel := context.WithTimeout(context.Background(), 5*time.Second)
		rss, g, err := b.serverGauges(gctx)
		gcancel()
		if err != nil {
			fmt.Fprintf(stdout, "soak: reading /metrics: %v\n", err)
			ok = false
			continue
		}
		lastRSS, lastG = rss, g
		if now.Sub(start) >= warmUp {
			rssAfter, gAfter = append(rssAfter, rss), append(gAfter, g)
		}
		if now.Sub(lastReport) >= soakReport-soakSample/2 {
			report(now, rss, g)
		}
	}
	wg.Wait()
	created.mu.Lock()
	for _, id := range created.ids {
		b.call(context.Background(), "DELETE", "/v1/apikeys/"+id, map[string]string{"Authorization": b.admin}, nil, nil)
	}
	created.mu.Unlock()

	stats.mu.Lock()
	n, s5, bad := stats.n, stats.serverErrs, stats.unexpected
	stats.mu.Unlock()
	// The start and the end of the measured run are each the median of
	// their first or last few samples, so that one garbage collection cycle
	// or a burst of requests in flight neither hides nor fakes growth.
	median := func(xs []float64) float64 {
		xs = slices.Clone(xs)
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	k := max(1, min(5, len(rssAfter)/4))
	head := func(xs []float64) float64 { return median(xs[:k]) }
	tail := func(xs []float64) float64 { return median(xs[len(xs)-k:]) }
	fmt.Fprintf(stdout, "soak: %d requests, %d answered 5xx, %d unexpected\n", n, s5, bad)
	if s5 > 0 || bad > 0 {
		ok = false
	}
	if len(rssAfter) < 2 {
		fmt.Fprintln(stdout, "soak: too short to judge memory and goroutines after the warm-up")
		return false
	}
	// Goroutines also come and go with the requests in flight: up to three
	// per connection (its reader, its handler, and the SQLite driver's
	// watcher of the handler's query, which it starts for every query with
	// a deadline) are not growth, however few the goroutines are at rest.
	// (Samples of one run at 8 connections ranged from 32 to 53.)
	inFlight := float64(3 * b.cfg.concurrency)
	for _, m := range []struct {
		what      string
		base, end float64
		slack     float64
	}{{"rss", head(rssAfter), tail(rssAfter), 0}, {"goroutines", head(gAfter), tail(gAfter), inFlight}} {
		growth := m.end/m.base - 1
		verdict := "flat"
		if growth >= soakMaxGrowth && m.end-m.base > m.slack {
			verdict, ok = "GREW", false
		}
		fmt.Fprintf(stdout, "soak: %s after warm-up %.1f, at the end %.1f: %+.1f%% (%s, limit %+.0f%%)\n",
			m.what, scale(m.what, m.base), scale(m.what, m.end), 100*growth, verdict, 100*soakMaxGrowth)
	}
	if ok {
		fmt.Fprintln(stdout, "soak: PASS")
	} else {
		fmt.Fprintln(stdout, "soak: FAIL")
	}
	return ok
}

func scale(what string, v float64) float64 {
	if what == "rss" {
		return v / (1 << 20)
	}
	return v
}
