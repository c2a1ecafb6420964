package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	tests := []struct {
		name               string
		live, roots, floor uint64
		want               int
	}{
		{"nothing live: the runtime's minimum alone", 0, 0, 64 * mib, 1600},
		{"warm server: capped by the runtime's minimum", 3 * mib, mib / 2, 64 * mib, 1600},
		{"goal from the live heap", 10 * mib, 1 * mib, 64 * mib, 491}, // ⌈54×100/11⌉
		{"goal from the live heap, larger floor", 3 * mib, 1 * mib, 256 * mib, 6325},
		{"live heap half the floor: GOGC's default", 32 * mib, 0, 64 * mib, 100},
		{"live heap over half the floor", 40 * mib, 1 * mib, 64 * mib, 100},
		{"a million cached keys", 420 * mib, 2 * mib, 64 * mib, 100},
		{"live heap above the floor", 65 * mib, 0, 64 * mib, 100},
		{"floor 0", 3 * mib, mib, 0, 100},
		{"floor below the runtime's minimum", 0, mib, 2 * mib, 100},
		{"huge floor", 0, 1, math.MaxUint64, math.MaxInt32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percent(tt.live, tt.roots, tt.floor); got != tt.want {
				t.Errorf("Percent(%d, %d, %d) = %d, want %d", tt.live, tt.roots, tt.floor, got, tt.want)
			}
		})
	}
}

// TestPercentGoal: whatever the live heap, the runtime's goal at the
// percent is the floor or more (the larger of GOGC's default and the
// floor), and overshoots it by less than 1 %.
func TestPercentGoal(t *testing.T) {
	const floor = 64 * mib
	for live := uint64(0); live <= 100*mib; live += mib / 4 {
		for _, roots := range []uint64{0, 100 << 10, mib, 8 * mib} {
			p := uint64(Percent(live, roots, floor))
			goal := max(live+(live+roots)*p/100, runtimeHeapMinimum*p/100)
			if goal+64<<10 < floor {
				t.Fatalf("live %d roots %d: percent %d gives goal %d < floor %d", live, roots, p, goal, floor)
			}
			if p > BasePercent && goal > floor+floor/100 {
				t.Fatalf("live %d roots %d: percent %d gives goal %d, more than 1%% over the floor %d", live, roots, p, goal, floor)
			}
			if p > BasePercent && runtimeHeapMinimum*p/100 > floor {
				t.Fatalf("live %d roots %d: percent %d puts the runtime's minimum %d over the floor", live, roots, p, runtimeHeapMinimum*p/100)
			}
		}
	}
}

func TestEnvOverride(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"GOGC": "200"}, "GOGC"},
		{map[string]string{"GOGC": "off"}, "GOGC"},
		{map[string]string{"GOMEMLIMIT": "1GiB"}, "GOMEMLIMIT"},
		{map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}, "GOGC"},
		{map[string]string{"GODEBUG": "gctrace=1"}, ""},
	}
	for _, tt := range tests {
		if got := EnvOverride(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("EnvOverride(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  bool
	}{
		{"0", 0, false},
		{"off", 0, false},
		{"4096", 4096, false},
		{"4096B", 4096, false},
		{"512KiB", 512 << 10, false},
		{"64MiB", 64 * mib, false},
		{"1GiB", 1 << 30, false},
		{"2TiB", 2 << 40, false},
		{"", 0, true},
		{"MiB", 0, true},
		{"-1MiB", 0, true},
		{"+1MiB", 0, true},
		{"1.5GiB", 0, true},
		{"64MB", 0, true},
		{"64 MiB", 0, true},
		{"16777216TiB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err == nil && tt.in != "off" {
			if back, _ := ParseSize(FormatSize(got)); back != got {
				t.Errorf("ParseSize(FormatSize(%d) = %q) = %d", got, FormatSize(got), back)
			}
		}
	}
	if got := FormatSize(64 * mib); got != "64MiB" {
		t.Errorf("FormatSize(64 MiB) = %q, want 64MiB", got)
	}
}

// readGC returns the runtime's heap goal and GC percent.
func readGC() (goal uint64, percent uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// collect runs a collection and waits for the tuner to see it.
func collect(t *testing.T, tu *Tuner) {
	t.Helper()
	n := tu.tunes.Load()
	runtime.GC()
	for deadline := time.Now().Add(5 * time.Second); tu.tunes.Load() == n; {
		if time.Now().After(deadline) {
			t.Fatal("the tuner did not run after a collection")
		}
		time.Sleep(time.Millisecond)
	}
}

var sink []byte

// TestTuner runs the tuner on this process's collector: the goal is the
// floor while little is live, GOGC's default once the live heap is half
// the floor or more, the floor again when it is freed, and Stop gives the
// percent back.
func TestTuner(t *testing.T) {
	const floor = 64 * mib
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	tu, err := Start(floor)
	if err != nil {
		t.Fatal(err)
	}
	defer tu.Stop()
	if _, err := Start(floor); err != ErrRunning {
		t.Errorf("a second Start: error %v, want ErrRunning", err)
	}

	collect(t, tu)
	goal, percent := readGC()
	if goal < floor*98/100 || goal > floor*101/100 {
		t.Errorf("small live heap: goal %d MiB, want about %d MiB", goal/mib, floor/mib)
	}
	if percent <= 100 || int(percent) != tu.GCPercent() {
		t.Errorf("small live heap: GC percent %d (tuner says %d), want above 100", percent, tu.GCPercent())
	}

	sink = make([]byte, 48*mib)
	collect(t, tu)
	goal, percent = readGC()
	if percent != 100 {
		t.Errorf("48 MiB live: GC percent %d, want 100", percent)
	}
	if goal < 96*mib || goal > 110*mib {
		t.Errorf("48 MiB live: goal %d MiB, want about 96 MiB (GOGC=100)", goal/mib)
	}

	sink = nil
	collect(t, tu)
	if goal, _ = readGC(); goal < floor*98/100 || goal > floor*101/100 {
		t.Errorf("freed: goal %d MiB, want about %d MiB", goal/mib, floor/mib)
	}

	tu.Stop()
	tu.Stop()
	if _, percent = readGC(); percent != 100 {
		t.Errorf("after Stop: GC percent %d, want 100 back", percent)
	}
	runtime.GC()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if _, percent = readGC(); percent != 100 {
		t.Errorf("a collection after Stop: GC percent %d, want 100 (the tuner stopped)", percent)
	}
	again, err := Start(floor)
	if err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	again.Stop()
}
