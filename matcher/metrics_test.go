package matcher_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

func TestMetricsCountWhatWasCommitted(t *testing.T) {
	m := matcher.NewMetrics()
	m.Registered(matcher.Signal, matcher.OutcomeNew)
	m.Registered(matcher.Signal, matcher.OutcomeNew)
	m.Registered(matcher.Involvement, matcher.OutcomeRefreshed)
	m.Committed(matcher.Commit{Events: []matcher.EventType{store.EventNoMatch}})
	m.Committed(matcher.Commit{Matched: true, Assigned: true,
		Events: []matcher.EventType{store.EventMatch, store.EventMatch, store.EventCoordinator, store.EventCoordinator}})
	m.Committed(matcher.Commit{Assigned: true, Events: []matcher.EventType{store.EventRemoved, store.EventCoordinator}})
	// A type without a name is counted under its number, not dropped.
	m.Committed(matcher.Commit{Events: []matcher.EventType{200}})

	want := `
# HELP vindex_coordinator_assignments_total Committed changes that assigned a coordinator (first assignment or reassignment).
# TYPE vindex_coordinator_assignments_total counter
vindex_coordinator_assignments_total 2
# HELP vindex_matches_total Committed changes that made a match (an institution joined a youth another institution is involved with).
# TYPE vindex_matches_total counter
vindex_matches_total 1
# HELP vindex_outbox_events_total Outbox events committed, by type.
# TYPE vindex_outbox_events_total counter
vindex_outbox_events_total{type="acceptance-lapsed"} 0
vindex_outbox_events_total{type="agreement-overdue"} 0
vindex_outbox_events_total{type="case-closed"} 0
vindex_outbox_events_total{type="coordinator"} 3
vindex_outbox_events_total{type="coordinator-accepted"} 0
vindex_outbox_events_total{type="coordinator-declined"} 0
vindex_outbox_events_total{type="ended"} 0
vindex_outbox_events_total{type="escalation"} 0
vindex_outbox_events_total{type="escalation-due"} 0
vindex_outbox_events_total{type="event(200)"} 1
vindex_outbox_events_total{type="family-coordination"} 0
vindex_outbox_events_total{type="family-match"} 0
vindex_outbox_events_total{type="handover"} 0
vindex_outbox_events_total{type="handover-declined"} 0
vindex_outbox_events_total{type="inform-due"} 0
vindex_outbox_events_total{type="match"} 2
vindex_outbox_events_total{type="no-match"} 1
vindex_outbox_events_total{type="removed"} 1
vindex_outbox_events_total{type="signal"} 0
vindex_outbox_events_total{type="summary"} 0
# HELP vindex_registrations_total Reports accepted, by kind and outcome (new, refreshed, replayed).
# TYPE vindex_registrations_total counter
vindex_registrations_total{kind="involvement",outcome="new"} 0
vindex_registrations_total{kind="involvement",outcome="refreshed"} 1
vindex_registrations_total{kind="involvement",outcome="replayed"} 0
vindex_registrations_total{kind="signal",outcome="new"} 2
vindex_registrations_total{kind="signal",outcome="refreshed"} 0
vindex_registrations_total{kind="signal",outcome="replayed"} 0
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsEveryEventTypeFromTheStart: each event type with a name has its
// series at zero before anything happened, so that a dashboard sees every
// type and a type added to store.EventType is counted without more code.
func TestMetricsEveryEventTypeFromTheStart(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(matcher.NewMetrics())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "vindex_outbox_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels[m.GetLabel()[0].GetValue()] = true
		}
	}
	for _, info := range store.EventTypes() {
		name := info.Name
		if !labels[name] {
			t.Errorf("no vindex_outbox_events_total{type=%q} at start", name)
		}
		delete(labels, name)
	}
	if len(labels) > 0 {
		t.Errorf("labels of no event type: %v", labels)
	}
}
