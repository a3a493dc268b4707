package store

import (
	"errors"
	"fmt"
)

// EventType is the type of an outbox event. Every type has one row in the
// table of event types ([EventTypes]), which says what it is called, who
// receives it, whether it can be urgent and which templates word it; its
// String and [ParseEventType] are read from that table.
//
// To add a type: give it a constant and a row here, word it in notify's
// templates (a template named by the type in each of subject.tmpl,
// text.tmpl and html.tmpl, Dutch and English), add its name to the Event
// type enum of httpapi/openapi.yaml, and emit it in the matcher. Tests in
// notify and httpapi fail until the templates and the enum have it; the
// metrics label is made from the table.
type EventType uint8

// The event types. The values are stored in the outbox: never renumber or
// reuse one.
const (
	// EventMatch: another institution is now involved with the
	// recipient's youth. It names the case's coordinator and its rule
	// (Event.Coordinator, Event.Rule) when the case has one, also when the
	// same report assigned it.
	EventMatch EventType = 1
	// EventCoordinator: a coordinator was (re)assigned for the recipient's
	// youth by an update that gave the recipient no match event.
	EventCoordinator EventType = 2
	// EventNoMatch: the recipient reported a youth no other institution is
	// involved with: the initiative is the recipient's.
	EventNoMatch EventType = 3
	// EventCaseClosed: the coordinator closed the case.
	EventCaseClosed EventType = 4
	// EventEnded: a registration of the recipient's youth ended (the
	// recipient's own or another's).
	EventEnded EventType = 5
	// EventRemoved: a registration was removed.
	EventRemoved EventType = 6
	// EventSummary stands for the events about one youth that were held
	// back from the recipient because it had its hour's share of them
	// already (Event.Collapsed counts them). It gives the youth's state
	// when it is made, the latest state winning over the held events':
	// the recipient's own live registration (Event.Registration), the
	// other institutions actively involved (Event.Others, as in a match
	// event), the case's coordinator and its rule (Event.Coordinator,
	// Event.Rule, empty if it has none); it is urgent if any held event
	// was.
	EventSummary EventType = 7
	// EventInformDue reminds the recipient that it recorded its own
	// registration (Event.Registration) as not informed yet ("later"),
	// and that the covenant's days to inform the parents or the youth
	// have passed without another record. Sent once per registration.
	EventInformDue EventType = 8
	// EventSignal: an institution already actively involved with the
	// recipient's youth reported it again with something new: a signal
	// with another signal code than the one on file, or an urgent report
	// where its registration was not urgent (Event.Urgent). It names that
	// institution (Event.Subject) and how to reach its professional
	// (Event.Others), never the code: what the signal is about stays
	// with the institution that made it.
	EventSignal EventType = 9
	// EventAgreementOverdue tells the case's coordinator, once per
	// agreement, that an agreement of the youth's plan (Event.Agreement)
	// is open past its due day; Event.Subject is the institution
	// responsible for it.
	EventAgreementOverdue EventType = 10
	// EventFamilyMatch: a report gave a youth a family relation (a parent
	// or the home address, Event.Reason "parent" or "address") that a
	// live registration of another youth, by another institution, has
	// too. The reporter's registration gets one naming the other
	// children's institutions and professionals (Event.Others: never the
	// other child), and each of those registrations one naming the
	// reporter (Event.Others, Event.Subject).
	EventFamilyMatch EventType = 11
	// EventFamilyCoordination: a family match joined two youths whose
	// cases have different coordinators, or a youth of a matched family
	// got a coordinator other than another youth's; each coordinator is
	// told of the other (Event.Subject, Event.Others) on its own
	// registration, once per pair of coordinators' registrations (one
	// family, one plan).
	EventFamilyCoordination EventType = 12

	// EventAccepted: the coordinator accepted the case (Event.Subject,
	// Event.Coordinator).
	EventAccepted EventType = 13
	// EventDeclined: the coordinator (Event.Subject) declined the case,
	// for a reason code (Event.Reason); Event.Coordinator and Event.Rule
	// name the next one, empty if none could be assigned.
	EventDeclined EventType = 14
	// EventAcceptLapsed: the coordinator (Event.Subject) let its term to
	// accept pass; Event.Coordinator and Event.Rule name the next one.
	EventAcceptLapsed EventType = 15
	// EventHandover: the coordinator (Event.Subject) offers the case to
	// the recipient, which accepts or declines.
	EventHandover EventType = 16
	// EventHandoverDeclined: the institution offered the case
	// (Event.Subject) declined it, for a reason code (Event.Reason). (An
	// accepted hand-over is a coordinator event, rule hand-over.)
	EventHandoverDeclined EventType = 17
	// EventEscalation: a step of the escalation ladder (Event.Reason, its
	// name) was taken by Event.Subject; Event.Coordinator names the
	// coordinator.
	EventEscalation EventType = 18
	// EventEscalationDue: the step after the escalation's current one
	// (Event.Reason, its name) is overdue. Sent once per step.
	EventEscalationDue EventType = 19
)

// EventTypeInfo is one row of the table of event types.
type EventTypeInfo struct {
	// Type is the value stored in the outbox.
	Type EventType
	// Name is the type's name everywhere outside the store: the "type" of
	// an event in the API and in webhooks (the enum of the Event schema in
	// httpapi/openapi.yaml lists every Name), the "type" label of the
	// outbox events counter, and the name of the template that words the
	// event in each of notify's template files (subject, text and html, in
	// every language). Lower case words joined by hyphens.
	Name string
	// Audience says who receives an event of this type: the matcher
	// appends one event per recipient institution.
	Audience string
	// MayBeUrgent: an event of this type carries the urgent flag of the
	// report that caused it. notify delivers an urgent event before the
	// others that are due, and marks its mail urgent ("[SPOED]" in the
	// subject, high importance), so the templates are tried both ways. An
	// event of a type without it is never urgent.
	MayBeUrgent bool
}

// eventTypes is the table, in the order of the types' values (which may
// leave values to other types not in this table).
var eventTypes = [...]EventTypeInfo{
	{Type: EventMatch, Name: "match", MayBeUrgent: true,
		Audience: "every institution actively involved with the youth, the one whose report made the match included; it names the coordinator, if the case has one"},
	{Type: EventCoordinator, Name: "coordinator",
		Audience: "every institution actively involved with the youth, when its coordinator changes, except those the same update gave a match event (which names the coordinator)"},
	{Type: EventNoMatch, Name: "no-match", MayBeUrgent: true,
		Audience: "the reporting institution only, when no other institution is actively involved"},
	{Type: EventCaseClosed, Name: "case-closed",
		Audience: "every institution whose registration the coordinator's closing ended"},
	{Type: EventEnded, Name: "ended",
		Audience: "the other institutions actively involved with the youth, and the registration's own institution unless it ended the registration itself"},
	{Type: EventRemoved, Name: "removed",
		Audience: "the institution that removed the registration, the registration's institution, and the other institutions actively involved"},
	{Type: EventSummary, Name: "summary", MayBeUrgent: true,
		Audience: "an institution whose events about one youth went over the hour's limit, once the hour is over: one event in place of the ones held back, with the youth's state at that moment"},
	{Type: EventInformDue, Name: "inform-due",
		Audience: "the registration's own institution, once, when it recorded that it had not informed the parents or the youth yet (later) and the covenant's inform_within_days have passed without another record"},
	{Type: EventSignal, Name: "signal", MayBeUrgent: true,
		Audience: "the other institutions actively involved with the youth, when an institution already involved reports it with a new signal code or newly urgent; bounded per recipient and hour like every event about the youth"},
	{Type: EventAgreementOverdue, Name: "agreement-overdue",
		Audience: "the case's coordinator, once per agreement of the youth's plan that is still open the day after its due day"},
	{Type: EventFamilyMatch, Name: "family-match",
		Audience: "the institution whose report gave a youth a new family relation (parent or address) that another youth's live registration by another institution shares, and each of those institutions; it names the relation's type and the other institutions, never the other child"},
	{Type: EventFamilyCoordination, Name: "family-coordination",
		Audience: "the two coordinators of two youths a family match joined, when they differ (at the match, or when one of the youths gets its coordinator later): each is told of the other, once per pair of coordinators"},
	{Type: EventAccepted, Name: "coordinator-accepted",
		Audience: "every other institution actively involved with the youth, when the coordinator accepts the case"},
	{Type: EventDeclined, Name: "coordinator-declined",
		Audience: "every institution actively involved with the youth, the one that declined included, when the coordinator declines the case; it names the next coordinator, if one could be assigned"},
	{Type: EventAcceptLapsed, Name: "acceptance-lapsed",
		Audience: "every institution actively involved with the youth, once, when the coordinator's term to accept has passed; it names the next coordinator, if one could be assigned"},
	{Type: EventHandover, Name: "handover",
		Audience: "the institution the coordinator offers the case to"},
	{Type: EventHandoverDeclined, Name: "handover-declined",
		Audience: "the coordinator, when the institution it offered the case to declines"},
	{Type: EventEscalation, Name: "escalation",
		Audience: "the coordinator and the step's addressees (its own management: the coordinator; the managements of the involved institutions; the municipality that serves the youth), when a step of the escalation ladder is taken"},
	{Type: EventEscalationDue, Name: "escalation-due",
		Audience: "the coordinator and the next step's addressees, once, when the next step of an escalation is overdue"},
}

// EventTypes returns the table of event types, in the order of their
// values. The slice is the caller's.
func EventTypes() []EventTypeInfo {
	out := make([]EventTypeInfo, len(eventTypes))
	copy(out, eventTypes[:])
	return out
}

// Info returns t's row of the table; false if t is not a known type.
func (t EventType) Info() (EventTypeInfo, bool) {
	for _, info := range eventTypes {
		if info.Type == t {
			return info, true
		}
	}
	return EventTypeInfo{}, false
}

// String returns the type's Name, or "event(N)" for a value that is not in
// the table.
func (t EventType) String() string {
	if info, ok := t.Info(); ok {
		return info.Name
	}
	return fmt.Sprintf("event(%d)", uint8(t))
}

// ErrUnknownEventType is returned by ParseEventType.
var ErrUnknownEventType = errors.New("store: unknown event type")

// ParseEventType returns the type whose Name is s.
func ParseEventType(s string) (EventType, error) {
	for _, info := range eventTypes {
		if info.Name == s {
			return info.Type, nil
		}
	}
	return 0, fmt.Errorf("%w %q", ErrUnknownEventType, s)
}
