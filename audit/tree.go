package audit

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// ErrTreeState reports bytes that are not a tree state MarshalBinary wrote.
var ErrTreeState = errors.New("audit: malformed tree state")

// HashSize is the size of a tree hash (SHA-256).
const HashSize = 32

// Hash is a node hash of the tree: a leaf hash or a root.
type Hash [HashSize]byte

// String returns h in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// hasher is RFC 6962's SHA-256 tree hasher.
var hasher = rfc6962.DefaultHasher

var factory = compact.RangeFactory{Hash: hasher.HashChildren}

// LeafHash returns the RFC 6962 leaf hash of an encoded entry:
// SHA-256(0x00 || entry).
func LeafHash(entry []byte) Hash { return Hash(hasher.HashLeaf(entry)) }

// EmptyRoot is the root of the tree with no leaves: SHA-256 of nothing.
func EmptyRoot() Hash { return Hash(hasher.EmptyRoot()) }

// Tree is the audit log's Merkle tree, kept incrementally: it holds only
// the roots of the perfect subtrees covering the leaves so far (a compact
// range, one hash per set bit of the size), so appending and computing the
// root cost O(log n) whatever the log's length. The zero Tree is empty and
// ready to use. A Tree is not safe for concurrent use: the caller appends
// under the same lock (or in the same write) in which it logs the entry.
type Tree struct {
	rng *compact.Range
}

func (t *Tree) init() {
	if t.rng == nil {
		t.rng = factory.NewEmptyRange(0)
	}
}

// range0 returns the tree's compact range (an empty one for an empty tree).
func (t *Tree) range0() *compact.Range {
	t.init()
	return t.rng
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 {
	if t.rng == nil {
		return 0
	}
	return t.rng.End()
}

// Append adds an encoded entry as the next leaf and returns the tree's
// root after it. The caller logs the entry and that root together (a
// Record), with the tree's new state, in one atomic write.
func (t *Tree) Append(entry []byte) Hash {
	t.AppendLeafHash(LeafHash(entry))
	return t.Root()
}

// Add encodes e and appends it: it returns the record to log and the
// tree's new state (MarshalBinary), which the caller writes in one atomic
// write with the change the entry records. An invalid entry is ErrEntry,
// and then the tree is unchanged.
func (t *Tree) Add(e Entry) (Record, []byte, error) {
	b, err := MarshalEntry(e)
	if err != nil {
		return Record{}, nil, err
	}
	rec := Record{Entry: b, Root: t.Append(b)}
	state, err := t.MarshalBinary()
	return rec, state, err
}

// AppendLeafHash adds a leaf by its hash (see LeafHash).
func (t *Tree) AppendLeafHash(leaf Hash) {
	t.init()
	// Append fails only for a range that does not start at 0 or hashes
	// of different lengths; neither can happen here.
	if err := t.rng.Append(leaf[:], nil); err != nil {
		panic("audit: " + err.Error())
	}
}

// Root returns the tree's root hash (EmptyRoot for an empty tree).
func (t *Tree) Root() Hash {
	if t.Size() == 0 {
		return EmptyRoot()
	}
	root, err := t.rng.GetRootHash(nil)
	if err != nil {
		panic("audit: " + err.Error())
	}
	return Hash(root)
}

// MarshalBinary returns the tree's state: one version byte, the size as
// 8 bytes big-endian, then the compact range's hashes (one per set bit of
// the size, left to right). The caller persists it atomically with the
// entry it last appended.
func (t *Tree) MarshalBinary() ([]byte, error) {
	var hashes [][]byte
	if t.rng != nil {
		hashes = t.rng.Hashes()
	}
	b := make([]byte, 0, 9+len(hashes)*HashSize)
	b = append(b, version)
	b = binary.BigEndian.AppendUint64(b, t.Size())
	for _, h := range hashes {
		b = append(b, h...)
	}
	return b, nil
}

// UnmarshalBinary restores a state MarshalBinary wrote.
func (t *Tree) UnmarshalBinary(b []byte) error {
	if len(b) < 9 || b[0] != version {
		return fmt.Errorf("%w: %d bytes", ErrTreeState, len(b))
	}
	size := binary.BigEndian.Uint64(b[1:9])
	n := bits.OnesCount64(size)
	if len(b) != 9+n*HashSize {
		return fmt.Errorf("%w: size %d needs %d hashes, have %d bytes", ErrTreeState, size, n, len(b)-9)
	}
	hashes := make([][]byte, n)
	for i := range hashes {
		hashes[i] = append([]byte(nil), b[9+i*HashSize:9+(i+1)*HashSize]...)
	}
	rng, err := factory.NewRange(0, size, hashes)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTreeState, err)
	}
	t.rng = rng
	return nil
}

// Clone returns an independent copy of t: a caller appends to the copy,
// and keeps it only once the write that logs the entry has committed.
func (t *Tree) Clone() *Tree {
	c := &Tree{}
	if t.rng != nil {
		hashes := make([][]byte, len(t.rng.Hashes()))
		for i, h := range t.rng.Hashes() {
			hashes[i] = append([]byte(nil), h...)
		}
		rng, err := factory.NewRange(0, t.rng.End(), hashes)
		if err != nil {
			panic("audit: " + err.Error())
		}
		c.rng = rng
	}
	return c
}
