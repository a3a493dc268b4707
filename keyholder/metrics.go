package keyholder

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the key holder's own metrics, a prometheus.Collector to put
// on the process's registry: counts and durations only, with the problem
// code as the one label (a bounded set). Safe for concurrent use.
type Metrics struct {
	evaluations prometheus.Counter
	requests    *prometheus.CounterVec
	batch       prometheus.Histogram
	duration    prometheus.Histogram
}

var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics returns the metrics, at zero.
func NewMetrics() *Metrics {
	m := &Metrics{
		evaluations: prometheus.NewCounter(prometheus.CounterOpts{Name: "vindex_keyholder_evaluations_total",
			Help: "Blinded elements evaluated (each answered request adds its batch size)."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vindex_keyholder_requests_total",
			Help: "Requests by outcome: ok, or the problem code of the refusal."}, []string{"code"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vindex_keyholder_batch_size",
			Help:    "Elements per evaluated batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 6)}), // 1, 4, 16, 64, 256, 1024
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vindex_keyholder_evaluate_duration_seconds",
			Help:    "Time to answer an evaluated batch, from the request to the encoded answer.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 4, 8)}),
	}
	for _, code := range []string{codeOK, CodeInvalidBody, CodeInvalidElement, CodeBatchTooLarge, CodeBodyTooLarge,
		CodeUnsupportedMediaType, CodeUnauthenticated, CodeInvalidToken, CodeRateLimited, CodeNotFound, CodeMethodNotAllowed, CodeInternal} {
		m.requests.WithLabelValues(code)
	}
	return m
}

// request counts one request with its outcome; a batch evaluated (n > 0)
// also counts its elements, size and duration.
func (m *Metrics) request(code string, n int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(code).Inc()
	if n > 0 {
		m.evaluations.Add(float64(n))
		m.batch.Observe(float64(n))
		m.duration.Observe(d.Seconds())
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.evaluations, m.requests, m.batch, m.duration}
}
