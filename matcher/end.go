package matcher

import (
	"context"
	"log/slog"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// EndReason says why an institution ends its own registration.
type EndReason int

// The reasons. The zero value is EndRiskGone.
const (
	// EndRiskGone: the concern is resolved, or the care has ended. The
	// registration goes to the archive.
	EndRiskGone EndReason = 0
	// EndOther: another reason. The registration goes to the archive.
	EndOther EndReason = 1
	// EndUnjustified: the registration should not have been made. It is
	// destroyed at once, with the idempotency records of its reports:
	// nothing of it is archived.
	EndUnjustified EndReason = 2
)

var endReasons = [...]string{EndRiskGone: "risk_gone", EndOther: "other", EndUnjustified: "unjustified"}

// String returns "risk_gone", "other" or "unjustified".
func (r EndReason) String() string {
	if r >= 0 && int(r) < len(endReasons) {
		return endReasons[r]
	}
	return "unknown"
}

// ParseEndReason returns the reason String names; "" is EndRiskGone.
func ParseEndReason(s string) (EndReason, error) {
	if s == "" {
		return EndRiskGone, nil
	}
	for r, name := range endReasons {
		if name == s {
			return EndReason(r), nil
		}
	}
	return 0, ErrEndReason
}

// stored is the store's reason of an archived end.
func (r EndReason) stored() store.EndReason {
	if r == EndOther {
		return store.EndedOther
	}
	return store.EndedByInstitution
}

// End ends the actor's own registration id, for reason. If on is a later
// day, the registration ends on that day instead (it becomes its end day);
// if on is zero or today or earlier, it ends now. Ending an ended
// registration is not an error. A registration that is not the actor's
// gives ErrNotFound.
//
// Ended as risk gone or for another reason, the registration goes to the
// archive (it never matches again, and is purged after the retention
// period), and a report within the refresh window revives it. Ended as
// unjustified, it is destroyed now, live or archived, with the idempotency
// records of its reports; such an end cannot be planned for a later day
// (ErrUnjustifiedLater). The other institutions involved get an ended
// event either way, with the reason.
func (m *Matcher) End(ctx context.Context, actor Actor, id ID, on time.Time, reason EndReason) (err error) {
	a := m.audit(actor, store.AuditEnd, Youth{}, id)
	defer a.done(ctx, &err)
	if _, err := m.institution(actor); err != nil {
		return err
	}
	if reason < EndRiskGone || reason > EndUnjustified {
		return fieldErr("reason", ErrEndReason)
	}
	err = m.updateByID(ctx, id, m.clock(), a.stage(func(y *youth) error {
		reg := y.byID(id)
		if reg == nil || reg.Institution != actor.Institution {
			return ErrNotFound
		}
		if reason == EndUnjustified {
			if !on.IsZero() && y.today.Before(civil(on)) {
				return fieldErr("on", ErrUnjustifiedLater)
			}
			y.destroy(*reg)
			return nil
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
		y.end(*reg, reason.stored())
		return nil
	}))
	m.debug(ctx, "end", slog.String("institution", actor.Institution), slog.String("registration", id.String()),
		slog.String("reason", reason.String()), slog.String("outcome", outcome(err)))
	return err
}

// destroy deletes r, ended unjustified by its institution, and tells the
// other live institutions it ended (reason unjustified) if it was live.
func (y *youth) destroy(r store.Registration) {
	wasLive := r.IsLive()
	y.remove(r)
	if wasLive {
		y.tellOthersEnded(r, EndUnjustified.String())
	}
}
