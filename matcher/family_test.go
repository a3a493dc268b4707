package matcher_test

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// reportChild has inst report the n-th youth, an involvement, with the
// given parents.
func (e *env) reportChild(t testing.TB, inst string, n int, parents ...identity.BSN) matcher.Result {
	t.Helper()
	r := e.involvement(t, n)
	r.Parents = parents
	return e.register(t, inst, r)
}

func countType(evs []store.Event, typ store.EventType) int {
	n := 0
	for _, ev := range evs {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// Two siblings reported at the same moment by two institutions make
// exactly one family match: each institution hears of it once.
func TestConcurrentSiblingsMakeOneFamilyMatch(t *testing.T) {
	e := newFamilyEnv(t, nil)
	const families = 30
	var wg sync.WaitGroup
	for i := range families {
		parent := bsnFor(t, 5000+i)
		for j, inst := range []string{wij, ggd} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.involvement(t, 2*i+j)
				r.Parents = []identity.BSN{parent}
				if _, err := e.m.Register(ctx, matcher.Actor{Institution: inst}, r); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	for _, inst := range []string{wij, ggd} {
		if n := countType(e.events(t, inst), store.EventFamilyMatch); n != families {
			t.Fatalf("%s got %d family-match events for %d families, want one each", inst, n, families)
		}
	}
}

func TestFamilyInputErrors(t *testing.T) {
	e := newFamilyEnv(t, nil)
	plain := newEnv(t) // the example covenant: no address matching
	addr, _ := identity.ParseAddress("1234AB", 12, "")
	p1, p2, p3 := bsnFor(t, 7001), bsnFor(t, 7002), bsnFor(t, 7003)
	tests := []struct {
		name  string
		env   *env
		edit  func(r *matcher.Registration)
		field string
		want  error
	}{
		{"three parents", e, func(r *matcher.Registration) { r.Parents = []identity.BSN{p1, p2, p3} }, "parents", matcher.ErrParents},
		{"twice the same", e, func(r *matcher.Registration) { r.Parents = []identity.BSN{p1, p1} }, "parents", matcher.ErrParents},
		{"a zero BSN", e, func(r *matcher.Registration) { r.Parents = []identity.BSN{{}} }, "parents", matcher.ErrParents},
		{"the youth's own", e, func(r *matcher.Registration) { r.Parents = []identity.BSN{p1, bsnFor(t, 1)} }, "parents", matcher.ErrParentIsYouth},
		{"an empty address", e, func(r *matcher.Registration) { r.Address = &identity.Address{} }, "address", matcher.ErrAddress},
		{"address matching off", plain, func(r *matcher.Registration) { r.Address = &addr }, "address", matcher.ErrAddressNotEnabled},
		{"a parent's BSN as client reference", e, func(r *matcher.Registration) {
			r.Parents, r.ClientRef = []identity.BSN{p1}, "DOS-"+bsnDigits(t, 7001)
		}, "client_ref", matcher.ErrIdentifiesParent},
		{"a parent's BSN as idempotency key", e, func(r *matcher.Registration) {
			r.Parents, r.IdempotencyKey = []identity.BSN{p2}, "k"+bsnDigits(t, 7002)
		}, "idempotency_key", matcher.ErrIdentifiesParent},
	}
	for _, tt := range tests {
		r := tt.env.involvement(t, 1)
		tt.edit(&r)
		_, err := tt.env.m.Register(ctx, matcher.Actor{Institution: ggd}, r)
		var fe *matcher.FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v on %s", tt.name, err, tt.want, tt.field)
		}
	}
	// Nothing was written: the youth is unknown.
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("a refused report left a registration: %v", err)
	}
	// Two parents and an address are fine.
	r := e.involvement(t, 1)
	r.Parents, r.Address = []identity.BSN{p1, p2}, &addr
	e.register(t, ggd, r)
}

// No oracle: an institution that reports a child whose parent has other
// children registered elsewhere gets the same answer as for a child
// without a known family, and its lookups answer the same; what it learns
// of the family comes only as events to the institutions involved.
func TestFamilyNoOracle(t *testing.T) {
	answers := func(withFamily bool) (matcher.Result, matcher.View, int) {
		e := newFamilyEnv(t, nil)
		parent := bsnFor(t, 7001)
		if withFamily {
			e.reportChild(t, ggd, 2, parent)
		}
		res := e.reportChild(t, wij, 1, parent)
		res.ID = matcher.ID{}
		v, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1))
		if err != nil {
			t.Fatal(err)
		}
		v.ID = matcher.ID{}
		// An institution involved with neither child: nothing.
		if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: school}, e.youth(t, 2)); !errors.Is(err, matcher.ErrNotInvolved) {
			t.Fatalf("uninvolved lookup: %v", err)
		}
		return res, v, len(e.events(t, school))
	}
	r1, v1, n1 := answers(true)
	r2, v2, n2 := answers(false)
	if !reflect.DeepEqual(r1, r2) {
		t.Fatalf("the report's answer tells the family:\n%+v\n%+v", r1, r2)
	}
	if !reflect.DeepEqual(v1, v2) {
		t.Fatalf("the lookup tells the family:\n%+v\n%+v", v1, v2)
	}
	if n1 != 0 || n2 != 0 {
		t.Fatal("an uninvolved institution got events")
	}
}

// Family events count against the reporting youth's events per recipient
// and hour: an institution that changes a youth's parents over and over
// cannot flood another child's institution.
func TestFamilyEventsBounded(t *testing.T) {
	e := newFamilyEnv(t, nil)
	const reports = 3 * matcher.DefaultEventsPerHour
	for i := range reports {
		sib := e.involvement(t, 100+i)
		sib.Parents = []identity.BSN{bsnFor(t, 8000+i)}
		e.register(t, ggd, sib)
	}
	for i := range reports {
		e.reportChild(t, wij, 1, bsnFor(t, 8000+i))
		e.clock.Add(time.Second)
	}
	if n := countType(e.events(t, ggd), store.EventFamilyMatch); n != matcher.DefaultEventsPerHour {
		t.Fatalf("the other children's institution got %d family events in the hour, want %d", n, matcher.DefaultEventsPerHour)
	}
	// The next hour, the count starts again.
	e.clock.Add(time.Hour)
	e.reportChild(t, wij, 1, bsnFor(t, 8000))
	if n := countType(e.events(t, ggd), store.EventFamilyMatch); n != matcher.DefaultEventsPerHour+1 {
		t.Fatalf("after the hour: %d family events, want %d", n, matcher.DefaultEventsPerHour+1)
	}
}

// Rotation loses no family match: a relation written under the old key is
// found by a report under the new one, and the store counts the old key as
// needed while the relation is under it; a new report with the parents
// re-keys it.
func TestFamilyAfterRotation(t *testing.T) {
	e, h := newRotatableEnv(t)
	parent := bsnFor(t, 7001)
	a := e.involvement(t, 1)
	a.Parents = []identity.BSN{parent}
	e.register(t, ggd, a)
	oldKey := e.ps.PrimaryKeyID()
	m2, _ := e.rotated(t, h)
	b := e.involvement(t, 2)
	y2, err := m2.YouthByBSN(bsnFor(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	b.Youth, b.Parents = y2, []identity.BSN{parent}
	if _, err := m2.Register(ctx, matcher.Actor{Institution: wij}, b); err != nil {
		t.Fatal(err)
	}
	for _, inst := range []string{ggd, wij} {
		if n := countType(e.events(t, inst), store.EventFamilyMatch); n != 1 {
			t.Fatalf("%s: %d family matches across a rotation, want 1", inst, n)
		}
	}
	if e.store.LiveByKey()[oldKey] != 1 {
		t.Fatalf("the old key is not counted as needed: %v", e.store.LiveByKey())
	}
	// The GGD's next report with the parents re-keys its relation (and
	// its youth): nothing needs the old key any more, and no new match.
	y1, err := m2.YouthByBSN(bsnFor(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	a.Youth = y1
	if _, err := m2.Register(ctx, matcher.Actor{Institution: ggd}, a); err != nil {
		t.Fatal(err)
	}
	if n := e.store.LiveByKey()[oldKey]; n != 0 {
		t.Fatalf("after the re-report, %d registrations need the old key", n)
	}
	if n := countType(e.events(t, ggd), store.EventFamilyMatch); n != 1 {
		t.Fatalf("a re-keyed relation made a new family match")
	}
}
