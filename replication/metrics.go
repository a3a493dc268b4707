package replication

import "github.com/prometheus/client_golang/prometheus"

// Metrics are a node's Prometheus metrics (Node.Collector), without
// labels:
//
//   - vindex_replication_applied_sequence: the last log position the
//     replica applied (or, leading, appended);
//   - vindex_replication_lag_entries: the stream's last position less the
//     applied one, as of the node's last look (at most
//     Config.StatusInterval old; while following, also as each entry is
//     applied);
//   - vindex_replication_leader: 1 while the node leads;
//   - vindex_replication_elections_won_total: the times the node became
//     leader (won the lease and caught up);
//   - vindex_replication_step_downs_total: the times it stopped leading;
//   - vindex_replication_fenced_appends_total: appends the stream refused
//     because another leader had appended (each counts once per
//     leadership: the entries after it fail without a fence of their
//     own);
//   - vindex_replication_rewound_entries_total: entries of its own the
//     node took back because the stream never took them (it led, and its
//     last appends were not acknowledged).
type Metrics struct {
	applied   prometheus.Gauge
	lag       prometheus.Gauge
	leader    prometheus.Gauge
	elections prometheus.Counter
	stepDowns prometheus.Counter
	fences    prometheus.Counter
	rewound   prometheus.Counter
}

var _ prometheus.Collector = (*Metrics)(nil)

func newMetrics() *Metrics {
	return &Metrics{
		applied: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vindex_replication_applied_sequence",
			Help: "The last log position this node applied."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vindex_replication_lag_entries",
			Help: "Log entries the stream holds that this node has not applied."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vindex_replication_leader",
			Help: "1 while this node leads."}),
		elections: prometheus.NewCounter(prometheus.CounterOpts{Name: "vindex_replication_elections_won_total",
			Help: "Times this node became leader."}),
		stepDowns: prometheus.NewCounter(prometheus.CounterOpts{Name: "vindex_replication_step_downs_total",
			Help: "Times this node stopped leading."}),
		fences: prometheus.NewCounter(prometheus.CounterOpts{Name: "vindex_replication_fenced_appends_total",
			Help: "Appends refused because another leader had appended."}),
		rewound: prometheus.NewCounter(prometheus.CounterOpts{Name: "vindex_replication_rewound_entries_total",
			Help: "Entries of its own this node took back because the stream never took them."}),
	}
}

func (m *Metrics) fenced() {
	if m != nil {
		m.fences.Inc()
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
	return []prometheus.Collector{m.applied, m.lag, m.leader, m.elections, m.stepDowns, m.fences, m.rewound}
}
