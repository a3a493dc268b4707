package matcher

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/store"
)

// The plan's agreements. The coordinator records that the case has a
// plan ([Matcher.RecordPlan]: its start and intended end) and the plan's
// agreements ([Matcher.AddAgreement]: which involved institution is
// responsible, and the day it is due), only "that"-information: never
// what the plan or an agreement says. The coordinator or the responsible
// institution records an agreement done ([Matcher.RecordAgreementDone]).
// An agreement not done by its due day raises one agreement-overdue
// event to the coordinator, and counts in the management figures
// (figures.AgreementsOverdue), in the write that marks it raised; the
// youth's wake time is set no later than the day after its due day, so
// this happens also when nobody reports the youth, and after a restart.
// An agreement goes when its institution's registration ends; the plan
// goes when the case has no coordinator.

// MaxAgreements is the most agreements a case's plan holds.
const MaxAgreements = 50

// Errors of the plan's verbs.
var (
	// ErrPlanDates: a plan without a start day, or with an intended end
	// before it.
	ErrPlanDates = errors.New("matcher: a plan needs a start day and an intended end not before it")
	// ErrNoPlan: an agreement for a case whose coordinator recorded no
	// plan.
	ErrNoPlan = errors.New("matcher: the case has no plan; the coordinator records one first")
	// ErrAgreementDue: an agreement without a due day, or due before
	// today.
	ErrAgreementDue = errors.New("matcher: an agreement needs a due day, today or later")
	// ErrAgreementInstitution: the responsible institution is not
	// actively involved with the youth.
	ErrAgreementInstitution = errors.New("matcher: the responsible institution must be actively involved with the youth")
	// ErrTooManyAgreements: the plan has MaxAgreements already.
	ErrTooManyAgreements = errors.New("matcher: the plan has the most agreements a case may have")
	// ErrNoAgreement: the plan has no agreement by that number that the
	// actor may record done.
	ErrNoAgreement = errors.New("matcher: the plan has no such agreement of yours")
)

// RecordPlan records, by the case's coordinator, that the youth's case
// has a plan from the day start until the intended end (civil days; a
// new record moves them and keeps the agreements). An involved
// institution that is not the coordinator gets ErrNotCoordinating; one not
// involved ErrNotInvolved, as for a youth nobody registered.
func (m *Matcher) RecordPlan(ctx context.Context, actor Actor, who Youth, start, end time.Time) error {
	if start.IsZero() || end.IsZero() || civil(end).Before(civil(start)) {
		return fieldErr("end", ErrPlanDates)
	}
	return m.coordinatorVerb(ctx, actor, who, store.AuditCoordinate, "plan", func(y *youth) error {
		if err := y.mustCoordinate(actor.Institution); err != nil {
			return err
		}
		y.kase.PlanStart, y.kase.PlanEnd = civil(start), civil(end)
		return nil
	})
}

// agreementsDue raises every agreement of the plan not done by its due
// day, once, and drops those of institutions no longer involved.
func (y *youth) agreementsDue() {
	k := &y.kase
	k.Agreements = slices.DeleteFunc(k.Agreements, func(a store.Agreement) bool { return y.liveOf(a.Institution) == nil })
	c := y.liveOf(k.Coordinator)
	if c == nil {
		return
	}
	for i := range k.Agreements {
		a := &k.Agreements[i]
		if !a.Done.IsZero() || a.Overdue || !y.today.After(a.Due) {
			continue
		}
		a.Overdue = true
		y.emit(store.Event{Type: store.EventAgreementOverdue, Recipient: c.Institution, Registration: c.ID,
			Subject: a.Institution, Reason: strconv.Itoa(a.N), Coordinator: k.Coordinator, Rule: k.Rule})
		y.count(figures.AgreementsOverdue, *y.liveOf(a.Institution))
	}
}

// agreementWakes passes to earlier, for each agreement not done nor
// raised, the moment the day after its due day begins in the matcher's
// zone.
func (y *youth) agreementWakes(earlier func(time.Time)) {
	for _, a := range y.kase.Agreements {
		if a.Done.IsZero() && !a.Overdue {
			d := a.Due.AddDate(0, 0, 1)
			earlier(time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, y.m.loc))
		}
	}
}
