package pebblestore

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/store"
)

var _ store.DeliveryStore = (*Store)(nil)

// Delivery states: version 1 had no Urgent.
const (
	deliveryV1 = 1
	deliveryV2 = 2
)

func encodeDelivery(d *store.Delivery) []byte {
	e := enc{}
	e.byte(deliveryV2)
	e.uvarint(d.Seq)
	e.uvarint(uint64(d.Attempts))
	e.time(d.FirstTry)
	e.time(d.NextTry)
	e.str(d.LastError)
	e.bool(d.Delivered)
	e.bool(d.Dead)
	e.bool(d.Urgent)
	return e.b
}

func decodeDelivery(b []byte) (store.Delivery, error) {
	d := dec{b: b}
	ver := d.versions(deliveryV1, deliveryV2)
	var v store.Delivery
	v.Seq = d.uvarint()
	v.Attempts = int(d.uvarint())
	v.FirstTry = d.time()
	v.NextTry = d.time()
	v.LastError = d.str()
	v.Delivered = d.bool()
	v.Dead = d.bool()
	if ver >= deliveryV2 {
		v.Urgent = d.bool()
	}
	if err := d.done(); err != nil {
		return store.Delivery{}, err
	}
	return v, nil
}

// The cursor record: the cursor (8 bytes), then, from version 2 on, the
// counts of waiting and dead deliveries (uvarints). A record of 8 bytes
// only (version 1) has no counts: they are counted when it is read.
type cursorRecord struct {
	cursor        uint64
	waiting, dead int
	// unqueued are the waiting states of a version 1 record, which are
	// not in the queue yet: the next write puts them there.
	unqueued []store.Delivery
}

// queueUnqueued stages the queue entries of c.unqueued in b.
func (c *cursorRecord) queueUnqueued(b *pebble.Batch, recipient, channel string) {
	for i := range c.unqueued {
		b.Set(retryKey(recipient, channel, &c.unqueued[i]), nil, nil)
	}
	c.unqueued = nil
}

func (c cursorRecord) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, c.cursor)
	b = binary.AppendUvarint(b, uint64(c.waiting))
	return binary.AppendUvarint(b, uint64(c.dead))
}

// retryKey is the key of d in the queue of deliveries waiting for a retry.
func retryKey(recipient, channel string, d *store.Delivery) []byte {
	k := deliveryPrefix(prefixRetry, recipient, channel)
	urgent := byte(1)
	if d.Urgent {
		urgent = 0
	}
	k = append(k, urgent)
	k = binary.BigEndian.AppendUint64(k, nanos(d.NextTry))
	return binary.BigEndian.AppendUint64(k, d.Seq)
}

// seqKey is prefix and seq, in a slice of its own.
func seqKey(prefix []byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(slices.Clip(prefix), seq)
}

// nanos is t in nanoseconds since 1970, 0 for an earlier (or zero) time
// and at most math.MaxInt64 (the year 2262), so that byte order is time
// order.
func nanos(t time.Time) uint64 {
	switch {
	case t.Before(time.Unix(0, 0)):
		return 0
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
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

// readDeliveryLog reads the cursor, the counts and the states above the
// cursor through r.
func readDeliveryLog(r pebble.Reader, recipient, channel string) (store.DeliveryLog, error) {
	c, err := readCursor(r, recipient, channel)
	if err != nil {
		return store.DeliveryLog{}, err
	}
	log := store.DeliveryLog{Cursor: c.cursor, Waiting: c.waiting, Dead: c.dead}
	pending := deliveryPrefix(prefixDelivery, recipient, channel)
	// The first state of all: below the cursor only waiting ones are kept.
	first, err := scanDeliveries(r, pending, prefixEnd(pending), 1)
	if err != nil {
		return store.DeliveryLog{}, err
	}
	if len(first) == 1 && first[0].Seq <= c.cursor {
		log.FirstWaiting = first[0].Seq
	}
	log.States, err = scanDeliveries(r, seqKey(pending, c.cursor+1), prefixEnd(pending), 0)
	if err != nil {
		return store.DeliveryLog{}, err
	}
	for _, d := range log.States {
		if log.FirstWaiting == 0 && !d.Settled() {
			log.FirstWaiting = d.Seq
		}
	}
	return log, nil
}

// readCursor reads the cursor record; one of version 1 gets its counts by
// counting.
func readCursor(r pebble.Reader, recipient, channel string) (cursorRecord, error) {
	var c cursorRecord
	v, closer, err := r.Get(deliveryPrefix(prefixCursor, recipient, channel))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return c, nil
	case err != nil:
		return c, fmt.Errorf("pebblestore: %w", err)
	}
	defer closer.Close()
	if len(v) < seqSize {
		return c, fmt.Errorf("pebblestore: delivery cursor: %w", store.ErrCorrupt)
	}
	c.cursor = binary.BigEndian.Uint64(v)
	if len(v) > seqSize {
		rest := v[seqSize:]
		waiting, n := binary.Uvarint(rest)
		dead, m := binary.Uvarint(rest[max(n, 0):])
		if n <= 0 || m <= 0 || n+m != len(rest) {
			return c, fmt.Errorf("pebblestore: delivery cursor: %w", store.ErrCorrupt)
		}
		c.waiting, c.dead = int(waiting), int(dead)
		return c, nil
	}
	// Version 1: no queue yet, so the waiting ones are above the cursor.
	pending := deliveryPrefix(prefixDelivery, recipient, channel)
	states, err := scanDeliveries(r, pending, prefixEnd(pending), 0)
	if err != nil {
		return c, err
	}
	for _, d := range states {
		if !d.Settled() {
			c.waiting++
			c.unqueued = append(c.unqueued, d)
		}
	}
	deadPrefix := deliveryPrefix(prefixDead, recipient, channel)
	dead, err := scanDeliveries(r, deadPrefix, prefixEnd(deadPrefix), 0)
	c.dead = len(dead)
	return c, err
}

// scanDeliveries reads the states in [lower, upper), at most limit (0: all).
func scanDeliveries(r pebble.Reader, lower, upper []byte, limit int) ([]store.Delivery, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	defer it.Close()
	var out []store.Delivery
	for it.First(); it.Valid() && (limit == 0 || len(out) < limit); it.Next() {
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

// getDelivery reads the state under key k; ok is false if there is none.
func getDelivery(r pebble.Reader, k []byte) (d store.Delivery, ok bool, err error) {
	v, closer, err := r.Get(k)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return d, false, nil
	case err != nil:
		return d, false, fmt.Errorf("pebblestore: %w", err)
	}
	defer closer.Close()
	d, err = decodeDelivery(v)
	return d, err == nil, err
}

// RecordDeliveries implements store.DeliveryStore.
func (s *Store) RecordDeliveries(ctx context.Context, recipient, channel string, cursor uint64, states []store.Delivery) error {
	if err := s.notLeaderNorLoading(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enterWrite(); err != nil {
		return err
	}
	defer s.leave()
	s.deliveryMu.Lock()
	defer s.deliveryMu.Unlock()
	c, err := readCursor(s.db, recipient, channel)
	if err != nil {
		return err
	}
	if cursor < c.cursor {
		return fmt.Errorf("pebblestore: delivery cursor %d would move back from %d: %w", cursor, c.cursor, store.ErrConflict)
	}
	b := s.db.NewIndexedBatch()
	defer b.Close()
	c.queueUnqueued(b, recipient, channel)
	pending := deliveryPrefix(prefixDelivery, recipient, channel)
	// Settled states the cursor passes now are dropped.
	passed, err := scanDeliveries(s.db, seqKey(pending, c.cursor+1), seqKey(pending, cursor+1), 0)
	if err != nil {
		return err
	}
	for _, d := range passed {
		if d.Settled() {
			b.Delete(seqKey(pending, d.Seq), nil)
		}
	}
	for i := range states {
		if err := s.recordDelivery(b, recipient, channel, cursor, &c, &states[i]); err != nil {
			return err
		}
	}
	c.cursor = cursor
	b.Set(deliveryPrefix(prefixCursor, recipient, channel), c.encode(), nil)
	return s.commitBatch(b)
}

// recordDelivery stages d's new state in b: waiting (in the queue), dead
// (in the dead list) or delivered, and keeps c's counts.
func (s *Store) recordDelivery(b *pebble.Batch, recipient, channel string, cursor uint64, c *cursorRecord, d *store.Delivery) error {
	k := seqKey(deliveryPrefix(prefixDelivery, recipient, channel), d.Seq)
	old, had, err := getDelivery(b, k)
	if err != nil {
		return err
	}
	if had && !old.Settled() {
		b.Delete(retryKey(recipient, channel, &old), nil)
		c.waiting--
	}
	if d.Dead {
		dk := seqKey(deliveryPrefix(prefixDead, recipient, channel), d.Seq)
		if _, listed, err := getDelivery(b, dk); err != nil {
			return err
		} else if !listed {
			c.dead++
		}
		b.Set(dk, encodeDelivery(d), nil)
	}
	switch {
	case !d.Settled():
		b.Set(k, encodeDelivery(d), nil)
		b.Set(retryKey(recipient, channel, d), nil, nil)
		c.waiting++
	case d.Seq <= cursor:
		b.Delete(k, nil)
	default:
		b.Set(k, encodeDelivery(d), nil)
	}
	return nil
}

// commitBatch commits b, synced; a failure fails the store, as a failed
// update's does.
func (s *Store) commitBatch(b *pebble.Batch) error {
	if s.repl.on {
		wait, err := s.applyLogged(b)
		if err != nil {
			return err
		}
		return wait()
	}
	if err := recoverFatal(func() error { return b.Commit(pebble.Sync) }); err != nil {
		return s.fail(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// Retries implements store.DeliveryStore.
func (s *Store) Retries(ctx context.Context, recipient, channel string, due time.Time, limit int) ([]store.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	c, err := readCursor(snap, recipient, channel)
	if err != nil {
		return nil, err
	}
	queue := deliveryPrefix(prefixRetry, recipient, channel)
	pending := deliveryPrefix(prefixDelivery, recipient, channel)
	var out []store.Delivery
	for _, urgent := range []byte{0, 1} {
		lower := append(append([]byte(nil), queue...), urgent)
		upper := binary.BigEndian.AppendUint64(append([]byte(nil), lower...), nanos(due)+1)
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return nil, fmt.Errorf("pebblestore: %w", err)
		}
		for it.First(); it.Valid() && len(out) < limit; it.Next() {
			key := it.Key()
			seq := binary.BigEndian.Uint64(key[len(key)-seqSize:])
			d, ok, err := getDelivery(snap, seqKey(pending, seq))
			if err == nil && !ok {
				err = fmt.Errorf("pebblestore: a queued delivery without its state: %w", store.ErrCorrupt)
			}
			if err != nil {
				it.Close()
				return nil, err
			}
			out = append(out, d)
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("pebblestore: %w", err)
		}
	}
	if len(c.unqueued) == 0 {
		return out, nil
	}
	// A version 1 record: its waiting states are not in the queue yet.
	for _, d := range c.unqueued {
		if !d.NextTry.After(due) {
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(a, b store.Delivery) int {
		if a.Urgent != b.Urgent {
			if a.Urgent {
				return -1
			}
			return 1
		}
		return cmp.Or(a.NextTry.Compare(b.NextTry), cmp.Compare(a.Seq, b.Seq))
	})
	return out[:min(len(out), limit)], nil
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
	dead := deliveryPrefix(prefixDead, recipient, channel)
	return scanDeliveries(s.db, dead, prefixEnd(dead), 0)
}

// RetryDead implements store.DeliveryStore.
func (s *Store) RetryDead(ctx context.Context, recipient, channel string) (int, error) {
	if err := s.notLeaderNorLoading(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.enterWrite(); err != nil {
		return 0, err
	}
	defer s.leave()
	s.deliveryMu.Lock()
	defer s.deliveryMu.Unlock()
	deadPrefix := deliveryPrefix(prefixDead, recipient, channel)
	dead, err := scanDeliveries(s.db, deadPrefix, prefixEnd(deadPrefix), 0)
	if err != nil || len(dead) == 0 {
		return 0, err
	}
	c, err := readCursor(s.db, recipient, channel)
	if err != nil {
		return 0, err
	}
	b := s.db.NewIndexedBatch()
	defer b.Close()
	c.queueUnqueued(b, recipient, channel)
	for _, d := range dead {
		b.Delete(seqKey(deadPrefix, d.Seq), nil)
		d.Dead, d.NextTry = false, d.FirstTry // at once
		if err := s.recordDelivery(b, recipient, channel, c.cursor, &c, &d); err != nil {
			return 0, err
		}
	}
	c.dead = 0
	b.Set(deliveryPrefix(prefixCursor, recipient, channel), c.encode(), nil)
	if err := s.commitBatch(b); err != nil {
		return 0, err
	}
	return len(dead), nil
}
