package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// testYouths: Youths lists every pseudonym with a live record or an ended
// registration, each once (a youth with both, and one with several ended
// registrations, once), in pages that join without a gap or a repeat; a
// youth whose records are all deleted is listed no more.
func testYouths(t *testing.T, open Opener) {
	s := openStore(t, open)
	want := map[pseudonym.Pseudonym]bool{}
	for n := range 40 {
		y := Youth(uint32(1+n%3), n)
		want[y] = true
		var regs []store.Registration
		switch n % 4 {
		case 0: // live only
			regs = append(regs, Reg(y, "ggd", t0))
		case 1: // history only, two ended registrations
			regs = append(regs, ended(Reg(y, "ggd", t0), t0.Add(time.Hour), store.EndedByInstitution),
				ended(Reg(y, "school", t0), t0.Add(time.Hour), store.EndedByInstitution))
		case 2: // both
			regs = append(regs, Reg(y, "ggd", t0), ended(Reg(y, "school", t0), t0.Add(time.Hour), store.EndedByInstitution))
		case 3: // a case only
			if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
				tx.PutCase(store.Case{Youth: y, Age: -1, Coordinator: "ggd"})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		put(t, s, []pseudonym.Pseudonym{y}, regs...)
	}
	all := func(page int) []pseudonym.Pseudonym {
		t.Helper()
		var got []pseudonym.Pseudonym
		var after pseudonym.Pseudonym
		for {
			ps, err := s.Youths(ctx, after, page)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) > page {
				t.Fatalf("page of %d holds %d", page, len(ps))
			}
			if len(ps) == 0 {
				return got
			}
			got = append(got, ps...)
			after = ps[len(ps)-1]
		}
	}
	for _, page := range []int{1, 3, 7, 100} {
		got := all(page)
		if len(got) != len(want) {
			t.Fatalf("page %d: %d youths listed, want %d", page, len(got), len(want))
		}
		seen := map[pseudonym.Pseudonym]bool{}
		for i, p := range got {
			if !want[p] || seen[p] {
				t.Fatalf("page %d: youth %d listed wrongly (unknown or twice)", page, i)
			}
			seen[p] = true
			if i > 0 && bytes.Compare(keyOf(got[i-1]), keyOf(p)) >= 0 {
				t.Fatalf("page %d: not in order at %d", page, i)
			}
		}
	}
	// Delete every record of one youth of each shape: gone from the list.
	gone := []pseudonym.Pseudonym{Youth(1, 0), Youth(2, 1), Youth(3, 2)}
	for _, y := range gone {
		if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			for _, r := range append(tx.Registrations(), tx.History()...) {
				tx.Delete(r.ID)
			}
			tx.DeleteCase()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	got := all(5)
	for _, y := range gone {
		if slices.Contains(got, y) {
			t.Fatalf("a youth without records is still listed")
		}
	}
	if len(got) != len(want)-len(gone) {
		t.Fatalf("%d listed after deletes, want %d", len(got), len(want)-len(gone))
	}
}

func keyOf(p pseudonym.Pseudonym) []byte {
	b := []byte{byte(p.KeyID >> 24), byte(p.KeyID >> 16), byte(p.KeyID >> 8), byte(p.KeyID)}
	return append(b, p.Sum[:]...)
}

// testElementKept: a registration's sealed element is kept, live and
// ended, across a re-open and a move to another pseudonym, and counted by
// its key in RefsByKey.
func testElementKept(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	y, y2 := Youth(1, 1), Youth(2, 1)
	a := Reg(y, "ggd", t0)
	a.Element = []byte{1, 0, 0, 0, 42, 0xee, 0xee}
	b := ended(Reg(y, "school", t0), t0.Add(time.Hour), store.EndedByInstitution)
	b.Element = []byte{1, 0, 0, 0, 42, 0xdd}
	put(t, s, []pseudonym.Pseudonym{y}, a, b)
	if ku, ok := s.(store.KeyUse); ok {
		if n := ku.RefsByKey()[42]; n != 2 {
			t.Fatalf("RefsByKey[42] = %d, want 2", n)
		}
	}
	a.Youth, b.Youth = y2, y2
	put(t, s, []pseudonym.Pseudonym{y2, y}, a, b)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, open)
	live, hist, _, _ := history(t, s, b.ID, y2)
	if len(live) != 1 || len(hist) != 1 {
		t.Fatalf("after the move and re-open: %d live, %d ended", len(live), len(hist))
	}
	sameReg(t, live[0], a)
	sameReg(t, hist[0], b)
	if ku, ok := s.(store.KeyUse); ok {
		if n := ku.RefsByKey()[42]; n != 2 {
			t.Fatalf("RefsByKey[42] after re-open = %d, want 2", n)
		}
	}
}
