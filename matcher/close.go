package matcher

import (
	"context"
	"log/slog"
	"slices"

	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/store"
)

// CloseCase ends every registration of the youth's case. Only the case's
// coordinator may close it; an institution not involved gets ErrNotInvolved.
func (m *Matcher) CloseCase(ctx context.Context, actor Actor, who Youth) (err error) {
	a := m.audit(actor, store.AuditClose, who, ID{})
	defer a.done(ctx, &err)
	if _, err := m.institution(actor); err != nil {
		return err
	}
	// Involvement is read as a lookup reads it (the same work for a youth
	// nobody registered), so an uninvolved caller's answer takes no
	// longer for a youth that is known.
	involved, err := m.liveMatch(ctx, who, func(r store.Registration) bool { return r.Institution == actor.Institution })
	if err == nil && !involved {
		err = ErrNotInvolved
	}
	if err != nil {
		m.log.LogAttrs(ctx, slog.LevelInfo, "close-case", slog.String("institution", actor.Institution), slog.String("outcome", outcome(err)))
		return err
	}
	err = m.updateByYouth(ctx, who, m.clock(), a.stage(func(y *youth) error {
		if y.liveOf(actor.Institution) == nil {
			return ErrNotInvolved
		}
		if y.kase.Coordinator != actor.Institution {
			return ErrNotCoordinator
		}
		y.count(figures.Closures, *y.liveOf(actor.Institution))
		for _, r := range slices.Clone(y.live) {
			y.end(r, store.EndedByClose)
		}
		y.kase.Matched, y.kase.Coordinator, y.kase.Rule, y.kase.DecidedAt = false, "", "", y.now
		return nil
	}))
	m.log.LogAttrs(ctx, slog.LevelInfo, "close-case", slog.String("institution", actor.Institution), slog.String("outcome", outcome(err)))
	return err
}
