package matcher

import (
	"context"
	"log/slog"
	"slices"

	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// RecordDeath ends every registration of a youth who has died (Jeugdwet art.
// 7.1.4.5: as soon as possible after the death). Only a municipality may
// record it. A youth nobody is registered for is not an error.
func (m *Matcher) RecordDeath(ctx context.Context, actor Actor, who Youth) error {
	inst, err := m.institution(actor)
	if err != nil {
		return err
	}
	if inst.Type != rules.TypeMunicipality {
		return ErrForbidden
	}
	err = m.updateByYouth(ctx, who, m.clock(), func(y *youth) error {
		for _, r := range slices.Clone(y.live) {
			y.end(r, store.EndedByDeath)
		}
		y.kase.Matched, y.kase.Coordinator, y.kase.Rule = false, "", ""
		return nil
	})
	m.log.LogAttrs(ctx, slog.LevelInfo, "death", slog.String("institution", actor.Institution), slog.String("outcome", outcome(err)))
	return err
}
