package matcher_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// informCovenant is the example covenant with its duty-to-inform settings
// replaced.
func informCovenant(t testing.TB, days int, require bool) *rules.Covenant {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "covenant-groningen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for old, new := range map[string]string{
		"inform_within_days: 14":       "inform_within_days: " + strconv.Itoa(days),
		"require_inform_record: false": "require_inform_record: " + map[bool]string{true: "true", false: "false"}[require],
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("the example covenant lacks %q", old)
		}
		s = strings.Replace(s, old, new, 1)
	}
	c, err := rules.Load(strings.NewReader(s), "covenant.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// registration made at start (2026-03-02) of a youth born on birthDate.
func (e *env) bornOn(t testing.TB, n int, birthDate string) matcher.Registration {
	r := e.involvement(t, n)
	r.BirthDate = birth(t, birthDate)
	return r
}

func informed(w matcher.Whom) matcher.Inform {
	return matcher.Inform{Who: w, On: start.AddDate(0, 0, -1)}
}

// Whom an institution informs follows the youth's age band at the
// report, the age counted by month: a record that does not fit is
// refused, and nothing is written.
func TestInformFollowsTheAgeBand(t *testing.T) {
	e := newEnv(t)
	for i, tc := range []struct {
		birth string
		fits  matcher.Whom
		band  store.AgeBand
	}{
		{"2016-01-10", matcher.InformedParents, store.AgeUnder12}, // 10
		{"2014-04-30", matcher.InformedParents, store.AgeUnder12}, // 11, 12 next month
		{"2014-03-28", matcher.InformedBoth, store.Age12To15},     // 12 by month: the birthday's month has begun
		{"2010-04-01", matcher.InformedBoth, store.Age12To15},     // 15
		{"2010-03-31", matcher.InformedYouth, store.Age16Up},      // 16 by month
		{"2004-06-01", matcher.InformedYouth, store.Age16Up},      // 21
	} {
		for _, w := range []matcher.Whom{matcher.InformedParents, matcher.InformedYouth, matcher.InformedBoth} {
			if w == tc.fits {
				continue
			}
			r := e.bornOn(t, 100+i, tc.birth)
			r.Inform = informed(w)
			_, err := e.m.Register(ctx, matcher.Actor{Institution: ggd}, r)
			var fe *matcher.FieldError
			if !errors.Is(err, matcher.ErrInformMismatch) || !errors.As(err, &fe) || fe.Field != "informed.who" {
				t.Fatalf("born %s, informed %s: %v, want ErrInformMismatch on informed.who", tc.birth, w, err)
			}
		}
		r := e.bornOn(t, 100+i, tc.birth)
		if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, r.Youth); !errors.Is(err, matcher.ErrNotInvolved) {
			t.Fatalf("born %s: a refused report wrote a registration: %v", tc.birth, err)
		}
		r.Inform = informed(tc.fits)
		res := e.register(t, ggd, r)
		got := regOf(t, e, res.ID)
		if got.AgeBand != tc.band || got.Inform.Who != tc.fits || !got.Inform.On.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("born %s: band %s, inform %+v; want %s, %s", tc.birth, got.AgeBand, got.Inform, tc.band, tc.fits)
		}
		// The same holds for a later record.
		for _, w := range []matcher.Whom{matcher.InformedParents, matcher.InformedYouth, matcher.InformedBoth} {
			err := e.m.RecordInformed(ctx, matcher.Actor{Institution: ggd}, res.ID, informed(w))
			if (w == tc.fits) != (err == nil) || (err != nil && !errors.Is(err, matcher.ErrInformMismatch)) {
				t.Fatalf("born %s: RecordInformed(%s) = %v", tc.birth, w, err)
			}
		}
	}
}

// regOf reads registration id from the store; the zero Registration if it
// is not there.
func regOf(t testing.TB, e *env, id matcher.ID) store.Registration {
	t.Helper()
	if id.IsZero() {
		return store.Registration{}
	}
	r, err := e.store.Registration(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Registration{}
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Malformed records are refused with the field they are about.
func TestInformInput(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name  string
		i     matcher.Inform
		err   error
		field string
	}{
		{"both", matcher.Inform{Who: matcher.InformedBoth, On: start, Not: matcher.NotInformedLater}, matcher.ErrInform, "informed"},
		{"unknown who", matcher.Inform{Who: 9, On: start}, matcher.ErrInformWho, "informed.who"},
		{"no day", matcher.Inform{Who: matcher.InformedBoth}, matcher.ErrInformDate, "informed.on"},
		{"tomorrow", matcher.Inform{Who: matcher.InformedBoth, On: start.AddDate(0, 0, 1)}, matcher.ErrInformDate, "informed.on"},
		{"unknown reason", matcher.Inform{Not: 9}, matcher.ErrNotInformedReason, "not_informed.reason"},
		{"a reason with a day", matcher.Inform{Not: matcher.NotInformedDanger, On: start}, matcher.ErrInform, "informed"},
	} {
		r := e.involvement(t, 1)
		r.Inform = tc.i
		_, err := e.m.Register(ctx, matcher.Actor{Institution: ggd}, r)
		var fe *matcher.FieldError
		if !errors.Is(err, tc.err) || !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: %v, want %v on %s", tc.name, err, tc.err, tc.field)
		}
	}
	if _, err := matcher.ParseWhom("mother"); !errors.Is(err, matcher.ErrInformWho) {
		t.Errorf("ParseWhom: %v", err)
	}
	if _, err := matcher.ParseNotInformed("busy"); !errors.Is(err, matcher.ErrNotInformedReason) {
		t.Errorf("ParseNotInformed: %v", err)
	}
	for s, want := range map[string]matcher.NotInformed{"danger": matcher.NotInformedDanger, "not_reachable": matcher.NotInformedUnreachable, "later": matcher.NotInformedLater} {
		if got, err := matcher.ParseNotInformed(s); err != nil || got != want || got.String() != s {
			t.Errorf("ParseNotInformed(%q) = %v, %v", s, got, err)
		}
	}
	res := e.register(t, ggd, e.involvement(t, 1))
	if err := e.m.RecordInformed(ctx, matcher.Actor{Institution: ggd}, res.ID, matcher.Inform{}); !errors.Is(err, matcher.ErrInform) {
		t.Errorf("an empty record: %v", err)
	}
}

// Only the registration's own institution records on it; for any other, the
// registration does not exist.
func TestRecordInformedOwnOnly(t *testing.T) {
	e := newEnv(t)
	res := e.register(t, ggd, e.involvement(t, 1))
	e.register(t, wij, e.involvement(t, 1))
	later := matcher.Inform{Not: matcher.NotInformedLater}
	for _, inst := range []string{wij, gemeente, school} {
		if err := e.m.RecordInformed(ctx, matcher.Actor{Institution: inst}, res.ID, later); !errors.Is(err, matcher.ErrNotFound) {
			t.Fatalf("%s: %v, want ErrNotFound", inst, err)
		}
		if _, err := e.m.Letter(ctx, matcher.Actor{Institution: inst}, res.ID); !errors.Is(err, matcher.ErrNotFound) {
			t.Fatalf("%s: letter: %v, want ErrNotFound", inst, err)
		}
	}
	if err := e.m.RecordInformed(ctx, matcher.Actor{Institution: ggd}, matcher.ID{1}, later); !errors.Is(err, matcher.ErrNotFound) {
		t.Fatalf("unknown ID: %v", err)
	}
	if got := regOf(t, e, res.ID); got.Inform.Recorded() {
		t.Fatalf("a refused record was written: %+v", got.Inform)
	}
}

// A covenant that requires a record refuses a report without one, unless
// the registration has one on file (a refresh).
func TestRequireInformRecord(t *testing.T) {
	e := newEnv(t)
	e.rematch(t, nil, func(c *matcher.Config) { c.Covenant = informCovenant(t, 14, true) })
	r := e.involvement(t, 1)
	_, err := e.m.Register(ctx, matcher.Actor{Institution: ggd}, r)
	var fe *matcher.FieldError
	if !errors.Is(err, matcher.ErrInformRecordRequired) || !errors.As(err, &fe) || fe.Field != "informed" {
		t.Fatalf("no record: %v", err)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, r.Youth); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("the refused report was stored: %v", err)
	}
	r.Inform = matcher.Inform{Not: matcher.NotInformedDanger}
	res := e.register(t, ggd, r)
	r.Inform = matcher.Inform{}
	if again := e.register(t, ggd, r); !again.Refreshed || again.ID != res.ID {
		t.Fatalf("refresh: %+v", again)
	}
	if got := regOf(t, e, res.ID); got.Inform.Not != matcher.NotInformedDanger {
		t.Fatalf("the refresh lost the record on file: %+v", got.Inform)
	}
}

// reminders returns the inform-due events of institution.
func reminders(t testing.TB, e *env, institution string) []store.Event {
	var out []store.Event
	for _, ev := range e.events(t, institution) {
		if ev.Type == store.EventInformDue {
			out = append(out, ev)
		}
	}
	return out
}

// reopen closes e's store and returns an env on the same directory and
// keys, at the same time: a restart.
func reopen(t *testing.T, e *env, change func(*matcher.Config)) *env {
	t.Helper()
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := newEnvWith(t, e.ps, e.dir, quiet())
	e2.clock.Set(e.clock.Now())
	if change != nil {
		e2.rematch(t, nil, change)
	}
	return e2
}

// "later" reminds the institution once, inform_within_days after it was
// recorded: not a day before, never twice, also across restarts of the real
// store, whatever runs on the youth meanwhile.
func TestInformDueOnceAcrossRestarts(t *testing.T) {
	days := func(c *matcher.Config) { c.Covenant = informCovenant(t, 10, false) }
	e := newEnv(t)
	e.rematch(t, nil, days)
	r := e.involvement(t, 1)
	r.Inform = matcher.Inform{Not: matcher.NotInformedLater}
	res := e.register(t, ggd, r)
	e.register(t, wij, e.involvement(t, 1))
	if got := regOf(t, e, res.ID); !got.Inform.Due.Equal(time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("due %v, want 2026-03-12", got.Inform.Due)
	}

	e = reopen(t, e, days)
	e.clock.Set(time.Date(2026, 3, 11, 23, 59, 0, 0, time.UTC))
	sendAll(t, e)
	if n := len(reminders(t, e, ggd)); n != 0 {
		t.Fatalf("%d reminders a minute before the day", n)
	}
	// Recording later again keeps the day.
	if err := e.m.RecordInformed(ctx, matcher.Actor{Institution: ggd}, res.ID, matcher.Inform{Not: matcher.NotInformedLater}); err != nil {
		t.Fatal(err)
	}

	e = reopen(t, e, days)
	e.clock.Set(time.Date(2026, 3, 12, 0, 1, 0, 0, time.UTC))
	sendAll(t, e)
	got := reminders(t, e, ggd)
	if len(got) != 1 || got[0].Registration != res.ID || got[0].Urgent {
		t.Fatalf("reminders on the day: %+v", got)
	}
	if n := len(reminders(t, e, wij)); n != 0 {
		t.Fatalf("the other institution got %d reminders", n)
	}
	if reg := regOf(t, e, res.ID); !reg.Inform.Reminded || !reg.Inform.Due.IsZero() {
		t.Fatalf("after the reminder: %+v", reg.Inform)
	}

	// Restarts, the expiry run, the summaries, a refresh recording later
	// again and a new record: never a second reminder.
	for i := range 3 {
		e = reopen(t, e, days)
		e.clock.Add(time.Duration(i+1) * 24 * time.Hour * 11)
		sendAll(t, e)
		r.Inform = matcher.Inform{Not: matcher.NotInformedLater}
		e.register(t, ggd, r)
		if err := e.m.RecordInformed(ctx, matcher.Actor{Institution: ggd}, res.ID, matcher.Inform{Not: matcher.NotInformedLater}); err != nil {
			t.Fatal(err)
		}
		e.register(t, wij, e.involvement(t, 1))
		sendAll(t, e)
	}
	if n := len(reminders(t, e, ggd)); n != 1 {
		t.Fatalf("%d reminders, want exactly 1", n)
	}
	if wake, err := e.store.Wakeups(ctx, store.Forever, 10); err != nil || len(wake) != 0 {
		t.Fatalf("the youth still wakes: %v %v", wake, err)
	}
}

// sendAll runs what vindex serve runs on a timer.
func sendAll(t testing.TB, e *env) {
	t.Helper()
	if _, err := e.m.SendHeld(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
}

// Another record before the day cancels the reminder; a registration that
// ends before its day is not reminded.
func TestInformDueCancelled(t *testing.T) {
	e := newEnv(t)
	later := matcher.Inform{Not: matcher.NotInformedLater}
	for _, cancel := range []matcher.Inform{
		informed(matcher.InformedParents), // born 2014-05: 11
		{Not: matcher.NotInformedDanger},
		{Not: matcher.NotInformedUnreachable},
	} {
		r := e.involvement(t, 1)
		r.Inform = later
		res := e.register(t, ggd, r)
		e.clock.Add(24 * time.Hour)
		if err := e.m.RecordInformed(ctx, matcher.Actor{Institution: ggd}, res.ID, cancel); err != nil {
			t.Fatal(err)
		}
		if reg := regOf(t, e, res.ID); !reg.Inform.Due.IsZero() {
			t.Fatalf("%+v left a reminder due: %+v", cancel, reg.Inform)
		}
		e.clock.Add(20 * 24 * time.Hour)
		sendAll(t, e)
		if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, res.ID, time.Time{}, matcher.EndUnjustified); err != nil {
			t.Fatal(err)
		}
	}
	r := e.involvement(t, 2)
	r.Inform = later
	res := e.register(t, ggd, r)
	if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, res.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(30 * 24 * time.Hour)
	sendAll(t, e)
	if n := len(reminders(t, e, ggd)); n != 0 {
		t.Fatalf("%d reminders, want none", n)
	}
}

// A letter names what the professional must tell, addressed by the age
// band at the report; nothing that identifies the youth.
func TestLetterFacts(t *testing.T) {
	e := newEnv(t)
	s := e.bornOn(t, 1, "2008-07-01") // 17
	s.Kind, s.SignalCode, s.Municipality = matcher.Signal, "S03", "GM1952"
	sres := e.register(t, school, s)
	l, err := e.m.Letter(ctx, matcher.Actor{Institution: school}, sres.ID)
	if err != nil {
		t.Fatal(err)
	}
	if l.Whom != matcher.InformedYouth || l.InstitutionName != "Voorbeeldlyceum Groningen" || l.SignalCode != "S03" ||
		l.SignalLabel != "Zorg over schoolgang of verzuim" || l.Municipality != "GM1952" || l.MunicipalityName != "" ||
		!l.Since.Equal(start) || l.EndsOn.IsZero() || l.Contact.Name != "A. Jansen" || l.Region != "Groningen" {
		t.Fatalf("letter: %+v", l)
	}
	res := e.register(t, ggd, e.bornOn(t, 2, "2019-02-01")) // 7
	l, err = e.m.Letter(ctx, matcher.Actor{Institution: ggd}, res.ID)
	if err != nil || l.Whom != matcher.InformedParents || l.MunicipalityName != "Gemeente Groningen" || l.SignalCode != "" {
		t.Fatalf("letter: %+v %v", l, err)
	}
	if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, res.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Letter(ctx, matcher.Actor{Institution: ggd}, res.ID); !errors.Is(err, matcher.ErrNotFound) {
		t.Fatalf("an ended registration's letter: %v", err)
	}
}

// A registration made before age bands were kept is held to, and its
// letter addressed by, the youth's age at its last report, which its case
// keeps.
func TestInformWithoutBandUsesTheCaseAge(t *testing.T) {
	e := newEnv(t)
	res := e.register(t, ggd, e.bornOn(t, 1, "2008-07-01")) // 17
	err := e.store.UpdateByID(ctx, res.ID, func(tx store.Tx) error {
		for _, r := range tx.Registrations() {
			r.AgeBand = store.AgeBandUnknown
			tx.Put(r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := regOf(t, e, res.ID); got.AgeBand != store.AgeBandUnknown {
		t.Fatalf("band %s", got.AgeBand)
	}
	if err := e.m.RecordInformed(ctx, matcher.Actor{Institution: ggd}, res.ID, informed(matcher.InformedParents)); !errors.Is(err, matcher.ErrInformMismatch) {
		t.Fatalf("parents of a 17-year-old: %v", err)
	}
	if err := e.m.RecordInformed(ctx, matcher.Actor{Institution: ggd}, res.ID, informed(matcher.InformedYouth)); err != nil {
		t.Fatal(err)
	}
	if l, err := e.m.Letter(ctx, matcher.Actor{Institution: ggd}, res.ID); err != nil || l.Whom != matcher.InformedYouth {
		t.Fatalf("letter to %v, %v", l.Whom, err)
	}
}
