package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/client"
)

// TestClientCoordination drives the coordination verbs through the SDK
// against a real index, in both modes: a decline, a hand-over declined
// and accepted, the escalation ladder up to the alderman's decision; each
// refusal matches its sentinel.
func TestClientCoordination(t *testing.T) {
	for _, md := range modes(t) {
		t.Run(md.name, func(t *testing.T) {
			ix := newIndex(t, md.blind)
			sch, w, g, mu := ix.byToken(school, md.blinder), ix.byCert(md.blinder), ix.byToken(ggd, md.blinder), ix.byToken(municipality, md.blinder)
			for _, c := range []*client.Client{sch, w, g, mu} {
				checkContract(t, c)
			}
			y := newYouth(t, 11, "2014-05-17")
			for _, c := range []*client.Client{sch, w, g} {
				kind := client.Involvement
				if c == sch {
					kind = client.Signal
				}
				if _, err := c.Register(ctx, y.report(kind)); err != nil {
					t.Fatal(err)
				}
			}
			coordinator := func() string {
				v, err := sch.Lookup(ctx, y.bsn)
				if err != nil || v.Coordinator == nil {
					t.Fatalf("lookup: %+v, %v", v, err)
				}
				return v.Coordinator.Institution
			}
			if got := coordinator(); got != wij {
				t.Fatalf("coordinator %s", got)
			}
			if err := g.AcceptCase(ctx, y.bsn); !errors.Is(err, client.ErrNotCoordinator) || !errors.Is(err, client.ErrForbidden) {
				t.Errorf("the GGD accepts WIJ's case: %v", err)
			}
			if err := w.HandOver(ctx, y.bsn, school); !errors.Is(err, client.ErrNotEligible) {
				t.Errorf("a hand-over to the school: %v", err)
			}
			if err := w.HandOver(ctx, y.bsn, ggd); err != nil {
				t.Fatal(err)
			}
			if err := g.DeclineHandover(ctx, y.bsn, client.DeclineNoCapacity); err != nil {
				t.Fatal(err)
			}
			if err := g.AcceptHandover(ctx, y.bsn); !errors.Is(err, client.ErrNoHandover) {
				t.Errorf("accepting a declined hand-over: %v", err)
			}
			if err := w.DeclineCase(ctx, y.bsn, client.DeclineBetterPlaced); err != nil {
				t.Fatal(err)
			}
			if got := coordinator(); got != ggd {
				t.Fatalf("after WIJ declined: %s", got)
			}
			if err := g.AcceptCase(ctx, y.bsn); err != nil {
				t.Fatal(err)
			}
			if err := g.DeclineCase(ctx, y.bsn, client.DeclineOther); !errors.Is(err, client.ErrAlreadyAccepted) {
				t.Errorf("declining an accepted case: %v", err)
			}
			if err := g.Escalate(ctx, y.bsn, "alderman", ""); !errors.Is(err, client.ErrEscalationOrder) {
				t.Errorf("escalating out of order: %v", err)
			}
			for _, step := range []string{"own-management", "involved-managements", "alderman"} {
				if err := g.Escalate(ctx, y.bsn, step, ""); err != nil {
					t.Fatalf("%s: %v", step, err)
				}
			}
			if err := sch.Escalate(ctx, y.bsn, "decision", ggd); !errors.Is(err, client.ErrNotInvolved) {
				t.Errorf("the school decides: %v", err)
			}
			if err := mu.Escalate(ctx, y.bsn, "decision", ggd); err != nil {
				t.Fatal(err)
			}
			if err := g.Escalate(ctx, y.bsn, "carried-out", ""); err != nil {
				t.Fatal(err)
			}

			// The plan and an agreement of the school's.
			due := time.Now().AddDate(0, 1, 0)
			if _, err := g.AddAgreement(ctx, y.bsn, school, due); !errors.Is(err, client.ErrNoPlan) {
				t.Errorf("an agreement without a plan: %v", err)
			}
			if err := g.RecordPlan(ctx, y.bsn, time.Now(), due); err != nil {
				t.Fatal(err)
			}
			n, err := g.AddAgreement(ctx, y.bsn, school, due)
			if err != nil || n != 1 {
				t.Fatalf("the agreement: %d, %v", n, err)
			}
			if err := w.AgreementDone(ctx, y.bsn, n); !errors.Is(err, client.ErrForbidden) {
				t.Errorf("WIJ records the school's agreement done: %v", err)
			}
			v, err := sch.Lookup(ctx, y.bsn)
			if err != nil || v.Coordination == nil || v.Plan == nil || len(v.Plan.Agreements) != 1 ||
				v.Plan.Agreements[0].Institution != school || len(v.Coordination.Escalation) != 5 || v.Coordination.Escalation[0].At.IsZero() {
				t.Fatalf("the school's view of the coordination: %+v, %v", v.Coordination, err)
			}
			if err := sch.AgreementDone(ctx, y.bsn, v.Plan.Agreements[0].Agreement); err != nil {
				t.Fatal(err)
			}
		})
	}
}
