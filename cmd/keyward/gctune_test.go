package main

import (
	"io"
	"net/http"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"
)

// gcPercent returns the process's GC percent.
func gcPercent() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapGoal returns the heap size at which the next collection ends.
func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// metricValue returns a metric's value from a server's /metrics.
func metricValue(t *testing.T, url, name string) float64 {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestServeGCMinHeap: the server tunes the collector to --gc-min-heap, and
// leaves it alone when the environment sets GOGC or GOMEMLIMIT (the
// runtime then follows them), or --gc-min-heap is 0.
func TestServeGCMinHeap(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		floor float64 // keyward_gc_min_heap_bytes
	}{
		{"default", nil, nil, 64 << 20},
		{"flag", nil, []string{"--gc-min-heap", "128MiB"}, 128 << 20},
		{"off", nil, []string{"--gc-min-heap", "0"}, 0},
		{"GOGC set", map[string]string{"GOGC": "100"}, nil, 0},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, nil, 0},
		{"GOGC set, flag given", map[string]string{"GOGC": "150"}, []string{"--gc-min-heap", "128MiB"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := gcPercent()
			env := map[string]string{"KEYWARD_ADMIN_PASSWORD": "admin-password-1"}
			for k, v := range tt.env {
				env[k] = v
			}
			ts := startServer(t, env, append([]string{"--data-dir", t.TempDir()}, tt.args...)...)
			if got := metricValue(t, ts.URL, "keyward_gc_min_heap_bytes"); got != tt.floor {
				t.Errorf("keyward_gc_min_heap_bytes %v, want %v", got, tt.floor)
			}
			if tt.floor == 0 {
				runtime.GC()
				if tuned := gcPercent(); tuned != before {
					t.Errorf("GC percent %d while serving, want %d as before: the server overrode it", tuned, before)
				}
			} else {
				// The tuner sets GOGC just after each collection: wait for
				// the goal to reach the floor (it is the floor or twice the
				// live heap, whichever is more).
				runtime.GC()
				goal := heapGoal()
				for deadline := time.Now().Add(5 * time.Second); goal < uint64(tt.floor)*98/100 && time.Now().Before(deadline); goal = heapGoal() {
					time.Sleep(time.Millisecond)
				}
				if goal < uint64(tt.floor)*98/100 {
					t.Errorf("heap goal %d MiB while serving, want at least the floor, %v MiB", goal>>20, tt.floor/(1<<20))
				}
			}
			ts.stop()
			if after := gcPercent(); after != before {
				t.Errorf("GC percent %d after the server stopped, want %d back", after, before)
			}
		})
	}
}
