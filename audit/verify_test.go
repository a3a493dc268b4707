package audit_test

import (
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vindex-nl/vindex/audit"
)

// testLog is a log of n entries as a caller keeps it (records), with a
// checkpoint signed every 10 entries.
type testLog struct {
	records     []audit.Record
	checkpoints [][]byte
}

func newTestLog(t testing.TB, n int) *testLog {
	t.Helper()
	s := signer(t, logSkey)
	l := &testLog{}
	var tree audit.Tree
	for i := range n {
		entry := mustMarshal(t, sampleEntry(i))
		l.records = append(l.records, audit.Record{Entry: entry, Root: tree.Append(entry)})
		if (i+1)%10 == 0 {
			cp, err := s.SignCheckpoint(tree.Size(), tree.Root())
			if err != nil {
				t.Fatal(err)
			}
			l.checkpoints = append(l.checkpoints, cp)
		}
	}
	return l
}

func seq(rs []audit.Record) iter.Seq2[audit.Record, error] {
	return func(yield func(audit.Record, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// verify opens the checkpoints with the log's key (and the witness's, if
// given) and verifies the records against them.
func (l *testLog) verify(t testing.TB, vkeys ...string) error {
	t.Helper()
	if len(vkeys) == 0 {
		vkeys = []string{logVkey}
	}
	var vs []note.Verifier
	for _, k := range vkeys {
		vs = append(vs, verifier(t, k))
	}
	cps, err := audit.OpenCheckpoints(l.checkpoints, origin, vs...)
	if err != nil {
		return err
	}
	return audit.Verify(seq(l.records), cps)
}

// rootWith returns the root of the tree of rs's entries followed by entry:
// what a forger who can recompute roots writes in a record.
func rootWith(rs []audit.Record, entry []byte) audit.Hash {
	var tree audit.Tree
	for _, r := range rs {
		tree.Append(r.Entry)
	}
	return tree.Append(entry)
}

func TestVerifyIntact(t *testing.T) {
	l := newTestLog(t, 105)
	if err := l.verify(t); err != nil {
		t.Fatal(err)
	}
	if err := audit.Verify(seq(nil), nil); err != nil {
		t.Errorf("empty log: %v", err)
	}
	for i := range l.checkpoints {
		l.checkpoints[i] = cosign(t, l.checkpoints[i])
	}
	if err := l.verify(t, logVkey, witVkey); err != nil {
		t.Errorf("cosigned, both keys required: %v", err)
	}
}

func cosign(t testing.TB, cp []byte) []byte {
	t.Helper()
	out, err := audit.Cosign(cp, origin, verifier(t, logVkey), signer(t, witSkey))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every way of tampering with the log fails verification, and the error
// names the place: the entry, or the checkpoint.
func TestVerifyTampered(t *testing.T) {
	inserted := mustMarshal(t, audit.Entry{At: time.Unix(1, 0), Institution: "police", Verb: audit.Lookup, Outcome: "ok"})
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, l *testLog)
		want   audit.TamperError
	}{
		{"flip a byte of an entry", func(t *testing.T, l *testLog) { l.records[42].Entry[20] ^= 1 },
			audit.TamperError{Kind: audit.Altered, Index: 42}},
		{"flip a byte of the first entry", func(t *testing.T, l *testLog) { l.records[0].Entry[5] ^= 0x80 },
			audit.TamperError{Kind: audit.Altered, Index: 0}},
		{"flip a byte of a record's root", func(t *testing.T, l *testLog) { l.records[42].Root[0] ^= 1 },
			audit.TamperError{Kind: audit.Altered, Index: 42}},
		{"delete an entry", func(t *testing.T, l *testLog) { l.records = slices.Delete(l.records, 42, 43) },
			audit.TamperError{Kind: audit.Altered, Index: 42}},
		{"delete the last checkpointed entry", func(t *testing.T, l *testLog) { l.records = slices.Delete(l.records, 99, 100) },
			audit.TamperError{Kind: audit.Altered, Index: 99}},
		{"swap two entries", func(t *testing.T, l *testLog) { l.records[42], l.records[43] = l.records[43], l.records[42] },
			audit.TamperError{Kind: audit.Altered, Index: 42}},
		{"swap two distant entries", func(t *testing.T, l *testLog) { l.records[17], l.records[71] = l.records[71], l.records[17] },
			audit.TamperError{Kind: audit.Altered, Index: 17}},
		{"insert an entry with a made-up root", func(t *testing.T, l *testLog) {
			l.records = slices.Insert(l.records, 42, audit.Record{Entry: inserted})
		}, audit.TamperError{Kind: audit.Altered, Index: 42}},
		{"insert an entry with a recomputed root", func(t *testing.T, l *testLog) {
			l.records = slices.Insert(l.records, 42, audit.Record{Entry: inserted, Root: rootWith(l.records[:42], inserted)})
		}, audit.TamperError{Kind: audit.Inserted, Index: 42}},
		{"insert an entry after the last checkpoint", func(t *testing.T, l *testLog) {
			l.records = slices.Insert(l.records, 102, audit.Record{Entry: inserted, Root: rootWith(l.records[:102], inserted)})
		}, audit.TamperError{Kind: audit.Inserted, Index: 102}},
		{"flip a byte after the last checkpoint", func(t *testing.T, l *testLog) { l.records[103].Entry[30] ^= 4 },
			audit.TamperError{Kind: audit.Altered, Index: 103}},
		{"truncate the log", func(t *testing.T, l *testLog) { l.records = l.records[:95] },
			audit.TamperError{Kind: audit.Truncated, Index: 95, Checkpoint: 100}},
		{"truncate the log to nothing", func(t *testing.T, l *testLog) { l.records = nil },
			audit.TamperError{Kind: audit.Truncated, Index: 0, Checkpoint: 100}},
		{"change an entry and recompute every root after it", func(t *testing.T, l *testLog) {
			l.records[42].Entry[20] ^= 1
			var tree audit.Tree
			for i := range l.records {
				l.records[i].Root = tree.Append(l.records[i].Entry)
			}
		}, audit.TamperError{Kind: audit.Rewritten, Index: 40, Checkpoint: 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLog(t, 105)
			tc.tamper(t, l)
			err := l.verify(t)
			var te *audit.TamperError
			if !errors.As(err, &te) || !errors.Is(err, audit.ErrTampered) {
				t.Fatalf("err = %v, want a TamperError", err)
			}
			if *te != tc.want {
				t.Errorf("got %+v (%v), want %+v", *te, te, tc.want)
			}
		})
	}
}

// A forger who rewrites the log and signs its checkpoints anew with a key
// of their own (even under the log's name) fails at the first checkpoint:
// it is not signed by the log's key.
func TestVerifyReplacedKey(t *testing.T) {
	l := newTestLog(t, 50)
	forger := signer(t, otherSkey)
	l.records[12].Entry[20] ^= 1
	var tree audit.Tree
	for i := range l.records {
		l.records[i].Root = tree.Append(l.records[i].Entry)
		if (i+1)%10 == 0 && i >= 12 {
			cp, err := forger.SignCheckpoint(tree.Size(), tree.Root())
			if err != nil {
				t.Fatal(err)
			}
			l.checkpoints[i/10] = cp
		}
	}
	err := l.verify(t)
	var ce *audit.CheckpointError
	if !errors.As(err, &ce) || !errors.Is(err, audit.ErrSignature) || ce.Index != 1 {
		t.Fatalf("err = %v, want checkpoint 1 not signed by the log's key", err)
	}
	// A witness that is required makes a checkpoint it did not cosign fail.
	l = newTestLog(t, 30)
	l.checkpoints[0] = cosign(t, l.checkpoints[0])
	l.checkpoints[2] = cosign(t, l.checkpoints[2])
	if err := l.verify(t, logVkey, witVkey); !errors.As(err, &ce) || ce.Index != 1 {
		t.Errorf("checkpoint 1 without the witness: %v", err)
	}
}

func TestVerifyReadError(t *testing.T) {
	boom := errors.New("disk error")
	rs := func(yield func(audit.Record, error) bool) { yield(audit.Record{}, boom) }
	if err := audit.Verify(rs, nil); !errors.Is(err, boom) || errors.Is(err, audit.ErrTampered) {
		t.Errorf("err = %v", err)
	}
}

func TestVerifyEmptyCheckpoint(t *testing.T) {
	err := audit.Verify(seq(nil), []audit.Checkpoint{{Origin: origin, Size: 0, Root: audit.Hash{1}}})
	var te *audit.TamperError
	if !errors.As(err, &te) || te.Kind != audit.Rewritten || te.Checkpoint != 0 || !strings.Contains(err.Error(), "size 0") {
		t.Errorf("checkpoint of size 0 with another root: %v", err)
	}
	if err := audit.Verify(seq(nil), []audit.Checkpoint{{Origin: origin, Size: 0, Root: audit.EmptyRoot()}}); err != nil {
		t.Errorf("empty log, empty checkpoint: %v", err)
	}
}
