//go:build invariants

package matcher

import (
	"fmt"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// checkYouth re-reads a youth's records as an update is about to commit
// them (a Tx's reads see its staged writes) and panics if they break one
// of the rules every committed state must keep. The panic names the rule
// and at most an institution, never an identity, a pseudonym or a
// registration ID.
func checkYouth(r store.Reader) {
	if err := youthInvariants(r.Registrations(), r.Case); err != nil {
		panic("matcher: invariant violated: " + err.Error())
	}
}

// youthInvariants returns the first rule regs and the case record break.
func youthInvariants(regs []store.Registration, caseOf func() (store.Case, bool)) error {
	kase, had := caseOf()
	if len(regs) == 0 {
		return nil // a youth without records has no case record either way
	}
	if !had {
		return fmt.Errorf("records-have-case: %d registrations and no case record", len(regs))
	}
	live := map[string]store.Registration{}
	for _, r := range regs {
		if d := r.DestroyOn; !d.IsZero() && (!r.PurgeOn.IsZero() && r.PurgeOn.After(d) || r.IsLive() && r.EndsOn.After(d)) {
			return fmt.Errorf("destroyed-at-23: a registration of %s is kept past the month the youth turns 23", r.Institution)
		}
		if r.Youth != kase.Youth {
			return fmt.Errorf("one-pseudonym: a registration of %s is kept under another pseudonym than the case", r.Institution)
		}
		if !r.IsLive() {
			if r.EndedAt.IsZero() || r.PurgeOn.IsZero() {
				return fmt.Errorf("ended-dated: an ended registration of %s lacks EndedAt or PurgeOn", r.Institution)
			}
			continue
		}
		if d := r.Inform.Due; !d.IsZero() && (kase.WakeAt.IsZero() || kase.WakeAt.After(d.Add(14*time.Hour))) {
			// A day begins at most 14 hours after 00:00 UTC in any zone.
			return fmt.Errorf("inform-reminder-woken: a reminder of %s is due with no wake time before its day", r.Institution)
		}
		if _, dup := live[r.Institution]; dup {
			return fmt.Errorf("one-live-per-institution: %s has more than one live registration", r.Institution)
		}
		live[r.Institution] = r
	}
	if matched := len(live) >= 2; kase.Matched != matched {
		return fmt.Errorf("matched-iff-two: the case says matched=%v with %d institutions live", kase.Matched, len(live))
	}
	if c := kase.Coordinator; c != "" {
		if r, ok := live[c]; !ok || r.Kind != store.KindInvolvement {
			return fmt.Errorf("coordinator-involved: coordinator %s has no live involvement registration", c)
		}
		if slices.Contains(kase.Excluded, c) {
			return fmt.Errorf("excluded-never-coordinates: coordinator %s is excluded from the case", c)
		}
	}
	woken := func(due time.Time) bool { return !kase.WakeAt.IsZero() && !kase.WakeAt.After(due) }
	if d := kase.AcceptDue; !d.IsZero() && (kase.Coordinator == "" || !woken(d)) {
		return fmt.Errorf("accept-term-woken: a term to accept without a coordinator or a wake time before its end")
	}
	if n := len(kase.Escalation); n > 0 {
		if last := kase.Escalation[n-1]; !last.Due.IsZero() && !last.Overdue && !woken(last.Due) {
			return fmt.Errorf("escalation-woken: an escalation step is due with no wake time before it")
		}
	}
	return planInvariants(kase, len(live))
}

// planInvariants returns the first rule the case's plan breaks: a plan
// only with live registrations, at most MaxAgreements agreements numbered
// upwards, and a wake time for each agreement that still has a
// coordinator to tell.
func planInvariants(kase store.Case, live int) error {
	p := kase.Plan
	if p == nil {
		return nil
	}
	if live == 0 {
		return fmt.Errorf("plan-with-case: a plan is kept without a live registration")
	}
	if len(p.Agreements) > MaxAgreements {
		return fmt.Errorf("plan-bounded: %d agreements", len(p.Agreements))
	}
	for i, g := range p.Agreements {
		if g.N < 1 || i > 0 && g.N <= p.Agreements[i-1].N {
			return fmt.Errorf("agreements-numbered: agreement %d after %d", g.N, max(0, i))
		}
		if kase.Coordinator != "" && g.Done.IsZero() && !g.Overdue && (kase.WakeAt.IsZero() || kase.WakeAt.After(g.Due.AddDate(0, 0, 1).Add(14*time.Hour))) {
			return fmt.Errorf("agreement-woken: an agreement of %s is open with no wake time before the day after its due day", g.Institution)
		}
	}
	return nil
}
