package matcher_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// planEnv has wij (the coordinator), ggd and school involved with youth 1,
// and youth 2 known to ggd alone.
func planEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	e.register(t, wij, e.involvement(t, 1))
	e.register(t, ggd, e.involvement(t, 1))
	e.register(t, ggd, e.involvement(t, 2))
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1))
	if err != nil || v.Coordinator.Institution != wij {
		t.Fatalf("coordinator: %+v %v, want %s", v.Coordinator, err, wij)
	}
	return e
}

func dayOf(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// Who may record a plan and its agreements, and what is refused: each
// refusal writes nothing.
func TestPlanVerbs(t *testing.T) {
	e := planEnv(t)
	y1, y2, unknown := e.youth(t, 1), e.youth(t, 2), e.youth(t, 99)
	as := func(inst string) matcher.Actor { return matcher.Actor{Institution: inst} }
	today := dayOf("2026-03-02")

	for _, tc := range []struct {
		name  string
		actor string
		who   matcher.Youth
		start string
		end   string
		want  error
		field string
	}{
		{"a care provider that does not coordinate", ggd, y1, "2026-03-02", "2026-09-01", matcher.ErrNotCoordinator, ""},
		{"a school", school, y1, "2026-03-02", "2026-09-01", matcher.ErrNotCoordinator, ""},
		{"an institution not involved", police, y1, "2026-03-02", "2026-09-01", matcher.ErrNotInvolved, ""},
		{"a youth nobody registered", wij, unknown, "2026-03-02", "2026-09-01", matcher.ErrNotInvolved, ""},
		{"a youth the coordinator is not involved with", wij, y2, "2026-03-02", "2026-09-01", matcher.ErrNotInvolved, ""},
		{"end before start", wij, y1, "2026-03-02", "2026-03-01", matcher.ErrPlanDates, "intended_end"},
		{"no start", wij, y1, "", "2026-03-01", matcher.ErrPlanDates, "start"},
		{"start too far ahead", wij, y1, "2031-03-03", "2031-03-04", matcher.ErrPlanDates, "start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var start time.Time
			if tc.start != "" {
				start = dayOf(tc.start)
			}
			e.m.Accept(ctx, as(tc.actor), tc.who) // the coordinator accepts: its term would lapse before the agreements are due
			err := e.m.RecordPlan(ctx, as(tc.actor), tc.who, start, dayOf(tc.end))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var fe *matcher.FieldError
			if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
				t.Fatalf("err = %v, want a field error on %s", err, tc.field)
			}
		})
	}
	if _, err := e.m.AddAgreement(ctx, as(wij), y1, ggd, today.AddDate(0, 1, 0)); !errors.Is(err, matcher.ErrNoPlan) {
		t.Fatalf("an agreement without a plan: %v", err)
	}
	if v, _ := e.m.Lookup(ctx, as(ggd), y1); v.Plan != nil {
		t.Fatalf("a refused plan was written: %+v", v.Plan)
	}

	e.m.Accept(ctx, as(wij), y1) // the coordinator accepts: its term would lapse before the agreements are due
	if err := e.m.RecordPlan(ctx, as(wij), y1, today, dayOf("2026-09-01")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		actor string
		inst  string
		due   time.Time
		want  error
		field string
	}{
		{"by a care provider that does not coordinate", ggd, ggd, today.AddDate(0, 1, 0), matcher.ErrNotCoordinator, ""},
		{"for an institution not involved", wij, police, today.AddDate(0, 1, 0), matcher.ErrAgreementInstitution, "institution"},
		{"for an institution the covenant does not know", wij, "nobody", today.AddDate(0, 1, 0), matcher.ErrAgreementInstitution, "institution"},
		{"due yesterday", wij, ggd, today.AddDate(0, 0, -1), matcher.ErrAgreementDue, "due"},
		{"due too far ahead", wij, ggd, today.AddDate(5, 0, 1), matcher.ErrAgreementDue, "due"},
	} {
		t.Run("agreement "+tc.name, func(t *testing.T) {
			_, err := e.m.AddAgreement(ctx, as(tc.actor), y1, tc.inst, tc.due)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var fe *matcher.FieldError
			if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
				t.Fatalf("err = %v, want a field error on %s", err, tc.field)
			}
		})
	}
	for i, inst := range []string{ggd, school, wij} {
		n, err := e.m.AddAgreement(ctx, as(wij), y1, inst, today.AddDate(0, 0, 7*(i+1)))
		if err != nil || n != i+1 {
			t.Fatalf("agreement %d for %s: %d %v", i+1, inst, n, err)
		}
	}
	if err := e.m.AgreementDone(ctx, as(school), y1, 1); !errors.Is(err, matcher.ErrAgreementNotYours) {
		t.Fatalf("school records ggd's agreement done: %v", err)
	}
	if err := e.m.AgreementDone(ctx, as(ggd), y1, 4); !errors.Is(err, matcher.ErrNoAgreement) {
		t.Fatalf("an agreement that does not exist: %v", err)
	}
	if err := e.m.AgreementDone(ctx, as(police), y1, 1); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("an institution not involved: %v", err)
	}
	if err := e.m.AgreementDone(ctx, as(ggd), y1, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.m.AgreementDone(ctx, as(wij), y1, 2); err != nil {
		t.Fatal(err)
	}
	if err := e.m.AgreementDone(ctx, as(ggd), y1, 1); err != nil {
		t.Fatalf("done again: %v", err)
	}
	// Every institution involved sees the plan; its days as recorded.
	for _, inst := range []string{wij, ggd, school} {
		v, err := e.m.Lookup(ctx, as(inst), y1)
		if err != nil || v.Plan == nil {
			t.Fatalf("%s's lookup: %+v %v", inst, v, err)
		}
		p := v.Plan
		if !p.Start.Equal(today) || !p.IntendedEnd.Equal(dayOf("2026-09-01")) || p.By != wij || len(p.Agreements) != 3 {
			t.Fatalf("%s sees plan %+v", inst, p)
		}
		if g := p.Agreements[0]; g.N != 1 || g.Institution != ggd || !g.Done.Equal(today) || !g.Due.Equal(today.AddDate(0, 0, 7)) {
			t.Fatalf("agreement 1: %+v", g)
		}
		if g := p.Agreements[2]; g.N != 3 || g.Institution != wij || !g.Done.IsZero() {
			t.Fatalf("agreement 3: %+v", g)
		}
	}
	// Changing the plan's days keeps its agreements.
	e.m.Accept(ctx, as(wij), y1) // the coordinator accepts: its term would lapse before the agreements are due
	if err := e.m.RecordPlan(ctx, as(wij), y1, today, dayOf("2026-12-01")); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.m.Lookup(ctx, as(ggd), y1); v.Plan == nil || !v.Plan.IntendedEnd.Equal(dayOf("2026-12-01")) || len(v.Plan.Agreements) != 3 {
		t.Fatalf("after new days: %+v", v.Plan)
	}
}

// A plan holds at most MaxAgreements agreements, and numbers are never
// given twice.
func TestPlanBounded(t *testing.T) {
	e := planEnv(t)
	y1, wijA := e.youth(t, 1), matcher.Actor{Institution: wij}
	e.m.Accept(ctx, wijA, y1) // the coordinator accepts: its term would lapse before the agreements are due
	if err := e.m.RecordPlan(ctx, wijA, y1, start, start.AddDate(0, 6, 0)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= matcher.MaxAgreements; i++ {
		if n, err := e.m.AddAgreement(ctx, wijA, y1, ggd, start.AddDate(0, 1, 0)); err != nil || n != i {
			t.Fatalf("agreement %d: %d %v", i, n, err)
		}
	}
	if _, err := e.m.AddAgreement(ctx, wijA, y1, ggd, start.AddDate(0, 1, 0)); !errors.Is(err, matcher.ErrTooManyAgreements) {
		t.Fatalf("one over the bound: %v", err)
	}
}

// An agreement still open the day after its due day is told to the
// coordinator once, whatever happens to the youth meanwhile, and counted
// in the figures; one done in time, or done before the day after, is not.
func TestAgreementOverdue(t *testing.T) {
	e := planEnv(t)
	y1, wijA := e.youth(t, 1), matcher.Actor{Institution: wij}
	due := dayOf("2026-03-10")
	e.m.Accept(ctx, wijA, y1) // the coordinator accepts: its term would lapse before the agreements are due
	if err := e.m.RecordPlan(ctx, wijA, y1, start, start.AddDate(0, 6, 0)); err != nil {
		t.Fatal(err)
	}
	for _, inst := range []string{ggd, school, wij} {
		if _, err := e.m.AddAgreement(ctx, wijA, y1, inst, due); err != nil {
			t.Fatal(err)
		}
	}
	overdue := func() []store.Event {
		var out []store.Event
		for _, ev := range e.events(t, "") {
			if ev.Type == store.EventAgreementOverdue {
				out = append(out, ev)
			}
		}
		return out
	}
	// On its due day the agreement is not overdue; school does its part
	// on the day.
	e.clock.Set(due.Add(20 * time.Hour))
	if _, err := e.m.SendHeld(ctx); err != nil {
		t.Fatal(err)
	}
	if got := overdue(); len(got) != 0 {
		t.Fatalf("overdue on the due day: %+v", got)
	}
	if err := e.m.AgreementDone(ctx, matcher.Actor{Institution: school}, y1, 2); err != nil {
		t.Fatal(err)
	}
	// The day after: ggd's and wij's are overdue, each told once, to wij,
	// by the wake-up alone, and not again after reports, lookups and more
	// wake-ups on later days.
	e.clock.Set(due.AddDate(0, 0, 1).Add(time.Minute))
	for range 3 {
		if _, err := e.m.SendHeld(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := overdue()
	if len(got) != 2 {
		t.Fatalf("overdue events %+v, want 2", got)
	}
	wijReg, _ := e.m.Lookup(ctx, wijA, y1)
	for i, want := range []struct {
		n    int
		inst string
	}{{1, ggd}, {3, wij}} {
		if ev := got[i]; ev.Recipient != wij || ev.Registration != wijReg.ID || ev.Agreement != want.n || ev.Subject != want.inst {
			t.Fatalf("overdue event %d: %+v, want agreement %d of %s to %s", i, ev, want.n, want.inst, wij)
		}
	}
	e.clock.Add(48 * time.Hour)
	e.register(t, ggd, e.involvement(t, 1))
	if _, err := e.m.SendHeld(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.m.AgreementDone(ctx, matcher.Actor{Institution: ggd}, y1, 1); err != nil {
		t.Fatal(err)
	}
	if got := overdue(); len(got) != 2 {
		t.Fatalf("overdue events after more days: %d, want 2", len(got))
	}
	v, _ := e.m.Lookup(ctx, wijA, y1)
	if g := v.Plan.Agreements; !g[0].Overdue || g[1].Overdue || !g[2].Overdue || g[0].Done.IsZero() {
		t.Fatalf("agreements: %+v", g)
	}
	fc, err := e.store.Figures(ctx, "2026-03", "2026-03")
	if err != nil {
		t.Fatal(err)
	}
	counted := int64(0)
	for _, c := range fc.Counts {
		if c.Measure == figures.AgreementsOverdue {
			counted += c.N
		}
	}
	if counted != 2 {
		t.Fatalf("agreements_overdue counted %d, want 2", counted)
	}
}

// The plan belongs to the case: a new coordinator inherits it, and it
// goes when the case is closed.
func TestPlanGoesWithTheCase(t *testing.T) {
	e := planEnv(t)
	y1 := e.youth(t, 1)
	e.m.Accept(ctx, matcher.Actor{Institution: wij}, y1) // the coordinator accepts: its term would lapse before the agreements are due
	if err := e.m.RecordPlan(ctx, matcher.Actor{Institution: wij}, y1, start, start.AddDate(0, 6, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.AddAgreement(ctx, matcher.Actor{Institution: wij}, y1, ggd, start.AddDate(0, 0, 3)); err != nil {
		t.Fatal(err)
	}
	wijView, _ := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, y1)
	if err := e.m.End(ctx, matcher.Actor{Institution: wij}, wijView.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, y1)
	if err != nil || v.Coordinator.Institution != ggd || v.Plan == nil || len(v.Plan.Agreements) != 1 {
		t.Fatalf("after the coordinator left: %+v %v", v, err)
	}
	// The agreement falls due under the new coordinator (which accepts
	// the case, lest its term lapse), who is told.
	if err := e.m.Accept(ctx, matcher.Actor{Institution: ggd}, y1); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(5 * 24 * time.Hour)
	if _, err := e.m.SendHeld(ctx); err != nil {
		t.Fatal(err)
	}
	told := 0
	for _, ev := range e.events(t, ggd) {
		if ev.Type == store.EventAgreementOverdue {
			told++
		}
	}
	if told != 1 {
		t.Fatalf("new coordinator told %d times, want 1", told)
	}
	if err := e.m.CloseCase(ctx, matcher.Actor{Institution: ggd}, y1); err != nil {
		t.Fatal(err)
	}
	var kept bool
	e.store.View(ctx, mustYouth(t, e, 1), func(r store.Reader) error {
		c, ok := r.Case()
		kept = ok && c.Plan != nil
		return nil
	})
	if kept {
		t.Fatal("the plan outlived its case")
	}
}

// A registration removed after an upheld objection takes its institution
// out of the plan: its agreements go, and nobody involved sees it there.
func TestPlanForgetsARemovedInstitution(t *testing.T) {
	e := planEnv(t)
	y1, wijA := e.youth(t, 1), matcher.Actor{Institution: wij}
	if err := e.m.Accept(ctx, wijA, y1); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RecordPlan(ctx, wijA, y1, start, start.AddDate(0, 6, 0)); err != nil {
		t.Fatal(err)
	}
	for _, inst := range []string{ggd, school, ggd} {
		if _, err := e.m.AddAgreement(ctx, wijA, y1, inst, start.AddDate(0, 1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.m.Object(ctx, matcher.Actor{Institution: gemeente}, y1, birth(t, "2014-05-17"), matcher.OneInstitution(ggd)); err != nil {
		t.Fatal(err)
	}
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: school}, y1)
	if err != nil || v.Plan == nil {
		t.Fatalf("school's lookup: %+v %v", v, err)
	}
	if g := v.Plan.Agreements; len(g) != 1 || g[0].Institution != school || g[0].N != 2 {
		t.Fatalf("agreements after ggd's registration was removed: %+v, want school's agreement 2 only", g)
	}
}
