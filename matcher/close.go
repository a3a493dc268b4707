package matcher

import (
	"context"
	"slices"

	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/store"
)

// CloseCase ends every registration of the youth's case. Only the case's
// coordinator may close it; an institution not involved gets ErrNotInvolved.
func (m *Matcher) CloseCase(ctx context.Context, actor Actor, who Youth) error {
	return m.coordinatorVerb(ctx, actor, who, store.AuditClose, "close-case", func(y *youth) error {
		if err := y.coordinates(actor); err != nil {
			return err
		}
		y.count(figures.Closures, *y.liveOf(actor.Institution))
		for _, r := range slices.Clone(y.live) {
			y.end(r, store.EndedByClose)
		}
		y.kase.Matched, y.kase.Coordinator, y.kase.Rule, y.kase.DecidedAt = false, "", "", y.now
		return nil
	})
}
