package pebblestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
)

// fakeLog is a store.Log in memory: it keeps the entries appended in
// order, fences an append that does not follow its last entry (and fails
// every one after it), and acknowledges each entry delay after its
// append.
type fakeLog struct {
	delay time.Duration
	// drop keeps no entry, only the position (for benchmarks).
	drop bool

	mu      sync.Mutex
	entries [][]byte // entry seq at seq-1
	last    uint64
	failed  bool

	// inAppend counts the Append calls in progress; overlap is set if
	// two ever were.
	inAppend atomic.Int32
	overlap  atomic.Bool
}

func (l *fakeLog) Append(seq uint64, entry []byte) func(context.Context) error {
	if l.inAppend.Add(1) > 1 {
		l.overlap.Store(true)
	}
	defer l.inAppend.Add(-1)
	l.mu.Lock()
	var err error
	switch {
	case l.failed:
		err = errors.New("fakelog: an entry after a failed one")
	case seq != l.last+1:
		err, l.failed = store.ErrFenced, true
	default:
		l.last = seq
		if !l.drop {
			l.entries = append(l.entries, entry)
		}
	}
	l.mu.Unlock()
	due := time.Now().Add(l.delay)
	return func(ctx context.Context) error {
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return err
	}
}

// all returns the entries so far.
func (l *fakeLog) all() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// openAt opens a store at dir on fs (the OS's if nil), closed when the
// test ends.
func openAt(t testing.TB, fs vfs.FS, dir string, replicated bool) *Store {
	t.Helper()
	s, err := Open(dir, &Options{FS: fs, Logger: discard(), Replicated: replicated})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// leader opens a replicated store in a new directory and makes it lead
// with log.
func leader(t testing.TB, log store.Log) *Store {
	t.Helper()
	s := openAt(t, nil, t.TempDir(), true)
	if err := s.Lead(log); err != nil {
		t.Fatal(err)
	}
	return s
}

// applyAll applies entries (the log's, from position 1) to s.
func applyAll(t testing.TB, s *Store, entries [][]byte) { applyFrom(t, s, 1, entries) }

// applyFrom applies entries, the log's from position first, to s.
func applyFrom(t testing.TB, s *Store, first uint64, entries [][]byte) {
	t.Helper()
	for i, e := range entries {
		if err := s.ApplyEntry(first+uint64(i), e); err != nil {
			t.Fatalf("apply entry %d: %v", first+uint64(i), err)
		}
	}
}

type kv struct{ k, v string }

// records returns every key and value s holds, in key order.
func records(t testing.TB, s *Store) []kv {
	t.Helper()
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []kv
	for it.First(); it.Valid(); it.Next() {
		out = append(out, kv{string(it.Key()), string(it.Value())})
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameRecords fails t unless a and b hold the same records.
func sameRecords(t testing.TB, what string, a, b []kv) {
	t.Helper()
	if slices.Equal(a, b) {
		return
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			t.Fatalf("%s: %d and %d records, first difference at record %d (key prefix %q / %q)", what, len(a), len(b), i, a[i].k[:1], b[i].k[:1])
		}
	}
	t.Fatalf("%s: %d and %d records", what, len(a), len(b))
}

var replAt = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// register writes youth n: a registration, an event, an audit entry, a
// figures count and an idempotency record, in one update.
func register(s *Store, n int) (store.Registration, error) {
	y := storetest.Youth(1, n)
	reg := storetest.Reg(y, "ggd", replAt)
	err := s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.Put(reg)
		tx.Append(store.Event{Type: store.EventMatch, Recipient: fmt.Sprintf("r%d", n%3), At: replAt})
		tx.Audit(store.AuditEntry{At: replAt, Institution: "ggd", Verb: store.AuditRegister, Registration: reg.ID, Youth: y, Outcome: "ok"})
		tx.(store.FigureCounter).Count(figures.Registrations, storetest.Cell("2026-03", "GM0363", "signal"))
		tx.PutIdempotency(storetest.IdemKey("ggd", fmt.Sprint(n)), store.Idempotency{Registration: reg.ID, Youth: y, CreatedAt: replAt.AddDate(0, 0, -60)})
		return nil
	})
	return reg, err
}

// TestReplicatedStoresEqual: a leader's entries, applied to two followers
// (one while the leader writes, one afterwards), give three stores that
// hold the same records, after concurrent writes of many youths through
// every kind of write; the follower that applied as it went reads the
// events and audit entries the leader reads.
func TestReplicatedStoresEqual(t *testing.T) {
	log := &fakeLog{}
	l := leader(t, log)
	live := openAt(t, nil, t.TempDir(), true)
	late := openAt(t, nil, t.TempDir(), true)

	stop := make(chan struct{})
	followed := make(chan error, 1)
	go func() { // live applies the log's entries as they come
		var next uint64 = 1
		for {
			entries := log.all()
			for ; next <= uint64(len(entries)); next++ {
				if err := live.ApplyEntry(next, entries[next-1]); err != nil {
					followed <- err
					return
				}
			}
			select {
			case <-stop:
				followed <- nil
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()

	const writers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	regs := make([]store.Registration, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				n := w*each + i + 1
				reg, err := register(l, n)
				if err != nil {
					errs <- err
					return
				}
				regs[n-1] = reg
				switch n % 5 {
				case 0: // end it by ID
					err = l.UpdateByID(bg, reg.ID, func(tx store.Tx) error {
						r := reg
						r.EndReason, r.EndedAt = store.EndedByInstitution, replAt.Add(time.Hour)
						r.PurgeOn = replAt.AddDate(1, 0, 0)
						tx.Put(r)
						return nil
					})
				case 1:
					err = l.AppendAudit(bg, store.AuditEntry{At: replAt, Institution: "wij", Verb: store.AuditLookup, Outcome: "ok"})
				case 2:
					err = l.RecordDeliveries(bg, fmt.Sprintf("r%d", n%3), "email", 0, []store.Delivery{
						{Seq: uint64(n), Attempts: 1, FirstTry: replAt, NextTry: replAt.Add(time.Minute), LastError: "smtp_451"}})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, err := l.PurgeIdempotency(bg, replAt, 100); err != nil || n != 100 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	close(stop)
	if err := <-followed; err != nil {
		t.Fatal(err)
	}
	entries := log.all()
	applyAll(t, live, entries) // the ones after its last poll; the others again: nothing
	applyAll(t, late, entries)
	if log.overlap.Load() {
		t.Fatal("the store called Append while another call was in progress")
	}

	want := records(t, l)
	sameRecords(t, "leader and the follower that applied as it went", want, records(t, live))
	sameRecords(t, "leader and the follower that applied at the end", want, records(t, late))
	// Every write is one entry: the updates, the ended ones, the
	// appended audit entries, the deliveries and the purge.
	if wantEntries := writers*each + 3*writers*each/5 + 1; len(entries) != wantEntries {
		t.Fatalf("%d entries, want %d", len(entries), wantEntries)
	}
	for _, s := range []*Store{l, live, late} {
		if id, err := s.Applied(); err != nil || id.Seq != uint64(len(entries)) {
			t.Fatalf("applied %v, %v; want %d", id, err, len(entries))
		}
	}
	lid, _ := l.Applied()
	if fid, _ := late.Applied(); fid != lid {
		t.Fatalf("follower applied %v, leader %v", fid, lid)
	}
	for _, r := range []string{"r0", "r1", "r2"} {
		lev, err := l.Events(bg, r, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		fev, err := live.Events(bg, r, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(lev) == 0 || len(lev) != len(fev) || l.LastSeq(r) != live.LastSeq(r) {
			t.Fatalf("recipient %s: the leader reads %d events (last %d), the follower %d (last %d)", r, len(lev), l.LastSeq(r), len(fev), live.LastSeq(r))
		}
	}
	la := storetest.AuditAll(t, l)
	if fa := storetest.AuditAll(t, live); len(la) != writers*each+writers*each/5 || len(fa) != len(la) {
		t.Fatalf("the leader reads %d audit entries, the follower %d", len(la), len(fa))
	}
	// Every registration counted once, in the leader's entries: a
	// replicated store's batch carries its own counters.
	for name, s := range map[string]*Store{"leader": l, "follower": late} {
		got := storetest.FigureMap(t, s, "2026-03", "2026-03")
		if len(got) != 1 {
			t.Fatalf("%s: figures %v, want one cell", name, got)
		}
		for k, n := range got {
			if n != writers*each {
				t.Errorf("%s: %v counted %d, want %d", name, k, n, writers*each)
			}
		}
	}
}

// TestLeaderFenced: a write the log fences (another leader appended) fails
// with store.ErrFenced, the store stops leading, and the writes after it
// get store.ErrNotLeader; the store then holds an entry the log does not,
// which ApplyEntry of the log's entry at that position names.
func TestLeaderFenced(t *testing.T) {
	log := &fakeLog{}
	l := leader(t, log)
	for n := 1; n <= 3; n++ {
		if _, err := register(l, n); err != nil {
			t.Fatal(err)
		}
	}
	// Another leader, with the same entries applied, appends entry 4.
	other := openAt(t, nil, t.TempDir(), true)
	applyAll(t, other, log.all())
	if err := other.Lead(log); err != nil {
		t.Fatal(err)
	}
	if _, err := register(other, 100); err != nil {
		t.Fatal(err)
	}
	_, err := register(l, 4)
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("a fenced write: %v", err)
	}
	if l.Leading() {
		t.Fatal("the fenced store still leads")
	}
	if _, err := register(l, 5); !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("a write after the fence: %v", err)
	}
	if err := l.AppendAudit(bg, store.AuditEntry{At: replAt, Institution: "wij", Verb: store.AuditLookup, Outcome: "ok"}); !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("an audit append after the fence: %v", err)
	}
	applied, err := l.Applied()
	if err != nil || applied.Seq != 4 {
		t.Fatalf("the fenced store applied %v, %v; want its own entry 4", applied, err)
	}
	logs, err := EntryOf(log.all()[3])
	if err != nil || logs == applied {
		t.Fatalf("the log's entry 4 is %v (%v), the store's %v", logs, err, applied)
	}
	if err := l.ApplyEntry(4, log.all()[3]); !errors.Is(err, store.ErrDiverged) {
		t.Fatalf("applying the log's entry at a diverged position: %v", err)
	}
}

// TestLogErrorEndsLeadership: a write whose wait fails with another error
// than the fence (here: the log does not answer within the timeout) fails
// and ends the leadership too.
func TestLogErrorEndsLeadership(t *testing.T) {
	s, err := Open(t.TempDir(), &Options{Logger: discard(), Replicated: true, ReplicationTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Lead(&fakeLog{delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := register(s, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a write the log does not answer: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the write waited %v", d)
	}
	if _, err := register(s, 2); !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("the next write: %v", err)
	}
}

// TestFollowerRefusesWrites: a replicated store that does not lead
// refuses every write method with store.ErrNotLeader before it runs the
// update or writes anything, and reads; after Lead and Follow, the same.
func TestFollowerRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	l := leader(t, &fakeLog{})
	reg, err := register(l, 1)
	if err != nil {
		t.Fatal(err)
	}
	l.Follow()
	if l.Leading() {
		t.Fatal("leads after Follow")
	}
	f := openAt(t, nil, dir, true)
	for name, s := range map[string]*Store{"never led": f, "after Follow": l} {
		before := records(t, s)
		called := false
		fn := func(store.Tx) error { called = true; return nil }
		y := []pseudonym.Pseudonym{reg.Youth}
		writes := map[string]func() error{
			"Update":       func() error { return s.Update(bg, y, fn) },
			"UpdateFamily": func() error { return s.UpdateFamily(bg, y, y, fn) },
			"UpdateByID":   func() error { return s.UpdateByID(bg, reg.ID, fn) },
			"RecordDeliveries": func() error {
				return s.RecordDeliveries(bg, "r1", "email", 1, []store.Delivery{{Seq: 1, Attempts: 1, FirstTry: replAt, Delivered: true}})
			},
			"RetryDead": func() error { _, err := s.RetryDead(bg, "r1", "email"); return err },
			"AppendAudit": func() error {
				return s.AppendAudit(bg, store.AuditEntry{At: replAt, Institution: "wij", Verb: store.AuditLookup, Outcome: "ok"})
			},
			"SealAudit": func() error {
				return s.SealAudit(bg, store.AuditSeal{From: 0, Roots: [][32]byte{{1}}, Tree: []byte{1}})
			},
			"CutAudit":         func() error { return s.CutAudit(bg, store.AuditCut{}) },
			"PurgeIdempotency": func() error { _, err := s.PurgeIdempotency(bg, replAt, 10); return err },
		}
		for what, write := range writes {
			if err := write(); !errors.Is(err, store.ErrNotLeader) {
				t.Errorf("%s: %s: %v", name, what, err)
			}
		}
		if called {
			t.Errorf("%s: an update ran its function", name)
		}
		sameRecords(t, name+": records before and after the refused writes", before, records(t, s))
		if err := s.View(bg, []pseudonym.Pseudonym{reg.Youth}, func(store.Reader) error { return nil }); err != nil {
			t.Errorf("%s: a view: %v", name, err)
		}
	}
	if got, err := l.Registration(bg, reg.ID); err != nil || got.ID != reg.ID {
		t.Fatalf("a read after Follow: %v", err)
	}
}

// TestApplyEntry: an entry applied twice changes nothing, one out of order
// is store.ErrGap, one that names another position or is not an entry is
// refused, and a leader applies none; a store not replicated has none of
// it and writes no replication record.
func TestApplyEntry(t *testing.T) {
	log := &fakeLog{}
	l := leader(t, log)
	for n := 1; n <= 3; n++ {
		if _, err := register(l, n); err != nil {
			t.Fatal(err)
		}
	}
	entries := log.all()
	f := openAt(t, nil, t.TempDir(), true)
	if err := f.ApplyEntry(2, entries[1]); !errors.Is(err, store.ErrGap) {
		t.Fatalf("entry 2 first: %v", err)
	}
	if err := f.ApplyEntry(1, entries[1]); !errors.Is(err, ErrEntry) {
		t.Fatalf("entry 2 at position 1: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("not a batch"), pebbleBatch(t, "y", "v")} {
		if err := f.ApplyEntry(1, bad); !errors.Is(err, ErrEntry) {
			t.Fatalf("%q at position 1: %v", bad, err)
		}
	}
	if id, err := f.Applied(); err != nil || id != (store.EntryID{}) {
		t.Fatalf("applied after refusals: %v, %v", id, err)
	}
	applyAll(t, f, entries[:2])
	once := records(t, f)
	applyAll(t, f, entries[:2])
	sameRecords(t, "applied once and twice", once, records(t, f))
	if err := f.ApplyEntry(1, entries[0]); err != nil {
		t.Fatalf("entry 1 again: %v", err)
	}
	if err := f.ApplyEntry(4, entries[2]); !errors.Is(err, store.ErrGap) {
		t.Fatalf("entry 4 after 2: %v", err)
	}
	if err := f.ApplyEntry(3, entries[2]); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, "leader and follower", records(t, l), records(t, f))
	for i, e := range entries {
		id, err := EntryOf(e)
		if err != nil || id.Seq != uint64(i+1) || id.ID == ([16]byte{}) {
			t.Fatalf("entry %d names %v, %v", i+1, id, err)
		}
		if i > 0 {
			if prev, _ := EntryOf(entries[i-1]); prev.ID == id.ID {
				t.Fatal("two entries with one ID")
			}
		}
	}
	if err := l.ApplyEntry(4, entries[2]); !errors.Is(err, ErrLeading) {
		t.Fatalf("a leader applies: %v", err)
	}
	if err := l.Lead(log); !errors.Is(err, ErrLeading) {
		t.Fatalf("Lead twice: %v", err)
	}

	plain := openAt(t, nil, t.TempDir(), false)
	if _, err := register(plain, 1); err != nil {
		t.Fatal(err)
	}
	if err := plain.ApplyEntry(1, entries[0]); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("ApplyEntry on a store not replicated: %v", err)
	}
	if err := plain.Lead(log); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("Lead on a store not replicated: %v", err)
	}
	for _, r := range records(t, plain) {
		if r.k[0] == prefixReplication {
			t.Fatal("a store not replicated holds a replication record")
		}
	}
}

// pebbleBatch is a batch representation with one record, and no
// replication key.
func pebbleBatch(t *testing.T, k, v string) []byte {
	db, err := pebble.Open("x", &pebble.Options{FS: vfs.NewMem(), Logger: pebbleQuiet{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := db.NewBatch()
	defer b.Close()
	b.Set([]byte(k), []byte(v), nil)
	return bytes.Clone(b.Repr())
}

type pebbleQuiet struct{}

func (pebbleQuiet) Infof(string, ...any)  {}
func (pebbleQuiet) Errorf(string, ...any) {}
func (pebbleQuiet) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// TestFollowerCrash: a leader's acknowledged writes survive a crash of
// its machine. A follower reopened after Close has applied the last
// entry; one whose machine crashed (only what was synced survives, and
// some of what was written and not synced) names an entry at or after
// the last SyncApplied, holds exactly the records it held after that
// entry, and applying the log from there gives the leader's records.
func TestFollowerCrash(t *testing.T) {
	const total, synced = 120, 60
	log := &fakeLog{}
	lfs := vfs.NewCrashableMem()
	l := openAt(t, lfs, "leader", true)
	if err := l.Lead(log); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= total; n++ {
		if _, err := register(l, n); err != nil {
			t.Fatal(err)
		}
	}
	entries := log.all()
	want := records(t, l)
	crashed := openAt(t, lfs.CrashClone(vfs.CrashCloneCfg{}), "leader", true)
	if id, err := crashed.Applied(); err != nil || id.Seq != total {
		t.Fatalf("the leader after a crash applied %v, %v; want %d", id, err, total)
	}
	// The deletion of the last entry's undo record is not synced: a
	// crash may bring it back, and it is never applied (see Rewind).
	sameRecords(t, "leader before and after a crash", want, withoutUndo(records(t, crashed)))

	fs := vfs.NewCrashableMem()
	f := openAt(t, fs, "f", true)
	// states[k] is what f holds after entry k.
	states := [][]kv{records(t, f)}
	for k := 1; k <= total; k++ {
		applyFrom(t, f, uint64(k), entries[k-1:k])
		states = append(states, records(t, f))
		if k == synced {
			if err := f.SyncApplied(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var crashes []*vfs.MemFS
	for seed := range uint64(8) {
		crashes = append(crashes, fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(seed, 1))}))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := openAt(t, fs, "f", true)
	if id, err := reopened.Applied(); err != nil || id.Seq != total {
		t.Fatalf("reopened after Close: applied %v, %v; want %d", id, err, total)
	}
	sameRecords(t, "leader and reopened follower", want, records(t, reopened))

	seen := map[uint64]bool{}
	for i, crash := range crashes {
		c := openAt(t, crash, "f", true)
		id, err := c.Applied()
		if err != nil || id.Seq < synced {
			t.Fatalf("crash %d: applied %v, %v; %d were synced", i, id, err, synced)
		}
		seen[id.Seq] = true
		if e, _ := EntryOf(entries[id.Seq-1]); e != id {
			t.Fatalf("crash %d: applied %v, the log has %v there", i, id, e)
		}
		sameRecords(t, fmt.Sprintf("crash %d: the state after entry %d", i, id.Seq), states[id.Seq], records(t, c))
		applyAll(t, c, entries) // from 1: the applied ones are skipped
		sameRecords(t, "leader and a follower caught up after a crash", want, records(t, c))
	}
	t.Logf("entries applied after the crashes: %v", slices.Sorted(maps.Keys(seen)))
}

// TestReplicatedPipeline: 64 writers, each ack 2 ms after its append,
// finish far faster than the acknowledgements one after another: the
// round trip is not inside the sequencer. The same writes with acks at
// once are the baseline (the CPU the writes take, under the race
// detector and on a shared machine): the round trips may add little to
// it, where one after another they add writes × 2 ms.
func TestReplicatedPipeline(t *testing.T) {
	const writers, each, delay = 64, 8, 2 * time.Millisecond
	run := func(delay time.Duration) time.Duration {
		log := &fakeLog{delay: delay}
		l := leader(t, log)
		start := time.Now()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if _, err := register(l, w*each+i+1); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if len(log.all()) != writers*each {
			t.Fatalf("%d entries", len(log.all()))
		}
		return elapsed
	}
	base := run(0)
	elapsed := run(delay)
	serial := writers * each * delay
	t.Logf("%d writes: %v with acks at once, %v with a %v ack (one after another: %v more)", writers*each, base, elapsed, delay, serial)
	if !t.Failed() && elapsed-base >= serial/2 {
		t.Fatalf("%d writes took %v with a %v ack, %v without: the acks add as if one after another (%v)", writers*each, elapsed, delay, base, serial)
	}
}

// TestFollowWaitsForInFlight: Follow returns only once the writes already
// appended have their answer, and the writes after it are refused.
func TestFollowWaitsForInFlight(t *testing.T) {
	const delay = 200 * time.Millisecond
	l := leader(t, &fakeLog{delay: delay})
	done := make(chan error, 1)
	go func() { _, err := register(l, 1); done <- err }()
	for { // until the write is appended
		if id, _ := l.Applied(); id.Seq == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	appended := time.Now()
	l.Follow()
	if waited := time.Since(appended); waited < delay/2 {
		t.Fatalf("Follow returned %v after the append, the ack comes after %v", waited, delay)
	}
	if err := <-done; err != nil {
		t.Fatalf("the write in flight: %v", err)
	}
	if _, err := register(l, 2); !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("a write after Follow: %v", err)
	}
}

// TestConformanceReplicated runs the store conformance suite against a
// leader (re-opened, it leads again on the same log), and checks that a
// follower that applies the log's entries holds what the leader holds.
func TestConformanceReplicated(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		dir := t.TempDir()
		log := &fakeLog{}
		t.Cleanup(func() {
			// After the suite's own cleanups have closed the leader.
			l := openAt(t, nil, dir, true)
			f := openAt(t, nil, t.TempDir(), true)
			applyAll(t, f, log.all())
			sameRecords(t, "leader and follower", records(t, l), records(t, f))
		})
		return func() (store.Store, error) {
			s, err := Open(dir, &Options{Logger: discard(), Replicated: true})
			if err != nil {
				return nil, err
			}
			if err := s.Lead(log); err != nil {
				s.Close()
				return nil, err
			}
			return s, nil
		}
	})
}

// BenchmarkReplicatedUpdate: 64 concurrent updates, each a new youth
// with one registration and one outbox event (as BenchmarkUpdateParallel),
// on a store not replicated and on a leader whose log acknowledges at
// once or after 1 ms: what the sequencer and the entry's copy cost, and
// that a round trip is shared by the writes in flight.
func BenchmarkReplicatedUpdate(b *testing.B) {
	for _, bc := range []struct {
		name       string
		replicated bool
		delay      time.Duration
	}{
		{"single", false, 0},
		{"leader", true, 0},
		{"leader-ack1ms", true, time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := openAt(b, nil, b.TempDir(), bc.replicated)
			if bc.replicated {
				if err := s.Lead(&fakeLog{drop: true, delay: bc.delay}); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			b.SetParallelism(64 / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					y := storetest.Youth(1, int(next.Add(1)))
					err := s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
						tx.Put(storetest.Reg(y, "ggd", replAt))
						tx.Append(store.Event{Type: store.EventNoMatch, At: replAt, Recipient: "ggd"})
						return nil
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

// TestOpenReplicaAlone: a store written replicated is refused opened
// without Replicated (its writes would be in no log), and with
// LeaveReplication opens as a store of its own, without the replication
// record, and takes writes; from then on it opens alone.
func TestOpenReplicaAlone(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, &Options{Logger: discard(), Replicated: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Lead(&fakeLog{}); err != nil {
		t.Fatal(err)
	}
	if _, err := register(l, 1); err != nil {
		t.Fatal(err)
	}
	// A write whose acknowledgement was lost leaves its undo record.
	l.Follow()
	lost := &holdLog{release: make(chan struct{})}
	close(lost.release)
	if err := l.Lead(lost); err != nil {
		t.Fatal(err)
	}
	if _, err := register(l, 4); !errors.Is(err, errLost) {
		t.Fatalf("write: %v", err)
	}
	if n := undoRecords(t, l); n != 1 {
		t.Fatalf("%d undo records, want 1", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, &Options{Logger: discard()}); !errors.Is(err, ErrReplicated) {
		t.Fatalf("a replica opened alone: %v", err)
	}
	alone, err := Open(dir, &Options{Logger: discard(), LeaveReplication: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := register(alone, 2); err != nil {
		t.Fatal(err)
	}
	for _, r := range records(t, alone) {
		if r.k[0] == prefixReplication || r.k[0] == prefixUndo {
			t.Fatalf("the %s is still there", kindName(r.k[0]))
		}
	}
	if err := alone.Close(); err != nil {
		t.Fatal(err)
	}
	again := openAt(t, nil, dir, false) // now a store of its own
	if _, err := register(again, 3); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkApplyEntry: a follower's catch-up, one entry at a time (each
// a youth's registration and event, as BenchmarkReplicatedUpdate's), with
// a SyncApplied every 1000 entries.
func BenchmarkApplyEntry(b *testing.B) {
	log := &fakeLog{}
	l := leader(b, log)
	for n := 1; n <= b.N; n++ {
		y := storetest.Youth(1, n)
		err := l.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			tx.Put(storetest.Reg(y, "ggd", replAt))
			tx.Append(store.Event{Type: store.EventNoMatch, At: replAt, Recipient: "ggd"})
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	entries := log.all()
	f := openAt(b, nil, b.TempDir(), true)
	b.ReportAllocs()
	b.ResetTimer()
	for i, e := range entries {
		if err := f.ApplyEntry(uint64(i+1), e); err != nil {
			b.Fatal(err)
		}
		if (i+1)%1000 == 0 {
			if err := f.SyncApplied(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := f.SyncApplied(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// A replicated node's backup verifies: its replication record is a kind
// Verify knows, and a damaged one is named.
func TestVerifyReplicated(t *testing.T) {
	log := &fakeLog{}
	s := leader(t, log)
	for i := range 20 {
		if _, err := register(s, i); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "copy")
	if err := s.Checkpoint(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(context.Background(), dir)
	if err != nil {
		t.Fatalf("a replicated store's copy: %v", err)
	}
	if rep.Records["replication record"] != 1 {
		t.Fatalf("records: %v", rep.Records)
	}
	if a, err := s.Applied(); err != nil || rep.Replication != a || a.Seq == 0 {
		t.Fatalf("the copy's replication position %+v, the store's %+v (%v)", rep.Replication, a, err)
	}

	// A follower's copy at the same position has the same digest, though
	// its files differ; one entry further, it has another.
	f := openAt(t, nil, t.TempDir(), true)
	applyAll(t, f, log.all())
	fdir := filepath.Join(t.TempDir(), "follower")
	if err := f.Checkpoint(context.Background(), fdir); err != nil {
		t.Fatal(err)
	}
	frep, err := Verify(context.Background(), fdir)
	if err != nil || frep.Digest != rep.Digest || rep.Digest == ([32]byte{}) {
		t.Fatalf("the follower's digest %x, the leader's %x (%v)", frep.Digest, rep.Digest, err)
	}
	if _, err := register(s, 100); err != nil {
		t.Fatal(err)
	}
	applyAll(t, f, log.all())
	further := filepath.Join(t.TempDir(), "further")
	if err := f.Checkpoint(context.Background(), further); err != nil {
		t.Fatal(err)
	}
	if rep2, err := Verify(context.Background(), further); err != nil || rep2.Digest == rep.Digest {
		t.Fatalf("one entry further, the same digest (%v)", err)
	}
}
