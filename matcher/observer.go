package matcher

import "github.com/vindex-nl/vindex/store"

// EventType is the type of an outbox event.
type EventType = store.EventType

// Outcome says what became of an accepted report.
type Outcome uint8

const (
	// OutcomeNew: the report made a new registration.
	OutcomeNew Outcome = 1
	// OutcomeRefreshed: the institution was already registered for the
	// youth; its registration was refreshed.
	OutcomeRefreshed Outcome = 2
	// OutcomeReplayed: a retry with an earlier report's idempotency key got
	// the stored result; nothing was written.
	OutcomeReplayed Outcome = 3
)

// String returns "new", "refreshed" or "replayed".
func (o Outcome) String() string {
	switch o {
	case OutcomeNew:
		return "new"
	case OutcomeRefreshed:
		return "refreshed"
	case OutcomeReplayed:
		return "replayed"
	}
	return "unknown"
}

// Observer learns what the matcher did, for metrics. It is called after a
// change is durable, never for a change that was not committed, on the
// goroutine of the verb: it must be quick and must not block. It never
// receives an identity, a pseudonym, a registration ID or a contact.
type Observer interface {
	// Registered reports one accepted report, by kind and outcome.
	Registered(kind Kind, outcome Outcome)
	// Committed reports one committed change of a youth's records.
	Committed(c Commit)
}

// Commit says what one committed change of a youth's records did.
type Commit struct {
	// Matched: an institution joined a youth another institution is
	// actively involved with.
	Matched bool
	// Assigned: a coordinator was assigned (a first assignment or a
	// reassignment).
	Assigned bool
	// Events are the types of the outbox events the change appended, one
	// entry per event. The slice is only valid during the call.
	Events []EventType
}

// nopObserver is the Observer of a Config without one.
type nopObserver struct{}

func (nopObserver) Registered(Kind, Outcome) {}
func (nopObserver) Committed(Commit)         {}

// observe tells the observer about one committed change, from the events
// it appended and whether it assigned a coordinator (which a match event
// may announce, without a coordinator event).
func (m *Matcher) observe(events []store.Event, assigned bool) {
	if _, ok := m.obs.(nopObserver); ok {
		return
	}
	c := Commit{Events: make([]EventType, len(events)), Assigned: assigned}
	for i, e := range events {
		c.Events[i] = e.Type
		c.Matched = c.Matched || e.Type == store.EventMatch
	}
	m.obs.Committed(c)
}
