package main

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/gctune"
)

// defaultGCMinHeap is --gc-min-heap's default. A warm server's live heap is
// a few MiB and it allocates a few KiB a request: at GOGC=100 it collected
// about 190 times per 100,000 requests (docs/performance.md); with a 64 MiB
// floor about 10 times.
const defaultGCMinHeap = 64 << 20

// sizeFlag is a flag of bytes written as GOMEMLIMIT writes them (64MiB).
type sizeFlag struct{ n *uint64 }

func (f sizeFlag) String() string {
	if f.n == nil {
		return ""
	}
	return gctune.FormatSize(*f.n)
}

func (f sizeFlag) Set(s string) error {
	n, err := gctune.ParseSize(s)
	if err != nil {
		return err
	}
	*f.n = n
	return nil
}

// startGCTuner starts the collector's tuner for c.GCMinHeap (see
// internal/gctune) unless it is 0 or the environment sets GOGC or
// GOMEMLIMIT, which then rule as the operator set them. c.GCMinHeap is left
// at the floor the tuner keeps, 0 when none runs. The caller stops the
// tuner (Stop takes nil).
func startGCTuner(c *serverConfig, getenv func(string) string, logger *slog.Logger) *gctune.Tuner {
	if c.GCMinHeap == 0 {
		return nil
	}
	if name := gctune.EnvOverride(getenv); name != "" {
		logger.Info("--gc-min-heap is off: the environment sets "+name, slog.String(name, getenv(name)))
		c.GCMinHeap = 0
		return nil
	}
	t, err := gctune.Start(c.GCMinHeap)
	if errors.Is(err, gctune.ErrRunning) {
		// Another server in this process (tests) tunes it already.
		c.GCMinHeap = 0
		return nil
	}
	return t
}

// gcMinHeapGauge exposes the floor the tuner keeps (0: GOGC rules alone);
// go_gc_gogc_percent shows the GC percent it set.
func gcMinHeapGauge(floor uint64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keyward_gc_min_heap_bytes",
		Help: "Least heap goal the garbage collector is tuned to after each collection (--gc-min-heap); 0 when off or when GOGC or GOMEMLIMIT is set.",
	}, func() float64 { return float64(floor) })
}
