package matcher

import (
	"time"

	"context"

	"github.com/vindex-nl/vindex/store"
)

// Accept records that the actor, the case's coordinator, accepts
// coordinating the youth's case, and tells the other involved
// institutions. Accepting again changes nothing. An institution that is
// involved but not the coordinator gets ErrNotCoordinating; one not
// involved ErrNotInvolved, as for a youth nobody registered.
func (m *Matcher) Accept(ctx context.Context, actor Actor, who Youth) error {
	return m.coordinatorVerb(ctx, actor, who, store.AuditCoordinate, "accept", func(y *youth) error {
		if err := y.mustCoordinate(actor.Institution); err != nil {
			return err
		}
		if !y.kase.AcceptedAt.IsZero() {
			return nil
		}
		y.kase.AcceptDue, y.kase.AcceptedAt = time.Time{}, y.now
		for _, r := range y.live {
			if r.Institution != actor.Institution {
				y.emit(store.Event{Type: store.EventAccepted, Recipient: r.Institution, Registration: r.ID,
					Subject: actor.Institution, Coordinator: actor.Institution, Rule: y.kase.Rule})
			}
		}
		return nil
	})
}
