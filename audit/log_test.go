package audit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/audit"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
	"github.com/vindex-nl/vindex/store/storetest"
)

var ctx = context.Background()

// openPebble opens a Pebble store on disk in dir.
func openPebble(t *testing.T, dir string) *pebblestore.Store {
	t.Helper()
	s, err := pebblestore.Open(dir, &pebblestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// logEntries appends n entries to s, entry i at base+i seconds.
func logEntries(t *testing.T, s store.AuditLog, base, n int) {
	t.Helper()
	for i := range n {
		e := sampleEntry(base + i)
		e.At = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(base+i) * time.Second)
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
}

func verifyStore(t *testing.T, s audit.Store, extra ...[]byte) (audit.Report, error) {
	t.Helper()
	return audit.VerifyStore(ctx, s, origin, verifier(t, logVkey), extra)
}

// A log over a real store: sealed in batches, reopened, verified against
// every checkpoint, each entry proved in the newest one.
func TestLogSealsTheStore(t *testing.T) {
	dir := t.TempDir()
	s := openPebble(t, dir)
	l, err := audit.Open(ctx, s, signer(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := l.Seal(ctx); err != nil || cp.Size != 0 || cp.Text != nil {
		t.Fatalf("sealing an empty log signs nothing: %+v %v", cp, err)
	}
	logEntries(t, s, 0, 5)
	cp, err := l.Seal(ctx)
	if err != nil || cp.Size != 5 {
		t.Fatalf("seal: %+v %v", cp, err)
	}
	if again, err := l.Seal(ctx); err != nil || again.Size != 5 || string(again.Text) != string(cp.Text) {
		t.Fatalf("a seal with nothing new signs nothing new: %+v %v", again, err)
	}
	logEntries(t, s, 5, 4)
	s.Close()
	s = openPebble(t, dir)
	if l, err = audit.Open(ctx, s, signer(t, logSkey)); err != nil {
		t.Fatal(err)
	}
	if l.Size() != 5 || l.Latest().Size != 5 {
		t.Fatalf("reopened at %d, latest %d", l.Size(), l.Latest().Size)
	}
	logEntries(t, s, 9, 1)
	if cp, err = l.Seal(ctx); err != nil || cp.Size != 10 {
		t.Fatalf("seal after reopen: %+v %v", cp, err)
	}
	logEntries(t, s, 10, 2) // not sealed
	rep, err := verifyStore(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Size != 10 || rep.Unsealed != 2 || rep.Checkpoints != 2 || rep.Latest.Size != 10 {
		t.Fatalf("report %+v", rep)
	}
	for seq := uint64(1); seq <= 10; seq++ {
		p, err := audit.ProveStore(ctx, s, origin, verifier(t, logVkey), seq)
		if err != nil {
			t.Fatalf("prove %d: %v", seq, err)
		}
		c, err := audit.ParseCheckpoint(p.Checkpoint, origin, verifier(t, logVkey))
		if err != nil || c.Size != 10 {
			t.Fatal(c, err)
		}
		if err := audit.VerifyInclusion(p.Entry, seq-1, p.Size, p.Hashes, c.Root); err != nil {
			t.Errorf("proof of %d: %v", seq, err)
		}
	}
	if _, err := audit.ProveStore(ctx, s, origin, verifier(t, logVkey), 11); !errors.Is(err, audit.ErrNotSealed) {
		t.Errorf("proof of an unsealed entry: %v", err)
	}
	if _, err := audit.Open(ctx, s, signer(t, otherSkey)); err == nil {
		t.Error("a log opened with another key than its checkpoints'")
	}
}

// A cut destroys the entries before a checkpoint; the rest still
// verifies and proves, and a later cut goes further.
func TestLogCut(t *testing.T) {
	s := openPebble(t, t.TempDir())
	l, err := audit.Open(ctx, s, signer(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	times := []time.Time{}
	for i, n := range []int{3, 4, 6} {
		logEntries(t, s, i*10, n)
		at := now.Add(time.Duration(i) * 24 * time.Hour)
		times = append(times, at)
		l = withClock(t, s, at)
		if _, err := l.Seal(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.Cut(ctx, times[0]); err != nil || n != 0 {
		t.Fatalf("nothing signed before the first checkpoint: %d %v", n, err)
	}
	if n, err := l.Cut(ctx, times[1].Add(time.Second)); err != nil || n != 7 {
		t.Fatalf("cut: %d %v", n, err)
	}
	rep, err := verifyStore(t, s)
	if err != nil || rep.Cut != 7 || rep.Size != 6 {
		t.Fatalf("after the cut: %+v %v", rep, err)
	}
	for seq := uint64(8); seq <= 13; seq++ {
		if _, err := audit.ProveStore(ctx, s, origin, verifier(t, logVkey), seq); err != nil {
			t.Errorf("prove %d after the cut: %v", seq, err)
		}
	}
	if _, err := audit.ProveStore(ctx, s, origin, verifier(t, logVkey), 3); !errors.Is(err, audit.ErrNotSealed) {
		t.Errorf("proof of a destroyed entry: %v", err)
	}
	logEntries(t, s, 40, 2)
	l = withClock(t, s, times[2].Add(time.Hour))
	if _, err := l.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := l.Cut(ctx, times[2].Add(time.Second)); err != nil || n != 13 {
		t.Fatalf("second cut: %d %v", n, err)
	}
	// The first cut's record (entry 14) and two entries; the second cut's
	// record not sealed yet.
	rep, err = verifyStore(t, s)
	if err != nil || rep.Cut != 13 || rep.Size != 3 || rep.Unsealed != 1 || rep.CutRecord.Outcome != "through:13" {
		t.Fatalf("after the second cut: %+v %v", rep, err)
	}
}

// A cut made in the store without its record in the log (someone with the
// disk wiping the log up to a checkpoint) does not verify, even though
// the checkpoint at the cut is genuine; extra checkpoints inside the
// destroyed part are counted, not silently passed.
func TestVerifyStoreRefusesAnUnrecordedCut(t *testing.T) {
	s := openPebble(t, t.TempDir())
	l, err := audit.Open(ctx, s, signer(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	logEntries(t, s, 0, 3)
	first, err := l.Seal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	witnessed := cosign(t, first.Text)
	logEntries(t, s, 3, 4)
	cp, err := l.Seal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var tree audit.Tree
	for _, e := range storetest.AuditAll(t, s) {
		b, _ := audit.MarshalEntry(e)
		tree.Append(b)
	}
	state, _ := tree.MarshalBinary()
	if err := s.CutAudit(ctx, store.AuditCut{Size: cp.Size, Tree: state, Checkpoint: cp}); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyStore(ctx, s, origin, verifier(t, logVkey), [][]byte{witnessed}, verifier(t, witVkey))
	if !errors.Is(err, audit.ErrTampered) || rep.ExtraBelowCut != 1 {
		t.Fatalf("an unrecorded cut: %+v %v", rep, err)
	}
}

// withClock opens the log of s with its clock stopped at at.
func withClock(t *testing.T, s audit.Store, at time.Time) *audit.Log {
	t.Helper()
	l, err := audit.Open(ctx, s, signer(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	audit.SetClock(l, func() time.Time { return at })
	return l
}

// tamperedStore is a real store whose audit entries read back altered.
type tamperedStore struct {
	*pebblestore.Store
	alter func([]store.AuditEntry) []store.AuditEntry
}

func (s tamperedStore) AuditEntries(ctx context.Context, after uint64, limit int) ([]store.AuditEntry, error) {
	if after > 0 {
		return nil, nil // the whole log is read in the first page
	}
	es, err := s.Store.AuditEntries(ctx, after, limit)
	if err != nil || len(es) == 0 {
		return es, err
	}
	return s.alter(es), nil
}

// VerifyStore names the first entry changed, removed, reordered or
// inserted; the cmd/vindex tests alter the bytes on disk.
func TestVerifyStoreNamesTheEntry(t *testing.T) {
	s := openPebble(t, t.TempDir())
	l, err := audit.Open(ctx, s, signer(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	logEntries(t, s, 0, 6)
	if _, err := l.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	logEntries(t, s, 6, 6)
	if _, err := l.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		alter func([]store.AuditEntry) []store.AuditEntry
		kind  audit.Tamper
		index uint64
	}{
		"changed": {func(es []store.AuditEntry) []store.AuditEntry { es[4].Outcome = "forbidden"; return es }, audit.Altered, 4},
		"removed": {func(es []store.AuditEntry) []store.AuditEntry { return append(es[:7:7], es[8:]...) }, audit.Altered, 7},
		"swapped": {func(es []store.AuditEntry) []store.AuditEntry { es[2], es[3] = es[3], es[2]; return es }, audit.Altered, 2},
		"inserted": {func(es []store.AuditEntry) []store.AuditEntry {
			return append(es[:5:5], append([]store.AuditEntry{es[9]}, es[5:]...)...)
		}, audit.Altered, 5}, // the inserted entry meets the root of the one it displaced
		"truncated": {func(es []store.AuditEntry) []store.AuditEntry { return es[:9] }, audit.Truncated, 9},
	} {
		_, err := verifyStore(t, tamperedStore{s, c.alter})
		var te *audit.TamperError
		if !errors.As(err, &te) || te.Kind != c.kind || te.Index != c.index {
			t.Errorf("%s: %v, want %s at %d", name, err, c.kind, c.index)
		}
	}
	other := signer(t, otherSkey)
	forged, err := other.SignCheckpoint(12, audit.EmptyRoot())
	if err != nil {
		t.Fatal(err)
	}
	var ce *audit.CheckpointError
	if _, err := verifyStore(t, s, forged); !errors.As(err, &ce) || !ce.Extra || ce.Index != 0 {
		t.Errorf("a checkpoint under a replaced key: %v", err)
	}
}

// A checkpoint a witness cosigned and kept verifies with the witness's
// key required; one it did not sign does not.
func TestVerifyStoreWithWitness(t *testing.T) {
	s := openPebble(t, t.TempDir())
	l, err := audit.Open(ctx, s, signer(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	logEntries(t, s, 0, 3)
	cp, err := l.Seal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	witnessed := cosign(t, cp.Text)
	logEntries(t, s, 3, 2)
	if _, err := l.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.VerifyStore(ctx, s, origin, verifier(t, logVkey), [][]byte{witnessed}, verifier(t, witVkey)); err != nil || rep.Checkpoints != 3 {
		t.Fatalf("with the witnessed checkpoint: %+v %v", rep, err)
	}
	var ce *audit.CheckpointError
	if _, err := audit.VerifyStore(ctx, s, origin, verifier(t, logVkey), [][]byte{cp.Text}, verifier(t, witVkey)); !errors.As(err, &ce) || !ce.Extra || ce.Index != 0 {
		t.Fatalf("a checkpoint the witness did not sign: %v", err)
	}
}

func TestSignerVerifierKey(t *testing.T) {
	if got := signer(t, logSkey).VerifierKey(); got != logVkey {
		t.Errorf("verifier key %q, want %q", got, logVkey)
	}
}

// stateStore is a real store whose tree state reads back altered.
type stateStore struct{ *pebblestore.Store }

func (s stateStore) AuditTree(ctx context.Context) (store.AuditTreeState, error) {
	st, err := s.Store.AuditTree(ctx)
	st.Tree = bytes.Clone(st.Tree)
	st.Tree[len(st.Tree)-1] ^= 1
	return st, err
}

// A log never signs on from a tree state that contradicts the checkpoint
// of its size.
func TestOpenRefusesAStateAgainstItsCheckpoint(t *testing.T) {
	s := openPebble(t, t.TempDir())
	l, err := audit.Open(ctx, s, signer(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	logEntries(t, s, 0, 3)
	if _, err := l.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Open(ctx, stateStore{s}, signer(t, logSkey)); !errors.Is(err, audit.ErrTampered) {
		t.Fatalf("open on an altered state: %v", err)
	}
}
