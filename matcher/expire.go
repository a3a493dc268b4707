package matcher

import (
	"context"
	"errors"
	"log/slog"
)

// ExpireStats counts what ExpireDue did.
type ExpireStats struct {
	Ended  int
	Purged int
	// Idempotency counts the idempotency records forgotten.
	Idempotency int
}

// ExpireDue ends every live registration whose end day has come (its own end
// date, the maximum duration, or the first day of the month in which the
// youth reaches the end age), purges every ended registration whose
// archive term is over, destroys everything of a youth from the first day
// of the month in which it turns 23 (live registrations end and are
// destroyed in the same write, the archived ones with them: Jeugdwet art.
// 7.1.4.5), and forgets idempotency keys older than the idempotency
// window. Run it at least hourly (vindex serve does): what is due is gone
// at most one interval after 00:00 UTC of its day. It is safe to run
// concurrently with everything else and to run again after an
// interruption.
func (m *Matcher) ExpireDue(ctx context.Context) (ExpireStats, error) {
	var st ExpireStats
	const batch = 256
	for {
		now := m.clock()
		today := m.today(now)
		due, err := m.store.Due(ctx, today, batch)
		if err != nil {
			return st, err
		}
		progress := 0
		for _, d := range due {
			err := m.updateByID(ctx, d.ID, now, func(y *youth) error {
				// begin has already ended what is due today.
				st.Ended += len(y.endedNow)
				st.Purged += y.destroyedNow
				progress += len(y.endedNow)
				if reg := y.byID(d.ID); reg != nil && !reg.IsLive() && !y.endedNow[reg.ID] &&
					!reg.PurgeOn.IsZero() && !today.Before(reg.PurgeOn) {
					id := reg.ID // purge moves what reg points at
					y.purge(*reg)
					y.auditExpiry(id, "destroyed")
					st.Purged++
					progress++
				}
				return nil
			})
			if err != nil && !errors.Is(err, ErrNotFound) {
				return st, err
			}
		}
		if len(due) < batch || progress == 0 {
			break
		}
	}
	before := m.clock().Add(-m.idemWindow)
	for {
		n, err := m.store.PurgeIdempotency(ctx, before, 1024)
		st.Idempotency += n
		if err != nil {
			return st, err
		}
		if n < 1024 {
			m.log.LogAttrs(ctx, slog.LevelInfo, "expire", slog.Int("ended", st.Ended), slog.Int("purged", st.Purged), slog.Int("idempotency", st.Idempotency))
			return st, nil
		}
	}
}
