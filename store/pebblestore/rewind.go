package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/store"
)

// Rewinding. A leader applies each entry to its own store before the log
// has it (see replication.go), so a leader that dies, is cut off or is
// fenced may hold entries the log never took: its last applied entry is
// not the log's. To take them back, every entry a store applies as leader
// carries, in its own batch but not in the entry handed to the log, an
// undo record: what each key the entry writes held before it (its value,
// or that it was absent), and the entry's ID. The record is written
// atomically with the entry, so that it survives whatever the entry
// survives, and deleted once the log has acknowledged the entry: from then
// on the entry is the log's for good. Rewind applies the undo record of
// the last entry applied, which restores the store exactly as it was
// before the entry (the entry before it included), since the leader
// applies its entries one at a time, in order, and reads the old values
// under the same lock.
//
// An undo record holds nothing the store did not hold a moment before:
// old values of its own records, which may be records the entry destroys.
// It is never in the log and so never on another node. It is deleted when
// the log acknowledges the entry, and, for an entry whose acknowledgement
// was lost or whose deletion a crash undid, when the node next finds its
// store to be the log's (Settled) or leads (Lead); what it held then goes
// as every deleted record's bytes go (Compact).
//
//	'r' seq -> undo record of the leader's entry seq: its EntryID (24 bytes), then per key: op (1 byte), uvarint length, key, and for undoSet, uvarint length, value
const prefixUndo = 'r'

// Undo record operations.
const (
	undoDelete = 0 // the key was absent: delete it
	undoSet    = 1 // the key held the value that follows
	// undoNone: the entry deleted a range of keys (the audit log's cut),
	// which the record does not copy: the entry cannot be undone.
	undoNone = 2
)

// ErrNoUndo: Rewind of a last entry that has no undo record: the store
// applied it as follower (it is the log's), the log acknowledged it, or it
// cannot be undone (it deleted a range of keys). A store whose last entry
// is not the log's and cannot be rewound has diverged for good.
var ErrNoUndo = errors.New("pebblestore: the last entry applied cannot be undone")

func undoKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixUndo}, seq)
}

// undoRecord returns the undo record of b, the batch of entry id, before
// it is applied: what each key b writes holds now.
func (s *Store) undoRecord(b *pebble.Batch, id store.EntryID) ([]byte, error) {
	rec := appendEntryID(make([]byte, 0, 256), id)
	// A batch that cannot be undone is known before any read: an audit
	// cut stages many point deletions before its range deletions.
	r := b.Reader()
	for {
		kind, _, _, ok, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("pebblestore: reading a batch: %w", err)
		}
		if !ok {
			break
		}
		switch kind {
		case pebble.InternalKeyKindSet, pebble.InternalKeyKindDelete, pebble.InternalKeyKindSingleDelete, pebble.InternalKeyKindLogData:
		default: // a range deletion, or a kind this store does not write
			return append(rec, undoNone), nil
		}
	}
	seen := make(map[string]bool)
	r = b.Reader()
	for {
		kind, k, _, ok, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("pebblestore: reading a batch: %w", err)
		}
		if !ok {
			break
		}
		if kind == pebble.InternalKeyKindLogData || seen[string(k)] {
			continue // the first write of a key finds its old value
		}
		seen[string(k)] = true
		v, closer, err := s.db.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			rec = append(rec, undoDelete)
			rec = binary.AppendUvarint(rec, uint64(len(k)))
			rec = append(rec, k...)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pebblestore: %w", err)
		}
		rec = append(rec, undoSet)
		rec = binary.AppendUvarint(rec, uint64(len(k)))
		rec = append(rec, k...)
		rec = binary.AppendUvarint(rec, uint64(len(v)))
		rec = append(rec, v...)
		closer.Close()
	}
	return rec, nil
}

// decodeUndo stages in b (if not nil: else it only checks rec) what rec
// restores, and returns the entry it undoes; ErrNoUndo for an entry that
// cannot be undone.
func decodeUndo(b *pebble.Batch, rec []byte) (store.EntryID, error) {
	id, ok := parseEntryID(rec[:min(len(rec), entryIDSize)])
	if !ok {
		return store.EntryID{}, fmt.Errorf("pebblestore: undo record of %d bytes: %w", len(rec), store.ErrCorrupt)
	}
	rest := rec[entryIDSize:]
	if len(rest) == 1 && rest[0] == undoNone {
		return id, ErrNoUndo
	}
	field := func() ([]byte, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return nil, false
		}
		f := rest[w : w+int(n)]
		rest = rest[w+int(n):]
		return f, true
	}
	for len(rest) > 0 {
		op := rest[0]
		rest = rest[1:]
		k, ok := field()
		if !ok || len(k) == 0 {
			return id, fmt.Errorf("pebblestore: undo record of entry %d: %w", id.Seq, store.ErrCorrupt)
		}
		switch op {
		case undoDelete:
			if b != nil {
				b.Delete(k, nil)
			}
		case undoSet:
			v, ok := field()
			if !ok {
				return id, fmt.Errorf("pebblestore: undo record of entry %d: %w", id.Seq, store.ErrCorrupt)
			}
			if b != nil {
				b.Set(k, v, nil)
			}
		default:
			return id, fmt.Errorf("pebblestore: undo record of entry %d: operation %d: %w", id.Seq, op, store.ErrCorrupt)
		}
	}
	return id, nil
}

// dropUndo deletes the undo record of entry seq, which the log has
// acknowledged. Not synced: an undo record of an acknowledged entry that a
// crash brings back is never applied (the entry is the log's, so the node
// never rewinds it) and goes when the store next leads.
func (s *Store) dropUndo(seq uint64) {
	err := recoverFatal(func() error { return s.db.Delete(undoKey(seq), pebble.NoSync) })
	if err != nil {
		s.logger.Warn("undo record of an acknowledged entry not deleted", slog.String("component", "pebblestore"),
			slog.Uint64("entry", seq), slog.String("cause", err.Error()))
	}
}

// dropAllUndo deletes every undo record (synced), if there is any: Lead
// and Settled call it, when every entry the store holds is the log's, and
// Open with Options.LeaveReplication.
func (s *Store) dropAllUndo() error {
	lower, upper := []byte{prefixUndo}, []byte{prefixUndo + 1}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	found := it.First()
	if err := closeIter(it, nil); err != nil || !found {
		return err
	}
	err = recoverFatal(func() error { return s.db.DeleteRange(lower, upper, pebble.Sync) })
	if err != nil {
		return s.fail(fmt.Errorf("deleting undo records: %w", err))
	}
	return nil
}

// Settled tells a replicated store that does not lead that a, its last
// applied entry, is the log's: every entry it holds is the log's for good,
// and none will be taken back. It deletes the undo records (synced): they
// hold what the store's own entries replaced as leader, records since
// destroyed among them, and an entry whose acknowledgement was lost (the
// log took it) keeps its record until then. A node calls it each time its
// store passes the check against the log, before it follows.
func (s *Store) Settled(a store.EntryID) error {
	return s.asFollower(func(cur store.EntryID) error {
		if cur != a {
			return fmt.Errorf("pebblestore: settled at entry %d, but the last applied is entry %d", a.Seq, cur.Seq)
		}
		return s.dropAllUndo()
	})
}

// Rewind undoes the last entry the store applied, one it applied as leader
// and the log never acknowledged, and returns the entry now last applied:
// a node whose last entry is not the log's (store.ErrDiverged) rewinds
// until it is, and then follows the log. It refuses (ErrNoUndo) an entry
// it cannot undo: then the store has diverged for good and must be
// rebuilt from another node's backup. The undo is one synced write.
//
// Only a replicated store that does not lead rewinds (ErrLeading
// otherwise). What the store keeps in memory of its data (the outbox and
// audit numbers, the youth filter, the key-use counts) may still count the
// entry undone; none of it is read while the store follows, and Lead
// reloads it all.
func (s *Store) Rewind() (store.EntryID, error) {
	var now store.EntryID
	err := s.asFollower(func(cur store.EntryID) error {
		now = cur
		if cur.Seq == 0 {
			return fmt.Errorf("%w: the store applied no entry", ErrNoUndo)
		}
		rec, ok, err := s.get(undoKey(cur.Seq))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: entry %d has no undo record", ErrNoUndo, cur.Seq)
		}
		b := s.db.NewBatch()
		defer b.Close()
		id, err := decodeUndo(b, rec)
		if err != nil {
			return err
		}
		if id != cur {
			// A record left from an earlier leadership at this position.
			return fmt.Errorf("%w: entry %d's undo record is another entry's", ErrNoUndo, cur.Seq)
		}
		b.Delete(undoKey(cur.Seq), nil)
		if err := recoverFatal(func() error { return b.Commit(pebble.Sync) }); err != nil {
			return s.fail(fmt.Errorf("rewind: %w", err))
		}
		if now, err = s.applied(); err != nil {
			return err
		}
		if now.Seq+1 != cur.Seq {
			return fmt.Errorf("pebblestore: undoing entry %d left entry %d last: %w", cur.Seq, now.Seq, store.ErrCorrupt)
		}
		s.logger.Info("store took back an entry the log did not take", slog.String("component", "pebblestore"),
			slog.Uint64("entry", cur.Seq), slog.Uint64("applied", now.Seq))
		return nil
	})
	return now, err
}
