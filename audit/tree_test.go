package audit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/vindex-nl/vindex/audit"
)

// mth is the Merkle Tree Hash of RFC 6962 section 2.1, written from the
// RFC's definition, as the reference the compact range is held to.
func mth(leaves [][]byte) audit.Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return sha256.Sum256(append([]byte{0}, leaves[0]...))
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := mth(leaves[:k]), mth(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// Known answers: the leaves and roots of the Certificate Transparency
// reference tests (certificate-transparency, cpp/merkletree/
// merkle_tree_test.cc; also transparency-dev/merkle testonly/constants.go).
var ctLeaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}

var ctRoots = []string{
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

func TestTreeKnownAnswers(t *testing.T) {
	var tree audit.Tree
	if got := tree.Root().String(); got != ctRoots[0] {
		t.Errorf("empty root %s", got)
	}
	for i, l := range ctLeaves {
		leaf, _ := hex.DecodeString(l)
		root := tree.Append(leaf)
		if got := root.String(); got != ctRoots[i+1] || tree.Root() != root {
			t.Errorf("root at size %d: %s, want %s", i+1, got, ctRoots[i+1])
		}
	}
}

func TestTreeMatchesReference(t *testing.T) {
	var tree audit.Tree
	var leaves [][]byte
	for i := range 300 {
		leaf := []byte(fmt.Sprintf("entry %d", i))
		leaves = append(leaves, leaf)
		if got, want := tree.Append(leaf), mth(leaves); got != want {
			t.Fatalf("size %d: root %x, want %x", i+1, got, want)
		}
		if tree.Size() != uint64(i+1) {
			t.Fatalf("size %d, want %d", tree.Size(), i+1)
		}
	}
}

// The state survives a round trip at every size, and a restored tree goes
// on exactly as the original; a clone is independent of its original.
func TestTreeStateRoundTrip(t *testing.T) {
	var tree audit.Tree
	for i := range 70 {
		state, err := tree.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back audit.Tree
		if err := back.UnmarshalBinary(state); err != nil {
			t.Fatalf("size %d: %v", i, err)
		}
		clone := tree.Clone()
		leaf := []byte{byte(i)}
		want := tree.Append(leaf)
		if got := back.Append(leaf); got != want {
			t.Fatalf("size %d: restored tree root %x, want %x", i, got, want)
		}
		if clone.Size() != uint64(i) || clone.Append(leaf) != want {
			t.Fatalf("size %d: clone not independent", i)
		}
	}
	state, _ := tree.MarshalBinary()
	if len(state) > 9+7*audit.HashSize {
		t.Errorf("state of size 70 is %d bytes", len(state))
	}
}

func TestTreeStateInvalid(t *testing.T) {
	var tree audit.Tree
	for i := range 5 {
		tree.Append([]byte{byte(i)})
	}
	good, _ := tree.MarshalBinary()
	for name, b := range map[string][]byte{
		"empty":         nil,
		"version":       append([]byte{9}, good[1:]...),
		"hash missing":  good[:len(good)-audit.HashSize],
		"byte trailing": append(bytes.Clone(good), 0),
		"size changed":  append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 7}, good[9:]...),
	} {
		var back audit.Tree
		if err := back.UnmarshalBinary(b); !errors.Is(err, audit.ErrTreeState) {
			t.Errorf("%s: err = %v, want ErrTreeState", name, err)
		}
	}
}

// Add is Append of the encoded entry, with the state to persist; an
// invalid entry leaves the tree as it was.
func TestTreeAdd(t *testing.T) {
	var tree, ref audit.Tree
	for i := range 5 {
		rec, state, err := tree.Add(sampleEntry(i))
		if err != nil {
			t.Fatal(err)
		}
		entry := mustMarshal(t, sampleEntry(i))
		if !bytes.Equal(rec.Entry, entry) || rec.Root != ref.Append(entry) {
			t.Fatalf("entry %d: record %x %v", i, rec.Entry, rec.Root)
		}
		var back audit.Tree
		if err := back.UnmarshalBinary(state); err != nil || back.Root() != rec.Root {
			t.Fatalf("entry %d: state does not restore the tree: %v", i, err)
		}
	}
	if _, _, err := tree.Add(audit.Entry{}); !errors.Is(err, audit.ErrEntry) || tree.Size() != 5 || tree.Root() != ref.Root() {
		t.Errorf("invalid entry: %v, size %d", err, tree.Size())
	}
}
