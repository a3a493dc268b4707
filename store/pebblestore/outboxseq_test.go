package pebblestore

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// A store written when one sequence numbered the events of all recipients
// keeps those numbers, and each recipient continues from its highest: its
// numbers stay strictly increasing, so cursors and message IDs stay valid.
func TestOutboxSeqContinuesOldNumbering(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	opts := &Options{FS: fs, Logger: slog.New(slog.DiscardHandler)}
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	old := []struct {
		recipient string
		seq       uint64
	}{{"ggd", 1}, {"wij", 2}, {"ggd", 3}, {"wij", 4}, {"ggd", 5}, {"bureau", 6}}
	b := s.db.NewBatch()
	for _, o := range old {
		e := store.Event{Seq: o.seq, Type: store.EventNoMatch, At: at, Recipient: o.recipient}
		b.Set(recipientKey(o.recipient, o.seq), encodeEvent(nil, &e), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for r, want := range map[string]uint64{"ggd": 5, "wij": 4, "bureau": 6, "school": 0} {
		if n := s.LastSeq(r); n != want {
			t.Fatalf("LastSeq(%s) after re-open = %d, want %d", r, n, want)
		}
	}
	y := pseudonym.Pseudonym{KeyID: 1, Sum: [pseudonym.Size]byte{1}}
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		for _, r := range []string{"wij", "ggd", "school", "wij"} {
			tx.Append(store.Event{Type: store.EventMatch, At: at, Recipient: r})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for r, want := range map[string][]uint64{"ggd": {1, 3, 5, 6}, "wij": {2, 4, 5, 6}, "bureau": {6}, "school": {1}} {
		evs, err := s.Events(ctx, r, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, e := range evs {
			got = append(got, e.Seq)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s's numbers: %v, want %v", r, got, want)
		}
	}
	// A poller that had seen wij's old 4 gets exactly the new events.
	if evs, err := s.Events(ctx, "wij", 4, 10); err != nil || len(evs) != 2 || evs[0].Type != store.EventMatch {
		t.Fatalf("wij after 4: %+v %v", evs, err)
	}
}
