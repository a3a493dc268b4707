package matcher_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// counters reads every counter of 2026 as "measure month municipality type
// kind code" (or "days=N …" for a duration bucket) -> count.
func counters(t *testing.T, e *env) map[string]int64 {
	t.Helper()
	fc, err := e.store.Figures(ctx, "2026-01", "2026-12")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, c := range fc.Counts {
		out[string(c.Measure)+" "+strings.Join(c.At[:], " ")] += c.N
	}
	for _, d := range fc.Durations {
		out[fmt.Sprintf("days=%d ", d.Days)+strings.Join(d.At[:], " ")] += d.N
	}
	return out
}

// wantMoved checks that the counters moved from before to after by
// exactly delta (every other counter unchanged).
func wantMoved(t *testing.T, what string, before, after map[string]int64, delta map[string]int64) {
	t.Helper()
	want := map[string]int64{}
	maps.Copy(want, before)
	for k, n := range delta {
		want[k] += n
	}
	if !maps.Equal(after, want) {
		t.Fatalf("%s: counters\n%v\nwant\n%v", what, after, want)
	}
}

const (
	wijInv    = "2026-03 GM0014 wij-team involvement -"
	ggdInv    = "2026-03 GM0014 ggd involvement -"
	schoolSig = "2026-03 GM0014 school signal S01"
)

func TestFiguresRegistrationsAndMatches(t *testing.T) {
	e := newEnv(t)
	c0 := counters(t, e)
	e.register(t, school, e.signal(t, 1))
	c1 := counters(t, e)
	wantMoved(t, "first report", c0, c1, map[string]int64{"registrations " + schoolSig: 1})

	// A refresh and a replay count nothing; nor does a refused report.
	e.register(t, school, e.signal(t, 1))
	bad := e.involvement(t, 1)
	bad.Municipality = "GM9999"
	if _, err := e.m.Register(ctx, matcher.Actor{Institution: wij}, bad); err == nil {
		t.Fatal("report in a municipality outside the covenant accepted")
	}
	wrongBirth := e.involvement(t, 1)
	wrongBirth.BirthDate = birth(t, "2013-01-02")
	if _, err := e.m.Register(ctx, matcher.Actor{Institution: wij}, wrongBirth); !errors.Is(err, matcher.ErrBirthDateMismatch) {
		t.Fatalf("report with another birth date: %v", err)
	}
	wantMoved(t, "refresh and refused reports", c1, counters(t, e), nil)

	// The second institution makes the match and gets the coordinator,
	// the same day; the third makes no new match.
	e.register(t, wij, e.involvement(t, 1))
	c2 := counters(t, e)
	wantMoved(t, "match", c1, c2, map[string]int64{
		"registrations " + wijInv: 1, "matches " + wijInv: 1,
		"coordinator_assignments " + wijInv: 1, "days=0 " + wijInv: 1,
	})
	e.register(t, ggd, e.involvement(t, 1))
	wantMoved(t, "third institution", c2, counters(t, e), map[string]int64{"registrations " + ggdInv: 1})
}

// TestFiguresAssignmentDays: a match of two institutions that may only
// signal has no coordinator; one assigned days later counts those days.
func TestFiguresAssignmentDays(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 2))
	e.clock.Add(24 * time.Hour)
	res := e.register(t, police, e.signal(t, 2))
	if !res.Matched || res.Coordinator.Institution != "" {
		t.Fatalf("signals only: %+v, want a match without a coordinator", res)
	}
	c0 := counters(t, e)
	if c0["matches 2026-03 GM0014 politie signal S01"] != 1 {
		t.Fatalf("match of two signals not counted: %v", c0)
	}
	e.clock.Add(3 * 24 * time.Hour)
	e.register(t, wij, e.involvement(t, 2))
	wantMoved(t, "late assignment", c0, counters(t, e), map[string]int64{
		"registrations " + wijInv: 1, "coordinator_assignments " + wijInv: 1, "days=3 " + wijInv: 1,
	})
}

func TestFiguresClosure(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	e.register(t, wij, e.involvement(t, 1))
	c0 := counters(t, e)
	if err := e.m.CloseCase(ctx, matcher.Actor{Institution: school}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotCoordinator) {
		t.Fatalf("close by a non-coordinator: %v", err)
	}
	wantMoved(t, "refused close", c0, counters(t, e), nil)
	if err := e.m.CloseCase(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1)); err != nil {
		t.Fatal(err)
	}
	wantMoved(t, "close", c0, counters(t, e), map[string]int64{"closures " + wijInv: 1})
}

func TestFiguresRemovals(t *testing.T) {
	e := newEnv(t)
	s := e.register(t, school, e.signal(t, 1))
	e.register(t, wij, e.involvement(t, 1))
	g := e.register(t, ggd, e.involvement(t, 1))
	c0 := counters(t, e)
	if err := e.m.Remove(ctx, matcher.Actor{Institution: ggd}, s.ID, matcher.RemoveWrong); !errors.Is(err, matcher.ErrNotCoordinator) {
		t.Fatalf("remove by a non-coordinator: %v", err)
	}
	if err := e.m.Remove(ctx, matcher.Actor{Institution: school}, g.ID, matcher.RemoveObjection); !errors.Is(err, matcher.ErrForbidden) {
		t.Fatalf("objection removal by a school: %v", err)
	}
	wantMoved(t, "refused removals", c0, counters(t, e), nil)
	if err := e.m.Remove(ctx, matcher.Actor{Institution: wij}, s.ID, matcher.RemoveWrong); err != nil {
		t.Fatal(err)
	}
	c1 := counters(t, e)
	wantMoved(t, "removal wrong", c0, c1, map[string]int64{"removals_wrong " + schoolSig: 1})
	if err := e.m.Remove(ctx, matcher.Actor{Institution: gemeente}, g.ID, matcher.RemoveObjection); err != nil {
		t.Fatal(err)
	}
	wantMoved(t, "removal after objection", c1, counters(t, e), map[string]int64{"removals_objection " + ggdInv: 1})
}

func TestFiguresObjection(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	e.register(t, wij, e.involvement(t, 1))
	c0 := counters(t, e)
	born := birth(t, "2014-05-17")
	if _, err := e.m.Object(ctx, matcher.Actor{Institution: school}, e.youth(t, 1), born, matcher.AllInstitutions()); !errors.Is(err, matcher.ErrForbidden) {
		t.Fatalf("objection by a school: %v", err)
	}
	if o, err := e.m.Object(ctx, matcher.Actor{Institution: gemeenteElders}, e.youth(t, 1), born, matcher.AllInstitutions()); err != nil || o.Removed != 0 {
		t.Fatalf("objection by a municipality that serves none: %+v %v", o, err)
	}
	wantMoved(t, "refused objections", c0, counters(t, e), nil)
	if o, err := e.m.Object(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1), born, matcher.AllInstitutions()); err != nil || o.Removed != 2 {
		t.Fatalf("objection: %+v %v", o, err)
	}
	wantMoved(t, "objection", c0, counters(t, e), map[string]int64{
		"removals_objection " + schoolSig: 1, "removals_objection " + wijInv: 1,
	})
}

// TestFiguresMonthInAmsterdam: a change is counted in its month in the
// matcher's zone: 22:30 UTC on 31 March is April in Amsterdam.
func TestFiguresMonthInAmsterdam(t *testing.T) {
	e := newEnv(t)
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Skip("no zone database")
	}
	m, err := matcher.New(matcher.Config{Store: e.store, Pseudonymiser: e.ps, Covenant: exampleCovenant(t),
		Clock: func() time.Time { return time.Date(2026, 3, 31, 22, 30, 0, 0, time.UTC) }, Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	r := e.involvement(t, 5)
	r.Municipality = identity.Municipality("GM0014")
	if _, err := m.Register(ctx, matcher.Actor{Institution: wij}, r); err != nil {
		t.Fatal(err)
	}
	wantMoved(t, "report at 00:30 in Amsterdam on 1 April", nil, counters(t, e), map[string]int64{
		"registrations 2026-04 GM0014 wij-team involvement -": 1,
	})
}

func TestFiguresOfAMunicipality(t *testing.T) {
	e := newEnv(t)
	e.clock.Set(time.Date(2025, 5, 12, 10, 0, 0, 0, time.UTC))
	for n := range 12 {
		e.register(t, wij, e.involvement(t, 100+n))
	}
	for n := range 15 {
		r := e.involvement(t, 200+n)
		r.Municipality = "GM1966"
		e.register(t, ggd, r)
	}
	e.clock.Set(start)
	q := matcher.FiguresQuery{Year: 2025, Measure: figures.Registrations, By: []figures.Dim{figures.Month}}
	ask := func(inst string, q matcher.FiguresQuery) (matcher.Figures, error) {
		return e.m.Figures(ctx, matcher.Actor{Institution: inst}, q)
	}
	for _, inst := range []string{school, wij} {
		if _, err := ask(inst, q); !errors.Is(err, matcher.ErrForbidden) {
			t.Fatalf("figures for %s: %v, want ErrForbidden", inst, err)
		}
	}
	other := q
	other.Municipality = "GM0014"
	if _, err := ask(gemeenteElders, other); !errors.Is(err, matcher.ErrForbidden) {
		t.Fatalf("another municipality's figures: %v, want ErrForbidden", err)
	}
	for name, want := range map[string]int{gemeente: 12, gemeenteElders: 15} {
		f, err := ask(name, q)
		if err != nil {
			t.Fatal(err)
		}
		res := f.Result
		if res.Total.Suppressed || res.Total.Count != want || res.Slice[figures.Municipality] != f.Municipality {
			t.Fatalf("%s: total %+v in %s, want %d", name, res.Total, f.Municipality, want)
		}
		for i, month := range res.Rows {
			if v := res.RowTotals[i]; month == "2025-05" && v.Count != want || month != "2025-05" && (v.Count != 0 || v.Suppressed) {
				t.Fatalf("%s: %s = %+v", name, month, v)
			}
		}
	}
	bad := []matcher.FiguresQuery{
		{Year: 2025, Measure: "youths"},
		{Year: 2025, Measure: figures.Matches, By: []figures.Dim{figures.Municipality}},
		{Year: 2025, Measure: figures.Matches, By: []figures.Dim{figures.Month, figures.Kind, figures.Signal}},
	}
	for _, b := range bad {
		var fe *matcher.FieldError
		if _, err := ask(gemeente, b); !errors.As(err, &fe) || !errors.Is(err, matcher.ErrFiguresQuery) {
			t.Fatalf("query %+v: %v, want a field error", b, err)
		}
	}
	if _, err := ask(gemeente, matcher.FiguresQuery{Year: 2026, Measure: figures.Registrations}); !errors.Is(err, matcher.ErrFiguresNotPublished) {
		t.Fatalf("figures of the current year: %v, want ErrFiguresNotPublished", err)
	}
	f, err := ask(gemeente, matcher.FiguresQuery{Year: 2025, Measure: figures.CoordinatorAssignments})
	if err != nil || !f.Median.Suppressed {
		t.Fatalf("median of no assignments: %+v %v, want suppressed", f.Median, err)
	}
}

// TestFiguresCellsAreCovenantCodes: a counter's cell holds covenant codes
// and a month, never anything of a youth: after reports of every kind, each
// coordinate of every counter is one the covenant declares.
func TestFiguresCellsAreCovenantCodes(t *testing.T) {
	e := newEnv(t)
	for n := range 3 {
		e.register(t, school, e.signal(t, 300+n))
		e.register(t, wij, e.involvement(t, 300+n))
		e.register(t, police, e.signal(t, 300+n))
	}
	cov := exampleCovenant(t)
	types := map[string]bool{}
	for _, inst := range cov.Institutions {
		types[inst.Type] = true
	}
	codes := map[string]bool{store.NoSignalCode: true}
	for _, sc := range cov.SignalCodes {
		codes[sc.Code] = true
	}
	fc, err := e.store.Figures(ctx, "2026-01", "2026-12")
	if err != nil {
		t.Fatal(err)
	}
	cells := []figures.Coords{}
	for _, c := range fc.Counts {
		cells = append(cells, c.At)
	}
	for _, d := range fc.Durations {
		cells = append(cells, d.At)
	}
	if len(cells) == 0 {
		t.Fatal("no counters")
	}
	for _, at := range cells {
		if at[figures.Month] != "2026-03" || !slices.Contains(cov.Municipalities, at[figures.Municipality]) ||
			!types[at[figures.InstitutionType]] || (at[figures.Kind] != "signal" && at[figures.Kind] != "involvement") ||
			!codes[at[figures.Signal]] {
			t.Errorf("a counter's cell %v holds a value that is not a covenant code", at)
		}
	}
}

// TestFiguresAssignmentByExpiry: when the coordinator's registration ends
// by itself, the coordinator ExpireDue assigns is counted, with the days
// since the match of the institutions left.
func TestFiguresAssignmentByExpiry(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 7))
	w := e.involvement(t, 7)
	w.EndsOn = start.AddDate(0, 0, 5)
	if res := e.register(t, wij, w); res.Coordinator.Institution != wij {
		t.Fatalf("coordinator %+v, want %s", res.Coordinator, wij)
	}
	e.register(t, ggd, e.involvement(t, 7))
	c0 := counters(t, e)
	e.clock.Add(6 * 24 * time.Hour)
	if _, err := e.m.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	wantMoved(t, "assignment after an expiry", c0, counters(t, e), map[string]int64{
		"coordinator_assignments " + ggdInv: 1, "days=6 " + ggdInv: 1,
	})
}
