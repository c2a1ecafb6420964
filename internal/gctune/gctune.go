// Package gctune keeps the garbage collector's heap goal at or above a
// floor, a minimum heap, so that a server whose live heap is a few MiB does
// not collect every few MiB it allocates.
//
// The Go runtime collects when the heap reaches its goal: the heap live
// after the last collection plus GOGC percent of it (and of the stacks and
// globals), and at least 4 MiB × GOGC/100. A server with a small live heap
// that allocates a few KiB a request thus collects hundreds of times a
// second under load. The tuner raises GOGC after every collection so that
// the next goal is about the floor, and gives GOGC's default back (100) once
// the live heap is half the floor or more: a large heap (a full key cache)
// grows by 100 % before a collection, exactly as without the tuner.
//
// The tuner owns the process's GC percent while it runs, so at most one
// runs at a time, and it never runs when the operator set GOGC or
// GOMEMLIMIT (EnvOverride).
package gctune

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// BasePercent is GOGC's default: the tuner never sets less.
const BasePercent = 100

// runtimeHeapMinimum is the runtime's least heap goal at GOGC=100; it grows
// with GOGC (4 MiB × GOGC/100), so Percent keeps GOGC at or below
// floor/4 MiB × 100, lest that minimum alone overshoot the floor.
const runtimeHeapMinimum = 4 << 20

// Percent returns the GOGC percent that puts the next heap goal at about
// floor, given the collection that just ended: live bytes of heap marked
// live, roots bytes of stacks and globals scanned. The runtime's goal is
// max(live + (live+roots) × percent/100, 4 MiB × percent/100). The result
// is never below BasePercent: a live heap of half the floor or more gets
// GOGC's default.
func Percent(live, roots, floor uint64) int {
	if floor <= live {
		return BasePercent
	}
	p := uint64(math.MaxInt32)
	if base := live + roots; base > 0 {
		p = ceilDiv(floor-live, base, 100)
	}
	p = min(p, floor/runtimeHeapMinimum*100+floor%runtimeHeapMinimum*100/runtimeHeapMinimum)
	if p < BasePercent {
		return BasePercent
	}
	return int(min(p, math.MaxInt32))
}

// ceilDiv returns ⌈a × m / b⌉ without overflowing for any a below 2^57.
func ceilDiv(a, b, m uint64) uint64 {
	if a > math.MaxUint64/m {
		return math.MaxUint64 / 2
	}
	return (a*m + b - 1) / b
}

// EnvOverride returns the name of the Go runtime's GC setting the operator
// set in the environment (GOGC or GOMEMLIMIT), or "" when neither is set:
// the tuner never overrides them.
func EnvOverride(getenv func(string) string) string {
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		if getenv(name) != "" {
			return name
		}
	}
	return ""
}

// running is true while a Tuner runs: the GC percent is the process's.
var running atomic.Bool

// ErrRunning is returned by Start while another Tuner runs in the process.
var ErrRunning = errors.New("gctune: a tuner already runs in this process")

// Tuner adjusts GOGC after every collection (see the package comment).
type Tuner struct {
	floor uint64

	mu      sync.Mutex // held while tuning, and by Stop
	stopped bool
	prev    int              // the GC percent before Start, restored by Stop
	samples []metrics.Sample // live heap, stacks and globals scanned
	percent atomic.Int64     // the GC percent last set
	tunes   atomic.Uint64    // collections the tuner saw
}

// Start sets the GC percent for floor bytes at once and again after every
// collection, until Stop. It fails with ErrRunning while another Tuner
// runs.
func Start(floor uint64) (*Tuner, error) {
	if !running.CompareAndSwap(false, true) {
		return nil, ErrRunning
	}
	t := &Tuner{floor: floor, samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}}
	t.mu.Lock()
	t.prev = debug.SetGCPercent(BasePercent)
	t.tune()
	t.mu.Unlock()
	arm(t)
	return t, nil
}

// Stop ends the tuning and restores the GC percent the process had before
// Start. It may be called more than once, and on a nil Tuner.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	debug.SetGCPercent(t.prev)
	running.Store(false)
}

// Floor returns the minimum heap goal the tuner keeps, in bytes.
func (t *Tuner) Floor() uint64 { return t.floor }

// GCPercent returns the GC percent the tuner set last.
func (t *Tuner) GCPercent() int { return int(t.percent.Load()) }

// tune sets the GC percent from the last collection's figures. t.mu is held.
func (t *Tuner) tune() {
	metrics.Read(t.samples)
	var v [3]uint64
	for i, s := range t.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	p := Percent(v[0], v[1]+v[2], t.floor)
	if int64(p) != t.percent.Load() {
		debug.SetGCPercent(p)
		t.percent.Store(int64(p))
	}
	t.tunes.Add(1)
}

// sentinel is garbage as soon as it is made: its finalizer runs after the
// collection that found it unreachable, tunes, and makes the next one. It
// holds a pointer so that it is never one of the tiny allocator's blocks,
// whose finalizers may wait for their neighbours.
type sentinel struct{ t *Tuner }

func arm(t *Tuner) { runtime.SetFinalizer(&sentinel{t}, fire) }

func fire(s *sentinel) {
	t := s.t
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return
	}
	t.tune()
	t.mu.Unlock()
	arm(t)
}

// ParseSize parses a byte count as GOMEMLIMIT writes one: a whole number
// with an optional unit B, KiB, MiB, GiB or TiB ("64MiB", "0"); "off" is 0.
func ParseSize(s string) (uint64, error) {
	if s == "off" {
		return 0, nil
	}
	units := []struct {
		suffix string
		shift  uint
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"B", 0}}
	num, shift := s, uint(0)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = rest, u.shift
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || num == "" || num[0] == '+' {
		return 0, fmt.Errorf("%q is not a size such as 64MiB, 1GiB or 0", s)
	}
	if n > math.MaxUint64>>shift {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n << shift, nil
}

// FormatSize writes n as ParseSize reads it, in the largest unit that
// divides it.
func FormatSize(n uint64) string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatUint(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatUint(n, 10)
}
