package matcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// Event is an outbox event as its recipient institution reads it: what
// happened to a youth it is (or was) registered for. It names the other
// institutions involved, never their registrations.
type Event struct {
	// Seq is the event's place in the recipient's own outbox: its events
	// are numbered 1, 2, 3, … in commit order, whatever other
	// institutions get. Poll with the last one handled.
	Seq  uint64
	Type EventType
	At   time.Time
	// Recipient is the institution the event is for: the caller.
	Recipient string
	// Registration is the recipient's own registration the event is about
	// (zero in the audit event a remover gets of its removal).
	Registration ID
	Urgent       bool
	// Others are the other institutions actively involved (match,
	// coordinator and summary events).
	Others []Party
	// Coordinator is the case's coordinator: the newly assigned one in a
	// coordinator event, the current one (if any) in a match or summary
	// event.
	Coordinator Coordinator
	// Subject is the institution whose action caused the event (ended,
	// removed, case closed).
	Subject string
	// Reason says why a registration ended or was removed: "ended" (its
	// institution ended it, the risk gone), "ended-other", "unjustified"
	// (destroyed), "expired", "case-closed", "death", "wrong" or
	// "objection".
	Reason string
	// ClientRef is the recipient's own reference on the registration the
	// event is about ("" if none, or if that registration was removed).
	ClientRef string
	// Collapsed: in a summary event, how many events held back in the
	// last hour it stands for; 0 in any other.
	Collapsed int
	// Agreement: in an agreement event, the number of the plan's
	// agreement it is about (see Plan); 0 in any other.
	Agreement int
}

// MaxEvents is the most events one call of Matcher.Events returns.
const MaxEvents = 1000

// Events returns up to limit of the actor's own outbox events with a
// sequence number greater than after, in sequence order: a client system
// polls with the last sequence number it has handled. A limit outside 1 to
// MaxEvents is taken as MaxEvents. An institution only ever reads events
// addressed to itself.
func (m *Matcher) Events(ctx context.Context, actor Actor, after uint64, limit int) (_ []Event, err error) {
	a := m.audit(actor, store.AuditEvents, Youth{}, ID{})
	defer a.done(ctx, &err)
	if _, err := m.institution(actor); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxEvents {
		limit = MaxEvents
	}
	evs, err := m.store.Events(ctx, actor.Institution, after, limit)
	if err != nil {
		return nil, fmt.Errorf("matcher: events: %w", err)
	}
	out := make([]Event, len(evs))
	refs := map[ID]string{}
	for i, e := range evs {
		out[i] = m.event(e)
		if m.refs == nil {
			continue
		}
		ref, ok := refs[e.Registration]
		if !ok {
			ref, err = m.clientRef(ctx, actor, e.Registration)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			refs[e.Registration] = ref
		}
		out[i].ClientRef = ref
	}
	return out, nil
}

// event is e as its recipient may read it.
func (m *Matcher) event(e store.Event) Event {
	out := Event{Seq: e.Seq, Type: e.Type, At: e.At, Recipient: e.Recipient, Registration: e.Registration, Urgent: e.Urgent,
		Coordinator: Coordinator{Institution: e.Coordinator, Rule: e.Rule}, Subject: e.Subject, Reason: e.Reason,
		Collapsed: e.Collapsed, Agreement: e.Agreement}
	for _, o := range e.Others {
		out.Others = append(out.Others, m.party(o.Institution, o.Kind, o.Contact, o.Since))
	}
	return out
}

// clientRef returns the actor's own reference on its registration id (""
// if it has none). A registration of another institution, or one that does
// not exist, is ErrNotFound.
func (m *Matcher) clientRef(ctx context.Context, actor Actor, id ID) (string, error) {
	reg, err := m.store.Registration(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && reg.Institution != actor.Institution:
		return "", ErrNotFound
	case err != nil:
		return "", fmt.Errorf("matcher: %w", err)
	}
	return m.openRef(ctx, actor.Institution, reg), nil
}
