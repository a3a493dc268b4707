package httpapi

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vindex-nl/vindex/rules"
)

// Metrics are the HTTP layer's Prometheus metrics: requests served and the
// time to serve them, by route pattern (the ServeMux pattern, "unmatched"
// for none) and status class ("2xx"), never a path, a query or a header;
// and, by institution (one of the covenant's, as authenticated), calls
// refused by the rate limits and the institution's report rate (see
// reportRates). Metrics is a prometheus.Collector: register it beside the
// other layers' metrics, and give it to the handler in Config.Metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	limited  *prometheus.CounterVec

	ratioDesc, rateDesc *prometheus.Desc
	mu                  sync.Mutex
	start               time.Time              // when the report rates began to be kept
	reports             map[string]*reportRate // by institution, only those that reported
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
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vindex_rate_limited_total", Help: "API calls refused with 429 rate_limited, by institution and rate class.",
		}, []string{"institution", "class"}),
		ratioDesc: prometheus.NewDesc("vindex_report_rate_ratio",
			"An institution's reports per second over about the last minute divided by its rate over about the last hour (exponentially weighted); far above 1 is a burst unlike its own recent traffic.",
			[]string{"institution"}, nil),
		rateDesc: prometheus.NewDesc("vindex_reports_per_second",
			"An institution's reports (POST /v1/registrations, refused ones included) per second, exponentially weighted over about a minute (window 1m) or an hour (1h).",
			[]string{"institution", "window"}, nil),
		start:   time.Now(),
		reports: map[string]*reportRate{},
	}
}

func (m *Metrics) request(route string, status int, d time.Duration) {
	class := strconv.Itoa(status/100) + "xx"
	m.requests.WithLabelValues(route, class).Inc()
	m.duration.WithLabelValues(route, class).Observe(d.Seconds())
}

func (m *Metrics) rateLimited(institution string, class rules.RateClass) {
	m.limited.WithLabelValues(institution, string(class)).Inc()
}

// The windows of the report rates.
const (
	shortWindow = time.Minute
	longWindow  = time.Hour
)

// reportRate is an institution's report rate as two exponentially weighted
// moving averages, in reports per second: each report adds 1/window, and
// both decay with time by e^(-t/window).
type reportRate struct {
	short, long float64
	at          time.Time
}

func (r *reportRate) decay(now time.Time) {
	dt := now.Sub(r.at).Seconds()
	if dt <= 0 {
		return
	}
	r.short *= math.Exp(-dt / shortWindow.Seconds())
	r.long *= math.Exp(-dt / longWindow.Seconds())
	r.at = now
}

// reported counts a report by institution at now.
func (m *Metrics) reported(institution string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.reports[institution]
	if r == nil {
		r = &reportRate{at: now}
		m.reports[institution] = r
	}
	r.decay(now)
	r.short += 1 / shortWindow.Seconds()
	r.long += 1 / longWindow.Seconds()
}

// rates are one institution's figures at a scrape.
type rates struct{ short, long, ratio float64 }

// reportRates returns the report rates at now of every institution that
// has reported. The averages are corrected for the time since they began
// to be kept (divided by 1-e^(-elapsed/window), as Adam's moments are), so
// that an institution reporting at a steady rate has a ratio near 1 from
// the start, not one that says the last hour had nothing in it.
func (m *Metrics) reportRates(now time.Time) map[string]rates {
	m.mu.Lock()
	defer m.mu.Unlock()
	elapsed := max(now.Sub(m.start).Seconds(), 1)
	shortFill := 1 - math.Exp(-elapsed/shortWindow.Seconds())
	longFill := 1 - math.Exp(-elapsed/longWindow.Seconds())
	out := make(map[string]rates, len(m.reports))
	for inst, r := range m.reports {
		r.decay(now)
		x := rates{short: r.short / shortFill, long: r.long / longFill}
		if x.long > 0 {
			x.ratio = x.short / x.long
		}
		out[inst] = x
	}
	return out
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.duration.Describe(ch)
	m.limited.Describe(ch)
	ch <- m.ratioDesc
	ch <- m.rateDesc
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.duration.Collect(ch)
	m.limited.Collect(ch)
	for inst, r := range m.reportRates(time.Now()) {
		ch <- prometheus.MustNewConstMetric(m.ratioDesc, prometheus.GaugeValue, r.ratio, inst)
		ch <- prometheus.MustNewConstMetric(m.rateDesc, prometheus.GaugeValue, r.short, inst, "1m")
		ch <- prometheus.MustNewConstMetric(m.rateDesc, prometheus.GaugeValue, r.long, inst, "1h")
	}
}
