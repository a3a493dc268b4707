package pebblestore

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// countPrefix counts the keys that begin with prefix.
func countPrefix(t *testing.T, s *Store, prefix byte) int {
	t.Helper()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	return n
}

// TestIdempotencyIndexesLeaveNothing: the indexes of idempotency records go
// with them, however they go (replaced, forgotten with their registration,
// or purged): none is left behind to name a registration or a key.
func TestIdempotencyIndexesLeaveNothing(t *testing.T) {
	ctx := context.Background()
	s, err := Open("idem", &Options{FS: vfs.NewMem(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	y := []pseudonym.Pseudonym{{KeyID: 1}}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	a, b := store.NewID(), store.NewID()
	update := func(fn func(tx store.Tx)) {
		t.Helper()
		if err := s.Update(ctx, y, func(tx store.Tx) error { fn(tx); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	update(func(tx store.Tx) {
		tx.PutIdempotency("ggd", "k1", store.Idempotency{Registration: a, Youth: y[0], CreatedAt: at})
		tx.PutIdempotency("ggd", "k2", store.Idempotency{Registration: a, Youth: y[0], CreatedAt: at})
		tx.PutIdempotency("wij", "k1", store.Idempotency{Registration: b, Youth: y[0], CreatedAt: at})
	})
	update(func(tx store.Tx) {
		tx.PutIdempotency("ggd", "k2", store.Idempotency{Registration: b, Youth: y[0], CreatedAt: at.AddDate(0, 0, 1)})
	})
	if d, k, j := countPrefix(t, s, prefixIdempotency), countPrefix(t, s, prefixIdemByDay), countPrefix(t, s, prefixIdemByReg); d != 3 || k != 3 || j != 3 {
		t.Fatalf("records %d, day index %d, registration index %d; want 3 each", d, k, j)
	}
	update(func(tx store.Tx) { tx.DeleteIdempotencyOf(a) })
	if d, j := countPrefix(t, s, prefixIdempotency), countPrefix(t, s, prefixIdemByReg); d != 2 || j != 2 {
		t.Fatalf("after forgetting a: records %d, registration index %d; want 2", d, j)
	}
	if n, err := s.PurgeIdempotency(ctx, at.AddDate(0, 0, 10), 100); err != nil || n != 2 {
		t.Fatalf("purge: %d %v", n, err)
	}
	for _, p := range []byte{prefixIdempotency, prefixIdemByDay, prefixIdemByReg} {
		if n := countPrefix(t, s, p); n != 0 {
			t.Errorf("after purge: %d keys %q", n, p)
		}
	}
}
