package matcher

import (
	"time"

	"context"

	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// AcceptHandover accepts, by the actor, the hand-over of the youth's case
// offered to it: it becomes coordinator under the rule
// rules.RuleHandover (accepted by this call; later decisions keep it
// unless a rule with the final say applies), and every involved
// institution gets a coordinator event. An institution offered nothing
// gets ErrNoHandover; one no longer eligible ErrNotEligible; one not
// involved ErrNotInvolved, as for a youth nobody registered.
func (m *Matcher) AcceptHandover(ctx context.Context, actor Actor, who Youth) error {
	return m.coordinatorVerb(ctx, actor, who, store.AuditCoordinate, "handover-accept", func(y *youth) error {
		k := &y.kase
		if k.HandoverTo != actor.Institution || k.Coordinator == "" {
			return ErrNoHandover
		}
		if !rules.Eligible(y.rulesCase(), y.m.cov, actor.Institution) {
			return ErrNotEligible
		}
		k.HandoverTo, k.HandoverAt = "", time.Time{}
		k.Coordinator, k.Rule, k.DecidedAt = actor.Institution, rules.RuleHandover, y.now
		return nil
	})
}
