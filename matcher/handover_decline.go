package matcher

import (
	"time"

	"context"

	"github.com/vindex-nl/vindex/store"
)

// DeclineHandover declines, by the actor, the hand-over of the youth's
// case offered to it, for reason; the coordinator stays, and is told. An
// institution offered nothing gets ErrNoHandover; one not involved
// ErrNotInvolved, as for a youth nobody registered.
func (m *Matcher) DeclineHandover(ctx context.Context, actor Actor, who Youth, reason DeclineReason) error {
	if _, err := ParseDeclineReason(string(reason)); err != nil {
		return err
	}
	return m.coordinatorVerb(ctx, actor, who, store.AuditCoordinate, "handover-decline", func(y *youth) error {
		k := &y.kase
		if k.HandoverTo != actor.Institution || k.Coordinator == "" {
			return ErrNoHandover
		}
		k.HandoverTo, k.HandoverAt = "", time.Time{}
		if c := y.liveOf(k.Coordinator); c != nil {
			y.emit(store.Event{Type: store.EventHandoverDeclined, Recipient: c.Institution, Registration: c.ID,
				Subject: actor.Institution, Reason: string(reason), Coordinator: k.Coordinator, Rule: k.Rule})
		}
		return nil
	})
}
