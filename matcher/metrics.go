package matcher

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vindex-nl/vindex/store"
)

// Metrics is an Observer that counts what the matcher committed, as
// Prometheus metrics; register it (it is a prometheus.Collector) and give it
// to the matcher in Config.Observer. The metrics, every name prefixed
// vindex_, labelled only by kind, outcome and event type:
//
//   - vindex_registrations_total{kind,outcome}: reports accepted, by kind
//     (signal, involvement) and outcome (new, refreshed, replayed);
//   - vindex_matches_total: committed changes that made a match;
//   - vindex_coordinator_assignments_total: committed changes that
//     assigned a coordinator (a first assignment or a reassignment);
//   - vindex_outbox_events_total{type}: outbox events committed, by type.
//
// Every known kind, outcome and event type has its series from the start,
// at zero. The counters are current: each is incremented on the verb's
// goroutine once the change is durable.
type Metrics struct {
	registrations *prometheus.CounterVec
	matches       prometheus.Counter
	assignments   prometheus.Counter
	events        *prometheus.CounterVec
	// byType holds the series of the known event types, so that counting
	// one needs no label lookup.
	byType map[EventType]prometheus.Counter
}

var (
	_ Observer             = (*Metrics)(nil)
	_ prometheus.Collector = (*Metrics)(nil)
)

// NewMetrics returns the matcher's metrics, all at zero.
func NewMetrics() *Metrics {
	m := &Metrics{
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vindex_registrations_total", Help: "Reports accepted, by kind and outcome (new, refreshed, replayed).",
		}, []string{"kind", "outcome"}),
		matches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vindex_matches_total", Help: "Committed changes that made a match (an institution joined a youth another institution is involved with).",
		}),
		assignments: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vindex_coordinator_assignments_total", Help: "Committed changes that assigned a coordinator (first assignment or reassignment).",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vindex_outbox_events_total", Help: "Outbox events committed, by type.",
		}, []string{"type"}),
		byType: map[EventType]prometheus.Counter{},
	}
	for _, k := range []Kind{Signal, Involvement} {
		for _, o := range []Outcome{OutcomeNew, OutcomeRefreshed, OutcomeReplayed} {
			m.registrations.WithLabelValues(k.String(), o.String())
		}
	}
	// Every type of the table has its series from the start, so a type
	// added there is counted without a list here to keep up to date.
	for _, info := range store.EventTypes() {
		m.byType[info.Type] = m.events.WithLabelValues(info.Name)
	}
	return m
}

// Registered implements Observer.
func (m *Metrics) Registered(kind Kind, outcome Outcome) {
	m.registrations.WithLabelValues(kind.String(), outcome.String()).Inc()
}

// Committed implements Observer.
func (m *Metrics) Committed(c Commit) {
	if c.Matched {
		m.matches.Inc()
	}
	if c.Assigned {
		m.assignments.Inc()
	}
	for _, t := range c.Events {
		if ctr, ok := m.byType[t]; ok {
			ctr.Inc()
			continue
		}
		// A type without a name still counts, under its number.
		m.events.WithLabelValues(t.String()).Inc()
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.registrations.Describe(ch)
	m.matches.Describe(ch)
	m.assignments.Describe(ch)
	m.events.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.registrations.Collect(ch)
	m.matches.Collect(ch)
	m.assignments.Collect(ch)
	m.events.Collect(ch)
}
