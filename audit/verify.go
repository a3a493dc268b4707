package audit

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"slices"

	"golang.org/x/mod/sumdb/note"
)

// ErrTampered is what every *TamperError matches with errors.Is.
var ErrTampered = errors.New("audit: log does not match its checkpoints")

// Record is one row of the caller's log: an encoded entry and the tree's
// root just after the entry was appended (what Tree.Append returned). The
// caller writes both in the same atomic write as the tree's state.
type Record struct {
	Entry []byte
	Root  Hash
}

// Entries yields the entries of records (for Prove).
func Entries(records iter.Seq2[Record, error]) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for rec, err := range records {
			if !yield(rec.Entry, err) {
				return
			}
		}
	}
}

// Tamper says how a log fails verification.
type Tamper int

// The ways a log can fail.
const (
	// Altered: the entry at Index is not the one logged there (it was
	// changed, or entries were removed or reordered from there on), or
	// its record was.
	Altered Tamper = iota + 1
	// Inserted: the entry at Index was inserted; without it the entries
	// after it fit their records again.
	Inserted
	// Truncated: the log ends at Index, but a checkpoint of size
	// Checkpoint says it was longer.
	Truncated
	// Rewritten: the entries and their records agree, but not with the
	// checkpoint of size Checkpoint: entries and records were rewritten
	// together after the last checkpoint that still matches (size Index),
	// so the first altered entry is one of Index to Checkpoint-1.
	Rewritten
)

var tamperNames = map[Tamper]string{Altered: "altered", Inserted: "inserted", Truncated: "truncated", Rewritten: "rewritten"}

// String returns the tamper's name, e.g. "inserted".
func (t Tamper) String() string { return tamperNames[t] }

// TamperError names where a log stops matching what was logged and
// signed. It matches ErrTampered.
type TamperError struct {
	Kind Tamper
	// Index is the first entry found altered or inserted, the first entry
	// missing (Truncated), or the first entry no matching checkpoint covers
	// (Rewritten). Entries are numbered from 0.
	Index uint64
	// Checkpoint is the size of the checkpoint the log fails (Truncated,
	// Rewritten); 0 otherwise.
	Checkpoint uint64
}

func (e *TamperError) Error() string {
	switch e.Kind {
	case Altered:
		return fmt.Sprintf("audit: entry %d altered (changed or inserted, or entries removed or reordered from there on)", e.Index)
	case Inserted:
		return fmt.Sprintf("audit: entry %d inserted", e.Index)
	case Truncated:
		return fmt.Sprintf("audit: log truncated: it ends at entry %d, a checkpoint has %d", e.Index, e.Checkpoint)
	case Rewritten:
		if e.Checkpoint == 0 {
			return "audit: a checkpoint of size 0 does not hold the empty tree's root"
		}
		return fmt.Sprintf("audit: entries %d to %d rewritten: the checkpoint of size %d does not match", e.Index, e.Checkpoint-1, e.Checkpoint)
	}
	return fmt.Sprintf("audit: tamper %d at entry %d", e.Kind, e.Index)
}

// Is makes errors.Is(err, ErrTampered) true.
func (e *TamperError) Is(target error) bool { return target == ErrTampered }

// CheckpointError names the checkpoint (by its position in the list given)
// that did not open.
type CheckpointError struct {
	Index int
	// Extra is set by VerifyStore for one of the extra checkpoints (Index
	// counts those); otherwise Index counts the log's own.
	Extra bool
	Err   error
}

func (e *CheckpointError) Error() string {
	if e.Extra {
		return fmt.Sprintf("audit: extra checkpoint %d: %v", e.Index, e.Err)
	}
	return fmt.Sprintf("audit: checkpoint %d: %v", e.Index, e.Err)
}

// Unwrap returns the reason (ErrSignature, ErrCheckpoint).
func (e *CheckpointError) Unwrap() error { return e.Err }

// OpenCheckpoints opens each text with ParseCheckpoint. The first that
// fails is a *CheckpointError naming it: a checkpoint signed by another key
// than the log's (or lacking a required witness) fails here.
func OpenCheckpoints(texts [][]byte, origin string, verifiers ...note.Verifier) ([]Checkpoint, error) {
	out := make([]Checkpoint, len(texts))
	for i, text := range texts {
		c, err := ParseCheckpoint(text, origin, verifiers...)
		if err != nil {
			return nil, &CheckpointError{Index: i, Err: err}
		}
		out[i] = c
	}
	return out, nil
}

// Verify recomputes the tree over records, in order, and checks every
// record's root and every checkpoint's root at its size. It returns nil,
// a *TamperError, or the error records yields (wrapped).
//
// Checkpoints alone can only show that something changed between the last
// checkpoint that matches and the first that does not. To name the exact
// entry, each record carries the root the tree had just after its entry
// was appended: Verify names the first record whose root does not follow
// from the entries before it and its own (Altered), or, when dropping the
// entry before it makes it fit, that entry (Inserted). A flipped byte, a
// removed, swapped or inserted entry, or a removed or added record, is
// named this way. To escape this, a forger must rewrite every record from
// the altered entry on; the tree then fails the first checkpoint after
// that entry, and Verify reports the interval it lies in (Rewritten). A
// log shorter than a checkpoint is Truncated. Records after the last
// checkpoint are checked against their own roots only: what no checkpoint
// covers can be rewritten wholesale, which is why checkpoints are signed
// often and kept by others (witnesses).
func Verify(records iter.Seq2[Record, error], checkpoints []Checkpoint) error {
	return VerifyFrom(nil, records, checkpoints)
}

// VerifyFrom is Verify for a log whose first start.Size() entries are gone
// (destroyed at the end of their retention): records are the entries from
// start.Size() on, and start is the tree of those gone, as kept with the
// cut. Checkpoints of a size below start.Size() are skipped; one of size
// start.Size() must match start's root. A nil start is the empty tree.
func VerifyFrom(start *Tree, records iter.Seq2[Record, error], checkpoints []Checkpoint) error {
	if start == nil {
		start = &Tree{}
	}
	base := start.Size()
	cps := slices.SortedFunc(slices.Values(checkpoints), func(a, b Checkpoint) int {
		return cmp.Compare(a.Size, b.Size)
	})
	for len(cps) > 0 && cps[0].Size <= base {
		if cps[0].Size == base && cps[0].Root != start.Root() {
			return &TamperError{Kind: Rewritten, Index: 0, Checkpoint: base}
		}
		cps = cps[1:]
	}
	var (
		tree  = start.Clone()
		prev  *Tree // the tree without the previous entry; nil at the start
		last  Hash  // the previous entry's leaf hash
		good  = base
		n     = base
		first = true
	)
	for rec, err := range records {
		if err != nil {
			return fmt.Errorf("audit: reading record %d: %w", n, err)
		}
		leaf := LeafHash(rec.Entry)
		tree.AppendLeafHash(leaf)
		root := tree.Root()
		if root != rec.Root {
			return mismatch(prev, n, leaf, rec.Root)
		}
		if first {
			prev, first = start.Clone(), false
		} else {
			prev.AppendLeafHash(last)
		}
		n++
		last = leaf
		for len(cps) > 0 && cps[0].Size == n {
			if cps[0].Root != root {
				return &TamperError{Kind: Rewritten, Index: good, Checkpoint: n}
			}
			good = n
			cps = cps[1:]
		}
	}
	if len(cps) > 0 {
		return &TamperError{Kind: Truncated, Index: n, Checkpoint: cps[len(cps)-1].Size}
	}
	return nil
}

// mismatch names the tamper found at record n, whose root does not follow.
// prev is the tree of the entries before n-1: if record n fits it without
// entry n-1, entry n-1 was inserted (with a record forged to fit).
func mismatch(prev *Tree, n uint64, leaf, root Hash) error {
	if prev != nil {
		t := prev.Clone()
		t.AppendLeafHash(leaf)
		if t.Root() == root {
			return &TamperError{Kind: Inserted, Index: n - 1}
		}
	}
	return &TamperError{Kind: Altered, Index: n}
}
