package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyward/keyward"
)

// metrics are the server's Prometheus series. Labels are route patterns,
// methods, statuses and verification codes: never a key, id or secret.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	verifications *prometheus.CounterVec
	tokens        prometheus.Counter
	handler       http.Handler

	// The series a request resolved, kept so that the next request of the
	// same route, method and status, or the next verification of the same
	// code, finds them without WithLabelValues (which hashes its labels,
	// formats the status and allocates on every call). The maps are never
	// changed once published: a new series copies them under mu. At most
	// maxCachedSeries entries each: a method no route knows reaches
	// "unmatched" under any name a client sends, and those are resolved
	// as before once the map is full.
	mu         sync.Mutex
	series     atomic.Pointer[map[seriesKey]requestSeries]
	codeSeries atomic.Pointer[map[string]prometheus.Counter]
}

// maxCachedSeries bounds each cache of resolved series.
const maxCachedSeries = 1024

type seriesKey struct {
	route, method string
	status        int
}

type requestSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func newMetrics(reg *prometheus.Registry, svc *keyward.Service) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_http_requests_total", Help: "HTTP requests by route (the pattern without its method), method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyward_http_request_duration_seconds", Help: "HTTP request latency by route (the pattern without its method).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_verifications_total", Help: "Key verifications by result code.",
		}, []string{"code"}),
		tokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyward_oauth_tokens_issued_total", Help: "OAuth2 access tokens issued.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.verifications, m.tokens,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_key_cache_hits_total", Help: "Verify-path key cache hits.",
		}, func() float64 { h, _, _ := svc.CacheStats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_key_cache_misses_total", Help: "Verify-path key cache misses.",
		}, func() float64 { _, mi, _ := svc.CacheStats(); return float64(mi) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keyward_key_cache_entries", Help: "Keys held in the verify-path cache.",
		}, func() float64 { _, _, n := svc.CacheStats(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keyward_key_cache_capacity", Help: "Most keys the verify-path cache holds (keyward serve --cache-size; 0: no cache).",
		}, func() float64 { n, _ := svc.CacheBound(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_key_cache_evictions_total", Help: "Keys evicted from the verify-path cache to stay within its capacity.",
		}, func() float64 { _, n := svc.CacheBound(); return float64(n) }),
	)
	for _, scheme := range keyward.AuthSchemes {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_auth_failures_total", Help: "Failed authentications by scheme.",
			ConstLabels: prometheus.Labels{"scheme": scheme},
		}, func() float64 { return float64(svc.FailedAuthentications(scheme)) }))
	}
	for _, kind := range keyward.LimitKinds {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_rate_limited_total", Help: "Requests refused by a rate limit, by kind.",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 { return float64(svc.RateLimitRefusals(kind)) }))
	}
	// The process and Go collectors may already be registered by a caller
	// sharing the registry; ignore that.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

// observe records one request. route is the matched pattern without its
// method ("/v1/apikeys/{id}"): the method is a label of its own.
func (m *metrics) observe(method, route string, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	if m, path, ok := strings.Cut(route, " "); ok && m != "" && !strings.ContainsAny(m, "/.") {
		route = path
	}
	rs := m.requestSeries(method, route, status)
	rs.requests.Inc()
	rs.duration.Observe(d.Seconds())
}

// requestSeries returns the series of a request's route (without its
// method), method and status, resolved once.
func (m *metrics) requestSeries(method, route string, status int) requestSeries {
	k := seriesKey{route: route, method: method, status: status}
	if cur := m.series.Load(); cur != nil {
		if rs, ok := (*cur)[k]; ok {
			return rs
		}
	}
	rs := requestSeries{
		requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
		duration: m.duration.WithLabelValues(route),
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.series.Load()
	if cur != nil && len(*cur) >= maxCachedSeries {
		return rs
	}
	next := make(map[seriesKey]requestSeries, 1+mapLen(cur))
	if cur != nil {
		for k, v := range *cur {
			next[k] = v
		}
	}
	// The key's strings are copied: method is the request's own.
	k.route, k.method = strings.Clone(route), strings.Clone(method)
	next[k] = rs
	m.series.Store(&next)
	return rs
}

// verified counts one verification answered with code.
func (m *metrics) verified(code string) {
	if cur := m.codeSeries.Load(); cur != nil {
		if c, ok := (*cur)[code]; ok {
			c.Inc()
			return
		}
	}
	c := m.verifications.WithLabelValues(code)
	c.Inc()
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.codeSeries.Load()
	if cur != nil && len(*cur) >= maxCachedSeries {
		return
	}
	next := make(map[string]prometheus.Counter, 1+mapLen(cur))
	if cur != nil {
		for k, v := range *cur {
			next[k] = v
		}
	}
	next[strings.Clone(code)] = c
	m.codeSeries.Store(&next)
}

func mapLen[K comparable, V any](m *map[K]V) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
