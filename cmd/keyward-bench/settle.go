package main

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuTimes is the machine's CPU time so far, from /proc/stat's first line:
// all of it and the idle part (idle and iowait), in clock ticks.
type cpuTimes struct{ total, idle uint64 }

// readCPUTimes parses the first line of /proc/stat.
func readCPUTimes(stat string) (cpuTimes, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return cpuTimes{}, errors.New("no cpu line in /proc/stat")
	}
	var t cpuTimes
	for i, s := range f[1:] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return cpuTimes{}, err
		}
		if i == 7 { // steal: time the machine's CPUs ran someone else
			continue
		}
		if i >= 8 { // guest and guest_nice are already in user and nice
			break
		}
		t.total += n
		if i == 3 || i == 4 { // idle, iowait
			t.idle += n
		}
	}
	return t, nil
}

// idleShare is the share of CPU time idle between a and b (0 when no time passed).
func idleShare(a, b cpuTimes) float64 {
	if b.total <= a.total {
		return 0
	}
	return float64(b.idle-a.idle) / float64(b.total-a.total)
}

// settleAfter is the import (keys) after which a run waits for the machine
// to settle; settleIdle is the idle share of the machine's CPUs, held for
// settleWindows windows in a row, that counts as settled.
const (
	settleAfter   = 10_000
	settleIdle    = 0.90
	settleWindows = 2
)

// settle waits, at most max, until the machine's CPUs have been at least
// settleIdle idle for settleWindows windows of one second in a row: after
// an import the database works on (PostgreSQL's autovacuum and analyze of
// the new rows, SQLite's checkpoint) while the references would run, and
// a reference measured on a busy machine makes every ratio look better
// than it is. It returns the time waited, the last window's idle share,
// and whether the machine settled; an error when /proc/stat cannot be read.
func settle(ctx context.Context, max, window time.Duration, read func() (string, error)) (time.Duration, float64, bool, error) {
	start := time.Now()
	sample := func() (cpuTimes, error) {
		s, err := read()
		if err != nil {
			return cpuTimes{}, err
		}
		return readCPUTimes(s)
	}
	prev, err := sample()
	if err != nil {
		return 0, 0, false, err
	}
	quiet, share := 0, 0.0
	for time.Since(start) < max {
		select {
		case <-ctx.Done():
			return time.Since(start), share, false, ctx.Err()
		case <-time.After(window):
		}
		cur, err := sample()
		if err != nil {
			return time.Since(start), share, false, err
		}
		share = idleShare(prev, cur)
		prev = cur
		if share >= settleIdle {
			quiet++
		} else {
			quiet = 0
		}
		if quiet >= settleWindows {
			return time.Since(start), share, true, nil
		}
	}
	return time.Since(start), share, false, nil
}

// readProcStat reads /proc/stat.
func readProcStat() (string, error) {
	b, err := os.ReadFile("/proc/stat")
	return string(b), err
}
