package matcher_test

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// TestSubjectAccessListsLiveAndArchived: the municipality that serves the
// youth gets every registration, the live ones and the archived one, in
// the order they were made, with what the covenant says of each and never
// a contact; and the youth's age band by the birth date it states.
func TestSubjectAccessListsLiveAndArchived(t *testing.T) {
	e := newEnv(t)
	e.register(t, wij, e.involvement(t, 1))
	e.clock.Add(time.Hour)
	s := e.signal(t, 1)
	s.Urgent = true
	s.Inform = matcher.Inform{Who: matcher.InformedParents, On: civilDay(e.clock.Now())}
	sres := e.register(t, school, s)
	e.clock.Add(time.Hour)
	gres := e.register(t, ggd, e.involvement(t, 1))
	e.clock.Add(24 * time.Hour)
	if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, gres.ID, time.Time{}, matcher.EndOther); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(48 * time.Hour) // past the refresh window
	a, err := e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1), birth(t, "2014-05-17"))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Now.Equal(e.clock.Now()) || a.Age != 11 || a.Band != store.AgeUnder12 {
		t.Fatalf("now %v, age %d, band %v; want %v, 11, parents", a.Now, a.Age, a.Band, e.clock.Now())
	}
	var insts []string
	for _, r := range a.Registrations {
		insts = append(insts, r.Institution)
	}
	if !slices.Equal(insts, []string{wij, school, ggd}) {
		t.Fatalf("registrations %v, want wij, school, ggd in the order made", insts)
	}
	w, sc, g := a.Registrations[0], a.Registrations[1], a.Registrations[2]
	if !w.Live || w.Name != "WIJ Groningen" || w.Type != rules.TypeWIJTeam || w.Kind != matcher.Involvement ||
		!w.Since.Equal(start) || w.EndsOn.IsZero() || !w.EndedAt.IsZero() || w.EndReason != store.Live {
		t.Errorf("WIJ's registration: %+v", w)
	}
	if !sc.Live || sc.ID != sres.ID || sc.Kind != matcher.Signal || sc.SignalCode != "S01" || sc.SignalLabel == "" || !sc.Urgent ||
		sc.Inform.Who != matcher.InformedParents || !w.Inform.IsZero() {
		t.Errorf("the school's signal: %+v", sc)
	}
	if g.Live || g.ID != gres.ID || g.EndReason != matcher.ArchivedOther || g.EndedAt.IsZero() || g.PurgeOn.IsZero() {
		t.Errorf("GGD's archived registration: %+v", g)
	}

	// When every registration has ended, the archive still names the
	// municipality: the answer lists them all.
	for _, r := range a.Registrations[:2] {
		if err := e.m.End(ctx, matcher.Actor{Institution: r.Institution}, r.ID, time.Time{}, matcher.EndRiskGone); err != nil {
			t.Fatal(err)
		}
	}
	a, err = e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1), birth(t, "2014-05-17"))
	if err != nil || len(a.Registrations) != 3 || slices.ContainsFunc(a.Registrations, func(r matcher.AccessEntry) bool { return r.Live }) {
		t.Fatalf("archived only: %+v %v", a, err)
	}
}

// TestSubjectAccessAgeBands: the band follows the stated birth date's age
// today, to the day.
func TestSubjectAccessAgeBands(t *testing.T) {
	e := newEnv(t)
	for i, tc := range []struct {
		born string
		age  int
		band store.AgeBand
	}{
		{"2014-03-03", 11, store.AgeUnder12}, // 12 tomorrow
		{"2014-03-02", 12, store.Age12To15},
		{"2010-03-03", 15, store.Age12To15},
		{"2010-03-02", 16, store.Age16Up},
	} {
		r := e.involvement(t, 10+i)
		r.BirthDate = birth(t, tc.born)
		e.register(t, wij, r)
		a, err := e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, r.Youth, r.BirthDate)
		if err != nil || a.Age != tc.age || a.Band != tc.band {
			t.Errorf("born %s: age %d band %v (%v), want %d %v", tc.born, a.Age, a.Band, err, tc.age, tc.band)
		}
	}
}

// TestSubjectAccessIsNoOracle: another municipality, an unknown youth and
// a birth date other than the youth's get the uninvolved answer, each from
// one view and no update; an institution that is not a municipality is
// refused before anything is read. Nothing the refusals log names the
// youth.
func TestSubjectAccessIsNoOracle(t *testing.T) {
	var logs canary.Log
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnvWith(t, freshPseudonymiser(t), t.TempDir(), logger)
	spy := &updateSpy{Store: e.store}
	e.rematch(t, spy, func(c *matcher.Config) { c.Logger = logger })
	e.register(t, wij, e.involvement(t, 1))
	e.register(t, school, e.signal(t, 1))
	bd := birth(t, "2014-05-17")

	for _, tc := range []struct {
		name  string
		actor string
		n     int
		born  string
		want  error
		views int64
	}{
		{"another municipality", gemeenteElders, 1, "2014-05-17", matcher.ErrNotInvolved, 1},
		{"an unknown youth", gemeente, 2, "2014-05-17", matcher.ErrNotInvolved, 1},
		{"another birth date", gemeente, 1, "2014-05-18", matcher.ErrNotInvolved, 1},
		{"another municipality, unknown youth", gemeenteElders, 2, "2014-05-17", matcher.ErrNotInvolved, 1},
		{"a care provider", wij, 1, "2014-05-17", matcher.ErrForbidden, 0},
		{"a school", school, 2, "2014-05-17", matcher.ErrForbidden, 0},
	} {
		spy.updates.Store(0)
		spy.views.Store(0)
		a, err := e.m.SubjectAccess(ctx, matcher.Actor{Institution: tc.actor}, e.youth(t, tc.n), birth(t, tc.born))
		if !errors.Is(err, tc.want) || len(a.Registrations) != 0 || a.Age != 0 {
			t.Errorf("%s: %+v %v, want %v and nothing", tc.name, a, err, tc.want)
		}
		if u, v := spy.updates.Load(), spy.views.Load(); u != 0 || v != tc.views {
			t.Errorf("%s: %d updates and %d views, want none and %d", tc.name, u, v, tc.views)
		}
	}
	// Bad input is refused whoever asks (it tells nothing about the youth).
	if _, err := e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1), birth(t, "2099-01-01")); !errors.Is(err, matcher.ErrNotAYouth) {
		t.Errorf("a birth date to come: %v", err)
	}
	if _, err := e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1), identity.BirthDate{}); !errors.Is(err, matcher.ErrMissingBirthDate) {
		t.Errorf("no birth date: %v", err)
	}
	// The right one, for contrast, and then the logs.
	a, err := e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1), bd)
	if err != nil || len(a.Registrations) != 2 {
		t.Fatalf("the municipality that serves the youth: %+v %v", a, err)
	}
	lines := string(logs.Bytes())
	if !strings.Contains(lines, `"msg":"subject access","institution":"gemeente-groningen","registrations":2,"outcome":"ok"`) ||
		!strings.Contains(lines, `"msg":"subject access","institution":"gemeente-het-hogeland","registrations":0,"outcome":"not involved"`) ||
		!strings.Contains(lines, `"institution":"wij-groningen","registrations":0,"outcome":"forbidden"`) {
		t.Errorf("log lines lack the verb, institution, count or outcome:\n%s", lines)
	}
	needles := canary.Needles{}
	for _, n := range []int{1, 2} {
		needles.BSN("bsn", bsnDigits(t, n))
	}
	needles.Date("birth date", "2014-05-17")
	needles.Date("other birth date", "2014-05-18")
	if found := needles.Scan("logs", logs.Bytes()); len(found) > 0 {
		t.Fatalf("identity in the logs: %v", found)
	}
}
