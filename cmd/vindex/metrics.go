package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/rules"
)

// serveMetrics are the metrics of vindex serve: each layer supplies its own,
// and they are all on one registry, served at /metrics.
type serveMetrics struct {
	registry *prometheus.Registry
	// http goes to the API handler (httpapi.Config.Metrics).
	http *httpapi.Metrics
	// matcher is the matcher's Observer (matcher.Config.Observer).
	matcher *matcher.Metrics
	// delivery goes to the delivery worker (notify.WorkerConfig.Metrics).
	delivery *notify.Metrics
	// polls is told each GET /v1/events (httpapi.Config.Polled) and must
	// run beside the server (Run).
	polls *notify.PollBacklog
	// audit shows the audit log's checkpoints advancing (the auditor's).
	audit *auditMetrics
}

// newRegistry puts every layer's metrics on one registry: the store's
// (storeMetrics: pebblestore's Collector), the key-encryption key's
// (kekMetrics: the Vault token's renewals), the matcher's, the delivery
// worker's, the poll backlog of every institution of cov (updated every
// poll), the HTTP layer's, the keyset's (vindex_keys_in_use and
// vindex_key_info, from ps) and the Go runtime's and the process's. None of
// them reads the store at a scrape.
func newRegistry(storeMetrics, kekMetrics prometheus.Collector, ps *pseudonym.Pseudonymiser, cov *rules.Covenant, outbox notify.EventSource, poll time.Duration) *serveMetrics {
	insts := institutionIDs(cov)
	m := &serveMetrics{
		registry: prometheus.NewRegistry(),
		http:     httpapi.NewMetrics(),
		matcher:  matcher.NewMetrics(),
		delivery: notify.NewMetrics(),
		polls:    notify.NewPollBacklog(outbox, insts, poll),
		audit:    newAuditMetrics(),
	}
	m.registry.MustRegister(storeMetrics, kekMetrics, m.matcher, m.delivery, m.polls, m.http, m.audit,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registry.MustRegister(keysetMetrics(ps)...)
	return m
}

// handler serves the registry in the Prometheus exposition format.
func (m *serveMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// keysetMetrics are vindex_keys_in_use (the number of enabled PRF keys)
// and vindex_key_info{key_id, primary} for each of them. The keyset is
// unwrapped once at start-up and does not change while serving (rotation
// is vindex keys, then a restart), so the figures are set once, here.
func keysetMetrics(ps *pseudonym.Pseudonymiser) []prometheus.Collector {
	inUse := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vindex_keys_in_use", Help: "Enabled PRF keys pseudonyms are computed under.",
	})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vindex_key_info", Help: "An enabled PRF key, by key ID; primary is true for the key new records are written under.",
	}, []string{"key_id", "primary"})
	ids := ps.KeyIDs()
	inUse.Set(float64(len(ids)))
	for _, id := range ids {
		info.WithLabelValues(strconv.FormatUint(uint64(id), 10), strconv.FormatBool(id == ps.PrimaryKeyID())).Set(1)
	}
	return []prometheus.Collector{inUse, info}
}
