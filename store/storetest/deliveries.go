package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// deliveryStore opens the store and returns it as a DeliveryStore, or
// skips the test for a backend without delivery state.
func deliveryStore(t *testing.T, open Opener) (store.Store, store.DeliveryStore) {
	t.Helper()
	s := openStore(t, open)
	ds, ok := s.(store.DeliveryStore)
	if !ok {
		t.Skip("the backend keeps no delivery state")
	}
	return s, ds
}

func deliveryLog(t *testing.T, ds store.DeliveryStore, recipient, channel string) store.DeliveryLog {
	t.Helper()
	log, err := ds.DeliveryLog(ctx, recipient, channel)
	if err != nil {
		t.Fatal(err)
	}
	return log
}

func seqs(ds []store.Delivery) []uint64 {
	var out []uint64
	for _, d := range ds {
		out = append(out, d.Seq)
	}
	return out
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// testDeliveries: the cursor moves forward only, states above it are kept
// as written and those at or below it dropped, dead ones go to the dead
// list, and channels and recipients are apart.
func testDeliveries(t *testing.T, open Opener) {
	_, ds := deliveryStore(t, open)
	if log := deliveryLog(t, ds, "ggd", "email"); log.Cursor != 0 || len(log.States) != 0 {
		t.Fatalf("a new log: %+v", log)
	}
	next := t0.Add(time.Minute)
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 3, []store.Delivery{
		{Seq: 5, Attempts: 1, FirstTry: t0, NextTry: next, LastError: "smtp_451"},
		{Seq: 7, Attempts: 1, FirstTry: t0, Delivered: true},
	}); err != nil {
		t.Fatal(err)
	}
	log := deliveryLog(t, ds, "ggd", "email")
	if log.Cursor != 3 || !equalSeqs(seqs(log.States), []uint64{5, 7}) {
		t.Fatalf("after recording: %+v", log)
	}
	if d := log.States[0]; d.Attempts != 1 || !d.NextTry.Equal(next) || d.LastError != "smtp_451" || d.Settled() {
		t.Fatalf("state as read: %+v", d)
	}
	if other := deliveryLog(t, ds, "ggd", "webhook"); other.Cursor != 0 || len(other.States) != 0 {
		t.Fatalf("another channel sees %+v", other)
	}
	if other := deliveryLog(t, ds, "wij", "email"); other.Cursor != 0 || len(other.States) != 0 {
		t.Fatalf("another recipient sees %+v", other)
	}
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 7, []store.Delivery{{Seq: 5, Attempts: 2, FirstTry: t0, Delivered: true}}); err != nil {
		t.Fatal(err)
	}
	if log := deliveryLog(t, ds, "ggd", "email"); log.Cursor != 7 || len(log.States) != 0 {
		t.Fatalf("settled states kept: %+v", log)
	}
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 6, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the cursor moved back: %v", err)
	}
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 9, []store.Delivery{{Seq: 9, Attempts: 12, FirstTry: t0, LastError: "timeout", Dead: true}}); err != nil {
		t.Fatal(err)
	}
	dead, err := ds.DeadDeliveries(ctx, "ggd", "email")
	if err != nil || !equalSeqs(seqs(dead), []uint64{9}) || dead[0].Attempts != 12 {
		t.Fatalf("dead list: %+v %v", dead, err)
	}
	if log := deliveryLog(t, ds, "ggd", "email"); log.Cursor != 9 || len(log.States) != 0 {
		t.Fatalf("after a dead one: %+v", log)
	}
}

// testRetryDead: the dead come back as pending, the cursor moves back
// below the first, and the events it passes again that were settled are
// marked delivered, so nothing delivered is sent twice by design. The state
// survives a reopen.
func testRetryDead(t *testing.T, open Opener) {
	s, ds := deliveryStore(t, open)
	y := Youth(1, 40)
	appendEvents(t, s, y,
		store.Event{Type: store.EventMatch, At: t0, Recipient: "ggd"},
		store.Event{Type: store.EventMatch, At: t0, Recipient: "ggd"},
		store.Event{Type: store.EventMatch, At: t0, Recipient: "ggd"})
	evs, err := s.Events(ctx, "ggd", 0, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("events: %d, %v", len(evs), err)
	}
	first, second, third := evs[0].Seq, evs[1].Seq, evs[2].Seq
	if err := ds.RecordDeliveries(ctx, "ggd", "webhook", third, []store.Delivery{
		{Seq: first, Attempts: 9, FirstTry: t0, LastError: "http_500", Dead: true},
	}); err != nil {
		t.Fatal(err)
	}
	n, err := ds.RetryDead(ctx, "ggd", "webhook")
	if err != nil || n != 1 {
		t.Fatalf("RetryDead = %d, %v", n, err)
	}
	s.Close()
	s = openStore(t, open)
	ds = s.(store.DeliveryStore)
	log := deliveryLog(t, ds, "ggd", "webhook")
	if log.Cursor != first-1 || !equalSeqs(seqs(log.States), []uint64{first, second, third}) {
		t.Fatalf("after retry and reopen: %+v", log)
	}
	if d := log.States[0]; d.Dead || d.Delivered || d.Attempts != 9 {
		t.Fatalf("the retried one: %+v", d)
	}
	if !log.States[1].Delivered || !log.States[2].Delivered {
		t.Fatalf("settled events not marked delivered: %+v", log.States)
	}
	if dead, _ := ds.DeadDeliveries(ctx, "ggd", "webhook"); len(dead) != 0 {
		t.Fatalf("dead list not emptied: %+v", dead)
	}
	if n, err := ds.RetryDead(ctx, "ggd", "webhook"); n != 0 || err != nil {
		t.Fatalf("a second RetryDead = %d, %v", n, err)
	}
}
