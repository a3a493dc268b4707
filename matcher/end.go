package matcher

import (
	"context"
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
	err := m.updateByID(ctx, id, m.clock(), func(y *youth) error {
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
			if y.today.Before(civil(on)) {
				r := *reg
				if civil(on).Before(r.EndsOn) {
					r.EndsOn = civil(on)
				}
				y.put(r)
				return nil
			}
		}
		y.end(*reg, store.EndedByInstitution)
		return nil
	})
	m.debug(ctx, "end", slog.String("institution", actor.Institution), slog.String("registration", id.String()), slog.String("outcome", outcome(err)))
	return err
}
