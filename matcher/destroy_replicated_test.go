package matcher_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// lossyLog is a replicated log that takes every entry and acknowledges it,
// until lose is set: then the answers are lost (the log took the entries,
// the leader never hears so).
type lossyLog struct {
	lose atomic.Bool
	last atomic.Uint64
}

var errAckLost = errors.New("the acknowledgement was lost")

func (l *lossyLog) Append(seq uint64, _ []byte) func(context.Context) error {
	l.last.Store(seq)
	lost := l.lose.Load()
	return func(context.Context) error {
		if lost {
			return errAckLost
		}
		return nil
	}
}

// newReplicatedEnv is newEnvWith on a replicated store leading with log.
func newReplicatedEnv(t *testing.T, ps *pseudonym.Pseudonymiser, dir string, log store.Log) *env {
	t.Helper()
	st, err := pebblestore.Open(dir, &pebblestore.Options{Logger: quiet(), Replicated: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Lead(log); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: start}
	m, err := matcher.New(matcher.Config{
		Store: st, Pseudonymiser: ps, ClientRefs: testkeys.Sealer(t), Covenant: exampleCovenant(t),
		Clock: c.Now, Location: time.UTC, Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{m: m, store: st, clock: c, ps: ps, dir: dir}
}

// TestDestroyedOnReplicaLeavesNoBytes: a leader records a death, and the
// log takes the entry, but its acknowledgement is lost. The store keeps
// the entry's undo record (what the death destroyed) until the node finds
// its store to be the log's (Settled): then a compaction and two openings
// leave no byte of the youth in the store's files. Before Settled the
// same scan finds the youth in the undo record (the scan's control).
func TestDestroyedOnReplicaLeavesNoBytes(t *testing.T) {
	dir := t.TempDir()
	ps := freshPseudonymiser(t)
	log := &lossyLog{}
	e := newReplicatedEnv(t, ps, dir, log)
	const dead, kept = 1, 3
	for _, n := range []int{dead, kept} {
		e.register(t, school, e.signal(t, n))
		e.register(t, ggd, e.involvement(t, n))
	}
	needles := func(n int) canary.Needles {
		out := canary.Needles{}
		set, err := ps.Youth(bsnFor(t, n))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range set.All {
			out.Bytes("pseudonym", p.Sum[8:])
		}
		kase, _ := e.records(t, ps, n)
		out.Bytes("birth check", kase.BirthCheck.Sum[8:])
		return out
	}
	gone, control := needles(dead), needles(kept)

	log.lose.Store(true)
	// The death fails (as does its audit entry after it: the store
	// stopped leading), though the log holds it.
	if err := e.m.RecordDeath(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, dead)); err == nil {
		t.Fatal("the death, its acknowledgement lost, succeeded")
	}
	st := e.store
	if st.Leading() {
		t.Fatal("the store leads after a lost acknowledgement")
	}
	applied, err := st.Applied()
	if err != nil || applied.Seq != log.last.Load() {
		t.Fatalf("applied %v, %v; the log's last is %d", applied, err, log.last.Load())
	}
	compactAndScan := func() []string {
		t.Helper()
		if err := st.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if st, err = pebblestore.Open(dir, &pebblestore.Options{Logger: quiet(), Replicated: true}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Compact(ctx); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		}
		found, err := gone.ScanDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if controls, err := control.ScanDir(dir); err != nil || len(controls) < 2 {
			t.Fatalf("the youth still registered is not found: %q %v", controls, err)
		}
		if st, err = pebblestore.Open(dir, &pebblestore.Options{Logger: quiet(), Replicated: true}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return found
	}
	if found := compactAndScan(); len(found) == 0 {
		t.Fatal("before Settled the scan finds no byte of the youth in the undo record: it proves nothing")
	}
	// The node checks the store against the log: its last entry is the
	// log's.
	if err := st.Settled(applied); err != nil {
		t.Fatal(err)
	}
	if found := compactAndScan(); len(found) > 0 {
		t.Errorf("destroyed, and still in the store's files:\n%q", found)
	}
}
