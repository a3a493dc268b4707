package rules_test

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the scenarios' days are Amsterdam's, also where the system has no zone database

	"github.com/vindex-nl/vindex/rules"
)

func amsterdam(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// parseWhen reads a date (a civil day in loc, at noon) or an RFC 3339
// time.
func parseWhen(s string, loc *time.Location) (time.Time, error) {
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return d.Add(12 * time.Hour), nil
	}
	return time.Parse(time.RFC3339, s)
}

// TestWorkdayScenarios runs testdata/workdays.txt (its format is at its
// top): each due line checks AddWorkingDays, Deadline and
// WorkingDaysBetween both ways; each on and off line IsWorkingDay.
func TestWorkdayScenarios(t *testing.T) {
	loc := amsterdam(t)
	f, err := os.Open("testdata/workdays.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := rules.Calendar{Liberation: rules.LiberationLustrum, Loc: loc}
	var dues, days int
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		where := fmt.Sprintf("workdays.txt:%d", n)
		switch {
		case fs[0] == "liberation" && len(fs) >= 2:
			c.Liberation = rules.LiberationDay(fs[1])
		case (fs[0] == "on" || fs[0] == "off") && len(fs) >= 2:
			day, err := parseWhen(fs[1], loc)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if got := c.IsWorkingDay(day); got != (fs[0] == "on") {
				t.Errorf("%s: IsWorkingDay(%s) = %v, want %v", where, fs[1], got, !got)
			}
			days++
		case fs[0] == "due" && len(fs) >= 4:
			from, err1 := parseWhen(fs[1], loc)
			k, err2 := strconv.Atoi(fs[2])
			want, err3 := time.ParseInLocation(time.DateOnly, fs[3], loc)
			if err1 != nil || err2 != nil || err3 != nil {
				t.Fatalf("%s: bad line: %v %v %v", where, err1, err2, err3)
			}
			got := c.AddWorkingDays(from, k)
			if !got.Equal(want) || got.Location() != loc {
				t.Errorf("%s: AddWorkingDays(%s, %d) = %s, want %s", where, fs[1], k, got, want)
			}
			if dl, next := c.Deadline(from, k), want.AddDate(0, 0, 1); !dl.Equal(next) {
				t.Errorf("%s: Deadline(%s, %d) = %s, want %s", where, fs[1], k, dl, next)
			}
			if k > 0 {
				if b := c.WorkingDaysBetween(from, want); b != k {
					t.Errorf("%s: WorkingDaysBetween(%s, %s) = %d, want %d", where, fs[1], fs[3], b, k)
				}
				if b := c.WorkingDaysBetween(want, from); b != -k {
					t.Errorf("%s: WorkingDaysBetween(%s, %s) = %d, want %d", where, fs[3], fs[1], b, -k)
				}
			}
			dues++
		default:
			t.Fatalf("%s: cannot read %q", where, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if dues < 30 || days < 30 {
		t.Fatalf("only %d due and %d on/off lines read", dues, days)
	}
}

// TestWorkingDaysInYear counts a whole year's working days, a figure to
// check by hand: 2026 has 261 weekdays, of which New Year (Thu), Easter
// Monday, King's Day (Mon), Ascension (Thu), Whit Monday and Christmas
// (Fri) are off (Boxing Day is a Saturday, 5 May no lustrum); 2025 has
// 261 weekdays, of which New Year (Wed), Easter Monday, Liberation Day
// (Mon, lustrum), Ascension, Whit Monday, Christmas (Thu) and Boxing
// Day (Fri) are off (King's Day is Saturday 26 April).
func TestWorkingDaysInYear(t *testing.T) {
	loc := amsterdam(t)
	for _, tc := range []struct {
		year int
		lib  rules.LiberationDay
		want int
	}{
		{2026, rules.LiberationLustrum, 255},
		{2026, rules.LiberationAlways, 254},
		{2026, rules.LiberationNever, 255},
		{2025, rules.LiberationLustrum, 254},
		{2025, "", 254},
		{2025, rules.LiberationNever, 255},
	} {
		c := rules.Calendar{Liberation: tc.lib, Loc: loc}
		a := time.Date(tc.year-1, 12, 31, 9, 0, 0, 0, loc)
		b := time.Date(tc.year, 12, 31, 17, 0, 0, 0, loc)
		if got := c.WorkingDaysBetween(a, b); got != tc.want {
			t.Errorf("%d (liberation %q): %d working days, want %d", tc.year, tc.lib, got, tc.want)
		}
	}
}

// TestCalendarDefaults: the zero Calendar counts Liberation Day as
// lustrum, and a covenant without limits.liberation_day does too.
func TestCalendarDefaults(t *testing.T) {
	cov := loadExample(t)
	if cov.Limits.LiberationDay != rules.LiberationLustrum {
		t.Fatalf("example covenant: LiberationDay = %q, want lustrum", cov.Limits.LiberationDay)
	}
	var zero rules.Calendar
	noon := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }
	for _, c := range []rules.Calendar{zero, cov.Calendar()} {
		if c.IsWorkingDay(noon(2025, 5, 5)) || !c.IsWorkingDay(noon(2026, 5, 5)) {
			t.Errorf("%+v: 5 May 2025 should be off, 5 May 2026 a working day", c)
		}
	}
}

func loadExample(t *testing.T) *rules.Covenant {
	t.Helper()
	cov, err := rules.LoadFile("../examples/covenant-groningen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cov
}

// TestLiberationDaySetting loads limits.liberation_day's three values.
func TestLiberationDaySetting(t *testing.T) {
	for _, v := range []rules.LiberationDay{rules.LiberationLustrum, rules.LiberationAlways, rules.LiberationNever} {
		y := strings.Replace(minimalCovenant, "limits:\n", "limits:\n  liberation_day: "+string(v)+"\n", 1)
		cov, err := rules.Load(strings.NewReader(y), "c.yaml")
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if cov.Limits.LiberationDay != v || cov.Calendar().Liberation != v {
			t.Errorf("liberation_day %s loaded as %q", v, cov.Limits.LiberationDay)
		}
	}
}

const minimalCovenant = `name: test
municipalities: [GM0014]
limits:
  max_years: 2
institutions:
  - id: ggd
    name: GGD
    type: ggd
    may_coordinate: true
rules:
  - name: r
    assign: {any: true}
signal_codes:
  - {code: S01, label: Zorg}
`

// FuzzWorkingDays checks AddWorkingDays and WorkingDaysBetween against
// each other at any instant from 2014 to 2063: the due day is a working
// day, not before from's day, strictly later for every further day
// (but for n 0 and 1 from a day off, which are the same day), n
// working days after from and the earliest such day; and
// WorkingDaysBetween is antisymmetric.
func FuzzWorkingDays(f *testing.F) {
	loc := amsterdam(f)
	f.Add(int64(0), uint8(2), uint8(0))
	f.Add(int64(12*365*86400+3600*23), uint8(0), uint8(1)) // around New Year 2026
	f.Add(int64(11*365*86400+115*86400), uint8(5), uint8(2))
	base := time.Date(2014, 1, 1, 0, 0, 0, 0, time.UTC)
	libs := []rules.LiberationDay{rules.LiberationLustrum, rules.LiberationAlways, rules.LiberationNever}
	f.Fuzz(func(t *testing.T, secs int64, n uint8, lib uint8) {
		span := int64(50 * 365 * 86400)
		secs = ((secs % span) + span) % span
		from := base.Add(time.Duration(secs) * time.Second)
		c := rules.Calendar{Liberation: libs[int(lib)%len(libs)], Loc: loc}
		k := int(n % 40)
		y, m, d := from.In(loc).Date()
		fromDay := time.Date(y, m, d, 0, 0, 0, 0, loc)

		due := c.AddWorkingDays(from, k)
		if !c.IsWorkingDay(due) {
			t.Fatalf("AddWorkingDays(%s, %d) = %s, no working day", from, k, due)
		}
		if due.Before(fromDay) {
			t.Fatalf("AddWorkingDays(%s, %d) = %s, before from's day", from, k, due)
		}
		// Strictly later for each further day, but for n 0 and 1 from a
		// day off: both are the first working day after it.
		if next := c.AddWorkingDays(from, k+1); !next.After(due) && (k > 0 || c.IsWorkingDay(from) || !next.Equal(due)) {
			t.Fatalf("AddWorkingDays(%s, %d) = %s, not after %s for %d", from, k+1, next, due, k)
		}
		between := c.WorkingDaysBetween(from, due)
		switch {
		case k > 0 && between != k:
			t.Fatalf("WorkingDaysBetween(%s, %s) = %d, want %d", from, due, between, k)
		case k == 0 && between != 0 && (between != 1 || c.IsWorkingDay(from)):
			t.Fatalf("WorkingDaysBetween(%s, %s) = %d for n 0", from, due, between)
		}
		if back := c.WorkingDaysBetween(due, from); back != -between {
			t.Fatalf("WorkingDaysBetween not antisymmetric: %d and %d", between, back)
		}
		// The earliest: the day before the due day (if not before
		// from's day) is fewer than k working days after from.
		if prev := due.AddDate(0, 0, -1); !prev.Before(fromDay) {
			if p := c.WorkingDaysBetween(from, prev); p >= k && k > 0 || k == 0 && c.IsWorkingDay(prev) {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, but %s already has %d", from, k, due, prev, p)
			}
		}
		if dl := c.Deadline(from, k); !dl.Equal(due.AddDate(0, 0, 1)) {
			t.Fatalf("Deadline(%s, %d) = %s, want the day after %s", from, k, dl, due)
		}
	})
}

func ExampleCalendar_AddWorkingDays() {
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	c := rules.Calendar{Liberation: rules.LiberationLustrum, Loc: loc}
	// An escalation step taken on Friday 24 April 2026 at 15:00, with
	// two working days: Monday 27 April is King's Day.
	from := time.Date(2026, 4, 24, 15, 0, 0, 0, loc)
	due := c.AddWorkingDays(from, 2)
	fmt.Println("due:", due.Format("Monday 2 January 2006"))
	fmt.Println("overdue from:", c.Deadline(from, 2).Format(time.RFC3339))
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, loc)
	fmt.Println("working days late on 4 May:", c.WorkingDaysBetween(due, now))
	// Output:
	// due: Wednesday 29 April 2026
	// overdue from: 2026-04-30T00:00:00+02:00
	// working days late on 4 May: 3
}
