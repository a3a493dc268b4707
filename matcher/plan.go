package matcher

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/store"
)

// The plan of a case ("one child, one plan"): the coordinator draws it up
// with the institutions involved and records in the index only that it
// exists, from when until when it is meant to run, and its agreements as
// (responsible institution, due day, done). What was agreed stays with the
// institutions: the index holds no text of a plan. An agreement still open
// the day after its due day is told to the coordinator once
// (store.EventAgreementOverdue) and counted in the management figures
// (figures.AgreementsOverdue). The plan belongs to the case: it stays when
// the coordinator changes, and goes when the case is closed or its last
// registration ends.

// Plan is a case's plan as an involved institution reads it (see
// Matcher.Lookup): its days, the coordinator that recorded it, and its
// agreements in the order they were made.
type Plan = store.Plan

// Agreement is one agreement of a plan: its number in the plan (1, 2, 3, …,
// never given twice), the responsible institution, the due day and the day
// it was done (zero while open). Overdue says the coordinator was told it
// is overdue.
type Agreement = store.Agreement

// MaxAgreements is the most agreements one plan holds: what a coordinator
// records of a plan costs every later update of the youth, so it is
// bounded.
const MaxAgreements = 50

// maxPlanYears bounds how far ahead a plan's days and an agreement's due
// day may lie.
const maxPlanYears = 5

// Plan errors.
var (
	ErrPlanDates            = errors.New("matcher: a plan needs a start day and an intended end day on or after it, within five years from today")
	ErrNoPlan               = errors.New("matcher: the case has no plan: record the plan first")
	ErrAgreementInstitution = errors.New("matcher: the institution responsible for an agreement must be actively involved with the youth")
	ErrAgreementDue         = errors.New("matcher: an agreement's due day must be today or later, within five years")
	ErrTooManyAgreements    = errors.New("matcher: the plan holds the most agreements it may")
	ErrNoAgreement          = errors.New("matcher: the plan has no agreement with that number")
	ErrAgreementNotYours    = errors.New("matcher: only the coordinator or the responsible institution may record an agreement as done")
)

// RecordPlan records that the youth's case has a plan running from start
// to intendedEnd (civil days), or changes the days of the plan it has; its
// agreements stay. Only the case's coordinator may (ErrNotCoordinator); an
// institution not involved gets ErrNotInvolved, whether or not the youth
// is known.
func (m *Matcher) RecordPlan(ctx context.Context, actor Actor, who Youth, start, intendedEnd time.Time) error {
	return m.coordinatorVerb(ctx, actor, who, store.AuditPlan, "plan", func(y *youth) error {
		if err := y.coordinates(actor); err != nil {
			return err
		}
		start, intendedEnd = civil(start), civil(intendedEnd)
		switch horizon := y.today.AddDate(maxPlanYears, 0, 0); {
		case start.IsZero() || start.After(horizon):
			return fieldErr("start", ErrPlanDates)
		case intendedEnd.Before(start) || intendedEnd.After(horizon):
			return fieldErr("intended_end", ErrPlanDates)
		}
		p := &store.Plan{}
		if y.kase.Plan != nil {
			p = y.kase.Plan
		}
		p.Start, p.IntendedEnd, p.By = start, intendedEnd, actor.Institution
		y.kase.Plan = p
		return nil
	})
}

// AddAgreement records an agreement of the youth's plan: institution, which
// must be actively involved with the youth, is responsible for it, by due
// (a civil day, today or later). It returns the agreement's number. Only
// the case's coordinator may; the case needs a plan (ErrNoPlan) with room
// for another agreement (ErrTooManyAgreements).
func (m *Matcher) AddAgreement(ctx context.Context, actor Actor, who Youth, institution string, due time.Time) (n int, err error) {
	err = m.coordinatorVerb(ctx, actor, who, store.AuditAgreement, "agreement", func(y *youth) error {
		if err := y.coordinates(actor); err != nil {
			return err
		}
		p := y.kase.Plan
		switch due = civil(due); {
		case p == nil:
			return ErrNoPlan
		case y.liveOf(institution) == nil:
			return fieldErr("institution", ErrAgreementInstitution)
		case due.Before(y.today) || due.After(y.today.AddDate(maxPlanYears, 0, 0)):
			return fieldErr("due", ErrAgreementDue)
		case len(p.Agreements) >= MaxAgreements:
			return ErrTooManyAgreements
		}
		n = 1
		if k := len(p.Agreements); k > 0 {
			n = p.Agreements[k-1].N + 1
		}
		p.Agreements = append(p.Agreements, store.Agreement{N: n, Institution: institution, Due: due})
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// AgreementDone records that agreement n of the youth's plan is done,
// today. The coordinator or the institution responsible for it may
// (ErrAgreementNotYours otherwise); recording it again changes nothing.
func (m *Matcher) AgreementDone(ctx context.Context, actor Actor, who Youth, n int) error {
	return m.coordinatorVerb(ctx, actor, who, store.AuditAgreementDone, "agreement-done", func(y *youth) error {
		p := y.kase.Plan
		if p == nil {
			return ErrNoPlan
		}
		i := slices.IndexFunc(p.Agreements, func(g store.Agreement) bool { return g.N == n })
		switch {
		case i < 0:
			return fieldErr("agreement", ErrNoAgreement)
		case actor.Institution != y.kase.Coordinator && actor.Institution != p.Agreements[i].Institution:
			return ErrAgreementNotYours
		case !p.Agreements[i].Done.IsZero():
			return errNoWrite // done before: nothing changes
		}
		p.Agreements[i].Done = y.today
		return nil
	})
}

// coordinates returns nil if actor's institution coordinates the youth's
// case, ErrNotCoordinator if it is involved but does not.
func (y *youth) coordinates(actor Actor) error {
	if y.kase.Coordinator != actor.Institution {
		return ErrNotCoordinator
	}
	return nil
}

// remindAgreements tells the coordinator, once per agreement, of each
// agreement of the plan still open the day after its due day, and counts
// it. Without a coordinator (none assigned, or its registration ended)
// nobody is told yet: the agreement waits for the next coordinator. A case
// without live registrations keeps no plan.
func (y *youth) remindAgreements() {
	p := y.kase.Plan
	if p == nil {
		return
	}
	if len(y.live) == 0 {
		y.kase.Plan = nil
		return
	}
	coord := y.liveOf(y.kase.Coordinator)
	if coord == nil {
		return
	}
	for i := range p.Agreements {
		g := &p.Agreements[i]
		if !g.Done.IsZero() || g.Overdue || !y.today.After(g.Due) {
			continue
		}
		g.Overdue = true
		y.emit(store.Event{Type: store.EventAgreementOverdue, Recipient: coord.Institution, Registration: coord.ID,
			Subject: g.Institution, Agreement: g.N})
		cell := *coord
		if r := y.liveOf(g.Institution); r != nil {
			cell = *r
		}
		y.count(figures.AgreementsOverdue, cell)
	}
}

// agreementWakes passes to earlier, if the case has a coordinator to tell,
// the beginning of the day after the first due day of an open agreement
// not yet told.
func (y *youth) agreementWakes(earlier func(time.Time)) {
	p := y.kase.Plan
	if p == nil || y.liveOf(y.kase.Coordinator) == nil {
		return
	}
	for _, g := range p.Agreements {
		if g.Done.IsZero() && !g.Overdue {
			d := g.Due.AddDate(0, 0, 1)
			earlier(time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, y.m.loc))
		}
	}
}
