package httpapi

import (
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestMetricsSeriesCache: the series observe and verified keep for the
// next request count in the same series WithLabelValues names, per route,
// method and status (and per code), also past maxCachedSeries, where new
// series are resolved on every request instead of kept.
func TestMetricsSeriesCache(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry(), nil)
	count := func(c prometheus.Metric) float64 {
		var d dto.Metric
		if err := c.Write(&d); err != nil {
			t.Fatal(err)
		}
		if d.Counter != nil {
			return d.Counter.GetValue()
		}
		return float64(d.Histogram.GetSampleCount())
	}
	for i := 0; i < 3; i++ {
		m.observe("GET", "GET /v1/whoami", 0, time.Millisecond)
		m.observe("GET", "GET /v1/whoami", 401, time.Millisecond)
		m.verified("VALID")
	}
	m.observe("POST", "POST /v1/whoami", 405, time.Millisecond)
	m.verified("EXPIRED")
	for _, c := range []struct {
		name string
		got  prometheus.Metric
		want float64
	}{
		{"whoami 200", m.requests.WithLabelValues("/v1/whoami", "GET", "200"), 3},
		{"whoami 401", m.requests.WithLabelValues("/v1/whoami", "GET", "401"), 3},
		{"whoami POST 405", m.requests.WithLabelValues("/v1/whoami", "POST", "405"), 1},
		{"whoami durations", m.duration.WithLabelValues("/v1/whoami").(prometheus.Metric), 7},
		{"VALID", m.verifications.WithLabelValues("VALID"), 3},
		{"EXPIRED", m.verifications.WithLabelValues("EXPIRED"), 1},
	} {
		if got := count(c.got); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	// Methods no route knows, beyond what the cache keeps.
	for i := 0; i < maxCachedSeries+10; i++ {
		for j := 0; j < 2; j++ {
			m.observe("M"+strconv.Itoa(i), "unmatched", 405, time.Millisecond)
			m.verified("C" + strconv.Itoa(i))
		}
	}
	if n := len(*m.series.Load()); n != maxCachedSeries {
		t.Errorf("request series kept: got %d, want %d", n, maxCachedSeries)
	}
	if n := len(*m.codeSeries.Load()); n != maxCachedSeries {
		t.Errorf("code series kept: got %d, want %d", n, maxCachedSeries)
	}
	for _, i := range []int{0, maxCachedSeries - 1, maxCachedSeries + 9} {
		if got := count(m.requests.WithLabelValues("unmatched", "M"+strconv.Itoa(i), "405")); got != 2 {
			t.Errorf("method M%d: got %v, want 2", i, got)
		}
		if got := count(m.verifications.WithLabelValues("C" + strconv.Itoa(i))); got != 2 {
			t.Errorf("code C%d: got %v, want 2", i, got)
		}
	}
}
