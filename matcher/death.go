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
// record it, and only one serving the municipality of one of the youth's
// live registrations: any other municipality's report changes nothing and
// gets the same answer (nil) as a report about a youth nobody is registered
// for, so it learns nothing about who is registered where. A caller that
// is not a municipality gets ErrForbidden whatever the youth.
//
// Each institution involved gets one ended event (reason "death") naming
// the municipality that recorded the death as its subject, and the
// municipality is in the log line of the call. Then everything about the
// youth is destroyed in the same write (Jeugdwet art. 7.1.4.5): its
// registrations, live and archived, the idempotency records of their
// reports, and its case record; the events stay with their recipients.
// Records kept under a key no longer enabled are out of reach of the BSN
// and go by their own purge day.
func (m *Matcher) RecordDeath(ctx context.Context, actor Actor, who Youth) (err error) {
	a := m.audit(actor, store.AuditDeath, who, ID{})
	defer a.done(ctx, &err)
	inst, err := m.institution(actor)
	if err != nil {
		return err
	}
	if inst.Type != rules.TypeMunicipality {
		return ErrForbidden
	}
	// Whether this municipality may record it is read as a lookup reads,
	// the same work for a youth nobody registered: the time of the
	// answer tells no more than its body.
	mine, err := m.liveMatch(ctx, who, func(r store.Registration) bool { return inst.Serves(r.Municipality) })
	if err != nil || !mine {
		m.log.LogAttrs(ctx, slog.LevelInfo, "death", slog.String("institution", actor.Institution),
			slog.Bool("recorded", false), slog.String("outcome", outcome(err)))
		return err
	}
	recorded, destroyed := false, 0
	err = m.updateByYouth(ctx, who, m.clock(), a.stage(func(y *youth) error {
		if !slices.ContainsFunc(y.live, func(r store.Registration) bool { return inst.Serves(r.Municipality) }) {
			return nil // not this municipality's youth, or nobody's: the same answer
		}
		recorded = true
		for _, r := range slices.Clone(y.live) {
			y.emit(store.Event{Type: store.EventEnded, Recipient: r.Institution, Registration: r.ID,
				Subject: actor.Institution, Reason: store.EndedByDeath.String()})
			y.remove(r)
		}
		// Everything about the youth goes (Jeugdwet art. 7.1.4.5): the
		// archive too, and with the live state the case record.
		for _, r := range y.tx.History() {
			y.remove(r)
			destroyed++
		}
		y.kase = store.Case{Youth: y.kase.Youth, Age: -1}
		return nil
	}))
	m.log.LogAttrs(ctx, slog.LevelInfo, "death", slog.String("institution", actor.Institution),
		slog.Bool("recorded", recorded), slog.Int("archived_destroyed", destroyed), slog.String("outcome", outcome(err)))
	return err
}
