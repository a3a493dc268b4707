package matcher

import (
	"context"
	"log/slog"
	"slices"

	"github.com/vindex-nl/vindex/store"
)

// View is what Lookup answers: the involvement view of a youth.
type View struct {
	ID            ID
	Matched       bool
	Involved      []Party
	Coordinator   Coordinator
	NoCoordinator string
	// ClientRef is the caller's own reference on its registration ("" if
	// none). Other institutions' references are never shown.
	ClientRef string
	// Plan is the case's plan and its agreements, if the coordinator
	// recorded one (see RecordPlan); nil otherwise.
	Plan *Plan
	// Coordination is the case's coordination state, shown to every
	// involved institution; nil if the case has none (see
	// CaseCoordination).
	Coordination *CaseCoordination
}

// Lookup answers the involvement view of a youth for an institution that is
// actively registered for it, and ErrNotInvolved for anyone else, whether or
// not the youth is known.
func (m *Matcher) Lookup(ctx context.Context, actor Actor, who Youth) (v View, err error) {
	a := m.audit(actor, store.AuditLookup, who, ID{})
	defer func() {
		if a.e.Registration = v.ID; a.done(ctx, &err) {
			v = View{}
		}
	}()
	if _, err := m.institution(actor); err != nil {
		return View{}, err
	}
	if who.IsZero() {
		return View{}, fieldErr("youth", ErrMissingYouth)
	}
	today := m.today(m.clock())
	err = m.store.View(ctx, who.set.All, func(rd store.Reader) error {
		live := liveOn(rd.Registrations(), today)
		own := -1
		for i := range live { // by index: no copy of each record
			if live[i].Institution == actor.Institution {
				own = i
			}
		}
		if own < 0 {
			return ErrNotInvolved
		}
		kase, _ := rd.Case()
		v = View{
			ID:          live[own].ID,
			Matched:     distinct(live) >= 2,
			Involved:    m.parties(live, actor.Institution),
			Coordinator: Coordinator{Institution: kase.Coordinator, Rule: kase.Rule},
			ClientRef:   m.openRef(ctx, actor.Institution, live[own]),
		}
		if kase.Plan != nil {
			p := *kase.Plan
			p.Agreements = slices.Clone(p.Agreements)
			v.Plan = &p
		}
		if kase.Coordinator != "" {
			v.Coordination = coordinationOf(kase)
		}
		if v.Coordinator.Institution != "" && !slices.ContainsFunc(live, func(r store.Registration) bool { return r.Institution == v.Coordinator.Institution }) {
			// The coordinator's registration has reached its end day and
			// the expiry run has not handled it yet.
			v.Coordinator = Coordinator{}
		}
		return nil
	})
	if m.log.Enabled(ctx, slog.LevelDebug) {
		m.debug(ctx, "lookup", slog.String("institution", actor.Institution), slog.String("outcome", outcome(err)))
	}
	return v, err
}

// liveMatch reports whether one of the youth's registrations live today
// satisfies ok, reading as Lookup reads: a view, which does the same work
// whether or not the youth is stored. A verb that refuses an uninvolved
// caller asks this first, so that its answer's time tells nothing either.
func (m *Matcher) liveMatch(ctx context.Context, who Youth, ok func(store.Registration) bool) (bool, error) {
	if who.IsZero() {
		return false, fieldErr("youth", ErrMissingYouth)
	}
	today := m.today(m.clock())
	found := false
	err := m.store.View(ctx, who.set.All, func(rd store.Reader) error {
		found = slices.ContainsFunc(liveOn(rd.Registrations(), today), ok)
		return nil
	})
	return found, err
}
