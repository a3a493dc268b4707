package matcher

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/store"
)

// CloseCase ends every registration of the youth's case. Only the case's
// coordinator may close it; an institution not involved gets ErrNotInvolved.
func (m *Matcher) CloseCase(ctx context.Context, actor Actor, bsn identity.BSN) error {
	if _, err := m.institution(actor); err != nil {
		return err
	}
	if bsn.IsZero() {
		return fieldErr("bsn", ErrMissingBSN)
	}
	set, err := m.ps.Youth(bsn)
	if err != nil {
		return fmt.Errorf("matcher: pseudonym: %w", err)
	}
	now := m.clock()
	err = m.store.Update(ctx, set.All, func(tx store.Tx) error {
		y := m.begin(tx, set.Primary, now, m.today(now))
		if y.liveOf(actor.Institution) == nil {
			return ErrNotInvolved
		}
		if y.kase.Coordinator != actor.Institution {
			return ErrNotCoordinator
		}
		for _, r := range slices.Clone(y.live) {
			y.end(r, store.EndedByClose)
		}
		y.kase.Matched, y.kase.Coordinator, y.kase.Rule, y.kase.DecidedAt = false, "", "", now
		y.finish()
		return nil
	})
	m.log.LogAttrs(ctx, slog.LevelInfo, "close-case", slog.String("institution", actor.Institution), slog.String("outcome", outcome(err)))
	return err
}
