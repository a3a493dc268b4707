package audit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vindex-nl/vindex/store"
)

// Store is what a Log needs of the store: its audit entries, and the
// keeping of the tree over them.
type Store interface {
	store.AuditLog
	store.AuditTree
}

// sealBatch is the most entries one SealAudit write holds.
const sealBatch = 4096

// Log is the tree over a store's audit entries. The store numbers and
// keeps the entries (each durable before the answer it records); Seal, run
// at an interval, appends the entries not yet in the tree, keeps each
// one's root and the tree's state in the store, and signs a checkpoint of
// the new tree. Sealing after the commit keeps hashing and signing off the
// reports' path, as a transparency log's integrator does; the entries'
// order is fixed by their numbers, so the tree is the same as if each were
// hashed in its commit. What is not yet sealed is covered by no checkpoint:
// the interval bounds how long an entry can be rewritten unseen.
//
// A Log is safe for concurrent use.
type Log struct {
	st     Store
	signer *Signer
	now    func() time.Time

	mu     sync.Mutex
	tree   *Tree
	latest store.AuditCheckpoint
}

// Open returns the Log of st, signing with signer, at the tree the store
// last sealed. It fails if the store's tree state does not load, or its
// newest checkpoint is not signed by signer.
func Open(ctx context.Context, st Store, signer *Signer) (*Log, error) {
	state, err := st.AuditTree(ctx)
	if err != nil {
		return nil, err
	}
	l := &Log{st: st, signer: signer, now: time.Now, tree: &Tree{}}
	if state.Tree != nil {
		if err := l.tree.UnmarshalBinary(state.Tree); err != nil {
			return nil, err
		}
		if l.tree.Size() != state.Size {
			return nil, fmt.Errorf("%w: state of %d leaves sealed as %d", ErrTreeState, l.tree.Size(), state.Size)
		}
	}
	l.latest = newestCheckpoint(state)
	if l.latest.Text != nil {
		c, err := ParseCheckpoint(l.latest.Text, signer.Origin(), signer.Verifier())
		if err != nil {
			return nil, fmt.Errorf("audit: the store's newest checkpoint is not this key's: %w", err)
		}
		// Never sign on from a state that contradicts what was signed.
		if c.Size == l.tree.Size() && c.Root != l.tree.Root() {
			return nil, fmt.Errorf("%w: the tree's state does not have the root of the checkpoint of its size", ErrTampered)
		}
	}
	return l, nil
}

// newestCheckpoint returns the store's checkpoint of the largest size:
// the newest kept, or the cut's if none is kept after it.
func newestCheckpoint(state store.AuditTreeState) store.AuditCheckpoint {
	if state.Latest.Text != nil {
		return state.Latest
	}
	return state.Cut.Checkpoint
}

// Latest returns the newest signed checkpoint (zero before the first).
func (l *Log) Latest() store.AuditCheckpoint {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latest
}

// Verifier returns the verifier of the log's signatures.
func (l *Log) Verifier() note.Verifier { return l.signer.Verifier() }

// Size returns the number of entries sealed into the tree.
func (l *Log) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.Size()
}

// Seal appends to the tree every durable entry not yet in it, keeps their
// roots and the tree's state, and, if the tree grew, a signed checkpoint of
// it. It returns the newest checkpoint (none while the log is empty). An entry that does not encode
// stops it (ErrEntry, naming the entry): the store refuses such entries,
// so one there was written past it.
func (l *Log) Seal(ctx context.Context) (store.AuditCheckpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		entries, err := l.st.AuditEntries(ctx, l.tree.Size(), sealBatch)
		if err != nil {
			return l.latest, err
		}
		if len(entries) == 0 {
			break
		}
		if err := l.sealBatch(ctx, entries, len(entries) < sealBatch); err != nil {
			return l.latest, err
		}
	}
	if l.tree.Size() > 0 && l.latest.Size != l.tree.Size() {
		// The last batch was exactly sealBatch entries: sign on its own.
		if err := l.sealBatch(ctx, nil, true); err != nil {
			return l.latest, err
		}
	}
	return l.latest, nil
}

// sealBatch appends entries to a copy of the tree, keeps it with the
// roots (and, if sign, a checkpoint) and then adopts it.
func (l *Log) sealBatch(ctx context.Context, entries []store.AuditEntry, sign bool) error {
	from := l.tree.Size()
	next := l.tree.Clone()
	roots := make([][32]byte, len(entries))
	var buf []byte
	for i, e := range entries {
		if e.Seq != from+uint64(i)+1 {
			return fmt.Errorf("%w: entry %d follows %d", ErrTampered, e.Seq, from+uint64(i))
		}
		b, err := AppendEntry(buf[:0], e)
		if err != nil {
			return fmt.Errorf("entry %d: %w", e.Seq, err)
		}
		buf = b
		roots[i] = next.Append(b)
	}
	state, err := next.MarshalBinary()
	if err != nil {
		return err
	}
	seal := store.AuditSeal{From: from, Roots: roots, Tree: state}
	if sign {
		now := l.now()
		text, err := l.signer.SignCheckpoint(next.Size(), next.Root())
		if err != nil {
			return err
		}
		seal.Checkpoint = store.AuditCheckpoint{Size: next.Size(), At: now, Text: text}
	}
	if err := l.st.SealAudit(ctx, seal); err != nil {
		return err
	}
	l.tree = next
	if sign {
		l.latest = seal.Checkpoint
	}
	return nil
}

// Cut destroys the entries older than before: it cuts the log at the
// newest checkpoint signed before that time (every entry it covers was
// logged before it was signed), keeping that checkpoint and the tree's
// state there, so the rest still verifies. It returns the size cut at (0
// if there was nothing to cut).
func (l *Log) Cut(ctx context.Context, before time.Time) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	state, err := l.st.AuditTree(ctx)
	if err != nil {
		return 0, err
	}
	var at store.AuditCheckpoint
	for c, err := range checkpoints(ctx, l.st) {
		if err != nil {
			return 0, err
		}
		if !c.At.Before(before) {
			break
		}
		at = c
	}
	if at.Text == nil || at.Size <= state.Cut.Size {
		return 0, nil
	}
	tree, err := treeAt(ctx, l.st, state, at.Size)
	if err != nil {
		return 0, err
	}
	if c, err := ParseCheckpoint(at.Text, l.signer.Origin(), l.signer.Verifier()); err != nil || c.Root != tree.Root() {
		return 0, fmt.Errorf("%w: the entries up to the cut at %d do not match its checkpoint", ErrTampered, at.Size)
	}
	b, err := tree.MarshalBinary()
	if err != nil {
		return 0, err
	}
	// The cut is an entry of the log before it is made, so that the
	// checkpoints after it cover it: a cut nobody recorded does not verify.
	rec := store.AuditEntry{At: l.now(), Institution: "operator", Verb: store.AuditRetentionCut, Outcome: cutOutcome(at.Size)}
	if err := l.st.AppendAudit(ctx, rec); err != nil {
		return 0, err
	}
	if err := l.st.CutAudit(ctx, store.AuditCut{Size: at.Size, Tree: b, Checkpoint: at}); err != nil {
		return 0, err
	}
	return at.Size, nil
}

// cutOutcome is the outcome of the entry that records a cut at size.
func cutOutcome(size uint64) string { return "through:" + strconv.FormatUint(size, 10) }

// treeAt recomputes the tree of the first size entries, from the cut on.
func treeAt(ctx context.Context, st Store, state store.AuditTreeState, size uint64) (*Tree, error) {
	tree, err := cutTree(state)
	if err != nil {
		return nil, err
	}
	for e, err := range entries(ctx, st, tree.Size()) {
		if err != nil {
			return nil, err
		}
		if tree.Size() == size {
			break
		}
		b, err := MarshalEntry(e)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", e.Seq, err)
		}
		tree.Append(b)
	}
	if tree.Size() != size {
		return nil, fmt.Errorf("%w: the log has %d entries, fewer than %d", ErrTampered, tree.Size(), size)
	}
	return tree, nil
}

// cutTree returns the tree of the entries the retention cut destroyed.
func cutTree(state store.AuditTreeState) (*Tree, error) {
	tree := &Tree{}
	if state.Cut.Size == 0 {
		return tree, nil
	}
	if err := tree.UnmarshalBinary(state.Cut.Tree); err != nil {
		return nil, err
	}
	if tree.Size() != state.Cut.Size {
		return nil, fmt.Errorf("%w: cut state of %d leaves kept for a cut at %d", ErrTreeState, tree.Size(), state.Cut.Size)
	}
	return tree, nil
}

// page is how many entries, roots or checkpoints one read takes.
const page = 1024

// entries yields the store's entries numbered above after, in order.
func entries(ctx context.Context, st Store, after uint64) iter.Seq2[store.AuditEntry, error] {
	return paged(func(after uint64) ([]store.AuditEntry, error) { return st.AuditEntries(ctx, after, page) },
		func(e store.AuditEntry) uint64 { return e.Seq }, after)
}

// checkpoints yields the store's checkpoints, by size.
func checkpoints(ctx context.Context, st Store) iter.Seq2[store.AuditCheckpoint, error] {
	return paged(func(after uint64) ([]store.AuditCheckpoint, error) { return st.AuditCheckpoints(ctx, after, page) },
		func(c store.AuditCheckpoint) uint64 { return c.Size }, 0)
}

// roots yields the store's roots numbered above after.
func roots(ctx context.Context, st Store, after uint64) iter.Seq2[store.AuditRoot, error] {
	return paged(func(after uint64) ([]store.AuditRoot, error) { return st.AuditRoots(ctx, after, page) },
		func(r store.AuditRoot) uint64 { return r.Seq }, after)
}

// paged yields the items of read, a page at a time, from after on.
func paged[T any](read func(after uint64) ([]T, error), key func(T) uint64, after uint64) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			items, err := read(after)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			if len(items) == 0 {
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			after = key(items[len(items)-1])
		}
	}
}

// Report is what VerifyStore found.
type Report struct {
	// CutRecord is the entry that recorded the retention cut (zero if no
	// cut was made); ExtraBelowCut counts the extra checkpoints that lie
	// in the part the cut destroyed, which nothing left can check: compare
	// CutRecord's time with when they were seen and the retention term.
	CutRecord     store.AuditEntry
	ExtraBelowCut int
	// Cut is the number of entries destroyed at the end of their
	// retention (verified through the cut's checkpoint); Size the number
	// of entries verified after it; Unsealed the entries logged after the
	// last seal, which no root or checkpoint covers yet.
	Cut, Size, Unsealed uint64
	// Checkpoints is the number of checkpoints checked, the store's and
	// the extra ones.
	Checkpoints int
	// Latest is the largest checkpoint checked.
	Latest Checkpoint
}

// VerifyStore verifies st's audit log: it recomputes the tree from the
// retention cut's state over every sealed entry, checks each entry's kept
// root, the cut's checkpoint and every checkpoint the store keeps (signed
// by log under origin), and the extra checkpoints: texts a witness or an
// auditor kept, each of which must carry the signatures of log and of
// every one of witnesses, and fit the log. It returns a *TamperError
// naming the first entry changed, removed, reordered or inserted, a
// *CheckpointError for a checkpoint not signed as required (the store's
// counted from the cut's, or an extra one: Extra), or an error naming
// an entry the store cannot read.
func VerifyStore(ctx context.Context, st Store, origin string, log note.Verifier, extra [][]byte, witnesses ...note.Verifier) (Report, error) {
	state, err := st.AuditTree(ctx)
	if err != nil {
		return Report{}, err
	}
	start, err := cutTree(state)
	if err != nil {
		return Report{}, err
	}
	var texts [][]byte
	if state.Cut.Size > 0 {
		texts = append(texts, state.Cut.Checkpoint.Text)
	}
	for c, err := range checkpoints(ctx, st) {
		if err != nil {
			return Report{}, err
		}
		texts = append(texts, c.Text)
	}
	cps, err := OpenCheckpoints(texts, origin, log)
	if err != nil {
		return Report{}, err
	}
	more, err := OpenCheckpoints(extra, origin, append([]note.Verifier{log}, witnesses...)...)
	if err != nil {
		if ce := (*CheckpointError)(nil); errors.As(err, &ce) {
			ce.Extra = true
		}
		return Report{}, err
	}
	cps = append(cps, more...)
	rep := Report{Cut: state.Cut.Size, Checkpoints: len(cps)}
	for _, c := range cps {
		if c.Size >= rep.Latest.Size {
			rep.Latest = c
		}
	}
	for _, c := range more {
		if c.Size < state.Cut.Size {
			rep.ExtraBelowCut++
		}
	}
	err = VerifyFrom(start, sealedRecords(ctx, st, state, &rep), cps)
	if err != nil {
		return rep, err
	}
	if state.Cut.Size > 0 && rep.CutRecord.Seq == 0 {
		return rep, fmt.Errorf("%w: entries 1 to %d were destroyed, and no entry of the log records that cut", ErrTampered, state.Cut.Size)
	}
	return rep, nil
}

// sealedRecords yields the records of the sealed entries after the cut:
// each entry (in its canonical encoding) with its kept root, counting them
// in rep. An entry without a root, or a root without an entry, is a record
// whose other half is empty, so Verify names its place.
func sealedRecords(ctx context.Context, st Store, state store.AuditTreeState, rep *Report) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		nextRoot, stop := iter.Pull2(roots(ctx, st, state.Cut.Size))
		defer stop()
		var buf []byte
		for e, err := range entries(ctx, st, state.Cut.Size) {
			if err != nil {
				yield(Record{}, err)
				return
			}
			if e.Verb == store.AuditRetentionCut && state.Cut.Size > 0 && e.Outcome == cutOutcome(state.Cut.Size) {
				rep.CutRecord = e
			}
			if e.Seq > state.Size {
				rep.Unsealed++
				continue
			}
			r, rerr, ok := nextRoot()
			if rerr != nil {
				yield(Record{}, rerr)
				return
			}
			b, err := AppendEntry(buf[:0], e)
			if err != nil {
				yield(Record{}, fmt.Errorf("entry %d: %w", e.Seq, err))
				return
			}
			buf = b
			rec := Record{Entry: b}
			if ok {
				rec.Root = r.Root
			}
			rep.Size++
			if !yield(rec, nil) {
				return
			}
		}
		// Roots left without their entries: sealed entries removed from
		// the end, which no checkpoint may cover yet.
		if _, err, ok := nextRoot(); ok {
			if err == nil {
				err = &TamperError{Kind: Truncated, Index: state.Cut.Size + rep.Size, Checkpoint: state.Size}
			}
			yield(Record{}, err)
		}
	}
}

// ErrNotSealed reports an entry that no checkpoint covers yet, or one that
// is gone.
var ErrNotSealed = errors.New("audit: entry not in a checkpoint")

// Proof is an inclusion proof of one entry in a checkpoint's tree.
type Proof struct {
	// Seq is the entry's number; its leaf index is Seq−1.
	Seq   uint64
	Entry []byte
	// Checkpoint is the signed checkpoint the proof leads to.
	Checkpoint []byte
	Size       uint64
	Hashes     []Hash
}

// ProveStore returns the inclusion proof of entry seq in the tree of the
// store's newest checkpoint.
func ProveStore(ctx context.Context, st Store, origin string, v note.Verifier, seq uint64) (Proof, error) {
	state, err := st.AuditTree(ctx)
	if err != nil {
		return Proof{}, err
	}
	latest := newestCheckpoint(state)
	cp, err := ParseCheckpoint(latest.Text, origin, v)
	if err != nil {
		return Proof{}, err
	}
	if seq == 0 || seq <= state.Cut.Size || seq > cp.Size {
		return Proof{}, fmt.Errorf("%w: entry %d (entries %d to %d are checkpointed)", ErrNotSealed, seq, state.Cut.Size+1, cp.Size)
	}
	start, err := cutTree(state)
	if err != nil {
		return Proof{}, err
	}
	var entry []byte
	leaves := func(yield func([]byte, error) bool) {
		for e, err := range entries(ctx, st, state.Cut.Size) {
			var b []byte
			if err == nil {
				b, err = MarshalEntry(e)
			}
			if e.Seq == seq {
				entry = b
			}
			if !yield(b, err) {
				return
			}
		}
	}
	hashes, err := ProveFrom(start, leaves, seq-1, cp.Size)
	if err != nil {
		return Proof{}, err
	}
	if err := VerifyInclusion(entry, seq-1, cp.Size, hashes, cp.Root); err != nil {
		return Proof{}, fmt.Errorf("%w: the log does not match its checkpoint", err)
	}
	return Proof{Seq: seq, Entry: entry, Checkpoint: latest.Text, Size: cp.Size, Hashes: hashes}, nil
}
