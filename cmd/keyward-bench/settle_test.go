package main

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestReadCPUTimes(t *testing.T) {
	for _, tt := range []struct {
		name, stat  string
		total, idle uint64
		err         bool
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice
		{"linux", "cpu  100 5 50 800 20 3 2 7 40 1\ncpu0 1 2 3 4 5\n", 100 + 5 + 50 + 800 + 20 + 3 + 2, 820, false},
		{"old kernel", "cpu 10 0 10 80\n", 100, 80, false},
		{"too short", "cpu 10 0 10\n", 0, 0, true},
		{"no cpu line", "intr 1 2 3 4 5\n", 0, 0, true},
		{"garbage", "cpu a b c d e\n", 0, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readCPUTimes(tt.stat)
			if (err != nil) != tt.err {
				t.Fatalf("got error %v, want error %v", err, tt.err)
			}
			if err == nil && (got.total != tt.total || got.idle != tt.idle) {
				t.Fatalf("got total %d idle %d, want %d %d", got.total, got.idle, tt.total, tt.idle)
			}
		})
	}
}

// fakeStat returns successive /proc/stat texts whose windows have the given
// idle shares (100 ticks a window).
func fakeStat(shares ...float64) func() (string, error) {
	var total, idle uint64
	i := -1
	return func() (string, error) {
		if i >= 0 {
			s := shares[min(i, len(shares)-1)]
			total += 100
			idle += uint64(s * 100)
		}
		i++
		return fmt.Sprintf("cpu  %d 0 0 %d 0 0 0 0 0 0\n", total-idle, idle), nil
	}
}

func TestSettle(t *testing.T) {
	const window = 10 * time.Millisecond
	for _, tt := range []struct {
		name    string
		shares  []float64
		max     int // windows
		settled bool
		windows int // windows waited, at least
	}{
		{"idle at once", []float64{0.99, 0.97}, 10, true, 2},
		{"busy then idle", []float64{0.2, 0.5, 0.95, 0.3, 0.92, 0.99}, 10, true, 6},
		{"never idle", []float64{0.5}, 3, false, 3},
		{"one quiet window is not enough", []float64{0.95, 0.1, 0.95, 0.1}, 4, false, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			waited, _, ok, err := settle(context.Background(), time.Duration(tt.max)*window, window, fakeStat(tt.shares...))
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.settled {
				t.Fatalf("got settled %v, want %v", ok, tt.settled)
			}
			if waited < time.Duration(tt.windows)*window {
				t.Fatalf("got waited %s, want at least %d windows", waited, tt.windows)
			}
		})
	}
}
