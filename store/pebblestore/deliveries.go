package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/store"
)

var _ store.DeliveryStore = (*Store)(nil)

const deliveryV1 = 1

func encodeDelivery(d *store.Delivery) []byte {
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

func decodeDelivery(b []byte) (store.Delivery, error) {
	d := dec{b: b}
	d.version(deliveryV1)
	var v store.Delivery
	v.Seq = d.uvarint()
	v.Attempts = int(d.uvarint())
	v.FirstTry = d.time()
	v.NextTry = d.time()
	v.LastError = d.str()
	v.Delivered = d.bool()
	v.Dead = d.bool()
	if err := d.done(); err != nil {
		return store.Delivery{}, err
	}
	return v, nil
}

// DeliveryLog implements store.DeliveryStore.
func (s *Store) DeliveryLog(ctx context.Context, recipient, channel string) (store.DeliveryLog, error) {
	if err := ctx.Err(); err != nil {
		return store.DeliveryLog{}, err
	}
	if err := s.enter(); err != nil {
		return store.DeliveryLog{}, err
	}
	defer s.leave()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	return readDeliveryLog(snap, recipient, channel)
}

// readDeliveryLog reads the cursor and the states above it through r.
func readDeliveryLog(r pebble.Reader, recipient, channel string) (store.DeliveryLog, error) {
	var log store.DeliveryLog
	v, closer, err := r.Get(deliveryPrefix(prefixCursor, recipient, channel))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return store.DeliveryLog{}, fmt.Errorf("pebblestore: %w", err)
	default:
		ok := len(v) == seqSize
		if ok {
			log.Cursor = binary.BigEndian.Uint64(v)
		}
		closer.Close()
		if !ok {
			return store.DeliveryLog{}, fmt.Errorf("pebblestore: delivery cursor: %w", store.ErrCorrupt)
		}
	}
	log.States, err = scanDeliveries(r, deliveryPrefix(prefixDelivery, recipient, channel))
	return log, err
}

func scanDeliveries(r pebble.Reader, prefix []byte) ([]store.Delivery, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	defer it.Close()
	var out []store.Delivery
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("pebblestore: %w", err)
		}
		d, err := decodeDelivery(v)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, it.Error()
}

// RecordDeliveries implements store.DeliveryStore.
func (s *Store) RecordDeliveries(ctx context.Context, recipient, channel string, cursor uint64, states []store.Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enterWrite(); err != nil {
		return err
	}
	defer s.leave()
	s.deliveryMu.Lock()
	defer s.deliveryMu.Unlock()
	log, err := readDeliveryLog(s.db, recipient, channel)
	if err != nil {
		return err
	}
	if cursor < log.Cursor {
		return fmt.Errorf("pebblestore: delivery cursor %d would move back from %d: %w", cursor, log.Cursor, store.ErrConflict)
	}
	b := s.db.NewBatch()
	defer b.Close()
	cursorKey := deliveryPrefix(prefixCursor, recipient, channel)
	b.Set(cursorKey, binary.BigEndian.AppendUint64(nil, cursor), nil)
	pending := deliveryPrefix(prefixDelivery, recipient, channel)
	dead := deliveryPrefix(prefixDead, recipient, channel)
	// States now at or below the cursor are settled: dropped.
	for _, d := range log.States {
		if d.Seq <= cursor {
			b.Delete(binary.BigEndian.AppendUint64(pending, d.Seq), nil)
		}
	}
	for i := range states {
		d := &states[i]
		if d.Dead {
			b.Set(binary.BigEndian.AppendUint64(dead, d.Seq), encodeDelivery(d), nil)
		}
		k := binary.BigEndian.AppendUint64(pending, d.Seq)
		if d.Seq <= cursor {
			b.Delete(k, nil)
			continue
		}
		b.Set(k, encodeDelivery(d), nil)
	}
	return s.commitBatch(b)
}

// commitBatch commits b, synced; a failure fails the store, as a failed
// update's does.
func (s *Store) commitBatch(b *pebble.Batch) error {
	if err := recoverFatal(func() error { return b.Commit(pebble.Sync) }); err != nil {
		return s.fail(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// DeadDeliveries implements store.DeliveryStore.
func (s *Store) DeadDeliveries(ctx context.Context, recipient, channel string) ([]store.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	return scanDeliveries(s.db, deliveryPrefix(prefixDead, recipient, channel))
}

// RetryDead implements store.DeliveryStore.
func (s *Store) RetryDead(ctx context.Context, recipient, channel string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.enterWrite(); err != nil {
		return 0, err
	}
	defer s.leave()
	s.deliveryMu.Lock()
	defer s.deliveryMu.Unlock()
	dead, err := scanDeliveries(s.db, deliveryPrefix(prefixDead, recipient, channel))
	if err != nil || len(dead) == 0 {
		return 0, err
	}
	log, err := readDeliveryLog(s.db, recipient, channel)
	if err != nil {
		return 0, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	pending := deliveryPrefix(prefixDelivery, recipient, channel)
	deadPrefix := deliveryPrefix(prefixDead, recipient, channel)
	cursor := log.Cursor
	isDead := make(map[uint64]bool, len(dead))
	for _, d := range dead {
		isDead[d.Seq] = true
		b.Delete(binary.BigEndian.AppendUint64(deadPrefix, d.Seq), nil)
		d.Dead, d.NextTry = false, d.FirstTry // at once
		b.Set(binary.BigEndian.AppendUint64(pending, d.Seq), encodeDelivery(&d), nil)
		cursor = min(cursor, d.Seq-1)
	}
	// The other events between the new cursor and the old one were
	// settled: they are recorded as delivered, so as not to be sent again.
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: recipientKey(recipient, cursor+1), UpperBound: recipientKey(recipient, log.Cursor+1)})
	if err != nil {
		return 0, fmt.Errorf("pebblestore: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		_, seq, ok := splitRecipientKey(it.Key())
		if !ok || isDead[seq] {
			continue
		}
		done := store.Delivery{Seq: seq, Delivered: true}
		b.Set(binary.BigEndian.AppendUint64(pending, seq), encodeDelivery(&done), nil)
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("pebblestore: %w", err)
	}
	b.Set(deliveryPrefix(prefixCursor, recipient, channel), binary.BigEndian.AppendUint64(nil, cursor), nil)
	if err := s.commitBatch(b); err != nil {
		return 0, err
	}
	return len(dead), nil
}
