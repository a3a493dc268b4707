package pebblestore

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
)

// TestMigrateAuditIndex: a store of schema 2 kept its audit entries without
// the index by youth reference; Open indexes every one of them (more than
// one batch), marks the store schema 3, and AuditEntriesOf then finds them
// all, in order.
func TestMigrateAuditIndex(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, &Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	a, b := storetest.Youth(5, 1), storetest.Youth(5, 2)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const n = 5000
	entries := make([]store.AuditEntry, n)
	for i := range entries {
		entries[i] = store.AuditEntry{At: at, Institution: "ggd", Verb: store.AuditLookup, Youth: a, Outcome: "ok"}
		switch i % 3 {
		case 1:
			entries[i].Youth = b
		case 2:
			entries[i].Youth, entries[i].Verb = pseudonym.Pseudonym{}, store.AuditKeyRotate
		}
	}
	if err := s.AppendAudit(bg, entries...); err != nil {
		t.Fatal(err)
	}
	// As schema 2 left it: no index.
	batch := s.db.NewBatch()
	if err := batch.DeleteRange([]byte{prefixAuditYouth}, []byte{prefixAuditYouth + 1}, nil); err != nil {
		t.Fatal(err)
	}
	batch.Set(schemaKey, []byte{schemaV2}, nil)
	if err := batch.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if got := storetest.AuditOf(t, s, a); len(got) != 0 {
		t.Fatalf("the index is still there: %d entries; the test proves nothing", len(got))
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
	for i, youth := range []pseudonym.Pseudonym{a, b} {
		got := storetest.AuditOf(t, s, youth)
		if want := (n - i + 2) / 3; len(got) != want {
			t.Fatalf("youth %d: %d entries after the migration, want %d", i, len(got), want)
		}
		for j, e := range got {
			if want := uint64(i + 1 + 3*j); e.Seq != want || e.Verb != store.AuditLookup || e.Youth != youth {
				t.Fatalf("youth %d, entry %d: %+v, want number %d", i, j, e, want)
			}
		}
	}
}
