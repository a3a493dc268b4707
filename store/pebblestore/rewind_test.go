package pebblestore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/store"
)

// holdLog takes appends and holds every wait until release, which then
// fails them all: a log whose acknowledgements were lost (the leader was
// cut off, or its lease ran out) while the store had applied the entries.
type holdLog struct {
	appended atomic.Int32
	release  chan struct{}
}

var errLost = errors.New("holdlog: the acknowledgement was lost")

func (l *holdLog) Append(uint64, []byte) func(context.Context) error {
	l.appended.Add(1)
	return func(context.Context) error {
		<-l.release
		return errLost
	}
}

// withoutUndo returns recs without the undo records.
func withoutUndo(recs []kv) []kv {
	var out []kv
	for _, r := range recs {
		if r.k[0] != prefixUndo {
			out = append(out, r)
		}
	}
	return out
}

// TestRewind: a leader whose last writes the log never acknowledged
// (several in flight at once: new youths, a youth written again, an audit
// entry, a purge) rewinds them one by one, also after a restart, to
// exactly the records of a follower at the log's last entry; then it
// refuses to rewind an entry of the log's, and follows the log's new
// entries to the same records as the new leader. An acknowledged entry
// leaves no undo record.
func TestRewind(t *testing.T) {
	const acked = 12
	log := &fakeLog{}
	dir := t.TempDir()
	a := openAt(t, nil, dir, true)
	if err := a.Lead(log); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= acked; n++ {
		if _, err := register(a, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AppendAudit(bg, store.AuditEntry{At: replAt, Institution: "wij", Verb: store.AuditLookup, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range records(t, a) {
		if r.k[0] == prefixUndo {
			t.Fatalf("an undo record (entry %x) after every entry was acknowledged", r.k[1:])
		}
	}
	b := openAt(t, nil, t.TempDir(), true)
	applyAll(t, b, log.all())
	atLog := records(t, b)
	sameRecords(t, "leader and follower", records(t, a), atLog)

	// Five writes in flight when the log's answers are lost.
	a.Follow()
	hold := &holdLog{release: make(chan struct{})}
	if err := a.Lead(hold); err != nil {
		t.Fatal(err)
	}
	writes := []func() error{
		func() error { _, err := register(a, 100); return err },
		func() error { _, err := register(a, 3); return err }, // a youth already there
		func() error { _, err := register(a, 101); return err },
		func() error {
			return a.AppendAudit(bg, store.AuditEntry{At: replAt, Institution: "ggd", Verb: store.AuditLookup, Outcome: "ok"})
		},
		func() error { _, err := a.PurgeIdempotency(bg, replAt, 100); return err }, // deletes
	}
	var wg sync.WaitGroup
	errs := make([]error, len(writes))
	for i, w := range writes {
		wg.Go(func() { errs[i] = w() })
	}
	deadline := time.Now().Add(20 * time.Second)
	for hold.appended.Load() < int32(len(writes)) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d writes appended", hold.appended.Load(), len(writes))
		}
		time.Sleep(time.Millisecond)
	}
	close(hold.release)
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, errLost) {
			t.Fatalf("write %d: %v, want the log's error", i, err)
		}
	}
	if a.Leading() {
		t.Fatal("the store leads after the log failed its writes")
	}
	top, err := a.Applied()
	if err != nil || top.Seq != acked+1+uint64(len(writes)) {
		t.Fatalf("applied %v, %v; want %d", top, err, acked+1+len(writes))
	}
	if withoutUndo(records(t, a)) == nil {
		t.Fatal("no records")
	}

	// A crash (here: a restart) keeps the undo records with the entries.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = openAt(t, nil, dir, true)
	for i := len(writes); i > 0; i-- {
		id, err := a.Rewind()
		if err != nil {
			t.Fatalf("rewind %d: %v", i, err)
		}
		if id.Seq != acked+uint64(i) {
			t.Fatalf("rewind %d: now at %d, want %d", i, id.Seq, acked+i)
		}
	}
	sameRecords(t, "the rewound store and the follower at the log's last entry", records(t, a), atLog)
	if _, err := a.Rewind(); !errors.Is(err, ErrNoUndo) {
		t.Fatalf("rewinding the log's own entry: %v", err)
	}
	sameRecords(t, "after a refused rewind", records(t, a), atLog)

	// The follower leads on; the rewound store follows its entries.
	if err := b.Lead(log); err != nil {
		t.Fatal(err)
	}
	for n := 200; n < 205; n++ {
		if _, err := register(b, n); err != nil {
			t.Fatal(err)
		}
	}
	applyFrom(t, a, acked+2, log.all()[acked+1:])
	sameRecords(t, "the rewound store after following, and the leader", records(t, a), records(t, b))
	if _, err := b.Rewind(); !errors.Is(err, ErrLeading) {
		t.Fatalf("a leader's rewind: %v", err)
	}
	if _, err := a.Rewind(); !errors.Is(err, ErrNoUndo) {
		t.Fatalf("rewinding an entry applied as follower: %v", err)
	}
}

// undoRecords counts s's undo records.
func undoRecords(t testing.TB, s *Store) int {
	t.Helper()
	n := 0
	for _, r := range records(t, s) {
		if r.k[0] == prefixUndo {
			n++
		}
	}
	return n
}

// TestRewindStaleUndo: an undo record left at a position by an earlier
// leadership (its entry was the log's, its acknowledgement lost) is never
// applied to another entry at that position; Settled, once the store is
// found to be the log's, deletes it, as Lead does.
func TestRewindStaleUndo(t *testing.T) {
	hold := &holdLog{release: make(chan struct{})}
	close(hold.release)
	a := leader(t, hold)
	if _, err := register(a, 1); !errors.Is(err, errLost) {
		t.Fatalf("write: %v", err)
	}
	if n := undoRecords(t, a); n != 1 {
		t.Fatalf("%d undo records after a failed write, want 1", n)
	}
	applied, err := a.Applied()
	if err != nil {
		t.Fatal(err)
	}
	// The record at the position is another entry's.
	other := applied
	other.ID[0] ^= 1
	rec, ok, err := a.get(undoKey(applied.Seq))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := a.db.Set(undoKey(applied.Seq), append(appendEntryID(nil, other), rec[entryIDSize:]...), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	before := records(t, a)
	if _, err := a.Rewind(); !errors.Is(err, ErrNoUndo) || !strings.Contains(err.Error(), "another entry's") {
		t.Fatalf("rewind with another entry's record: %v", err)
	}
	sameRecords(t, "after a refused rewind", before, records(t, a))

	if err := a.Settled(other); err == nil {
		t.Fatal("Settled at an entry the store did not apply")
	}
	if err := a.Settled(applied); err != nil {
		t.Fatal(err)
	}
	if n := undoRecords(t, a); n != 0 {
		t.Fatalf("%d undo records after Settled", n)
	}
	if _, err := a.Rewind(); !errors.Is(err, ErrNoUndo) || !strings.Contains(err.Error(), "no undo record") {
		t.Fatalf("rewind after Settled: %v", err)
	}

	// Lead deletes them too.
	log := &fakeLog{last: 1, entries: [][]byte{nil}}
	if err := a.Lead(log); err != nil {
		t.Fatal(err)
	}
	a.Follow()
	lost := &holdLog{release: make(chan struct{})}
	close(lost.release)
	if err := a.Lead(lost); err != nil {
		t.Fatal(err)
	}
	if _, err := register(a, 2); !errors.Is(err, errLost) {
		t.Fatalf("write: %v", err)
	}
	if n := undoRecords(t, a); n != 1 {
		t.Fatalf("%d undo records after a failed write, want 1", n)
	}
	if err := a.Lead(log); err != nil {
		t.Fatal(err)
	}
	if n := undoRecords(t, a); n != 0 {
		t.Fatalf("%d undo records after Lead", n)
	}
}

// TestUndoRecordRangeDeletion: an entry that deletes a range of keys (the
// audit log's cut) gets an undo record that says it cannot be undone, and
// Verify takes that record as well formed.
func TestUndoRecordRangeDeletion(t *testing.T) {
	s := openAt(t, nil, t.TempDir(), true)
	b := s.db.NewBatch()
	defer b.Close()
	b.Set(replicationKey, appendEntryID(nil, store.EntryID{Seq: 1}), nil)
	if err := b.DeleteRange(auditKey(0), auditKey(10), nil); err != nil {
		t.Fatal(err)
	}
	rec, err := s.undoRecord(b, store.EntryID{Seq: 1})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := decodeUndo(nil, rec); !errors.Is(err, ErrNoUndo) || id.Seq != 1 {
		t.Fatalf("decode: %v, %v; want entry 1 and ErrNoUndo", id, err)
	}
	v := &verifier{}
	if err := v.check(undoKey(1), rec); err != nil {
		t.Fatalf("verify: %v", err)
	}
	truncated := append(appendEntryID(nil, store.EntryID{Seq: 1}), undoSet, 5, 'x')
	if err := v.check(undoKey(1), truncated); err == nil {
		t.Fatal("verify took a truncated undo record")
	}
}
