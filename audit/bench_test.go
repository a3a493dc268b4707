package audit_test

import (
	"log/slog"
	"testing"

	"github.com/vindex-nl/vindex/audit"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
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

// BenchmarkSeal is what sealing costs the server, per entry: reading the
// new entries from a Pebble store on disk, encoding and hashing them,
// their roots and the tree's state written synced, and one checkpoint
// signed, for 10,000 entries logged since the last seal (a busy interval).
func BenchmarkSeal(b *testing.B) {
	const n = 10_000
	s, err := pebblestore.Open(b.TempDir(), &pebblestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l, err := audit.Open(ctx, s, signer(b, logSkey))
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]store.AuditEntry, 0, 1000)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i := 0; i < n; i += cap(batch) {
			batch = batch[:0]
			for j := range cap(batch) {
				batch = append(batch, sampleEntry(i+j))
			}
			if err := s.AppendAudit(ctx, batch...); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if _, err := l.Seal(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
}
