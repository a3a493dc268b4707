package audit_test

import (
	"errors"
	"fmt"
	"iter"
	"testing"

	"github.com/vindex-nl/vindex/audit"
)

func entries(l [][]byte) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for _, e := range l {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// Every entry of every tree up to 40 leaves (of a longer log) has a proof
// that verifies against the tree's root, and only for that entry, index,
// size and root.
func TestProveVerifies(t *testing.T) {
	var log [][]byte
	for i := range 50 {
		log = append(log, []byte(fmt.Sprintf("entry %d", i)))
	}
	for size := uint64(1); size <= 40; size++ {
		root := mth(log[:size])
		for index := range size {
			p, err := audit.Prove(entries(log), index, size)
			if err != nil {
				t.Fatalf("Prove(%d, %d): %v", index, size, err)
			}
			if err := audit.VerifyInclusion(log[index], index, size, p, root); err != nil {
				t.Fatalf("VerifyInclusion(%d, %d): %v", index, size, err)
			}
			other := (index + 1) % size
			if size > 1 {
				if err := audit.VerifyInclusion(log[other], index, size, p, root); !errors.Is(err, audit.ErrProof) {
					t.Fatalf("entry %d verifies as %d in %d: %v", other, index, size, err)
				}
				if err := audit.VerifyInclusion(log[index], other, size, p, root); !errors.Is(err, audit.ErrProof) {
					t.Fatalf("entry %d verifies at index %d in %d: %v", index, other, size, err)
				}
			}
			for i := range p {
				p[i][i%audit.HashSize] ^= 1
				if err := audit.VerifyInclusion(log[index], index, size, p, root); !errors.Is(err, audit.ErrProof) {
					t.Fatalf("proof (%d, %d) with hash %d flipped verifies", index, size, i)
				}
				p[i][i%audit.HashSize] ^= 1
			}
			if len(p) > 0 {
				if err := audit.VerifyInclusion(log[index], index, size, p[:len(p)-1], root); !errors.Is(err, audit.ErrProof) {
					t.Fatalf("proof (%d, %d) without its last hash verifies", index, size)
				}
			}
			root2 := root
			root2[0] ^= 1
			if err := audit.VerifyInclusion(log[index], index, size, p, root2); !errors.Is(err, audit.ErrProof) {
				t.Fatalf("proof (%d, %d) verifies against another root", index, size)
			}
		}
	}
}

// A proof against a signed checkpoint: what an auditor checks for one
// entry, given the checkpoint and the proof.
func TestProveAgainstCheckpoint(t *testing.T) {
	l := newTestLog(t, 30)
	cp, err := audit.ParseCheckpoint(l.checkpoints[2], origin, verifier(t, logVkey))
	if err != nil {
		t.Fatal(err)
	}
	p, err := audit.Prove(audit.Entries(seq(l.records)), 17, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	entry := l.records[17].Entry
	if err := audit.VerifyInclusion(entry, 17, cp.Size, p, cp.Root); err != nil {
		t.Fatal(err)
	}
	entry[20] ^= 1
	if err := audit.VerifyInclusion(entry, 17, cp.Size, p, cp.Root); !errors.Is(err, audit.ErrProof) {
		t.Errorf("altered entry verifies: %v", err)
	}
}

func TestProveErrors(t *testing.T) {
	log := [][]byte{{1}, {2}, {3}}
	for _, tc := range []struct{ index, size uint64 }{{3, 3}, {0, 0}, {0, 4}, {5, 4}} {
		if _, err := audit.Prove(entries(log), tc.index, tc.size); !errors.Is(err, audit.ErrProof) {
			t.Errorf("Prove(%d, %d): %v", tc.index, tc.size, err)
		}
	}
	boom := errors.New("disk error")
	bad := func(yield func([]byte, error) bool) { yield(nil, boom) }
	if _, err := audit.Prove(bad, 0, 1); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
}
