package httpapi

import (
	"net/http"
	"strconv"
	"strings"
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
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}
