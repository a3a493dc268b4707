package storetest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// keyUse opens the store and returns it as a KeyUse, or skips the test for
// a backend that counts no key use.
func keyUse(t *testing.T, open Opener) (store.Store, store.KeyUse) {
	t.Helper()
	s := openStore(t, open)
	ku, ok := s.(store.KeyUse)
	if !ok {
		t.Skip("the backend counts no key use")
	}
	return s, ku
}

// SealedRef returns bytes shaped as a client reference sealed under the
// reference key keyID: Tink's output prefix (version byte 1, the key ID
// big-endian) and then body, as store.RefKeyID reads them.
func SealedRef(keyID uint32, body string) []byte {
	b := binary.BigEndian.AppendUint32([]byte{1}, keyID)
	return append(b, body...)
}

// use is a want for KeyUse counts.
type use map[uint32]int64

// wantUse fails the test unless got has exactly the keys and counts of
// want: not nil, and no zero entries for keys with nothing counted.
func wantUse(t *testing.T, what string, got map[uint32]int64, want use) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil map, want %v", what, want)
	}
	if !maps.Equal(got, map[uint32]int64(want)) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func ended(r store.Registration, at time.Time, why store.EndReason) store.Registration {
	r.EndedAt, r.EndReason, r.PurgeOn = at, why, day(at.Year()+5, at.Month(), at.Day())
	return r
}

func deleteByID(t *testing.T, s store.Store, id store.ID) {
	t.Helper()
	if err := s.UpdateByID(ctx, id, func(tx store.Tx) error {
		tx.Delete(id)
		return nil
	}); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

// testKeyUseLive follows one youth through a key rotation (DESIGN.md
// invariant 7: an old key is retired only when nothing live depends on
// it): registrations under the old key, a new one under the new key, a
// migration, an end, a removal and a re-open, until no live registration
// needs either key. Refreshes, repeated Puts in one update, failed and
// refused updates must not move the counts.
func testKeyUseLive(t *testing.T, open Opener) {
	s, ku := keyUse(t, open)
	live := func(want use) {
		t.Helper()
		wantUse(t, "LiveByKey", ku.LiveByKey(), want)
	}
	live(use{})
	old, cur, other := Youth(1, 1), Youth(2, 1), Youth(2, 2)
	both := []pseudonym.Pseudonym{cur, old}
	a, b, c := Reg(old, "ggd", t0), Reg(old, "school", t0), Reg(other, "wij", t0)
	put(t, s, []pseudonym.Pseudonym{old}, a, b)
	put(t, s, []pseudonym.Pseudonym{other}, c)
	live(use{1: 2, 2: 1})

	// A refresh keeps the key and the state: no change.
	a.UpdatedAt = t0.Add(time.Hour)
	put(t, s, []pseudonym.Pseudonym{old}, a)
	live(use{1: 2, 2: 1})
	// A registration Put twice in one update is one registration; one Put
	// and deleted in the same update is none.
	d := Reg(cur, "police", t0)
	if err := s.Update(ctx, both, func(tx store.Tx) error {
		tx.Put(d)
		d.Urgent = true
		tx.Put(d)
		gone := Reg(cur, "veilig-thuis", t0)
		tx.Put(gone)
		tx.Delete(gone.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The youth now has registrations under two keys.
	live(use{1: 2, 2: 2})

	// Updates that write nothing count nothing.
	failUpdates(t, s, both, a.ID)
	live(use{1: 2, 2: 2})

	// Migration: Put with the new pseudonym moves a to the new key.
	a.Youth = cur
	put(t, s, both, a)
	live(use{1: 1, 2: 3})
	// Ending b, the last live registration under key 1, frees key 1 (the
	// ended record stays under it, and needs it no more); so does a
	// change to the ended record.
	b = ended(b, t0.Add(2*time.Hour), store.EndedByInstitution)
	put(t, s, []pseudonym.Pseudonym{old}, b)
	live(use{2: 3})
	b.PurgeOn = b.PurgeOn.AddDate(0, 0, 1)
	put(t, s, []pseudonym.Pseudonym{old}, b)
	live(use{2: 3})
	// A removal (hard delete) of a live one.
	deleteByID(t, s, c.ID)
	live(use{2: 2})

	// The counts are the data's after a re-open.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, open)
	ku = s.(store.KeyUse)
	live(use{2: 2})

	// Ended by closing the case, and by expiry: nothing live needs key 2.
	put(t, s, []pseudonym.Pseudonym{cur},
		ended(a, t0.Add(3*time.Hour), store.EndedByClose), ended(d, t0.Add(3*time.Hour), store.EndedByExpiry))
	live(use{})
	// Purged: still nothing.
	deleteByID(t, s, b.ID)
	live(use{})
}

// failUpdates runs an update of youth that fails and one that is refused
// (ErrConflict), each staging a new registration and the deletion of id.
func failUpdates(t *testing.T, s store.Store, youth []pseudonym.Pseudonym, id store.ID) {
	t.Helper()
	boom := errors.New("boom")
	if err := s.Update(ctx, youth, func(tx store.Tx) error {
		tx.Put(Reg(youth[0], "jeugdarts", t0))
		tx.Delete(id)
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failed update: %v", err)
	}
	if err := s.Update(ctx, youth, func(tx store.Tx) error {
		tx.Put(Reg(youth[0], "jeugdarts", t0))
		tx.Delete(id)
		tx.Put(Reg(Youth(1, 99), "jeugdarts", t0))
		return nil
	}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("conflicting update: %v", err)
	}
}

// testKeyUseRefs counts client references per reference key: a reference
// sealed anew under another key moves, an ended registration keeps its
// reference until it is purged, a registration's migration to another
// PRF key does not move its reference, and bytes that name no key are
// not counted.
func testKeyUseRefs(t *testing.T, open Opener) {
	s, ku := keyUse(t, open)
	refs := func(want use) {
		t.Helper()
		wantUse(t, "RefsByKey", ku.RefsByKey(), want)
	}
	refs(use{})
	y, y2 := Youth(1, 3), Youth(2, 3)
	a, b, c, d := Reg(y, "ggd", t0), Reg(y, "school", t0), Reg(y, "wij", t0), Reg(y, "police", t0)
	a.ClientRef = SealedRef(10, "a")
	b.ClientRef = SealedRef(11, "b")
	d.ClientRef = []byte("names no key")
	put(t, s, []pseudonym.Pseudonym{y}, a, b, c, d)
	refs(use{10: 1, 11: 1})
	wantUse(t, "LiveByKey", ku.LiveByKey(), use{1: 4})

	// Reported again: sealed anew under the primary, key 11.
	a.ClientRef = SealedRef(11, "a, again")
	put(t, s, []pseudonym.Pseudonym{y}, a)
	refs(use{11: 2})
	// Ended, a keeps its reference.
	a = ended(a, t0.Add(time.Hour), store.EndedByInstitution)
	put(t, s, []pseudonym.Pseudonym{y}, a)
	refs(use{11: 2})
	// b moves to PRF key 2; its reference is still one, under key 11.
	b.Youth = y2
	put(t, s, []pseudonym.Pseudonym{y2, y}, b)
	refs(use{11: 2})
	// A reference given to c, and dropped from b.
	c.ClientRef = SealedRef(12, "c")
	b.ClientRef = nil
	if err := s.Update(ctx, []pseudonym.Pseudonym{y2, y}, func(tx store.Tx) error {
		tx.Put(c)
		tx.Put(b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	refs(use{11: 1, 12: 1})

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, open)
	ku = s.(store.KeyUse)
	refs(use{11: 1, 12: 1})

	// a purged, c removed: no stored reference needs any key.
	deleteByID(t, s, a.ID)
	refs(use{12: 1})
	deleteByID(t, s, c.ID)
	refs(use{})
	wantUse(t, "LiveByKey", ku.LiveByKey(), use{1: 1, 2: 1})
}

// testKeyUseConcurrent: updates of many youths at once lose no count.
func testKeyUseConcurrent(t *testing.T, open Opener) {
	s, ku := keyUse(t, open)
	const workers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				y := Youth(uint32(1+w%2), w*1000+i)
				a, b := Reg(y, "ggd", t0), Reg(y, fmt.Sprintf("inst-%d", i), t0)
				a.ClientRef = SealedRef(uint32(20+w%3), "a")
				b.ClientRef = SealedRef(30, "b")
				err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
					tx.Put(a)
					tx.Put(b)
					return nil
				})
				if err == nil {
					err = s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
						tx.Put(ended(b, t0.Add(time.Hour), store.EndedByExpiry))
						return nil
					})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Per worker: each youths with one live registration (a) under PRF
	// key 1+w%2; references: a's under 20+w%3, b's (ended) under 30.
	live, refs := use{}, use{30: workers * each}
	for w := range workers {
		live[uint32(1+w%2)] += each
		refs[uint32(20+w%3)] += each
	}
	wantUse(t, "LiveByKey", ku.LiveByKey(), live)
	wantUse(t, "RefsByKey", ku.RefsByKey(), refs)
}

// testCheck: a healthy store checks out; a closed one reports ErrClosed.
func testCheck(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	ck, ok := s.(store.Checker)
	if !ok {
		s.Close()
		t.Skip("the backend has no check")
	}
	if err := ck.Check(ctx); err != nil {
		t.Fatalf("Check on a healthy store: %v", err)
	}
	// Check writes nothing a reader sees.
	if evs, err := s.Events(ctx, "", 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("after Check: events %v, %v", evs, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ck.Check(ctx); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Check after Close: %v, want ErrClosed", err)
	}
}
