package pebblestore

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
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
	s := memStore(t)
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
		tx.PutIdempotency(storetest.IdemKey("ggd", "k1"), store.Idempotency{Registration: a, Youth: y[0], CreatedAt: at})
		tx.PutIdempotency(storetest.IdemKey("ggd", "k2"), store.Idempotency{Registration: a, Youth: y[0], CreatedAt: at})
		tx.PutIdempotency(storetest.IdemKey("wij", "k1"), store.Idempotency{Registration: b, Youth: y[0], CreatedAt: at})
	})
	update(func(tx store.Tx) {
		tx.PutIdempotency(storetest.IdemKey("ggd", "k2"), store.Idempotency{Registration: b, Youth: y[0], CreatedAt: at.AddDate(0, 0, 1)})
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

// TestClearIdempotencyKeysOfOldStores: a record that a store written before
// idempotency keys were hashed holds under the key in the clear ('d' len
// institution len key, with its 'k' and 'j' entries) decodes, is never
// found by a hash, and goes with its registration or by the purge.
func TestClearIdempotencyKeysOfOldStores(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	y := []pseudonym.Pseudonym{{KeyID: 1}}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	a, b := store.NewID(), store.NewID()
	old := func(inst, key string, id store.ID) {
		t.Helper()
		k := appendLenString(appendLenString([]byte{prefixIdempotency}, inst), key)
		rec := store.Idempotency{Registration: id, Youth: y[0], CreatedAt: at, Result: []byte("{}")}
		batch := s.db.NewBatch()
		batch.Set(k, encodeIdempotency(nil, &rec), nil)
		batch.Set(idemDayKey(dayNumber(at), k), nil, nil)
		batch.Set(idemRegKey(id, k), nil, nil)
		if err := batch.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	old("ggd", "report-1", a)
	old("school", "a key of exactly 28 bytes ..", b) // its record's key is as long as a hashed one's
	err := s.Update(ctx, y, func(tx store.Tx) error {
		for _, k := range []pseudonym.Pseudonym{storetest.IdemKey("ggd", "report-1"), storetest.IdemKey("school", "a key of exactly 28 bytes ..")} {
			if _, ok := tx.Idempotency(k); ok {
				t.Error("an old record found by a hash")
			}
		}
		tx.PutIdempotency(storetest.IdemKey("ggd", "report-1"), store.Idempotency{Registration: a, Youth: y[0], CreatedAt: at})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, y, func(tx store.Tx) error { tx.DeleteIdempotencyOf(a); return nil }); err != nil {
		t.Fatal(err)
	}
	if d, j := countPrefix(t, s, prefixIdempotency), countPrefix(t, s, prefixIdemByReg); d != 1 || j != 1 {
		t.Fatalf("after forgetting a: records %d, registration index %d; want 1 (b's)", d, j)
	}
	if n, err := s.PurgeIdempotency(ctx, at.AddDate(0, 0, 31), 100); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	for _, p := range []byte{prefixIdempotency, prefixIdemByDay, prefixIdemByReg} {
		if n := countPrefix(t, s, p); n != 0 {
			t.Errorf("after purge: %d keys %q", n, p)
		}
	}
}
