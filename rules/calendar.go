package rules

import (
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/nl"

	"github.com/vindex-nl/vindex/identity"
)

// LiberationDay says in which years Liberation Day (5 May) is a day off
// on the working-day calendar: the covenant's limits.liberation_day.
type LiberationDay string

// The covenant's choices for Liberation Day.
const (
	// LiberationLustrum: a day off every fifth year (2025, 2030, …), as
	// most collective labour agreements have it. The default.
	LiberationLustrum LiberationDay = "lustrum"
	// LiberationAlways: a day off every year.
	LiberationAlways LiberationDay = "always"
	// LiberationNever: always a working day (unless a weekend).
	LiberationNever LiberationDay = "never"
)

// holidays are the Dutch days off the working-day calendar counts, from
// github.com/rickar/cal/v2/nl. nl.GoedeVrijdag is left out on purpose:
// Good Friday is no general day off in the Netherlands (few collective
// agreements give it, and the escalation ladder's covenant does not
// name it). nl.BevrijdingsDag is left out too: nl makes it a day off
// every year, where it is one every fifth year unless the covenant says
// otherwise (see Calendar.liberation). nl.Koningsdag is 27 April, moved
// to the 26th when the 27th is a Sunday, as the law has it since 2014
// (so the 26th is then a Saturday: no working day is lost); before 2014
// it was Queen's Day on 30 April, which nl does not know, so the
// calendar is right from 2014 on. Christmas, Boxing Day and New Year
// that fall on a weekend are not moved to a Monday: nl and Dutch
// practice agree.
var holidays = []*cal.Holiday{
	nl.Nieuwjaar,
	nl.TweedePaasdag,
	nl.Koningsdag,
	nl.Hemelvaart,
	nl.TweedePinksterDag,
	nl.EersteKerstdag,
	nl.TweedeKerstdag,
}

// Calendar is the Dutch working-day calendar on which the covenant's
// terms in working days run. Its days are civil days in Loc. A working
// day is a Monday to Friday that is not New Year's Day, Easter Monday,
// King's Day (27 April, or the 26th when the 27th is a Sunday),
// Ascension Day, Whit Monday, Christmas Day, Boxing Day or, as
// Liberation says, Liberation Day (5 May).
//
// Its methods are pure: they read only their arguments and the
// calendar, never the clock. The zero Calendar counts Liberation Day
// every fifth year, in identity.DefaultLocation().
type Calendar struct {
	// Liberation says in which years 5 May is a day off; empty means
	// LiberationLustrum.
	Liberation LiberationDay
	// Loc is the zone whose civil days are counted; nil means
	// identity.DefaultLocation() (Europe/Amsterdam).
	Loc *time.Location
}

// Calendar returns the covenant's working-day calendar.
func (c *Covenant) Calendar() Calendar {
	return Calendar{Liberation: c.Limits.LiberationDay}
}

func (c Calendar) loc() *time.Location {
	if c.Loc != nil {
		return c.Loc
	}
	return identity.DefaultLocation()
}

// day returns the civil day of t in the calendar's zone, as a date with
// no time (year, month, day at noon UTC, so that adding days is exact).
func (c Calendar) day(t time.Time) time.Time {
	y, m, d := t.In(c.loc()).Date()
	return time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
}

// start returns the first instant of the civil day d (from day) in the
// calendar's zone.
func (c Calendar) start(d time.Time) time.Time {
	y, m, dd := d.Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, c.loc())
}

// liberation reports whether 5 May of year is a day off.
func (c Calendar) liberation(year int) bool {
	switch c.Liberation {
	case LiberationAlways:
		return true
	case LiberationNever:
		return false
	default:
		return year%5 == 0
	}
}

// workday reports whether the civil day d (from day) is a working day.
func (c Calendar) workday(d time.Time) bool {
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	y, m, dd := d.Date()
	if m == time.May && dd == 5 && c.liberation(y) {
		return false
	}
	for _, h := range holidays {
		_, obs := h.Calc(y)
		if oy, om, od := obs.Date(); oy == y && om == m && od == dd {
			return false
		}
	}
	return true
}

// IsWorkingDay reports whether the civil day of day (in the calendar's
// zone) is a working day.
func (c Calendar) IsWorkingDay(day time.Time) bool {
	return c.workday(c.day(day))
}

// AddWorkingDays returns the day by which a term of n working days that
// starts at from must be kept: the first instant (00:00 in the
// calendar's zone) of that civil day. The term is kept if it is done
// before that day ends; the first instant it is overdue is Deadline.
//
// The day of from never counts, whatever the hour: the first working
// day after it is the first of the term. So a step taken on a Friday
// afternoon (or on the Saturday) with 2 working days is due on the
// following Tuesday, and one taken on a Tuesday is due on Thursday. With
// n 0 ("the same day") it is the day of from if that is a working day,
// else the first working day after it. Negative n counts as 0.
//
// Put precisely: the result is the earliest working day d, not before
// the day of from, with WorkingDaysBetween(from, d) >= n. It is always
// a working day.
func (c Calendar) AddWorkingDays(from time.Time, n int) time.Time {
	d := c.day(from)
	if n <= 0 {
		for !c.workday(d) {
			d = d.AddDate(0, 0, 1)
		}
		return c.start(d)
	}
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if c.workday(d) {
			n--
		}
	}
	return c.start(d)
}

// Deadline returns the first instant at which a term of n working days
// started at from is overdue: 00:00 in the calendar's zone of the civil
// day after AddWorkingDays(from, n).
func (c Calendar) Deadline(from time.Time, n int) time.Time {
	return c.start(c.day(c.AddWorkingDays(from, n)).AddDate(0, 0, 1))
}

// WorkingDaysBetween returns the number of working days after the civil
// day of a up to and including the civil day of b; negative, the number
// after b up to and including a, if b's day is before a's. So it is 0
// for the same day, WorkingDaysBetween(from, AddWorkingDays(from, n)) is
// n for every n >= 1, and WorkingDaysBetween(AddWorkingDays(from, n),
// now) > 0 says that a term is overdue by that many working days.
func (c Calendar) WorkingDaysBetween(a, b time.Time) int {
	da, db := c.day(a), c.day(b)
	sign := 1
	if db.Before(da) {
		da, db, sign = db, da, -1
	}
	n := 0
	for d := da.AddDate(0, 0, 1); !d.After(db); d = d.AddDate(0, 0, 1) {
		if c.workday(d) {
			n++
		}
	}
	return sign * n
}
