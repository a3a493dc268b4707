package rules_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/rules"
)

// TestDecideExcluded: an institution the case excludes (it declined or
// let its term lapse) is never assigned, the next eligible one is, and a
// case whose only eligible institutions are excluded has none, for
// ReasonExcluded; the decision stays the same whatever the order.
func TestDecideExcluded(t *testing.T) {
	cov := exampleCovenant(t)
	day := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	c := rules.Case{Age: 10, Municipality: "GM0014", Involved: []rules.Involvement{
		{Institution: "wij-groningen", Kind: rules.KindInvolvement, RegisteredAt: day},
		{Institution: "ggd-groningen", Kind: rules.KindInvolvement, RegisteredAt: day.Add(time.Hour)},
		{Institution: "school-example-lyceum", Kind: rules.KindSignal, RegisteredAt: day},
	}}
	if d := rules.Decide(c, cov); d.Coordinator != "wij-groningen" || d.Rule != "wij-team-stad-groningen" {
		t.Fatalf("without exclusions: %+v", d)
	}
	c.Excluded = []string{"wij-groningen"}
	if d := rules.Decide(c, cov); d.Coordinator != "ggd-groningen" || d.Rule != "eerste-zorgaanbieder" {
		t.Fatalf("WIJ excluded: %+v", d)
	}
	if rules.Eligible(c, cov, "wij-groningen") || !rules.Eligible(c, cov, "ggd-groningen") || rules.Eligible(c, cov, "school-example-lyceum") {
		t.Fatal("Eligible disagrees with the exclusion or the kinds")
	}
	c.Excluded = []string{"ggd-groningen", "wij-groningen"}
	if d := rules.Decide(c, cov); d.Coordinator != "" || d.Reason != rules.ReasonExcluded {
		t.Fatalf("all excluded: %+v", d)
	}
	// Only a signal: the reason stays that there is no care provider,
	// whatever is excluded.
	only := rules.Case{Age: 10, Municipality: "GM0014", Excluded: []string{"ggd-groningen"},
		Involved: []rules.Involvement{{Institution: "school-example-lyceum", Kind: rules.KindSignal, RegisteredAt: day}}}
	if d := rules.Decide(only, cov); d.Reason != rules.ReasonNoEligible {
		t.Fatalf("only a signal: %+v", d)
	}
	// Order-independent.
	c.Excluded = []string{"wij-groningen"}
	c.Involved[0], c.Involved[2] = c.Involved[2], c.Involved[0]
	if d := rules.Decide(c, cov); d.Coordinator != "ggd-groningen" {
		t.Fatalf("reordered: %+v", d)
	}
}

// TestDefaultEscalation: a covenant without an escalation section has the
// Zorg voor Jeugd ladder, and the default term to accept; the example
// covenant spells out the same ladder.
func TestDefaultEscalation(t *testing.T) {
	cov, err := rules.Load(strings.NewReader("name: t\ninstitutions:\n  - {id: a, name: A, type: ggd, may_coordinate: true}\nrules:\n  - {name: any, assign: {any: true}}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cov.Escalation, rules.DefaultEscalation()) {
		t.Fatalf("no escalation section: %+v", cov.Escalation)
	}
	example := exampleCovenant(t)
	for i, s := range example.Escalation {
		if s.Line == 0 {
			t.Errorf("the example's step %s has no line", s.Name)
		}
		s.Line = 0
		if i >= len(cov.Escalation) || s != cov.Escalation[i] {
			t.Errorf("the example's step %d: %+v, the default's %+v", i, s, cov.Escalation)
		}
	}
	var names []string
	for _, s := range cov.Escalation {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "own-management involved-managements alderman decision carried-out" {
		t.Fatalf("ladder: %s", got)
	}
	d := cov.Escalation[cov.EscalationStepNamed("decision")]
	if !d.Decides || !d.ByMunicipality || d.WithinWorkingDays != 2 || cov.Escalation[4].WithinWorkingDays != 0 {
		t.Fatalf("decision step: %+v", d)
	}
	if cov.Coordination.AcceptWithinWorkingDays != 0 {
		t.Fatalf("accept within %d, want 0 (no term) when the covenant sets none", cov.Coordination.AcceptWithinWorkingDays)
	}
	if d := cov.AcceptDeadline(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), rules.Calendar{}); !d.IsZero() {
		t.Fatalf("a deadline without a term: %v", d)
	}
	if rules.NextEscalationStep(cov.Escalation, -1) != 0 || rules.NextEscalationStep(cov.Escalation, 1) != 2 || rules.NextEscalationStep(cov.Escalation, 4) != 0 {
		t.Fatal("NextEscalationStep")
	}
}

// TestEscalationDue checks the ladder's deadlines on the working-day
// calendar: across a weekend, Easter Monday, King's Day on a Sunday
// (2025: the 26th, a Saturday, is the day off) and Christmas.
func TestEscalationDue(t *testing.T) {
	loc := amsterdam(t)
	cal := rules.Calendar{Loc: loc}
	ladder := rules.DefaultEscalation()
	at := func(s string) time.Time {
		d, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		current int
		taken   string
		due     string // the first instant the next step is overdue
	}{
		{0, "2026-03-05 10:00", "2026-03-10 00:00"}, // Thursday: Friday, Monday; overdue Tuesday
		{0, "2026-03-06 16:00", "2026-03-11 00:00"}, // Friday afternoon: Monday, Tuesday
		{1, "2026-04-02 09:00", "2026-04-08 00:00"}, // Maundy Thursday: Good Friday counts, Easter Monday not
		{1, "2025-04-24 09:00", "2025-04-29 00:00"}, // King's Day on the 26th (a Saturday): Friday 25, Monday 28
		{2, "2026-12-23 11:00", "2026-12-29 00:00"}, // Christmas on a Friday, Boxing Day a Saturday: 24 and 28 December
		{3, "2026-12-24 11:00", "2026-12-25 00:00"}, // carried out the same day (0 working days)
	} {
		due, ok := rules.EscalationDue(ladder, tc.current, at(tc.taken), cal)
		if !ok || !due.Equal(at(tc.due)) {
			t.Errorf("step %s taken %s: due %v (%v), want %s", ladder[tc.current].Name, tc.taken, due, ok, tc.due)
		}
	}
	if _, ok := rules.EscalationDue(ladder, len(ladder)-1, at("2026-03-05 10:00"), cal); ok {
		t.Error("a step follows the last one")
	}
}

// TestAcceptDeadline: the coordinator's term to accept runs in working
// days from the day it was assigned.
func TestAcceptDeadline(t *testing.T) {
	loc := amsterdam(t)
	cov := exampleCovenant(t)
	assigned := time.Date(2026, 4, 3, 15, 0, 0, 0, loc) // Good Friday, a working day
	if got, want := cov.AcceptDeadline(assigned, rules.Calendar{Loc: loc}), time.Date(2026, 4, 9, 0, 0, 0, 0, loc); !got.Equal(want) {
		t.Fatalf("due %v, want %v (Monday 6 April is Easter Monday)", got, want)
	}
}
