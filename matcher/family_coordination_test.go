package matcher_test

import (
	"slices"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// famCoord counts inst's family-coordination events.
func famCoord(t *testing.T, e *env, inst string) int {
	return countType(e.events(t, inst), store.EventFamilyCoordination)
}

// A youth's coordinator assigned in an update that also makes a family
// match on another relation: the coordinators of the children of the
// earlier relation are told too, as without the new relation.
func TestFamilyCoordinationBesideANewMatch(t *testing.T) {
	for _, withP2 := range []bool{false, true} {
		e := newFamilyEnv(t, nil)
		p1, p2 := bsnFor(t, 8001), bsnFor(t, 8002)
		e.reportChild(t, wij, 1, p1)
		e.reportChild(t, accare, 2, p1)
		if res := e.register(t, police, e.signal(t, 2)); res.Coordinator.Institution != accare {
			t.Fatalf("B coordinator %q", res.Coordinator.Institution)
		}
		e.reportChild(t, ggd, 3, p2)
		s := e.signal(t, 1)
		if withP2 {
			s.Parents = []identity.BSN{p2}
		}
		res := e.register(t, school, s)
		if res.Coordinator.Institution != wij || famCoord(t, e, wij) != 1 || famCoord(t, e, accare) != 1 {
			t.Fatalf("with a new relation %v: A's coordinator %q; family-coordination to wij %d, to accare %d, want 1 each",
				withP2, res.Coordinator.Institution, famCoord(t, e, wij), famCoord(t, e, accare))
		}
	}
}

// A family-coordination notice is never held back or dropped by the
// hourly bound, also when a large family used up the other coordinator's
// share of events about the reporting youth.
func TestFamilyCoordinationPassesTheBound(t *testing.T) {
	e := newFamilyEnv(t, nil)
	p := bsnFor(t, 8101)
	for i := 10; i <= 20; i++ {
		e.reportChild(t, accare, i, p)
	}
	if res := e.register(t, police, e.signal(t, 10)); res.Coordinator.Institution != accare {
		t.Fatalf("coordinator %q", res.Coordinator.Institution)
	}
	e.reportChild(t, wij, 1, p)
	if n := countType(e.events(t, accare), store.EventFamilyMatch); n != matcher.DefaultEventsPerHour {
		t.Fatalf("accare's family-match events: %d, want the hour's share, %d", n, matcher.DefaultEventsPerHour)
	}
	res := e.register(t, school, e.signal(t, 1))
	if res.Coordinator.Institution != wij || famCoord(t, e, wij) != 1 || famCoord(t, e, accare) != 1 {
		t.Fatalf("A's coordinator %q; family-coordination to wij %d, to accare %d, want 1 each", res.Coordinator.Institution, famCoord(t, e, wij), famCoord(t, e, accare))
	}
}

// A pair of youths whose coordinators were told is not told again when a
// later relation joins them through other registrations.
func TestFamilyCoordinationOncePerPair(t *testing.T) {
	e := newFamilyEnv(t, nil)
	p1, p2 := bsnFor(t, 8201), bsnFor(t, 8202)
	e.reportChild(t, wij, 1, p1)
	e.reportChild(t, accare, 2, p1)
	e.register(t, police, e.signal(t, 2))
	res := e.register(t, school, e.signal(t, 1))
	if res.Coordinator.Institution != wij || famCoord(t, e, wij) != 1 || famCoord(t, e, accare) != 1 {
		t.Fatalf("A's coordinator %q; family-coordination to wij %d, to accare %d, want 1 each", res.Coordinator.Institution, famCoord(t, e, wij), famCoord(t, e, accare))
	}
	e.reportChild(t, ggd, 2, p2)
	e.reportChild(t, wij, 1, p1, p2)
	if famCoord(t, e, wij) != 1 || famCoord(t, e, accare) != 1 {
		t.Fatalf("after a second relation: family-coordination to wij %d, to accare %d, want still 1 each", famCoord(t, e, wij), famCoord(t, e, accare))
	}
}

// An ended registration keeps no relation in the archive: its parents'
// pseudonyms go with the end.
func TestEndedKeepsNoRelations(t *testing.T) {
	e := newFamilyEnv(t, nil)
	res := e.reportChild(t, wij, 1, bsnFor(t, 8401), bsnFor(t, 8402))
	if reg, err := e.store.Registration(ctx, res.ID); err != nil || len(reg.Relations) != 2 {
		t.Fatalf("live: %d relations, %v", len(reg.Relations), err)
	}
	if err := e.m.End(ctx, matcher.Actor{Institution: wij}, res.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	reg, err := e.store.Registration(ctx, res.ID)
	if err != nil || reg.IsLive() || len(reg.Relations) != 0 {
		t.Fatalf("archived: live %v, %d relations, %v", reg.IsLive(), len(reg.Relations), err)
	}
}

// Two children of one family given different coordinators at the same
// moment (by reports without parents, which name no family): each update
// holds the family's keys, so the second sees the first's coordinator and
// both coordinators are told, in every family, once.
func TestFamilyCoordinationConcurrentAssignments(t *testing.T) {
	e := newFamilyEnv(t, nil)
	const families = 40
	for i := range families {
		p := bsnFor(t, 8400+i)
		e.reportChild(t, wij, 2*i+100, p)
		e.reportChild(t, accare, 2*i+101, p)
	}
	errs := make(chan error, 2*families)
	for i := range families {
		go func() {
			_, err := e.m.Register(ctx, matcher.Actor{Institution: school}, e.signal(t, 2*i+100))
			errs <- err
		}()
		go func() {
			_, err := e.m.Register(ctx, matcher.Actor{Institution: police}, e.signal(t, 2*i+101))
			errs <- err
		}()
	}
	for range 2 * families {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if w, a := famCoord(t, e, wij), famCoord(t, e, accare); w != families || a != families {
		t.Fatalf("family-coordination to wij %d, to accare %d, want %d each", w, a, families)
	}
}

// A child's next coordinator is told too: family-coordination comes once
// per pair of coordinators, so after the first declines, the one assigned
// in its place and the other child's coordinator are told of each other.
func TestFamilyCoordinationForTheNextCoordinator(t *testing.T) {
	e := newFamilyEnv(t, nil)
	p := bsnFor(t, 8501)
	e.reportChild(t, wij, 1, p)
	e.register(t, ggd, e.involvement(t, 1))
	e.reportChild(t, accare, 2, p)
	e.register(t, police, e.signal(t, 2))
	if famCoord(t, e, wij) != 1 || famCoord(t, e, accare) != 1 {
		t.Fatalf("first pair: wij %d, accare %d, want 1 each", famCoord(t, e, wij), famCoord(t, e, accare))
	}
	if err := e.m.Decline(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1), "no_capacity"); err != nil {
		t.Fatal(err)
	}
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 1))
	if err != nil || v.Coordinator.Institution != ggd {
		t.Fatalf("after wij declined: %+v %v, want ggd", v.Coordinator, err)
	}
	if famCoord(t, e, ggd) != 1 || famCoord(t, e, accare) != 2 || famCoord(t, e, wij) != 1 {
		t.Fatalf("next pair: ggd %d, accare %d, wij %d; want 1, 2, 1", famCoord(t, e, ggd), famCoord(t, e, accare), famCoord(t, e, wij))
	}
}

// Subject access tells the youth and its parents that a registration
// records a parent and an address for family matches, and since when:
// never who or which.
func TestSubjectAccessShowsFamilyRelations(t *testing.T) {
	e := newFamilyEnv(t, nil)
	e.reportChild(t, wij, 1, bsnFor(t, 8601))
	e.register(t, school, e.signal(t, 1))
	a, err := e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1), birth(t, "2014-05-17"))
	if err != nil {
		t.Fatal(err)
	}
	for _, reg := range a.Registrations {
		switch reg.Institution {
		case wij:
			if len(reg.Family) != 1 || reg.Family[0].Type != "parent" || !reg.Family[0].Since.Equal(start) {
				t.Fatalf("wij's registration: family %+v, want one parent since %v", reg.Family, start)
			}
		default:
			if len(reg.Family) != 0 {
				t.Fatalf("%s's registration: family %+v, want none", reg.Institution, reg.Family)
			}
		}
	}
}

// The count of family events told to an institution not involved with the
// reporting youth is forgotten when its hour is over, not kept in the
// youth's case until the youth's next report.
func TestFamilyNoticeCountIsForgotten(t *testing.T) {
	e := newFamilyEnv(t, nil)
	p := bsnFor(t, 8701)
	e.reportChild(t, accare, 2, p)
	e.reportChild(t, wij, 1, p)
	noticed := func() (names []string) {
		e.store.View(ctx, mustYouth(t, e, 1), func(rd store.Reader) error {
			c, _ := rd.Case()
			for _, n := range c.Notices {
				names = append(names, n.Recipient)
			}
			return nil
		})
		return names
	}
	if got := noticed(); !slices.Contains(got, accare) {
		t.Fatalf("youth 1's notices %v: want accare's count for the hour", got)
	}
	e.clock.Add(time.Hour + time.Minute)
	if _, err := e.m.SendHeld(ctx); err != nil {
		t.Fatal(err)
	}
	if got := noticed(); slices.Contains(got, accare) {
		t.Fatalf("after the hour, youth 1's notices %v still name accare", got)
	}
}
