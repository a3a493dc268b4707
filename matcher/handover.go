package matcher

import (
	"context"

	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// Handover offers the youth's case, by its coordinator (the actor), to
// the institution to: another actively involved institution that may
// coordinate it (else ErrNotEligible). to is told, and accepts
// (AcceptHandover) or declines (DeclineHandover); until then the actor
// stays coordinator. A new offer replaces one pending. An involved
// institution that is not the coordinator gets ErrNotCoordinating; one not
// involved ErrNotInvolved, as for a youth nobody registered.
func (m *Matcher) Handover(ctx context.Context, actor Actor, who Youth, to string) error {
	return m.coordinatorVerb(ctx, actor, who, store.AuditCoordinate, "handover", func(y *youth) error {
		if err := y.mustCoordinate(actor.Institution); err != nil {
			return err
		}
		target := y.liveOf(to)
		if to == actor.Institution || target == nil || !rules.Eligible(y.rulesCase(), y.m.cov, to) {
			return fieldErr("to", ErrNotEligible)
		}
		y.kase.HandoverTo, y.kase.HandoverAt = to, y.now
		y.emit(store.Event{Type: store.EventHandover, Recipient: to, Registration: target.ID,
			Subject: actor.Institution, Coordinator: actor.Institution, Rule: y.kase.Rule, Others: y.others(to)})
		return nil
	})
}
