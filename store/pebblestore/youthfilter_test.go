package pebblestore

import (
	"context"
	"crypto/rand"
	"hash/maphash"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

func randomYouth(keyID uint32) pseudonym.Pseudonym {
	p := pseudonym.Pseudonym{KeyID: keyID}
	rand.Read(p.Sum[:])
	return p
}

// The filter never says no for a key it was given, also while it grows
// under concurrent use, and rarely says maybe for one it was not.
func TestYouthFilter(t *testing.T) {
	f := &youthFilter{seed: maphash.MakeSeed(), fs: []*bitFilter{newBitFilter(1000)}}
	const n = 20000
	added := make([]pseudonym.Pseudonym, n)
	for i := range added {
		added[i] = randomYouth(uint32(1 + i%3))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				f.add(added[i])
				if !f.mayContain(added[i]) {
					t.Errorf("key %d missing right after add", i)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(f.fs) < 4 {
		t.Fatalf("the filter did not grow: %d filters for %d keys", len(f.fs), n)
	}
	for i, p := range added {
		if !f.mayContain(p) {
			t.Fatalf("false negative for key %d", i)
		}
	}
	fp := 0
	for range n {
		if f.mayContain(randomYouth(1)) {
			fp++
		}
	}
	// About 1% per filter; a few filters are checked.
	if rate := float64(fp) / n; rate > 0.06 {
		t.Fatalf("false positive rate %.3f", rate)
	}
	// A key ID is part of the key.
	q := 0
	for i := range 1000 {
		p := added[i]
		p.KeyID += 100
		if f.mayContain(p) {
			q++
		}
	}
	if q > 100 {
		t.Fatalf("the key ID does not count: %d of 1000", q)
	}
}

// After a reopen, the filter holds every youth on disk: a youth written
// before is found again.
func TestYouthFilterAfterReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s, err := Open(dir, &Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// An empty store counts zero, not "unknown".
	if s.LiveByKey() == nil || s.RefsByKey() == nil {
		t.Fatal("an empty store's counts are nil")
	}
	var youths []pseudonym.Pseudonym
	for i := range 50 {
		y := randomYouth(7)
		youths = append(youths, y)
		err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			r := store.Registration{ID: store.NewID(), Youth: y, Institution: "x", Kind: store.KindSignal, SignalCode: "S", Municipality: "GM0014"}
			if i%5 == 0 { // a sealed reference under reference key 9 or 10
				r.ClientRef = []byte{1, 0, 0, 0, byte(9 + i%2), 0xee, 0xff}
			}
			tx.Put(r)
			return nil
		})
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if got := s.LiveByKey(); len(got) != 1 || got[7] != 50 {
		t.Fatalf("live by key: %v", got)
	}
	if got := s.RefsByKey(); len(got) != 2 || got[9] != 5 || got[10] != 5 {
		t.Fatalf("references by key: %v", got)
	}
	// End one: it no longer counts.
	err = s.Update(ctx, []pseudonym.Pseudonym{youths[0]}, func(tx store.Tx) error {
		r := tx.Registrations()[0]
		r.EndedAt, r.EndReason, r.PurgeOn = r.CreatedAt.Add(1), store.EndReason(1), r.CreatedAt.AddDate(5, 0, 0)
		tx.Put(r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.LiveByKey(); got[7] != 49 {
		t.Fatalf("live by key after an end: %v", got)
	}
	s.Close()
	s, err = Open(dir, &Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.LiveByKey(); len(got) != 1 || got[7] != 49 {
		t.Fatalf("live by key after a reopen: %v", got)
	}
	// An ended registration keeps its reference: still counted.
	if got := s.RefsByKey(); len(got) != 2 || got[9] != 5 || got[10] != 5 {
		t.Fatalf("references by key after a reopen: %v", got)
	}
	for i, y := range youths {
		// Youth 0 has only an ended registration: no live record to
		// filter for, its history apart.
		var live, ended int
		s.View(ctx, []pseudonym.Pseudonym{y}, func(r store.Reader) error {
			live, ended = len(r.Registrations()), len(r.History())
			return nil
		})
		if i == 0 {
			if live != 0 || ended != 1 {
				t.Fatalf("youth 0: %d live and %d ended registrations after a reopen", live, ended)
			}
			continue
		}
		if !s.youths.mayContain(y) {
			t.Fatalf("youth %d not in the filter after a reopen", i)
		}
		if live != 1 || ended != 0 {
			t.Fatalf("youth %d: %d live and %d ended registrations after a reopen", i, live, ended)
		}
	}
}
