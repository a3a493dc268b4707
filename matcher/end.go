package matcher

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// End ends the actor's own registration id. If on is a later day, the
// registration ends on that day instead (it becomes its end day); if on is
// zero or today or earlier, it ends now. Ending an ended registration is not
// an error. A registration that is not the actor's gives ErrNotFound.
func (m *Matcher) End(ctx context.Context, actor Actor, id ID, on time.Time) error {
	if _, err := m.institution(actor); err != nil {
		return err
	}
	now := m.clock()
	today := m.today(now)
	err := m.store.UpdateByID(ctx, id, func(tx store.Tx) error {
		y := m.beginByID(tx, now, today)
		reg := y.byID(id)
		if reg == nil || reg.Institution != actor.Institution {
			return ErrNotFound
		}
		if !reg.IsLive() {
			return nil
		}
		if !on.IsZero() {
			if civil(on).Before(civil(reg.CreatedAt)) {
				return fieldErr("on", ErrEndDate)
			}
			if today.Before(civil(on)) {
				r := *reg
				if civil(on).Before(r.EndsOn) {
					r.EndsOn = civil(on)
				}
				y.put(r)
				y.finish()
				return nil
			}
		}
		y.end(*reg, store.EndedByInstitution)
		y.finish()
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		err = ErrNotFound
	}
	m.debug(ctx, "end", slog.String("institution", actor.Institution), slog.String("registration", id.String()), slog.String("outcome", outcome(err)))
	return err
}
