package audit

import (
	"errors"
	"fmt"
	"iter"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// ErrProof reports an inclusion proof that cannot be made (index not
// below size, log shorter than size) or that does not verify.
var ErrProof = errors.New("audit: inclusion proof")

// Prove returns the RFC 6962 inclusion proof of entry index in the tree of
// the first size entries: the hashes, bottom to top, that with the entry's
// leaf hash give the root a checkpoint of that size signs. It reads the
// entries once, keeping O(log size) hashes.
func Prove(entries iter.Seq2[[]byte, error], index, size uint64) ([]Hash, error) {
	return ProveFrom(nil, entries, index, size)
}

// ProveFrom is Prove for a log whose first start.Size() entries are gone
// (see VerifyFrom): entries are those from start.Size() on, and index must
// not be below start.Size(). The proof needs no gone entry: every hash it
// takes from left of the cut is one of start's.
func ProveFrom(start *Tree, entries iter.Seq2[[]byte, error], index, size uint64) ([]Hash, error) {
	if start == nil {
		start = &Tree{}
	}
	if index < start.Size() {
		return nil, fmt.Errorf("%w: entry %d was destroyed with the first %d", ErrProof, index, start.Size())
	}
	if index >= size {
		return nil, fmt.Errorf("%w: index %d not below size %d", ErrProof, index, size)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProof, err)
	}
	want := make(map[compact.NodeID]int, len(nodes.IDs))
	for i, id := range nodes.IDs {
		want[id] = i
	}
	hashes := make([][]byte, len(nodes.IDs))
	visit := func(id compact.NodeID, h []byte) {
		if i, ok := want[id]; ok {
			hashes[i] = h
		}
	}
	rng := start.Clone().range0()
	for i, id := range compact.RangeNodes(0, rng.End(), nil) {
		visit(id, rng.Hashes()[i])
	}
	for entry, err := range entries {
		if err != nil {
			return nil, fmt.Errorf("audit: reading entry %d: %w", rng.End(), err)
		}
		leaf := LeafHash(entry)
		if err := rng.Append(leaf[:], visit); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProof, err)
		}
		if rng.End() == size {
			break
		}
	}
	if rng.End() < size {
		return nil, fmt.Errorf("%w: the log has %d entries, fewer than %d", ErrProof, rng.End(), size)
	}
	hashes, err = nodes.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProof, err)
	}
	out := make([]Hash, len(hashes))
	for i, h := range hashes {
		out[i] = Hash(h)
	}
	return out, nil
}

// VerifyInclusion checks that the encoded entry is leaf index of the tree
// of size leaves with root root, by its inclusion proof (as Prove makes it).
func VerifyInclusion(entry []byte, index, size uint64, proofHashes []Hash, root Hash) error {
	p := make([][]byte, len(proofHashes))
	for i := range proofHashes {
		p[i] = proofHashes[i][:]
	}
	leaf := LeafHash(entry)
	if err := proof.VerifyInclusion(hasher, index, size, leaf[:], p, root[:]); err != nil {
		return fmt.Errorf("%w: %w", ErrProof, err)
	}
	return nil
}
