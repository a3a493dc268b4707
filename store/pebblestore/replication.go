package pebblestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"

	"github.com/vindex-nl/vindex/store"
)

// Replication (see store.Log). A store opened with Options.Replicated
// takes writes only while it leads (Lead); otherwise every write method
// returns store.ErrNotLeader before it reads or stages anything, and the
// store changes only through ApplyEntry.
//
// A leading store gives every batch it commits, under one lock (the
// sequencer, repl.mu), the next log position and a fresh random entry
// ID, written into the batch under replicationKey; applies the batch to
// Pebble (the memtable, with the WAL write that a group of concurrent
// commits shares) and hands a copy of the batch's representation to the
// log, both under the sequencer, so that the log's order is the order the
// batches were applied in: the order in which every read-modify-write of
// the store (a youth's records under its lock, the figures' counters, the
// outbox's and the audit log's numbers) saw the one before. Outside the
// sequencer the write then waits for its WAL sync and for the log's
// acknowledgement, so that concurrent writes are all on the way to the
// log at once, each waiting for its own acknowledgement. A write returns
// success only once both have come.
//
// A log entry is a Pebble batch representation: exactly the records the
// write puts into the store (keys and values as keys.go and codec.go
// describe them, so pseudonyms, never a clear identity) and the
// replication key. A follower applies it unchanged, so that every node
// holds the same records, and its replication key names the last entry
// applied, atomically with the entry's data.

// replicationKey holds the last log entry applied: its position (8 bytes,
// big-endian) and ID (16 bytes). Only a replicated store writes it.
var replicationKey = []byte{prefixReplication}

const entryIDSize = seqSize + 16

// DefaultReplicationTimeout is the default Options.ReplicationTimeout.
const DefaultReplicationTimeout = 10 * time.Second

// Replication errors of this package (see store for the contract's).
var (
	// ErrNotReplicated: Lead or ApplyEntry on a store not opened with
	// Options.Replicated.
	ErrNotReplicated = errors.New("pebblestore: the store is not replicated")
	// ErrLeading: ApplyEntry, or a second Lead, on a store that leads:
	// a leader's entries are its own.
	ErrLeading = errors.New("pebblestore: the store leads: it applies no entry from the log")
	// ErrEntry: an entry that is not a batch the store wrote as leader,
	// or whose replication key does not name the position it is applied
	// at.
	ErrEntry = errors.New("pebblestore: not a replicated store's log entry")
	// ErrReplicated: Open without Options.Replicated of a store written
	// replicated. Its writes would be in no log: the node's data would
	// silently differ from the others', or, opened replicated again, it
	// would follow the log from an entry that no longer describes it.
	ErrReplicated = errors.New("pebblestore: the store was written replicated: open it replicated (or with Options.LeaveReplication to make it a store of its own)")
)

// checkNotReplica refuses a store written replicated, opened without
// Options.Replicated; with leave, it deletes the replication record
// instead (synced).
func (s *Store) checkNotReplica(leave bool) error {
	id, err := s.applied()
	if err != nil || id == (store.EntryID{}) {
		return err
	}
	if !leave {
		return ErrReplicated
	}
	// A store of its own never leads or settles: its undo records (see
	// rewind.go) go now.
	if err := s.dropAllUndo(); err != nil {
		return err
	}
	if err := s.db.Delete(replicationKey, pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: leaving replication: %w", err)
	}
	s.logger.Warn("store left replication: it can join a replicated store again only as a new node", slog.String("component", "pebblestore"),
		slog.Uint64("applied", id.Seq))
	return nil
}

// replication is a replicated store's leadership state.
type replication struct {
	on      bool
	timeout time.Duration
	// leading is true while log is set: the early refusal of a write.
	leading atomic.Bool

	// mu is the sequencer: it orders the leader's applies and appends,
	// and serialises ApplyEntry.
	mu sync.Mutex
	// log is the log while the store leads, else nil.
	log store.Log
	// next is the position of the leader's next entry.
	next uint64
	// term counts the leaderships, so that a write of one that failed
	// does not end a later one.
	term uint64
	// pending counts the appended writes still waiting; idle is
	// broadcast when it falls to zero.
	pending int
	idle    sync.Cond
}

// notLeader refuses a write on a replicated store that does not lead.
func (s *Store) notLeader() error {
	if s.repl.on && !s.repl.leading.Load() {
		return store.ErrNotLeader
	}
	return nil
}

// notLeaderNorLoading is notLeader for the writes a load does not take
// (see load.go): ErrLoading while a load runs.
func (s *Store) notLeaderNorLoading() error {
	if s.loader() != nil {
		return ErrLoading
	}
	return s.notLeader()
}

// stopLeading ends the leadership; repl.mu must be held.
func (s *Store) stopLeading() {
	if s.repl.log != nil {
		s.repl.log = nil
		s.repl.leading.Store(false)
		s.repl.term++
	}
}

// Lead makes a replicated store the leader: from now on it takes writes,
// each appended to log as described in the package documentation, the
// first at Applied().Seq+1. The caller must have applied every entry of
// the log to the store first (the log's fence refuses the first append
// otherwise). Lead waits for every call in flight, then reloads what
// Open derives from the data and keeps in memory (the outbox and audit
// numbers, the youth filter, the key-use counts), which the entries
// applied as follower have changed; then it fills the audit numbers a
// failed write left unused with gap entries, through the log (see
// fillAuditGaps). If that fails, the store does not lead.
func (s *Store) Lead(log store.Log) error {
	if !s.repl.on {
		return ErrNotReplicated
	}
	if log == nil {
		return errors.New("pebblestore: Lead without a log")
	}
	if err := s.enterAlone(); err != nil {
		return err
	}
	defer s.leaveAlone()
	s.repl.mu.Lock()
	leading := s.repl.log != nil
	s.repl.mu.Unlock()
	if leading {
		return ErrLeading
	}
	if err := s.loadOutboxSeqs(); err != nil {
		return err
	}
	if _, err := s.loadYouths(); err != nil {
		return err
	}
	applied, err := s.applied()
	if err != nil {
		return err
	}
	// The entries applied as follower (not synced, see ApplyEntry)
	// become durable before the first write on top of them is
	// acknowledged; the first synced write would make them so too.
	if err := recoverFatal(func() error { return s.db.LogData(nil, pebble.Sync) }); err != nil {
		return s.fail(fmt.Errorf("lead: %w", err))
	}
	// Every entry the store holds is the log's now: no undo record left
	// from an earlier leadership is ever applied (see Rewind).
	if err := s.dropAllUndo(); err != nil {
		return err
	}
	s.repl.mu.Lock()
	s.repl.log, s.repl.next = log, applied.Seq+1
	s.repl.term++
	s.repl.leading.Store(true)
	s.repl.mu.Unlock()
	if err := s.loadAuditSeq(true); err != nil {
		s.repl.mu.Lock()
		s.stopLeading()
		s.repl.mu.Unlock()
		return err
	}
	s.logger.Info("store leads", slog.String("component", "pebblestore"), slog.Uint64("applied", applied.Seq))
	return nil
}

// Follow ends the leadership: writes get store.ErrNotLeader from now on.
// It returns once the writes already appended to the log have had their
// answer (the log's wait is bounded by Options.ReplicationTimeout). It does
// nothing on a store that does not lead. The log must not call it from
// Append (called under the store's sequencer) or from a wait (a write
// waiting for its answer is one Follow waits for).
func (s *Store) Follow() {
	s.repl.mu.Lock()
	defer s.repl.mu.Unlock()
	s.stopLeading()
	for s.repl.pending > 0 {
		s.repl.idle.Wait()
	}
}

// Leading reports whether the store leads.
func (s *Store) Leading() bool { return s.repl.leading.Load() }

// applyLogged applies b, which it does not close, on a leading store: it
// writes the entry's replication key into b, applies b and appends it to
// the log, under the sequencer. The wait returned waits for the WAL sync
// and the log's acknowledgement. If err is store.ErrNotLeader, b was not
// applied.
func (s *Store) applyLogged(b *pebble.Batch) (wait func() error, err error) {
	var id [16]byte
	rand.Read(id[:])
	s.repl.mu.Lock()
	if s.repl.log == nil {
		s.repl.mu.Unlock()
		return nil, store.ErrNotLeader
	}
	seq, term, log := s.repl.next, s.repl.term, s.repl.log
	b.Set(replicationKey, appendEntryID(nil, store.EntryID{Seq: seq, ID: id}), nil)
	// The log may keep the entry after Append returns; the batch's
	// buffer goes back to Pebble's pool when b is closed.
	entry := bytes.Clone(b.Repr())
	// The undo record goes into this store's batch only, after the
	// entry was taken from it: no other node ever holds it.
	undo, err := s.undoRecord(b, store.EntryID{Seq: seq, ID: id})
	if err != nil {
		s.stopLeading()
		s.repl.mu.Unlock()
		return nil, s.fail(fmt.Errorf("undo record: %w", err))
	}
	b.Set(undoKey(seq), undo, nil)
	if err := recoverFatal(func() error { return s.db.ApplyNoSyncWait(b, pebble.Sync) }); err != nil {
		s.stopLeading()
		s.repl.mu.Unlock()
		return nil, s.fail(fmt.Errorf("commit: %w", err))
	}
	logWait := log.Append(seq, entry)
	s.repl.next++
	s.repl.pending++
	s.repl.mu.Unlock()
	return func() error {
		syncErr := b.SyncWait()
		// The caller's context does not end the wait (as it does not end
		// the WAL sync's): the answer would say nothing of the entry's
		// fate. The log's wait is bounded instead.
		ctx, cancel := context.WithTimeout(context.Background(), s.repl.timeout)
		logErr := logWait(ctx)
		cancel()
		if syncErr == nil && logErr == nil {
			// Before the write counts as settled (Follow and Rewind
			// wait for it): the entry is the log's for good.
			s.dropUndo(seq)
		}
		s.repl.mu.Lock()
		if (syncErr != nil || logErr != nil) && s.repl.term == term {
			// The store holds an entry the log may not: it leads no
			// more, and the log decides what it holds.
			s.stopLeading()
			switch {
			case syncErr != nil:
			case errors.Is(logErr, store.ErrCutOff):
				// A partition: the node learns it as it writes.
				s.logger.Warn("store stops leading: cut off from the log", slog.String("component", "pebblestore"),
					slog.Uint64("entry", seq), slog.String("cause", logErr.Error()))
			default:
				s.logger.Error("store stops leading: the log did not take a write", slog.String("component", "pebblestore"),
					slog.Uint64("entry", seq), slog.String("cause", logErr.Error()))
			}
		}
		if s.repl.pending--; s.repl.pending == 0 {
			s.repl.idle.Broadcast()
		}
		s.repl.mu.Unlock()
		if syncErr != nil {
			return s.fail(fmt.Errorf("sync: %w", syncErr))
		}
		if logErr != nil {
			return fmt.Errorf("pebblestore: the replicated log did not take entry %d: %w", seq, logErr)
		}
		return nil
	}, nil
}

// applyBatchLogged is applyBatch on a replicated store. The outbox's and
// the audit log's numbers of t are published once the log has answered:
// a reader (a delivery worker) never sees an event the log may not hold.
func (s *Store) applyBatchLogged(b *pebble.Batch, t *tx, before, after []store.Registration) (wait func() error, err error) {
	complete := func() {
		if len(t.events) > 0 {
			s.seqs.complete(t.events)
		}
		s.audit.complete(t.audit)
	}
	setFigures(b, t.figuresWritten)
	logged, err := s.applyLogged(b)
	if err != nil {
		complete()
		if errors.Is(err, store.ErrNotLeader) {
			b.Close() // never applied
		}
		return nil, err
	}
	if len(t.staged) > 0 {
		s.keyUse.apply(before, after)
	}
	return func() error {
		if err := logged(); err != nil {
			// Applied here, but the log may not hold it: its outbox and
			// audit numbers stay unpublished, so that no reader (a
			// delivery worker) sees an event the cluster may never have
			// stored; the store no longer leads, and Lead reloads the
			// numbers from the disk. Left to the garbage collector, as a
			// failed commit's.
			return err
		}
		complete()
		b.Close()
		return nil
	}, nil
}

// ApplyEntry applies the log's entry seq to a replicated store that does
// not lead. An entry at or below Applied().Seq is not applied again (nil;
// but the entry at Applied().Seq must be the one applied there, else
// store.ErrDiverged); one above Applied().Seq+1 is store.ErrGap.
//
// The entry is applied without a sync of the WAL, and Pebble writes it to
// the WAL file only once a block of the WAL fills: one fsync per entry
// would bound a follower's catch-up by the disk's fsync rate. The entry is
// durable on a quorum of the log's nodes already, and nothing is
// acknowledged on the strength of a follower's copy. A crash (of the
// process or the machine) may lose the last entries applied since
// SyncApplied; Applied() then names an earlier one, with exactly the
// entries up to it, and the node applies the log's entries from there
// again (the log keeps them: it is trimmed only below a backup's
// checkpoint). Lead syncs before the store writes on top of them.
func (s *Store) ApplyEntry(seq uint64, entry []byte) error {
	return s.asFollower(func(cur store.EntryID) error { return s.applyEntry(cur, seq, entry) })
}

// asFollower runs f with the last entry applied, on a replicated store
// that does not lead (else ErrNotReplicated or ErrLeading), under the
// sequencer, once no write of a leadership just ended waits for the log's
// answer.
func (s *Store) asFollower(f func(cur store.EntryID) error) error {
	if !s.repl.on {
		return ErrNotReplicated
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.repl.mu.Lock()
	defer s.repl.mu.Unlock()
	if s.repl.log != nil {
		return ErrLeading
	}
	for s.repl.pending > 0 {
		s.repl.idle.Wait()
	}
	cur, err := s.applied()
	if err != nil {
		return err
	}
	return f(cur)
}

func (s *Store) applyEntry(cur store.EntryID, seq uint64, entry []byte) error {
	switch {
	case seq == 0:
		return fmt.Errorf("%w: position 0", ErrEntry)
	case seq > cur.Seq+1:
		return fmt.Errorf("pebblestore: entry %d, the last applied is %d: %w", seq, cur.Seq, store.ErrGap)
	case seq < cur.Seq:
		return nil
	}
	id, err := EntryOf(entry)
	if err != nil {
		return err
	}
	if id.Seq != seq {
		return fmt.Errorf("%w: the entry at %d names position %d", ErrEntry, seq, id.Seq)
	}
	if seq == cur.Seq {
		if id != cur {
			return fmt.Errorf("pebblestore: the entry applied at %d is not the log's: %w", seq, store.ErrDiverged)
		}
		return nil
	}
	b := s.db.NewBatch()
	if err := b.SetRepr(bytes.Clone(entry)); err != nil {
		b.Close()
		return fmt.Errorf("%w: %v", ErrEntry, err)
	}
	if err := recoverFatal(func() error { return b.Commit(pebble.NoSync) }); err != nil {
		return s.fail(fmt.Errorf("apply: %w", err))
	}
	s.followed(b)
	b.Close()
	return nil
}

// SyncApplied makes the entries applied so far durable: one sync of the
// WAL for all of them. A follower may call it after each run of entries
// it applies, to bound what a crash makes it apply again.
func (s *Store) SyncApplied() error {
	if !s.repl.on {
		return ErrNotReplicated
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := recoverFatal(func() error { return s.db.LogData(nil, pebble.Sync) }); err != nil {
		return s.fail(fmt.Errorf("sync: %w", err))
	}
	return nil
}

// followed advances the outbox's and the audit log's published numbers
// past the events and entries of b, an entry applied as follower, so that
// a follower's reads see them. A follower applies entries in the log's
// order, which is the leader's apply order, not always its numbering: a
// read on a follower may see a number before a lower one. Lead reloads
// both from the data.
func (s *Store) followed(b *pebble.Batch) {
	r := b.Reader()
	for {
		kind, k, _, ok, err := r.Next()
		if !ok || err != nil {
			return
		}
		if kind != pebble.InternalKeyKindSet || len(k) == 0 {
			continue
		}
		switch k[0] {
		case prefixRecipient:
			if prefix, seq, ok := splitRecipientKey(k); ok {
				s.seqs.advance(recipientOf(prefix), seq)
			}
		case prefixAudit:
			if len(k) == 1+seqSize {
				s.audit.advance(binary.BigEndian.Uint64(k[1:]))
			}
		}
	}
}

// Applied returns the last log entry the store applied (as leader: the
// last it appended, acknowledged or not), the zero EntryID if none.
func (s *Store) Applied() (store.EntryID, error) {
	if err := s.enter(); err != nil {
		return store.EntryID{}, err
	}
	defer s.leave()
	return s.applied()
}

func (s *Store) applied() (store.EntryID, error) {
	v, ok, err := s.get(replicationKey)
	if err != nil || !ok {
		return store.EntryID{}, err
	}
	id, ok := parseEntryID(v)
	if !ok {
		return store.EntryID{}, fmt.Errorf("pebblestore: replication record of %d bytes: %w", len(v), store.ErrCorrupt)
	}
	return id, nil
}

// EntryOf returns the EntryID an entry's replication key holds, without
// applying it.
func EntryOf(entry []byte) (store.EntryID, error) {
	if _, ok := batchrepr.ReadHeader(entry); !ok {
		return store.EntryID{}, fmt.Errorf("%w: %d bytes", ErrEntry, len(entry))
	}
	var (
		id    store.EntryID
		found bool
	)
	r := batchrepr.Read(entry)
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil {
			return store.EntryID{}, fmt.Errorf("%w: %v", ErrEntry, err)
		}
		if !ok {
			break
		}
		if !bytes.Equal(k, replicationKey) {
			continue
		}
		if kind != pebble.InternalKeyKindSet || found {
			return store.EntryID{}, fmt.Errorf("%w: a second replication key", ErrEntry)
		}
		if id, ok = parseEntryID(v); !ok {
			return store.EntryID{}, fmt.Errorf("%w: replication key of %d bytes", ErrEntry, len(v))
		}
		found = true
	}
	if !found {
		return store.EntryID{}, fmt.Errorf("%w: no replication key", ErrEntry)
	}
	return id, nil
}

func appendEntryID(dst []byte, id store.EntryID) []byte {
	dst = binary.BigEndian.AppendUint64(dst, id.Seq)
	return append(dst, id.ID[:]...)
}

func parseEntryID(v []byte) (store.EntryID, bool) {
	if len(v) != entryIDSize {
		return store.EntryID{}, false
	}
	return store.EntryID{Seq: binary.BigEndian.Uint64(v), ID: [16]byte(v[seqSize:])}, true
}
