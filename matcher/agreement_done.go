package matcher

import (
	"context"
	"slices"

	"github.com/vindex-nl/vindex/store"
)

// RecordAgreementDone records that agreement n of the youth's plan was
// kept, by the case's coordinator or the agreement's responsible
// institution; recording it again changes nothing. Any other involved
// institution, and a number the plan does not have, get ErrNoAgreement;
// an institution not involved ErrNotInvolved, as for a youth nobody
// registered.
func (m *Matcher) RecordAgreementDone(ctx context.Context, actor Actor, who Youth, n int) error {
	return m.coordinatorVerb(ctx, actor, who, store.AuditCoordinate, "agreement-done", func(y *youth) error {
		k := &y.kase
		i := slices.IndexFunc(k.Agreements, func(a store.Agreement) bool { return a.N == n })
		if i < 0 || (k.Coordinator != actor.Institution && k.Agreements[i].Institution != actor.Institution) {
			return ErrNoAgreement
		}
		if a := &k.Agreements[i]; a.Done.IsZero() {
			a.Done = y.now
		}
		return nil
	})
}
