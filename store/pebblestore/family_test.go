package pebblestore

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
)

// familyKeys counts the family index entries and pair notes on disk.
func familyKeys(t *testing.T, s *Store) (index, notes int) {
	t.Helper()
	it, err := s.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		switch it.Key()[0] {
		case prefixFamily:
			index++
		case prefixFamilyNote:
			notes++
		}
	}
	return index, notes
}

// Every way a registration stops being live leaves no family index entry
// and no pair note behind, as the keys on disk show.
func TestFamilyIndexFollowsLiveRegistrations(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	parent, home := storetest.FamilyKey(1, 1), storetest.FamilyKey(1, 2)
	reg := func(y pseudonym.Pseudonym, inst string) store.Registration {
		r := storetest.Reg(y, inst, at)
		r.Relations = []store.Relation{{Type: store.RelationParent, Key: parent, Since: at}, {Type: store.RelationAddress, Key: home, Since: at}}
		return r
	}
	for _, how := range []string{"ended", "removed", "purged", "ended-unjustified"} {
		t.Run(how, func(t *testing.T) {
			s := memStore(t)
			a, b := storetest.Youth(1, 1), storetest.Youth(1, 2)
			ra, rb := reg(a, "ggd"), reg(b, "school")
			update := func(y pseudonym.Pseudonym, fn func(tx store.Tx)) {
				t.Helper()
				if err := s.UpdateFamily(bg, []pseudonym.Pseudonym{y}, []pseudonym.Pseudonym{parent, home}, func(tx store.Tx) error { fn(tx); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			update(a, func(tx store.Tx) { tx.Put(ra) })
			update(b, func(tx store.Tx) { tx.Put(rb); tx.NoteFamily(rb.ID, ra.ID) })
			if i, n := familyKeys(t, s); i != 4 || n != 2 {
				t.Fatalf("live: %d index entries and %d notes, want 4 and 2", i, n)
			}
			ended := ra
			ended.EndedAt, ended.EndReason, ended.PurgeOn = at.Add(time.Hour), store.EndedByInstitution, at.AddDate(5, 0, 0)
			switch how {
			case "ended":
				update(a, func(tx store.Tx) { tx.Put(ended) })
			case "removed", "ended-unjustified":
				update(a, func(tx store.Tx) { tx.Delete(ra.ID) })
			case "purged":
				update(a, func(tx store.Tx) { tx.Put(ended) })
				update(a, func(tx store.Tx) { tx.Delete(ra.ID) })
			}
			if i, n := familyKeys(t, s); i != 2 || n != 0 {
				t.Fatalf("after %s: %d index entries and %d notes, want 2 (b's) and 0", how, i, n)
			}
			update(b, func(tx store.Tx) { tx.Delete(rb.ID) })
			if i, n := familyKeys(t, s); i != 0 || n != 0 {
				t.Fatalf("all gone: %d index entries and %d notes left", i, n)
			}
		})
	}
}
