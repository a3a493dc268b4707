package pebblestore

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/store"
)

// TestAuditGapFilled: a number a crash left without its entry (a later
// batch reached the disk, an earlier one did not) is filled with a gap
// entry at the next Open, so that the numbers stay one sequence for the
// audit tree; below the sealed size a missing entry stays missing, for
// verification to name.
func TestAuditGapFilled(t *testing.T) {
	dir := t.TempDir()
	open := func() *Store {
		s, err := Open(dir, &Options{Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	e := store.AuditEntry{At: time.Unix(1, 0), Institution: "ggd", Verb: store.AuditLookup, Outcome: "ok"}
	for range 6 {
		if err := s.AppendAudit(bg, e); err != nil {
			t.Fatal(err)
		}
	}
	// Entries 1 and 2 sealed; then 2 and 4 lost.
	if err := s.SealAudit(bg, store.AuditSeal{From: 0, Roots: [][32]byte{{1}, {2}}, Tree: []byte("state")}); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{2, 4} {
		if err := s.db.Delete(auditKey(seq), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open()
	defer s.Close()
	got, err := s.AuditEntries(bg, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, g := range got {
		seqs = append(seqs, g.Seq)
		if g.Seq == 4 && (g.Verb != store.AuditGap || g.Institution != "operator") {
			t.Errorf("entry 4: %+v, want a gap entry", g)
		}
	}
	if len(seqs) != 5 || seqs[0] != 1 || seqs[1] != 3 || seqs[2] != 4 || seqs[4] != 6 {
		t.Fatalf("entries %v: want 1, 3, 4 (a gap), 5, 6", seqs)
	}
	if err := s.AppendAudit(bg, e); err != nil {
		t.Fatal(err)
	}
	if last, _ := s.AuditEntries(bg, 6, 10); len(last) != 1 || last[0].Seq != 7 {
		t.Fatalf("the next entry: %+v", last)
	}
}
