package pebblestore

import (
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
)

// recordSize returns the size of p's youth record, 0 if there is none.
func recordSize(t *testing.T, s *Store, p pseudonym.Pseudonym) int {
	t.Helper()
	v, closer, err := s.db.Get(youthKey(p))
	if err == pebble.ErrNotFound {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return len(v)
}

// TestLiveRecordDoesNotGrowWithHistory: an institution that registers and
// ends the same youth a thousand times leaves the youth's live record as it
// was; a view reads no more than that record.
func TestLiveRecordDoesNotGrowWithHistory(t *testing.T) {
	s, err := Open(t.TempDir(), &Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	y := storetest.Youth(1, 1)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	victim := storetest.Reg(y, "ggd", at)
	if err := s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.Put(victim)
		tx.PutCase(store.Case{Youth: y, Age: 12})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before := recordSize(t, s, y)
	const cycles = 1000
	for i := range cycles {
		r := storetest.Reg(y, "school", at.Add(time.Duration(i)*time.Second))
		if err := s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			tx.Put(r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		r.EndedAt, r.EndReason, r.PurgeOn = r.CreatedAt.Add(time.Second), store.EndedByInstitution, r.CreatedAt.AddDate(5, 0, 0)
		if err := s.UpdateByID(bg, r.ID, func(tx store.Tx) error {
			tx.Put(r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if after := recordSize(t, s, y); after != before {
		t.Fatalf("the live record grew with the history: %d bytes before, %d after %d ended registrations", before, after, cycles)
	}
	var live, hist int
	if err := s.View(bg, []pseudonym.Pseudonym{y}, func(r store.Reader) error {
		live, hist = len(r.Registrations()), len(r.History())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if live != 1 || hist != cycles {
		t.Fatalf("live %d, history %d; want 1 and %d", live, hist, cycles)
	}
}

// TestMigrateHistory: a schema 1 store, whose youth records hold their
// ended registrations, is moved to schema 2 at Open: the ended ones in the
// history, the live ones and the case in the youth record, a youth of
// history only without a record; counts and indexes as before.
func TestMigrateHistory(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, &Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	end := func(r store.Registration) store.Registration {
		r.EndedAt, r.EndReason, r.PurgeOn = at.Add(time.Hour), store.EndedByExpiry, at.AddDate(5, 0, 0)
		r.ClientRef = []byte{1, 0, 0, 0, 9, 'x'}
		return r
	}
	mixed, onlyEnded := storetest.Youth(1, 1), storetest.Youth(1, 2)
	live, gone := storetest.Reg(mixed, "ggd", at), end(storetest.Reg(mixed, "school", at))
	alone := end(storetest.Reg(onlyEnded, "ggd", at))
	// Written as schema 1 wrote them: ended registrations in the record,
	// with their by-ID and purge index entries.
	b := s.db.NewBatch()
	for _, w := range []struct {
		p   pseudonym.Pseudonym
		rec youthRecord
	}{
		{mixed, youthRecord{hasCase: true, kase: store.Case{Youth: mixed, Age: 14}, regs: []store.Registration{live, gone}}},
		{onlyEnded, youthRecord{regs: []store.Registration{alone}}},
	} {
		b.Set(youthKey(w.p), encodeYouth(nil, &w.rec), nil)
		for _, r := range w.rec.regs {
			b.Set(byIDKey(r.ID), appendYouth(nil, r.Youth), nil)
			b.Set(dayIndex(&r), nil, nil)
		}
	}
	b.Set(schemaKey, []byte{schemaV1}, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(dir, &Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, closer, err := s.db.Get(schemaKey); err != nil || len(v) != 1 || v[0] != schemaV3 {
		t.Fatalf("schema after the migration: %v %v", v, err)
	} else {
		closer.Close()
	}
	if recordSize(t, s, onlyEnded) != 0 {
		t.Fatal("a youth of history only kept its record")
	}
	if err := s.View(bg, []pseudonym.Pseudonym{mixed}, func(r store.Reader) error {
		regs, hist := r.Registrations(), r.History()
		if c, ok := r.Case(); !ok || c.Age != 14 {
			t.Errorf("case after the migration: %+v %v", c, ok)
		}
		if len(regs) != 1 || regs[0].ID != live.ID || len(hist) != 1 || hist[0].ID != gone.ID {
			t.Errorf("after the migration: live %v, history %v", regs, hist)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []store.Registration{gone, alone} {
		if got, err := s.Registration(bg, r.ID); err != nil || got.EndReason != store.EndedByExpiry {
			t.Fatalf("Registration of a migrated ended one: %+v %v", got, err)
		}
	}
	if got := s.LiveByKey(); len(got) != 1 || got[1] != 1 {
		t.Fatalf("live by key: %v", got)
	}
	if got := s.RefsByKey(); len(got) != 1 || got[9] != 2 {
		t.Fatalf("references by key: %v", got)
	}
	if due, err := s.Due(bg, at.AddDate(6, 0, 0), 10); err != nil || len(due) != 3 {
		t.Fatalf("due: %v %v", due, err)
	}
}

// TestViewReturnsReadErrors: a history record that does not decode fails
// the view that reads it (ErrCorrupt), instead of reading as no history.
func TestViewReturnsReadErrors(t *testing.T) {
	s := memStore(t)
	y := storetest.Youth(1, 1)
	if err := s.db.Set(historyKey(y, store.NewID()), []byte{99, 1, 2}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	var n int
	err := s.View(bg, []pseudonym.Pseudonym{y}, func(rd store.Reader) error {
		n = len(rd.History())
		return nil
	})
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("view over a corrupt history record: %v (%d read)", err, n)
	}
}
