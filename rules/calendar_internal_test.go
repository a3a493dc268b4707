package rules

import (
	"slices"
	"testing"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/nl"
)

// TestHolidaysAgainstNL pins what the calendar takes from rickar/cal's nl
// package: every holiday of nl.Holidays but Good Friday and Liberation
// Day (see holidays), so that an upgrade that adds, drops or changes one
// is noticed here; and nl's King's Day on a Sunday (27 April 2025) is
// observed on Saturday the 26th.
func TestHolidaysAgainstNL(t *testing.T) {
	var want []*cal.Holiday
	for _, h := range nl.Holidays {
		if h != nl.GoedeVrijdag && h != nl.BevrijdingsDag {
			want = append(want, h)
		}
	}
	if !slices.Equal(holidays, want) {
		t.Errorf("holidays has %d of nl's, want %d (nl.Holidays changed?)", len(holidays), len(want))
	}
	if len(nl.Holidays) != 9 {
		t.Errorf("nl.Holidays has %d holidays, 9 when this calendar was written: check which are days off", len(nl.Holidays))
	}
	actual, observed := nl.Koningsdag.Calc(2025)
	if _, m, d := actual.Date(); m != time.April || d != 27 {
		t.Errorf("King's Day 2025 actual %s", actual)
	}
	if _, m, d := observed.Date(); m != time.April || d != 26 {
		t.Errorf("King's Day 2025 observed %s, want 26 April", observed)
	}
	// nl makes 5 May a holiday every year; the calendar, by default,
	// only every fifth.
	if _, obs := nl.BevrijdingsDag.Calc(2026); obs.IsZero() {
		t.Log("nl no longer has Liberation Day in 2026: the lustrum rule may now be nl's own")
	}
	c := Calendar{Loc: time.UTC}
	if c.IsWorkingDay(time.Date(2025, 5, 5, 12, 0, 0, 0, time.UTC)) || !c.IsWorkingDay(time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC)) {
		t.Error("Liberation Day: 2025 should be off, 2026 a working day")
	}
	// Good Friday 2026 (3 April) is a working day, though nl lists it.
	if !c.IsWorkingDay(time.Date(2026, 4, 3, 12, 0, 0, 0, time.UTC)) {
		t.Error("Good Friday 2026 is not a working day")
	}
}
