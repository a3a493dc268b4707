package matcher_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

var bornOn = "2014-05-17" // the birth date of e.involvement

// objectionYouth registers youth n with the school (a signal, with an
// idempotency key), WIJ and the GGD, and gives the GGD an archived
// registration besides its live one (ended, and reported again after the
// refresh window). It returns the school's report and every ID.
func objectionYouth(t *testing.T, e *env, n int) (matcher.Registration, []matcher.ID) {
	t.Helper()
	sr := e.signal(t, n)
	sr.IdempotencyKey = fmt.Sprintf("report-%d", n)
	s := e.register(t, school, sr)
	w := e.register(t, wij, e.involvement(t, n))
	old := e.register(t, ggd, e.involvement(t, n))
	if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, old.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(matcher.DefaultRefreshWindow + time.Hour)
	g := e.register(t, ggd, e.involvement(t, n))
	if g.ID == old.ID {
		t.Fatal("the GGD's second report revived its first registration")
	}
	return sr, []matcher.ID{s.ID, w.ID, old.ID, g.ID}
}

func object(t *testing.T, e *env, who string, n int, born string, scope matcher.ObjectionScope) matcher.Objection {
	t.Helper()
	o, err := e.m.Object(ctx, matcher.Actor{Institution: who}, e.youth(t, n), birth(t, born), scope)
	if err != nil {
		t.Fatalf("objection by %s: %v", who, err)
	}
	return o
}

// TestObjectionRemovesEverything: an upheld objection to every
// registration removes them all, live and archived, with their
// idempotency records and the case: the store holds nothing under the
// youth's pseudonym, every lookup answers not involved, a retry of a
// removed report is a new report, and each institution is told.
func TestObjectionRemovesEverything(t *testing.T) {
	e := newEnv(t)
	sr, ids := objectionYouth(t, e, 1)
	before := e.events(t, "")
	if o := object(t, e, gemeente, 1, bornOn, matcher.AllInstitutions()); o.Removed != len(ids) {
		t.Fatalf("removed %d, want %d", o.Removed, len(ids))
	}
	for _, id := range ids {
		if _, err := e.store.Registration(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("registration %s: %v, want not found", id, err)
		}
	}
	err := e.store.View(ctx, mustYouth(t, e, 1), func(rd store.Reader) error {
		_, hasCase := rd.Case()
		if len(rd.Registrations()) != 0 || len(rd.History()) != 0 || hasCase {
			t.Errorf("left under the youth's pseudonym: %d live, %d archived, case %v", len(rd.Registrations()), len(rd.History()), hasCase)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range []string{school, wij, ggd} {
		if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: inst}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
			t.Errorf("lookup by %s after the objection: %v", inst, err)
		}
	}
	// Each registration's institution is told of each of its
	// registrations (the GGD of two), naming the municipality; the
	// municipality gets an audit event for each; nobody else is told.
	told := map[string]int{}
	for _, ev := range newEvents(before, e.events(t, "")) {
		if ev.Type != store.EventRemoved || ev.Reason != "objection" {
			t.Errorf("event %+v", ev)
		}
		if ev.Recipient != gemeente && ev.Subject != gemeente {
			t.Errorf("event to %s names %s, not the municipality", ev.Recipient, ev.Subject)
		}
		told[ev.Recipient]++
	}
	if told[school] != 1 || told[wij] != 1 || told[ggd] != 2 || told[gemeente] != 4 || len(told) != 4 {
		t.Errorf("events per recipient: %v", told)
	}
	if again := e.register(t, school, sr); again.Replayed || again.ID == ids[0] {
		t.Fatalf("a retry of the removed report: %+v, want a new report", again)
	}
	// Idempotent by nature: a second objection finds nothing.
	if o := object(t, e, gemeente, 2, bornOn, matcher.AllInstitutions()); o.Removed != 0 {
		t.Fatalf("objection for a youth nobody registered removed %d", o.Removed)
	}
}

// TestObjectionToOneInstitution removes that institution's registrations
// only, live and archived; the others stay, are told once of the live one
// (never of the archived one), and get a new coordinator if the
// coordinator's went.
func TestObjectionToOneInstitution(t *testing.T) {
	e := newEnv(t)
	for n, scope := range map[int]string{1: ggd, 2: wij} { // the GGD has an archived registration; WIJ coordinates
		t.Run(scope, func(t *testing.T) {
			_, ids := objectionYouth(t, e, n)
			v, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, n))
			if err != nil || v.Coordinator.Institution != wij {
				t.Fatalf("before: %+v %v", v, err)
			}
			before := e.events(t, "")
			o := object(t, e, gemeente, n, bornOn, matcher.OneInstitution(scope))
			if want := map[string]int{ggd: 2, wij: 1}[scope]; o.Removed != want {
				t.Fatalf("removed %d, want %d", o.Removed, want)
			}
			for i, inst := range []string{school, wij, ggd, ggd} { // the institutions of ids
				_, err := e.store.Registration(ctx, ids[i])
				if gone := errors.Is(err, store.ErrNotFound); gone != (inst == scope) || !gone && err != nil {
					t.Errorf("registration of %s: %v", inst, err)
				}
				_, err = e.m.Lookup(ctx, matcher.Actor{Institution: inst}, e.youth(t, n))
				if inst == scope && !errors.Is(err, matcher.ErrNotInvolved) || inst != scope && err != nil {
					t.Errorf("lookup by %s: %v", inst, err)
				}
			}
			removals := map[string]int{}
			for _, ev := range newEvents(before, e.events(t, "")) {
				if ev.Type != store.EventRemoved {
					continue
				}
				removals[ev.Recipient]++
				if ev.Recipient != gemeente && ev.Recipient != scope && ev.Subject != scope {
					t.Errorf("removed event to %s names %s", ev.Recipient, ev.Subject)
				}
			}
			for _, inst := range []string{school, wij, ggd} {
				if inst != scope && removals[inst] != 1 {
					t.Errorf("%s was told of %d removals, want 1 (the live one)", inst, removals[inst])
				}
			}
			if removals[gemeente] != o.Removed || removals[scope] != o.Removed {
				t.Errorf("removals told: %v", removals)
			}
			v, err = e.m.Lookup(ctx, matcher.Actor{Institution: school}, e.youth(t, n))
			if err != nil || v.Coordinator.Institution != map[string]string{ggd: wij, wij: ggd}[scope] {
				t.Fatalf("after: coordinator %+v (%v)", v.Coordinator, err)
			}
		})
	}
}

// TestObjectionIsNoOracle: a municipality that serves none of the youth's
// registrations, and a serving one with another birth date, get the same
// answer as for a youth nobody registered, from one view and no update,
// and nothing is removed; an institution that is not a municipality is
// refused before anything is read; a bad scope is refused.
func TestObjectionIsNoOracle(t *testing.T) {
	e := newEnv(t)
	spy := &updateSpy{Store: e.store}
	e.rematch(t, spy, nil)
	_, ids := objectionYouth(t, e, 1)
	for _, tc := range []struct {
		name, who, born string
	}{
		{"another municipality", gemeenteElders, bornOn},
		{"another birth date", gemeente, "2014-05-18"},
	} {
		for _, n := range []int{1, 2} { // registered, never registered
			spy.updates.Store(0)
			spy.views.Store(0)
			o, err := e.m.Object(ctx, matcher.Actor{Institution: tc.who}, e.youth(t, n), birth(t, tc.born), matcher.AllInstitutions())
			if err != nil || o != (matcher.Objection{}) {
				t.Fatalf("%s, youth %d: %+v %v", tc.name, n, o, err)
			}
			if u, v := spy.updates.Load(), spy.views.Load(); u != 0 || v != 1 {
				t.Errorf("%s, youth %d: %d updates and %d views, want none and one", tc.name, n, u, v)
			}
		}
	}
	spy.views.Store(0)
	if _, err := e.m.Object(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1), birth(t, bornOn), matcher.AllInstitutions()); !errors.Is(err, matcher.ErrForbidden) {
		t.Fatalf("objection by WIJ: %v", err)
	}
	if spy.views.Load() != 0 {
		t.Error("a refused institution's objection read the store")
	}
	for _, s := range []matcher.ObjectionScope{{}, matcher.OneInstitution("no-such-institution")} {
		if _, err := e.m.Object(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1), birth(t, bornOn), s); !errors.Is(err, matcher.ErrObjectionScope) {
			t.Errorf("scope %v: %v", s, err)
		}
	}
	for _, id := range ids {
		if _, err := e.store.Registration(ctx, id); err != nil {
			t.Fatalf("registration %s went: %v", id, err)
		}
	}
}

// TestObjectionServedByArchive: a municipality serves a youth whose only
// registration in its municipality is archived, and its objection removes
// that one with the rest; the log line names no youth.
func TestObjectionServedByArchive(t *testing.T) {
	var logs bytes.Buffer
	e := newEnvWith(t, freshPseudonymiser(t), t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)))
	r := e.involvement(t, 1)
	r.Municipality = "GM1966" // Het Hogeland
	g := e.register(t, ggd, r)
	if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, g.ID, time.Time{}, matcher.EndOther); err != nil {
		t.Fatal(err)
	}
	w := e.register(t, wij, e.involvement(t, 1)) // Groningen
	if o := object(t, e, gemeenteElders, 1, bornOn, matcher.AllInstitutions()); o.Removed != 2 {
		t.Fatalf("removed %d, want 2", o.Removed)
	}
	for _, id := range []matcher.ID{g.ID, w.ID} {
		if _, err := e.store.Registration(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("registration %s: %v", id, err)
		}
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "msg=objection") {
			line = l
		}
	}
	if !strings.Contains(line, "institution="+gemeenteElders) || !strings.Contains(line, "scope=all") ||
		!strings.Contains(line, "removed=2") || !strings.Contains(line, "outcome=ok") {
		t.Errorf("log line %q", line)
	}
	if strings.Contains(logs.String(), bsnDigits(t, 1)) || strings.Contains(logs.String(), bornOn) {
		t.Error("the log quotes the youth")
	}
}
