package matcher

import (
	"context"

	"github.com/vindex-nl/vindex/store"
)

// Decline records that the actor, the case's coordinator, declines
// coordinating the youth's case for reason: it is excluded from the case's
// decisions while it is involved, the next eligible institution is
// assigned by the rules (or none, if none is left), and every involved
// institution is told, in one write. A coordinator that accepted already
// gets ErrAlreadyAccepted (it may hand the case over); an involved
// institution that is not the coordinator ErrNotCoordinating; one not
// involved ErrNotInvolved, as for a youth nobody registered.
func (m *Matcher) Decline(ctx context.Context, actor Actor, who Youth, reason DeclineReason) error {
	if _, err := ParseDeclineReason(string(reason)); err != nil {
		return err
	}
	return m.coordinatorVerb(ctx, actor, who, store.AuditCoordinate, "decline", func(y *youth) error {
		if err := y.mustCoordinate(actor.Institution); err != nil {
			return err
		}
		if !y.kase.AcceptedAt.IsZero() {
			return ErrAlreadyAccepted
		}
		y.exclude(actor.Institution, store.EventDeclined, string(reason))
		return nil
	})
}
