package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// FamilyKey returns a deterministic test relation key n under key keyID (a
// parent's or an address's pseudonym).
func FamilyKey(keyID uint32, n int) pseudonym.Pseudonym {
	p := Youth(keyID, n)
	p.Sum[0] ^= 0xf0
	return p
}

// sameRelations compares relations, their times by instant.
func sameRelations(a, b []store.Relation) bool {
	return slices.EqualFunc(a, b, func(x, y store.Relation) bool {
		return x.Type == y.Type && x.Key == y.Key && x.Since.Equal(y.Since)
	})
}

// relReg is a live registration of youth by institution with relations
// under keys (the first a parent, the rest addresses).
func relReg(youth pseudonym.Pseudonym, institution string, keys ...pseudonym.Pseudonym) store.Registration {
	r := Reg(youth, institution, t0)
	for i, k := range keys {
		typ := store.RelationParent
		if i > 0 {
			typ = store.RelationAddress
		}
		r.Relations = append(r.Relations, store.Relation{Type: typ, Key: k, Since: t0})
	}
	return r
}

// family reads the family of keys as the update of youth sees it.
func family(t *testing.T, s store.Store, youth pseudonym.Pseudonym, limit int, keys ...pseudonym.Pseudonym) []store.FamilyMember {
	t.Helper()
	var out []store.FamilyMember
	err := s.UpdateFamily(ctx, []pseudonym.Pseudonym{youth}, keys, func(tx store.Tx) error {
		out = tx.Family(keys, limit)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateFamily: %v", err)
	}
	return out
}

func memberIDs(ms []store.FamilyMember) []store.ID {
	var out []store.ID
	for _, m := range ms {
		out = append(out, m.Registration)
	}
	slices.SortFunc(out, func(a, b store.ID) int { return slices.Compare(a[:], b[:]) })
	return out
}

func ids(regs ...store.Registration) []store.ID {
	var out []store.ID
	for _, r := range regs {
		out = append(out, r.ID)
	}
	slices.SortFunc(out, func(a, b store.ID) int { return slices.Compare(a[:], b[:]) })
	return out
}

func testFamily(t *testing.T, open Opener) {
	s := openStore(t, open)
	parent, home := FamilyKey(1, 1), FamilyKey(1, 2)
	a, b, c := Youth(1, 1), Youth(1, 2), Youth(1, 3)
	ra := relReg(a, "ggd", parent, home)
	rb := relReg(b, "school", parent)
	put(t, s, []pseudonym.Pseudonym{a}, ra)
	put(t, s, []pseudonym.Pseudonym{b}, rb)

	// The registration keeps its relations.
	got, err := s.Registration(ctx, ra.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameReg(t, got, ra)

	// A third youth sees both; a member never sees itself.
	if got := memberIDs(family(t, s, c, 64, parent)); !slices.Equal(got, ids(ra, rb)) {
		t.Fatalf("family of the parent: %d members, want both", len(got))
	}
	ms := family(t, s, a, 64, parent, home)
	if len(ms) != 1 || ms[0].Registration != rb.ID {
		t.Fatalf("youth a sees %d members, want b's registration only", len(ms))
	}
	m := ms[0]
	if m.Youth != b || m.Institution != "school" || m.Kind != rb.Kind || m.Contact != rb.Contact ||
		m.Type != store.RelationParent || m.Key != parent || !m.Since.Equal(t0) || !m.EndsOn.Equal(rb.EndsOn) {
		t.Fatalf("member = %+v", m)
	}
	if got := family(t, s, c, 64, home); len(got) != 1 || got[0].Registration != ra.ID || got[0].Type != store.RelationAddress {
		t.Fatalf("family of the address: %+v", got)
	}
	if got := family(t, s, c, 64, FamilyKey(1, 99)); len(got) != 0 {
		t.Fatalf("unknown key has %d members", len(got))
	}
	// Another key ID is another key.
	if got := family(t, s, c, 64, FamilyKey(2, 1)); len(got) != 0 {
		t.Fatalf("key under another key ID has %d members", len(got))
	}

	// A refresh that drops the address drops its entry.
	ra.Relations = ra.Relations[:1]
	put(t, s, []pseudonym.Pseudonym{a}, ra)
	if got := family(t, s, c, 64, home); len(got) != 0 {
		t.Fatalf("dropped relation still has %d members", len(got))
	}

	// FamilyYouth reads another youth's case and live registrations.
	if err := s.Update(ctx, []pseudonym.Pseudonym{b}, func(tx store.Tx) error {
		tx.PutCase(store.Case{Youth: b, Coordinator: "school", Age: 9})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.UpdateFamily(ctx, []pseudonym.Pseudonym{a}, []pseudonym.Pseudonym{parent}, func(tx store.Tx) error {
		if k, live, ok := tx.FamilyYouth(b); !ok || k.Coordinator != "school" || len(live) != 1 || live[0].ID != rb.ID {
			t.Errorf("FamilyYouth(b) = %+v, %d live, %v", k, len(live), ok)
		}
		if _, live, ok := tx.FamilyYouth(c); ok || len(live) != 0 {
			t.Error("FamilyYouth of a youth without records")
		}
		return nil
	})
	// A view's and an update's records are the same after re-open.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, open)
	if got := memberIDs(family(t, s, c, 64, parent)); !slices.Equal(got, ids(ra, rb)) {
		t.Fatalf("after re-open: %d members, want 2", len(got))
	}
}

// An ended, deleted or purged registration leaves no family entry; a
// revived one is back.
func testFamilyEnds(t *testing.T, open Opener) {
	s := openStore(t, open)
	parent := FamilyKey(1, 1)
	a, b, c := Youth(1, 1), Youth(1, 2), Youth(1, 3)
	ra, rb := relReg(a, "ggd", parent), relReg(b, "school", parent)
	put(t, s, []pseudonym.Pseudonym{a}, ra)
	put(t, s, []pseudonym.Pseudonym{b}, rb)

	ended := ra
	ended.EndedAt, ended.EndReason, ended.PurgeOn = t0.Add(time.Hour), store.EndedByInstitution, day(2031, 3, 2)
	put(t, s, []pseudonym.Pseudonym{a}, ended)
	if got := memberIDs(family(t, s, c, 64, parent)); !slices.Equal(got, ids(rb)) {
		t.Fatalf("after an end: %d members, want b's only", len(got))
	}
	put(t, s, []pseudonym.Pseudonym{a}, ra) // revived
	if got := family(t, s, c, 64, parent); len(got) != 2 {
		t.Fatalf("after revival: %d members, want 2", len(got))
	}
	if err := s.Update(ctx, []pseudonym.Pseudonym{b}, func(tx store.Tx) error { tx.Delete(rb.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	put(t, s, []pseudonym.Pseudonym{a}, ended)
	if err := s.Update(ctx, []pseudonym.Pseudonym{a}, func(tx store.Tx) error { tx.Delete(ra.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if got := family(t, s, c, 64, parent); len(got) != 0 {
		t.Fatalf("after delete: %d members", len(got))
	}
}

// A registration migrated to another key keeps its relations, and the
// family index names it by its new pseudonym.
func testFamilyMigrate(t *testing.T, open Opener) {
	s := openStore(t, open)
	parent := FamilyKey(1, 1)
	old, nu, c := Youth(1, 1), Youth(2, 1), Youth(1, 3)
	r := relReg(old, "ggd", parent)
	put(t, s, []pseudonym.Pseudonym{old}, r)
	r.Youth = nu
	put(t, s, []pseudonym.Pseudonym{nu, old}, r)
	ms := family(t, s, c, 64, parent)
	if len(ms) != 1 || ms[0].Youth != nu {
		t.Fatalf("after migration: %+v", ms)
	}
	// The youth itself, by either pseudonym, is not its own family.
	if got := family(t, s, nu, 64, parent); len(got) != 0 {
		t.Fatalf("youth sees itself: %d", len(got))
	}
	// The relation still needs the old key: it counts under both.
	ku, ok := s.(store.KeyUse)
	if !ok {
		return
	}
	if live := ku.LiveByKey(); live[1] != 1 || live[2] != 1 {
		t.Fatalf("LiveByKey = %v, want the registration under key 2 and its relation under key 1", live)
	}
	// Re-keyed relations, then ended: nothing counted.
	r.Relations[0].Key = FamilyKey(2, 1)
	put(t, s, []pseudonym.Pseudonym{nu, old}, r)
	if live := ku.LiveByKey(); live[1] != 0 || live[2] != 1 {
		t.Fatalf("after re-keying: LiveByKey = %v", live)
	}
	r.Relations[0].Key = parent
	put(t, s, []pseudonym.Pseudonym{nu, old}, r)
	r.EndedAt, r.EndReason, r.PurgeOn = t0.Add(time.Hour), store.EndedByInstitution, day(2031, 3, 2)
	put(t, s, []pseudonym.Pseudonym{nu, old}, r)
	if live := ku.LiveByKey(); len(live) != 0 {
		t.Fatalf("after the end: LiveByKey = %v", live)
	}
}

func testFamilyLimit(t *testing.T, open Opener) {
	s := openStore(t, open)
	k1, k2 := FamilyKey(1, 1), FamilyKey(1, 2)
	for i := range 10 {
		y := Youth(1, 100+i)
		put(t, s, []pseudonym.Pseudonym{y}, relReg(y, "ggd", k1, k2))
	}
	for _, limit := range []int{0, 1, 3, 10, 15, 64} {
		got := family(t, s, Youth(1, 1), limit, k1, k2)
		if want := min(limit, 20); len(got) != want {
			t.Errorf("limit %d: %d members, want %d", limit, len(got), want)
		}
		for i, m := range got {
			if want := k1; i >= 10 {
				if m.Key != k2 {
					t.Errorf("limit %d: member %d under the wrong key", limit, i)
				}
			} else if m.Key != want {
				t.Errorf("limit %d: member %d under the wrong key", limit, i)
			}
		}
	}
}

func testFamilyNotes(t *testing.T, open Opener) {
	s := openStore(t, open)
	parent := FamilyKey(1, 1)
	a, b := Youth(1, 1), Youth(1, 2)
	ra, rb := relReg(a, "ggd", parent), relReg(b, "school", parent)
	put(t, s, []pseudonym.Pseudonym{b}, rb)
	err := s.UpdateFamily(ctx, []pseudonym.Pseudonym{a}, []pseudonym.Pseudonym{parent}, func(tx store.Tx) error {
		tx.Put(ra)
		if tx.FamilyNoticed(ra.ID, rb.ID) {
			t.Error("noticed before NoteFamily")
		}
		tx.NoteFamily(ra.ID, rb.ID)
		if !tx.FamilyNoticed(rb.ID, ra.ID) {
			t.Error("staged note not read")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	noticed := func(x, y store.ID) (n bool) {
		s.Update(ctx, []pseudonym.Pseudonym{a}, func(tx store.Tx) error { n = tx.FamilyNoticed(x, y); return nil })
		return n
	}
	if !noticed(ra.ID, rb.ID) || !noticed(rb.ID, ra.ID) {
		t.Fatal("note not committed in both orders")
	}
	// The note goes when either registration ends.
	ended := rb
	ended.EndedAt, ended.EndReason, ended.PurgeOn = t0.Add(time.Hour), store.EndedByExpiry, day(2031, 3, 2)
	put(t, s, []pseudonym.Pseudonym{b}, ended)
	if noticed(ra.ID, rb.ID) || noticed(rb.ID, ra.ID) {
		t.Fatal("note kept after its registration ended")
	}
}

// Updates that add a relation under one family key are serialised: each
// sees every one committed before it, so of n youths reported at once
// with the same parent, the k-th sees k-1 members, and every pair is seen
// exactly once.
func testFamilySerialised(t *testing.T, open Opener) {
	s := openStore(t, open)
	parent := FamilyKey(1, 1)
	const n = 16
	seen := make([]int, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			y := Youth(1, 500+i)
			errs <- s.UpdateFamily(ctx, []pseudonym.Pseudonym{y}, []pseudonym.Pseudonym{parent}, func(tx store.Tx) error {
				seen[i] = len(tx.Family([]pseudonym.Pseudonym{parent}, 64))
				tx.Put(relReg(y, fmt.Sprintf("inst-%d", i), parent))
				return nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(seen)
	for i, k := range seen {
		if k != i {
			t.Fatalf("members seen = %v, want 0, 1, …, %d: two updates of one family ran at once", seen, n-1)
		}
	}
}
