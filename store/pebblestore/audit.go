package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// The audit log: entries under 'a' seq, numbered 1, 2, 3, … in commit order
// by one counter for the whole store (auditSeq), published as the outbox's
// are: a reader never reads past the highest number below which every
// entry is applied. An entry with a youth reference is indexed under 'v'
// youth seq, in the same batch, so the entries of one youth are read
// without reading the log.

// auditSeq numbers audit entries and tracks the published mark.
type auditSeq struct {
	mu sync.Mutex
	r  recipientSeq
}

// load continues the numbering after last; Open calls it before any commit.
func (q *auditSeq) load(last uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.r = recipientSeq{next: last + 1, published: last}
}

// reserve numbers entries consecutively.
func (q *auditSeq) reserve(entries []store.AuditEntry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range entries {
		entries[i].Seq = q.r.next
		q.r.next++
	}
}

// complete publishes the numbers reserve gave entries, once their batch is
// applied (or has failed).
func (q *auditSeq) complete(entries []store.AuditEntry) {
	if len(entries) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.r.complete(entries[0].Seq, entries[len(entries)-1].Seq+1)
}

// advance publishes the numbers up to seq, an entry a follower applied
// (see Store.followed).
func (q *auditSeq) advance(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.r.next = max(q.r.next, seq+1)
	q.r.published = max(q.r.published, seq)
}

func (q *auditSeq) visible() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.r.published
}

// loadAuditSeq continues the audit numbering after the last entry stored;
// with fill, it first fills the numbers a crash left unused. A replicated
// store fills them only when it leads (through the log, so that every node
// holds the same gap entries), never at Open.
func (s *Store) loadAuditSeq(fill bool) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixAudit}, UpperBound: []byte{prefixAudit + 1}})
	if err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	var last uint64
	if it.Last() {
		k := it.Key()
		if len(k) != 1+seqSize {
			it.Close()
			return fmt.Errorf("%w: audit key of %d bytes", store.ErrCorrupt, len(k))
		}
		last = binary.BigEndian.Uint64(k[1:])
	}
	if err := closeIter(it, nil); err != nil {
		return err
	}
	// A retention cut may have destroyed every entry: the numbers go on
	// after it.
	st, err := s.treeState()
	if err != nil {
		return err
	}
	if fill {
		if err := s.fillAuditGaps(st.Size, last); err != nil {
			return err
		}
	}
	s.audit.load(max(last, st.Cut.Size))
	return nil
}

// fillAuditGaps writes a gap entry (store.AuditGap) at each number from
// sealed+1 to last that holds no entry, in one synced batch. Numbers are
// given before batches enter Pebble's commit pipeline, so two concurrent
// batches can reach the log in the other order; a crash between them
// leaves the later one durable and the earlier one lost, and no call was
// answered with the lost one (its commit never returned). Within a run a
// reader never sees past such a hole (auditSeq); after a restart the hole
// is filled, so that the numbers stay one sequence, which the audit tree
// needs. Below the sealed size a missing entry is not filled: there it is
// a removal, which verification must name.
func (s *Store) fillAuditGaps(sealed, last uint64) error {
	if last <= sealed+1 {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: auditKey(sealed + 1), UpperBound: auditKey(last + 1)})
	if err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	gap := store.AuditEntry{At: time.Now(), Institution: "operator", Verb: store.AuditGap, Outcome: "crash"}
	var buf []byte
	want := sealed + 1
	for valid := it.First(); valid; valid = it.Next() {
		if len(it.Key()) != 1+seqSize {
			return closeIter(it, fmt.Errorf("%w: audit key of %d bytes", store.ErrCorrupt, len(it.Key())))
		}
		for seq := binary.BigEndian.Uint64(it.Key()[1:]); want < seq; want++ {
			buf = encodeAudit(buf[:0], &gap)
			if err := b.Set(auditKey(want), buf, nil); err != nil {
				return closeIter(it, fmt.Errorf("pebblestore: %w", err))
			}
		}
		want++
	}
	if err := closeIter(it, nil); err != nil {
		return err
	}
	if b.Empty() {
		return nil
	}
	s.logger.Warn("audit numbers a crash left unused filled with gap entries", slog.String("component", "pebblestore"),
		slog.Uint64("entries", uint64(b.Count())))
	return s.commitBatch(b)
}

// stageAudit numbers t's audit entries and stages them in b.
func (s *Store) stageAudit(b *pebble.Batch, entries []store.AuditEntry, buf []byte) []byte {
	if len(entries) == 0 {
		return buf
	}
	s.audit.reserve(entries)
	for i := range entries {
		e := &entries[i]
		buf = encodeAudit(buf[:0], e)
		b.Set(auditKey(e.Seq), buf, nil)
		if !e.Youth.IsZero() {
			b.Set(auditYouthKey(e.Youth, e.Seq), nil, nil)
		}
	}
	return buf
}

// Audit implements store.Tx.
func (t *tx) Audit(e store.AuditEntry) {
	if err := e.Check(); err != nil {
		t.fail(err)
		return
	}
	t.audit = append(t.audit, e)
}

// AppendAudit implements store.AuditLog: one synced commit, applied and
// synced with the concurrent ones (group commit, groupcommit.go).
func (s *Store) AppendAudit(ctx context.Context, entries ...store.AuditEntry) error {
	if err := s.notLeader(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, e := range entries {
		if err := e.Check(); err != nil {
			return err
		}
	}
	if len(entries) == 0 {
		return nil
	}
	// Taken below the free-space minimum too, which refuses reports only:
	// reads go on while the disk is low, each with its entry (some
	// hundred bytes); on a disk really full the write fails and the store
	// with it, and nothing is answered.
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	entries = append([]store.AuditEntry(nil), entries...)
	b := s.db.NewBatch()
	s.stageAudit(b, entries, nil)
	wait, err := s.applyBatch(b, &tx{audit: entries}, nil, nil, func() {})
	if err != nil {
		return err
	}
	return wait()
}

// AuditEntries implements store.AuditLog.
func (s *Store) AuditEntries(ctx context.Context, after uint64, limit int) ([]store.AuditEntry, error) {
	if ok, err := s.enterRead(ctx, limit); !ok {
		return nil, err
	}
	defer s.leave()
	upto := s.audit.visible()
	if after >= upto {
		return nil, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: auditKey(after + 1), UpperBound: auditKey(upto + 1)})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	var out []store.AuditEntry
	for valid := it.First(); valid && len(out) < limit; valid = it.Next() {
		if len(it.Key()) != 1+seqSize {
			return nil, closeIter(it, fmt.Errorf("%w: audit key of %d bytes", store.ErrCorrupt, len(it.Key())))
		}
		seq := binary.BigEndian.Uint64(it.Key()[1:])
		e, err := decodeAudit(it.Value())
		if err != nil {
			return nil, closeIter(it, fmt.Errorf("audit entry %d: %w", seq, err))
		}
		if e.Seq = seq; e.Seq <= after {
			return nil, closeIter(it, fmt.Errorf("%w: audit entries out of order", store.ErrCorrupt))
		}
		out = append(out, e)
	}
	if err := closeIter(it, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// AuditEntriesOf implements store.AuditLog: a scan of youth's index
// entries, and a point read of each entry they name.
func (s *Store) AuditEntriesOf(ctx context.Context, youth pseudonym.Pseudonym, after uint64, limit int) ([]store.AuditEntry, error) {
	if youth.IsZero() {
		return nil, ctx.Err()
	}
	if ok, err := s.enterRead(ctx, limit); !ok {
		return nil, err
	}
	defer s.leave()
	upto := s.audit.visible()
	if after >= upto {
		return nil, nil
	}
	snap := s.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: auditYouthKey(youth, after+1), UpperBound: auditYouthKey(youth, upto+1)})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	return indexedEntries(snap, it, youth, limit, it.First, it.Next)
}

// indexedEntries reads up to limit entries of youth through its index
// keys, stepping it from first with next, and closes it.
func indexedEntries(snap *pebble.Snapshot, it *pebble.Iterator, youth pseudonym.Pseudonym, limit int, first, next func() bool) ([]store.AuditEntry, error) {
	var out []store.AuditEntry
	for valid := first(); valid && len(out) < limit; valid = next() {
		k := it.Key()
		if len(k) != 1+youthSize+seqSize {
			return nil, closeIter(it, fmt.Errorf("%w: audit index key of %d bytes", store.ErrCorrupt, len(k)))
		}
		e, err := auditEntryAt(snap, binary.BigEndian.Uint64(k[1+youthSize:]))
		if err == nil && e.Youth != youth {
			err = fmt.Errorf("%w: audit index names an entry of another youth", store.ErrCorrupt)
		}
		if err != nil {
			return nil, closeIter(it, err)
		}
		out = append(out, e)
	}
	if err := closeIter(it, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// auditEntryAt reads entry seq.
func auditEntryAt(r pebble.Reader, seq uint64) (store.AuditEntry, error) {
	v, closer, err := r.Get(auditKey(seq))
	if errors.Is(err, pebble.ErrNotFound) {
		return store.AuditEntry{}, fmt.Errorf("%w: audit index names entry %d, which is not kept", store.ErrCorrupt, seq)
	}
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("pebblestore: %w", err)
	}
	defer closer.Close()
	e, err := decodeAudit(v)
	e.Seq = seq
	return e, err
}

// migrateAuditIndex indexes by youth reference the audit entries of a
// store written before the index was kept (schema 2), then marks the store
// schema 3. Writing an index entry twice writes the same empty record, so
// an interrupted migration is finished by the next Open; each batch of
// entries is one synced write.
func (s *Store) migrateAuditIndex() error {
	const batchEntries = 4096
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixAudit}, UpperBound: []byte{prefixAudit + 1}})
	if err != nil {
		return fmt.Errorf("pebblestore: migrate: %w", err)
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer func() { b.Close() }()
	indexed := 0
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 1+seqSize {
			return fmt.Errorf("%w: audit key of %d bytes", store.ErrCorrupt, len(k))
		}
		e, err := decodeAudit(it.Value())
		if err != nil {
			return fmt.Errorf("pebblestore: migrate: %w", err)
		}
		if e.Youth.IsZero() {
			continue
		}
		b.Set(auditYouthKey(e.Youth, binary.BigEndian.Uint64(k[1:])), nil, nil)
		if indexed++; indexed%batchEntries == 0 {
			if err := b.Commit(pebble.Sync); err != nil {
				return fmt.Errorf("pebblestore: migrate: %w", err)
			}
			b.Close()
			b = s.db.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("pebblestore: migrate: %w", err)
	}
	b.Set(schemaKey, []byte{schemaV3}, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: migrate: %w", err)
	}
	s.logger.Info("store migrated: audit entries indexed by youth reference", slog.String("component", "pebblestore"),
		slog.Int("entries", indexed))
	return nil
}

// LatestAuditEntriesOf implements store.AuditLog: youth's index keys read
// backwards from the newest durable entry, and a point read of each.
func (s *Store) LatestAuditEntriesOf(ctx context.Context, youth pseudonym.Pseudonym, limit int) ([]store.AuditEntry, error) {
	if youth.IsZero() {
		return nil, ctx.Err()
	}
	if ok, err := s.enterRead(ctx, limit); !ok {
		return nil, err
	}
	defer s.leave()
	upto := s.audit.visible()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: auditYouthKey(youth, 0), UpperBound: auditYouthKey(youth, upto+1)})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	out, err := indexedEntries(snap, it, youth, limit, it.Last, it.Prev)
	slices.Reverse(out)
	return out, err
}
