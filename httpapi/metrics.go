package httpapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the HTTP layer's Prometheus metrics: requests served and the
// time to serve them, by route pattern (the ServeMux pattern, "unmatched"
// for none) and status class ("2xx"). Never a path, a query, a header or an
// institution. Metrics is a prometheus.Collector: register it beside the
// other layers' metrics, and give it to the handler in Config.Metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics returns the HTTP metrics, with nothing counted yet.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vindex_http_requests_total", Help: "HTTP requests served, by route pattern and status class.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vindex_http_request_duration_seconds", Help: "Time to serve an HTTP request, by route pattern and status class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "code"}),
	}
}

func (m *Metrics) request(route string, status int, d time.Duration) {
	class := strconv.Itoa(status/100) + "xx"
	m.requests.WithLabelValues(route, class).Inc()
	m.duration.WithLabelValues(route, class).Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.duration.Collect(ch)
}
