package audit_test

import (
	"testing"

	"github.com/vindex-nl/vindex/audit"
)

// BenchmarkAppend is the cost the log adds to one access: encoding the
// entry, appending it to the tree, computing the new root (for its record)
// and the tree's state (persisted with it). The tree starts at a million
// leaves, so the root is the work of a long-lived log.
func BenchmarkAppend(b *testing.B) {
	var tree audit.Tree
	for i := range 1 << 20 {
		tree.AppendLeafHash(audit.Hash{byte(i), byte(i >> 8), byte(i >> 16)})
	}
	e := sampleEntry(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tree.Add(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignCheckpoint is the cost of one signed checkpoint.
func BenchmarkSignCheckpoint(b *testing.B) {
	s := signer(b, logSkey)
	root := audit.EmptyRoot()
	b.ReportAllocs()
	for i := uint64(0); b.Loop(); i++ {
		if _, err := s.SignCheckpoint(i, root); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is an auditor's cost per entry of checking a log.
func BenchmarkVerify(b *testing.B) {
	l := newTestLog(b, 10000)
	cps, err := audit.OpenCheckpoints(l.checkpoints, origin, verifier(b, logVkey))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := audit.Verify(seq(l.records), cps); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/entry")
}
