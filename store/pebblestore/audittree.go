package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/store"
)

// The audit tree's records, under 'T': the root after each entry
// ('T' 1 seq → 32 bytes), where sealing stands ('T' 2), the signed
// checkpoints ('T' 3 size) and the retention cut ('T' 4). Seals and cuts
// are serialised by s.sealing and written synced; they never share a batch
// with the reports' commits.
const (
	treeRoot       byte = 1
	treeState      byte = 2
	treeCheckpoint byte = 3
	treeCut        byte = 4
)

func treeKey(kind byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixAuditTree, kind}, n)
}

var (
	treeStateKey = []byte{prefixAuditTree, treeState}
	treeCutKey   = []byte{prefixAuditTree, treeCut}
)

// get reads one record; ok is false if there is none.
func (s *Store) get(key []byte) (v []byte, ok bool, err error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pebblestore: %w", err)
	}
	v = append([]byte(nil), v...)
	return v, true, closer.Close()
}

// AuditTree implements store.AuditTree.
func (s *Store) AuditTree(ctx context.Context) (store.AuditTreeState, error) {
	if ok, err := s.enterRead(ctx, 1); !ok {
		return store.AuditTreeState{}, err
	}
	defer s.leave()
	return s.treeState()
}

func (s *Store) treeState() (store.AuditTreeState, error) {
	var st store.AuditTreeState
	v, ok, err := s.get(treeStateKey)
	if err != nil || !ok {
		return st, err
	}
	if st.Size, st.Tree, err = decodeTreeState(v); err != nil {
		return st, fmt.Errorf("audit tree state: %w", err)
	}
	if st.Latest, err = s.latestCheckpoint(); err != nil {
		return st, err
	}
	v, ok, err = s.get(treeCutKey)
	if err != nil || !ok {
		return st, err
	}
	if st.Cut, err = decodeCut(v); err != nil {
		return st, fmt.Errorf("audit cut: %w", err)
	}
	return st, nil
}

// SealAudit implements store.AuditTree.
func (s *Store) SealAudit(ctx context.Context, seal store.AuditSeal) error {
	if err := s.notLeaderNorLoading(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	end := seal.From + uint64(len(seal.Roots))
	switch {
	case seal.Checkpoint.Text != nil && seal.Checkpoint.Size != end:
		return fmt.Errorf("%w: checkpoint of size %d seals up to %d", store.ErrInvalid, seal.Checkpoint.Size, end)
	case len(seal.Tree) == 0:
		return fmt.Errorf("%w: a seal without the tree's state", store.ErrInvalid)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if end > s.audit.visible() {
		return fmt.Errorf("%w: sealing up to entry %d, %d are durable", store.ErrInvalid, end, s.audit.visible())
	}
	s.sealing.Lock()
	defer s.sealing.Unlock()
	st, err := s.treeState()
	if err != nil {
		return err
	}
	if st.Size != seal.From {
		return fmt.Errorf("%w: seal from %d, the tree is sealed to %d", store.ErrConflict, seal.From, st.Size)
	}
	b := s.db.NewBatch()
	defer b.Close()
	for i, root := range seal.Roots {
		if err := b.Set(treeKey(treeRoot, seal.From+uint64(i)+1), root[:], nil); err != nil {
			return fmt.Errorf("pebblestore: %w", err)
		}
	}
	if err := b.Set(treeStateKey, encodeTreeState(end, seal.Tree), nil); err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	if seal.Checkpoint.Text != nil {
		if err := b.Set(treeKey(treeCheckpoint, end), encodeCheckpoint(nil, seal.Checkpoint), nil); err != nil {
			return fmt.Errorf("pebblestore: %w", err)
		}
	}
	return s.commitBatch(b)
}

// AuditRoots implements store.AuditTree.
func (s *Store) AuditRoots(ctx context.Context, after uint64, limit int) ([]store.AuditRoot, error) {
	var out []store.AuditRoot
	err := s.scanTree(ctx, treeRoot, after, limit, func(n uint64, v []byte) error {
		if len(v) != 32 {
			return fmt.Errorf("%w: audit root of %d bytes", store.ErrCorrupt, len(v))
		}
		out = append(out, store.AuditRoot{Seq: n, Root: [32]byte(v)})
		return nil
	})
	return out, err
}

// AuditCheckpoints implements store.AuditTree.
func (s *Store) AuditCheckpoints(ctx context.Context, after uint64, limit int) ([]store.AuditCheckpoint, error) {
	var out []store.AuditCheckpoint
	err := s.scanTree(ctx, treeCheckpoint, after, limit, func(n uint64, v []byte) error {
		c, err := decodeCheckpoint(v)
		if err == nil && c.Size != n {
			err = fmt.Errorf("%w: checkpoint of size %d under key %d", store.ErrCorrupt, c.Size, n)
		}
		out = append(out, c)
		return err
	})
	return out, err
}

// scanTree calls f for up to limit records of kind numbered above after.
func (s *Store) scanTree(ctx context.Context, kind byte, after uint64, limit int, f func(n uint64, v []byte) error) error {
	if ok, err := s.enterRead(ctx, limit); !ok {
		return err
	}
	defer s.leave()
	if after == ^uint64(0) {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: treeKey(kind, after+1), UpperBound: []byte{prefixAuditTree, kind + 1}})
	if err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	for valid, n := it.First(), 0; valid && n < limit; valid, n = it.Next(), n+1 {
		k := it.Key()
		if len(k) != 2+seqSize {
			return closeIter(it, fmt.Errorf("%w: audit tree key of %d bytes", store.ErrCorrupt, len(k)))
		}
		if err := f(binary.BigEndian.Uint64(k[2:]), it.Value()); err != nil {
			return closeIter(it, err)
		}
	}
	return closeIter(it, nil)
}

// CutAudit implements store.AuditTree.
func (s *Store) CutAudit(ctx context.Context, cut store.AuditCut) error {
	if err := s.notLeaderNorLoading(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.sealing.Lock()
	defer s.sealing.Unlock()
	st, err := s.treeState()
	if err != nil {
		return err
	}
	switch {
	case cut.Size < st.Cut.Size:
		return fmt.Errorf("%w: cutting the audit log at %d, below its cut at %d", store.ErrInvalid, cut.Size, st.Cut.Size)
	case cut.Size > st.Size || cut.Checkpoint.Size != cut.Size || len(cut.Tree) == 0:
		return fmt.Errorf("%w: an audit cut at %d needs the sealed tree's state and checkpoint there", store.ErrInvalid, cut.Size)
	}
	v, ok, err := s.get(treeKey(treeCheckpoint, cut.Size))
	if err != nil {
		return err
	}
	if kept, derr := decodeCheckpoint(v); !ok || derr != nil || string(kept.Text) != string(cut.Checkpoint.Text) {
		return fmt.Errorf("%w: the audit cut's checkpoint at %d is not the one kept", store.ErrInvalid, cut.Size)
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := s.unindexAudit(b, st.Cut.Size, cut.Size); err != nil {
		return err
	}
	for _, r := range [][2][]byte{
		{auditKey(0), auditKey(cut.Size + 1)},
		{treeKey(treeRoot, 0), treeKey(treeRoot, cut.Size+1)},
		{treeKey(treeCheckpoint, 0), treeKey(treeCheckpoint, cut.Size)},
	} {
		if err := b.DeleteRange(r[0], r[1], nil); err != nil {
			return fmt.Errorf("pebblestore: %w", err)
		}
	}
	if err := b.Set(treeCutKey, encodeCut(cut), nil); err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	return s.commitBatch(b)
}

// unindexAudit stages in b the deletion of the youth index keys ('v') of
// the audit entries numbered above from up to through: the index goes
// with its entries.
func (s *Store) unindexAudit(b *pebble.Batch, from, through uint64) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: auditKey(from + 1), UpperBound: auditKey(through + 1)})
	if err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		if len(it.Key()) != 1+seqSize {
			return closeIter(it, fmt.Errorf("%w: audit key of %d bytes", store.ErrCorrupt, len(it.Key())))
		}
		seq := binary.BigEndian.Uint64(it.Key()[1:])
		e, err := decodeAudit(it.Value())
		if err != nil {
			return closeIter(it, fmt.Errorf("audit entry %d: %w", seq, err))
		}
		if !e.Youth.IsZero() {
			if err := b.Delete(auditYouthKey(e.Youth, seq), nil); err != nil {
				return closeIter(it, fmt.Errorf("pebblestore: %w", err))
			}
		}
	}
	return closeIter(it, nil)
}

// latestCheckpoint reads the checkpoint of the largest size, if any.
func (s *Store) latestCheckpoint() (store.AuditCheckpoint, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixAuditTree, treeCheckpoint},
		UpperBound: []byte{prefixAuditTree, treeCheckpoint + 1}})
	if err != nil {
		return store.AuditCheckpoint{}, fmt.Errorf("pebblestore: %w", err)
	}
	var c store.AuditCheckpoint
	if it.Last() {
		if c, err = decodeCheckpoint(it.Value()); err != nil {
			err = fmt.Errorf("audit checkpoint: %w", err)
		}
	}
	return c, closeIter(it, err)
}
