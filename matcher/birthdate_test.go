package matcher_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// records reads the youth of bsnFor(n), as ps pseudonymises it: its case
// and its registrations.
func (e *env) records(t testing.TB, ps *pseudonym.Pseudonymiser, n int) (store.Case, []store.Registration) {
	t.Helper()
	set, err := ps.Youth(bsnFor(t, n))
	if err != nil {
		t.Fatal(err)
	}
	var c store.Case
	var regs []store.Registration
	if err := e.store.View(ctx, set.All, func(r store.Reader) error {
		c, _ = r.Case()
		regs = append(r.Registrations(), r.History()...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c, regs
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// agedYouth is a youth aged 21 to 23 on 2026-03-02, whose registrations end
// for its age before the two-year limit.
type agedYouth struct {
	n      int
	born   string
	age    int // on 2026-03-02, counted by month
	endsOn time.Time
}

var agedYouths = []agedYouth{
	{10, "2004-07-19", 21, day(2027, 7, 1)},
	{11, "2003-04-30", 22, day(2026, 4, 1)},
	{12, "2005-02-14", 21, day(2028, 2, 1)}, // the 23rd birthday just before the two-year limit
	{13, "2003-12-09", 22, day(2026, 12, 1)},
	{14, "2004-02-29", 22, day(2027, 2, 1)},
}

// TestStoreLearnsBirthMonthOnly: youths aged 21 to 23 are registered,
// refreshed and (one of them) expired. Every registration ends on the first
// day of the month of the 23rd birthday; no stored day, and no byte
// sequence in the store's files, is the birth date or one of its
// anniversaries (as text, or as a day number in the store's own encoding),
// or the purge day that the 23rd birthday would give. A positive control
// finds the first day of the month in the files: the scan sees day numbers
// where the store keeps them.
//
// The files hold random bytes (IDs, pseudonyms, nonces) in which a 4-byte
// day number turns up by chance now and then, so the scenario runs twice,
// in two stores: a day the store really keeps is in both, a chance match
// in one at most.
func TestStoreLearnsBirthMonthOnly(t *testing.T) {
	first := storeBirthDayHits(t)
	second := storeBirthDayHits(t)
	var both []string
	for _, h := range first {
		if slices.Contains(second, h) {
			both = append(both, h)
		}
	}
	if len(both) > 0 {
		t.Fatalf("the birth day found at rest, in two stores:\n%s", strings.Join(both, "\n"))
	}
}

// storeBirthDayHits runs the scenario in a new store and returns what the
// scan of its files found (needle and form, without the file's name).
func storeBirthDayHits(t *testing.T) []string {
	e := newEnv(t)
	for _, y := range agedYouths {
		r := e.involvement(t, y.n)
		r.BirthDate = birth(t, y.born)
		e.register(t, ggd, r)
		s := e.signal(t, y.n)
		s.BirthDate = r.BirthDate
		e.register(t, school, s)
	}
	e.clock.Add(3 * time.Hour)
	for _, y := range agedYouths { // a refresh computes the end day again
		r := e.involvement(t, y.n)
		r.BirthDate = birth(t, y.born)
		if res := e.register(t, ggd, r); !res.Refreshed {
			t.Fatalf("youth %d: not a refresh", y.n)
		}
	}
	for _, y := range agedYouths {
		y.checkCase(t, e)
	}
	// The day before the month of its 23rd birthday youth 11 is live; on
	// its first day both registrations end and are destroyed.
	e.clock.Set(time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC))
	if st, err := e.m.ExpireDue(ctx); err != nil || st.Ended != 0 {
		t.Fatalf("the day before: %+v %v", st, err)
	}
	e.clock.Set(time.Date(2026, 4, 1, 0, 30, 0, 0, time.UTC))
	if st, err := e.m.ExpireDue(ctx); err != nil || st.Ended != 2 || st.Purged != 2 {
		t.Fatalf("on the first day of the month of the 23rd birthday: %+v %v", st, err)
	}

	due, err := e.store.Due(ctx, day(2100, 1, 1), 1000)
	if err != nil {
		t.Fatal(err)
	}
	needles, control := canary.Needles{}, canary.Needles{}
	for _, y := range agedYouths {
		days := birthDays(t, y.born)
		for d := range days {
			needles.Day(y.born+" as the day "+d.Format(time.DateOnly), d)
		}
		needles.Date("birth date "+y.born, y.born)
		control.Day("first day of the month of the 23rd birthday of "+y.born, y.endsOn)
		y.checkRecords(t, e, days, due)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	if found, err := control.ScanDir(e.dir); err != nil || len(found) < len(agedYouths) {
		t.Fatalf("the scan does not see the stored end days: it proves nothing (%v): %q", err, found)
	}
	found, err := needles.ScanDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	var hits []string
	for _, f := range found {
		_, hit, _ := strings.Cut(f, ": ")
		hits = append(hits, hit)
	}
	return hits
}

// birthDays returns the days a store must not hold for a youth born on
// born: the birth date, its anniversaries up to the 30th, and the purge day
// that ending on the 23rd birthday would give.
func birthDays(t testing.TB, born string) map[time.Time]bool {
	const retention = 5 * 365 // the default
	bd := birth(t, born)
	days := map[time.Time]bool{bd.Birthday(23).AddDate(0, 0, retention): true}
	for k := 0; k <= 30; k++ {
		days[bd.Birthday(k)] = true
	}
	return days
}

// checkCase checks y's case while it is live: the age counted by month,
// and a check value.
func (y agedYouth) checkCase(t *testing.T, e *env) {
	t.Helper()
	kase, _ := e.records(t, e.ps, y.n)
	if kase.BirthCheck.IsZero() || kase.Age != y.age {
		t.Fatalf("youth %d: check value %v, age %d (want %d)", y.n, kase.BirthCheck, kase.Age, y.age)
	}
}

// checkRecords checks y's stored records: two live registrations, ending
// and to be destroyed on the first day of the month of the 23rd birthday,
// or none once that day came (the expiry run on it destroyed them), and no
// stored day and no index day among days.
func (y agedYouth) checkRecords(t *testing.T, e *env, days map[time.Time]bool, due []store.DueItem) {
	t.Helper()
	_, regs := e.records(t, e.ps, y.n)
	want := 2
	if !e.clock.Now().Before(y.endsOn) {
		want = 0
	}
	if len(regs) != want {
		t.Fatalf("youth %d: %d registrations, want %d", y.n, len(regs), want)
	}
	for _, r := range regs {
		if !r.EndsOn.Equal(y.endsOn) || !r.DestroyOn.Equal(y.endsOn) {
			t.Errorf("youth %d: ends on %s, destroyed on %s, want %s", y.n, r.EndsOn.Format(time.DateOnly), r.DestroyOn.Format(time.DateOnly), y.endsOn.Format(time.DateOnly))
		}
		for _, d := range []time.Time{r.CreatedAt, r.UpdatedAt, r.EndsOn, r.EndedAt, r.PurgeOn, r.DestroyOn} {
			if days[civilDay(d)] {
				t.Errorf("youth %d: a stored day, %s, comes from the birth day", y.n, d.Format(time.DateOnly))
			}
		}
	}
	for _, d := range due {
		if len(regs) > 0 && d.Youth == regs[0].Youth && days[d.Day] {
			t.Errorf("youth %d: the index holds the day %s", y.n, d.Day.Format(time.DateOnly))
		}
	}
}

func civilDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return day(y, m, d)
}

// TestAgeCountsByMonth: the age stored and decided by counts a birthday from
// the first day of its month; a youth is accepted until the first day of the
// month in which it turns 23, and a birth date after today is refused.
func TestAgeCountsByMonth(t *testing.T) {
	e := newEnv(t) // today is 2026-03-02
	for _, c := range []struct {
		n    int
		born string
		age  int
	}{
		{20, "2008-03-25", 18}, // 17 to the day, 18 by month
		{21, "2008-04-01", 17},
		{22, "2008-02-29", 18},
		{23, "2026-03-01", 0},
	} {
		r := e.involvement(t, c.n)
		r.BirthDate = birth(t, c.born)
		e.register(t, ggd, r)
		if kase, _ := e.records(t, e.ps, c.n); kase.Age != c.age {
			t.Errorf("born %s: age %d, want %d", c.born, kase.Age, c.age)
		}
	}
	refused := func(n int, born string) error {
		r := e.involvement(t, n)
		r.BirthDate = birth(t, born)
		_, err := e.m.Register(ctx, matcher.Actor{Institution: ggd}, r)
		return err
	}
	for _, born := range []string{"2003-03-20", "2003-03-01", "2002-12-31", "2026-03-03", "2026-04-01"} {
		var fe *matcher.FieldError
		if err := refused(30, born); !errors.Is(err, matcher.ErrNotAYouth) || !errors.As(err, &fe) || fe.Field != "birth_date" {
			t.Errorf("born %s: %v, want ErrNotAYouth", born, err)
		}
	}
	// Turns 23 on 2026-04-20: accepted on 31 March, not on 1 April.
	e.clock.Set(time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC))
	if err := refused(31, "2003-04-20"); err != nil {
		t.Fatalf("the day before the month of the 23rd birthday: %v", err)
	}
	if _, regs := e.records(t, e.ps, 31); len(regs) != 1 || !regs[0].EndsOn.Equal(day(2026, 4, 1)) {
		t.Fatalf("registration: %+v", regs)
	}
	e.clock.Set(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	if err := refused(32, "2003-04-20"); !errors.Is(err, matcher.ErrNotAYouth) {
		t.Fatalf("on the first day of the month of the 23rd birthday: %v", err)
	}
}

// TestBirthDateMismatch: while a youth has a live registration, a report
// that states another birth date is refused with ErrBirthDateMismatch (for
// the field birth_date) and writes nothing; the same date is fine. When no
// registration is live, a report states the date anew.
func TestBirthDateMismatch(t *testing.T) {
	e := newEnv(t)
	g := e.register(t, ggd, e.involvement(t, 1)) // born 2014-05-17
	before, _ := e.store.Registration(ctx, g.ID)
	nEvents := len(e.events(t, ""))
	mismatch := func(inst string, r matcher.Registration) {
		t.Helper()
		r.BirthDate = birth(t, "2014-05-18")
		_, err := e.m.Register(ctx, matcher.Actor{Institution: inst}, r)
		var fe *matcher.FieldError
		if !errors.Is(err, matcher.ErrBirthDateMismatch) || !errors.As(err, &fe) || fe.Field != "birth_date" {
			t.Fatalf("%s reports another birth date: %v", inst, err)
		}
	}
	e.clock.Add(time.Hour)
	mismatch(school, e.signal(t, 1))
	mismatch(ggd, e.involvement(t, 1)) // a refresh, too
	withKey := e.signal(t, 1)
	withKey.IdempotencyKey = "retry-1"
	mismatch(school, withKey)
	if n := len(e.events(t, "")); n != nEvents {
		t.Fatalf("a refused report wrote %d events", n-nEvents)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: school}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("a refused report registered: %v", err)
	}
	if after, _ := e.store.Registration(ctx, g.ID); !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatal("a refused refresh changed the registration")
	}
	// The same birth date matches.
	s := e.register(t, school, e.signal(t, 1))
	if !s.Matched {
		t.Fatalf("same birth date: %+v", s)
	}
	// Equal birth dates of two youths give different check values.
	e.register(t, ggd, e.involvement(t, 2))
	c1, _ := e.records(t, e.ps, 1)
	c2, _ := e.records(t, e.ps, 2)
	if c1.BirthCheck.IsZero() || c1.BirthCheck == c2.BirthCheck || c1.BirthCheck.KeyID != e.ps.PrimaryKeyID() {
		t.Fatalf("check values %v and %v", c1.BirthCheck, c2.BirthCheck)
	}

	// Nothing live: a report states the date anew, which then binds.
	if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, g.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	if err := e.m.End(ctx, matcher.Actor{Institution: school}, s.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	w := e.involvement(t, 1)
	w.BirthDate = birth(t, "2014-05-18")
	e.register(t, wij, w)
	_, err := e.m.Register(ctx, matcher.Actor{Institution: ggd}, e.involvement(t, 1))
	if !errors.Is(err, matcher.ErrBirthDateMismatch) {
		t.Fatalf("the first date after the second one bound: %v", err)
	}
}

// TestBirthCheckOfOlderRecords: a case without a check value (written before
// check values existed), or with one under a key no longer enabled, gets the
// check value of its next report, which is not refused; the one after that
// is held to it.
func TestBirthCheckOfOlderRecords(t *testing.T) {
	for _, old := range []pseudonym.Pseudonym{{}, {KeyID: 4242, Sum: [pseudonym.Size]byte{1, 2, 3}}} {
		e := newEnv(t)
		e.register(t, ggd, e.involvement(t, 1))
		set, _ := e.ps.Youth(bsnFor(t, 1))
		if err := e.store.Update(ctx, set.All, func(tx store.Tx) error {
			c, _ := tx.Case()
			c.BirthCheck = old
			tx.PutCase(c)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		s := e.signal(t, 1)
		s.BirthDate = birth(t, "2014-05-18")
		if res := e.register(t, school, s); !res.Matched {
			t.Fatalf("report on an unchecked case: %+v", res)
		}
		if c, _ := e.records(t, e.ps, 1); c.BirthCheck.IsZero() || c.BirthCheck == old || c.BirthCheck.KeyID != e.ps.PrimaryKeyID() {
			t.Fatalf("check value after the report: %v", c.BirthCheck)
		}
		w := e.involvement(t, 1)
		w.BirthDate = birth(t, "2014-05-19")
		if _, err := e.m.Register(ctx, matcher.Actor{Institution: wij}, w); !errors.Is(err, matcher.ErrBirthDateMismatch) {
			t.Fatalf("the check value was not kept: %v", err)
		}
	}
}

// TestBirthCheckMigratesOnRotation: after a key rotation, a report is
// checked against the value under the old key, and one that passes moves it
// to the new primary key, as the youth's records move.
func TestBirthCheckMigratesOnRotation(t *testing.T) {
	e, h1 := newRotatableEnv(t)
	e.register(t, ggd, e.involvement(t, 1))
	m2, ps2 := e.rotated(t, h1)
	newID := ps2.PrimaryKeyID()
	report := func(inst string, born string) error {
		r := e.signal(t, 1)
		r.Youth = youthOf(t, m2, bsnFor(t, 1))
		r.BirthDate = birth(t, born)
		_, err := m2.Register(ctx, matcher.Actor{Institution: inst}, r)
		return err
	}
	if err := report(school, "2014-05-18"); !errors.Is(err, matcher.ErrBirthDateMismatch) {
		t.Fatalf("checked against the old key's value: %v", err)
	}
	if err := report(school, "2014-05-17"); err != nil {
		t.Fatal(err)
	}
	c, _ := e.records(t, ps2, 1)
	if c.BirthCheck.KeyID != newID || c.Youth.KeyID != newID {
		t.Fatalf("check value under key %d, case under key %d; want %d", c.BirthCheck.KeyID, c.Youth.KeyID, newID)
	}
	if err := report(police, "2014-05-18"); !errors.Is(err, matcher.ErrBirthDateMismatch) {
		t.Fatalf("checked against the new key's value: %v", err)
	}
}
