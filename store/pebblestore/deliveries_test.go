package pebblestore

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// encodeDeliveryV1 is a delivery state as version 1 wrote it (no Urgent).
func encodeDeliveryV1(d store.Delivery) []byte {
	e := enc{}
	e.byte(deliveryV1)
	e.uvarint(d.Seq)
	e.uvarint(uint64(d.Attempts))
	e.time(d.FirstTry)
	e.time(d.NextTry)
	e.str(d.LastError)
	e.bool(d.Delivered)
	e.bool(d.Dead)
	return e.b
}

// A delivery log written before the retry queue (a cursor of 8 bytes, the
// waiting states above it, no queue entries) reads with its counts, its
// waiting states are due as Retries says, and the next write puts them in
// the queue.
func TestDeliveryLogVersion1(t *testing.T) {
	s, err := Open(t.TempDir(), &Options{MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	b := s.db.NewBatch()
	b.Set(deliveryPrefix(prefixCursor, "ggd", "email"), binary.BigEndian.AppendUint64(nil, 4), nil)
	for _, d := range []store.Delivery{
		{Seq: 6, Attempts: 2, FirstTry: t0, NextTry: t0.Add(time.Minute), LastError: "smtp_451"},
		{Seq: 7, Attempts: 1, FirstTry: t0, Delivered: true},
		{Seq: 9, Attempts: 5, FirstTry: t0, LastError: "timeout", Dead: true},
	} {
		b.Set(seqKey(deliveryPrefix(prefixDelivery, "ggd", "email"), d.Seq), encodeDeliveryV1(d), nil)
		if d.Dead {
			b.Set(seqKey(deliveryPrefix(prefixDead, "ggd", "email"), d.Seq), encodeDeliveryV1(d), nil)
		}
	}
	if err := s.commitBatch(b); err != nil {
		t.Fatal(err)
	}
	log, err := s.DeliveryLog(ctx, "ggd", "email")
	if err != nil || log.Cursor != 4 || len(log.States) != 3 || log.Waiting != 1 || log.FirstWaiting != 6 || log.Dead != 1 {
		t.Fatalf("version 1 log: %+v %v", log, err)
	}
	for due, want := range map[time.Time]int{t0: 0, t0.Add(time.Minute): 1} {
		if got, err := s.Retries(ctx, "ggd", "email", due, 10); err != nil || len(got) != want {
			t.Fatalf("Retries due %v: %+v %v, want %d", due, got, err, want)
		}
	}
	// The cursor moves past all three: 6 waits in the queue now.
	if err := s.RecordDeliveries(ctx, "ggd", "email", 9, nil); err != nil {
		t.Fatal(err)
	}
	log, err = s.DeliveryLog(ctx, "ggd", "email")
	if err != nil || log.Cursor != 9 || len(log.States) != 0 || log.Waiting != 1 || log.FirstWaiting != 6 || log.Dead != 1 {
		t.Fatalf("after a write: %+v %v", log, err)
	}
	if got, err := s.Retries(ctx, "ggd", "email", store.Forever, 10); err != nil || len(got) != 1 || got[0].Seq != 6 || got[0].Attempts != 2 {
		t.Fatalf("Retries after a write: %+v %v", got, err)
	}
}
