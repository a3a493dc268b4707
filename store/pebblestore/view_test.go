package pebblestore

import (
	"context"
	"log/slog"
	"testing"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// A view of a youth the store does not hold does the work of a view of
// one it holds: it reads and decodes a record (another youth's, which it
// never shows) instead of skipping the read, so that its time does not
// tell whether the youth is known. Updates keep the filter's shortcut.
func TestViewOfUnknownYouthReadsARecord(t *testing.T) {
	s, err := Open(t.TempDir(), &Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for range 3 {
		y := randomYouth(7)
		err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			tx.Put(store.Registration{ID: store.NewID(), Youth: y, Institution: "x", Kind: store.KindSignal, SignalCode: "S", Municipality: "GM0014"})
			tx.PutCase(store.Case{Youth: y, Coordinator: "x", Age: 12})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	first, last := pseudonym.Pseudonym{KeyID: 7}, pseudonym.Pseudonym{KeyID: 7}
	for i := range last.Sum {
		last.Sum[i] = 0xff
	}
	for _, y := range []pseudonym.Pseudonym{randomYouth(7), first, last, randomYouth(8)} {
		tx, err := s.read([]pseudonym.Pseudonym{y}, true)
		if err != nil {
			t.Fatal(err)
		}
		if regs := tx.Registrations(); len(regs) != 0 {
			t.Fatalf("a view of an unknown youth shows %d registrations", len(regs))
		}
		if _, ok := tx.Case(); ok {
			t.Fatal("a view of an unknown youth shows a case")
		}
		if len(tx.decoy) != 1 || len(tx.decoyCopy) != 1 || tx.decoyCase.Coordinator != "x" {
			t.Fatalf("a view of an unknown youth read %d registrations (copied %d) and case %+v; want another youth's record, read and copied as a youth's is",
				len(tx.decoy), len(tx.decoyCopy), tx.decoyCase)
		}
		if tx, _ := s.read([]pseudonym.Pseudonym{y}, false); len(tx.decoy) != 0 {
			t.Fatal("an update of an unknown youth read another youth's record")
		}
	}
}
