package matcher

import (
	"time"

	"context"

	"github.com/vindex-nl/vindex/store"
)

// AddAgreement adds, by the case's coordinator, an agreement to the
// youth's plan: that institution, actively involved with the youth, is
// responsible for it by the day due (today or later). It returns the
// agreement's number in the plan. A case without a plan gets ErrNoPlan;
// a plan with MaxAgreements ErrTooManyAgreements. An involved institution
// that is not the coordinator gets ErrNotCoordinating; one not involved
// ErrNotInvolved, as for a youth nobody registered.
func (m *Matcher) AddAgreement(ctx context.Context, actor Actor, who Youth, institution string, due time.Time) (n int, err error) {
	if due.IsZero() {
		return 0, fieldErr("due", ErrAgreementDue)
	}
	err = m.coordinatorVerb(ctx, actor, who, store.AuditCoordinate, "agreement", func(y *youth) error {
		k := &y.kase
		switch {
		case k.Coordinator != actor.Institution:
			return ErrNotCoordinating
		case k.PlanStart.IsZero():
			return ErrNoPlan
		case y.liveOf(institution) == nil:
			return fieldErr("institution", ErrAgreementInstitution)
		case civil(due).Before(y.today):
			return fieldErr("due", ErrAgreementDue)
		case len(k.Agreements) >= MaxAgreements:
			return ErrTooManyAgreements
		}
		k.Agreed++
		n = k.Agreed
		k.Agreements = append(k.Agreements, store.Agreement{N: n, Institution: institution, Due: civil(due)})
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
