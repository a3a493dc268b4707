package replication

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vindex-nl/vindex/store"
)

// writeMany writes n entries from each of w goroutines through r and
// returns the acknowledged ones; every write must be acknowledged.
func writeMany(t *testing.T, r *fakeReplica, w, n int) map[uint64]store.EntryID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	acked := map[uint64]store.EntryID{}
	var wg sync.WaitGroup
	errs := make(chan error, w*n)
	for range w {
		wg.Go(func() {
			for range n {
				id, err := r.write(ctx, []byte("that-information"), false)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				acked[id.Seq] = id
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("write: %v", err)
	}
	return acked
}

func others(nodes []*testNode, not *testNode) []*testNode {
	var out []*testNode
	for _, n := range nodes {
		if n != not {
			out = append(out, n)
		}
	}
	return out
}

// One leader is elected; its writes reach all three replicas in order; when
// it stops another leads within a few seconds and continues the sequence;
// the stopped node, restarted, catches up; the status names the leader and
// each node's position; a replica whose last entry is not the stream's, or
// that lacks entries the stream no longer holds, is refused.
func TestReplication(t *testing.T) {
	c := startCluster(t)
	nodes := runNodes(t, c)
	leader := waitLeader(t, nodes, 20*time.Second)

	acked := writeMany(t, leader.replica, 8, 10)
	want := leader.replica.snapshot()
	if len(want) != 80 || len(acked) != 80 {
		t.Fatalf("leader holds %d entries, %d acknowledged; want 80", len(want), len(acked))
	}
	for _, id := range want {
		if acked[id.Seq] != id {
			t.Fatalf("entry %d not acknowledged as written", id.Seq)
		}
	}
	waitApplied(t, want, 20*time.Second, nodes[0].replica, nodes[1].replica, nodes[2].replica) // generous: a busy CI machine

	// The status: the leader, and every node at 80.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := ReadStatus(context.Background(), testConfig(c, 0, "status"))
		if err != nil {
			t.Fatal(err)
		}
		ok := st.Leader == leader.node.cfg.Name && st.LastSeq == 80 && len(st.Nodes) == 3 && len(st.Servers) == 3
		for _, n := range nodes {
			lag, known := n.node.Lag()
			ok = ok && n.node.Leader() == leader.node.cfg.Name && lag == 0 && known
		}
		for _, ns := range st.Nodes {
			ok = ok && ns.Applied == 80 && ns.Lag == 0 && ns.Leading == (ns.Name == st.Leader)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Failover: the leader stops; another leads and continues at 81.
	stopped := time.Now()
	if err := leader.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped leader's Run: %v", err)
	}
	if leader.replica.isLeading() {
		t.Fatal("the stopped leader's replica still leads")
	}
	next := waitLeader(t, others(nodes, leader), 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := next.replica.write(ctx, []byte("after failover"), false)
	if err != nil || id.Seq != 81 {
		t.Fatalf("new leader's first write: %v at %d, want 81", err, id.Seq)
	}
	t.Logf("failover (leader stopped, new leader's first write acknowledged): %v", time.Since(stopped))
	more := writeMany(t, next.replica, 4, 5)
	if len(more) != 20 {
		t.Fatalf("%d more acknowledged", len(more))
	}

	// The stopped node restarts on its replica and catches up.
	for i, n := range nodes {
		if n == leader {
			nodes[i] = runNode(t, leader.node.cfg, leader.replica)
		}
	}
	want = next.replica.snapshot()
	waitApplied(t, want, 20*time.Second, nodes[0].replica, nodes[1].replica, nodes[2].replica) // generous: a busy CI machine

	for _, n := range nodes {
		if got := testutil.ToFloat64(n.node.metrics.applied); got != float64(len(want)) && !n.replica.isLeading() {
			// The gauge follows as each entry is applied.
			t.Errorf("%s: applied metric %v, want %d", n.node.cfg.Name, got, len(want))
		}
	}

	// A crash: the leader's connection closes and its lease is left to
	// expire; another leads within a few seconds and continues.
	crashed := time.Now()
	next.node.conn.Load().Close()
	var after *testNode
	for after == nil {
		for _, n := range others(nodes, next) {
			if n.replica.isLeading() {
				after = n
			}
		}
		if time.Since(crashed) > 10*time.Second {
			t.Fatal("no leader after the crash")
		}
		time.Sleep(5 * time.Millisecond)
	}
	id, err = after.replica.write(ctx, []byte("after the crash"), false)
	if err != nil || id.Seq != uint64(len(want))+1 {
		t.Fatalf("first write after the crash: %v at %d, want %d", err, id.Seq, len(want)+1)
	}
	t.Logf("failover after a crash (LeaseTTL %v): %v", after.node.cfg.LeaseTTL, time.Since(crashed))
	if err := next.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("crashed node's Run: %v", err)
	}
	want = after.replica.snapshot()
	// Divergence: a replica whose last entry is not the stream's.
	// probe runs a node on a replica holding entries and returns Run's
	// error, or nil once it has caught up with the stream (if it holds
	// fewer entries than the stream).
	// The last own entries are the replica's own, never acknowledged: it
	// takes them back (Rewind) and follows.
	probe := func(name string, entries []store.EntryID, own int) error {
		t.Helper()
		r := newFake()
		r.entries = entries
		for _, id := range entries[len(entries)-own:] {
			r.own[id.Seq] = id
		}
		tn := runNode(t, testConfig(c, 1, name), r)
		deadline := time.After(20 * time.Second) // generous: a busy CI machine
		for {
			select {
			case err := <-tn.done:
				tn.done <- err
				select {
				case <-tn.node.Checked():
					if err != nil && !errors.Is(err, context.Canceled) {
						return fmt.Errorf("Checked was closed, and then Run failed: %w", err)
					}
				default:
				}
				return err
			case <-deadline:
				return errors.New("neither caught up nor refused")
			case <-time.After(20 * time.Millisecond):
			}
			caughtUp := len(r.snapshot()) >= len(want)
			if own > 0 {
				// Its own entries are taken back before the check passes.
				select {
				case <-tn.node.Checked():
				default:
					caughtUp = false
				}
			}
			if len(entries)-own <= len(want) && caughtUp {
				select {
				case <-tn.node.Checked():
				default:
					return errors.New("caught up, but Checked is still open")
				}
				for k, id := range r.snapshot()[:len(want)] {
					if id != want[k] {
						return fmt.Errorf("entry %d differs", k+1)
					}
				}
				if got := r.rewinds(); got != own {
					return fmt.Errorf("%d entries taken back, want %d", got, own)
				}
				if err := tn.stop(); !errors.Is(err, context.Canceled) {
					return err
				}
				return nil
			}
		}
	}
	bad := append([]store.EntryID(nil), want[:50]...)
	bad[49].ID[0] ^= 1
	if err := probe("diverged", bad, 0); !errors.Is(err, store.ErrDiverged) {
		t.Fatalf("replica with another entry 50: Run = %v, want ErrDiverged", err)
	}
	ahead := append(append([]store.EntryID(nil), want...), store.EntryID{Seq: uint64(len(want)) + 1})
	if err := probe("ahead", ahead, 0); !errors.Is(err, store.ErrDiverged) {
		t.Fatalf("replica ahead of the stream: Run = %v, want ErrDiverged", err)
	}
	// Its own unacknowledged entries: two past the stream's end, and
	// three in place of the stream's 61 to 63 (it led, was deposed, and
	// another leader appended there).
	if err := probe("own-ahead", append(append([]store.EntryID(nil), want...), ownEntries(len(want)+1, 2)...), 2); err != nil {
		t.Fatalf("replica with two own entries past the stream: Run = %v", err)
	}
	if err := probe("own-instead", append(append([]store.EntryID(nil), want[:60]...), ownEntries(61, 3)...), 3); err != nil {
		t.Fatalf("replica with its own entries 61 to 63: Run = %v", err)
	}
	mixed := append(append([]store.EntryID(nil), bad...), ownEntries(51, 1)...)
	if err := probe("own-after-diverged", mixed, 1); !errors.Is(err, store.ErrDiverged) || !errors.Is(err, errNoUndo) {
		t.Fatalf("replica with another entry 50 under an own entry 51: Run = %v, want ErrDiverged (cannot take it back)", err)
	}
	if err := probe("same", want[:70], 0); err != nil {
		t.Fatalf("replica with the stream's first 70 entries: Run = %v", err)
	}

	// Trimmed: the stream keeps entries from 51 on. A replica at 50
	// follows (entry 51 names 50); one at 49 lacks entry 50: ErrTrimmed;
	// one at 50 with another entry 50: ErrDiverged.
	jsc, err := jetstream.New(after.node.conn.Load())
	if err != nil {
		t.Fatal(err)
	}
	s, err := jsc.Stream(ctx, after.node.cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSequence(51)); err != nil {
		t.Fatal(err)
	}
	if err := probe("at-50", want[:50], 0); err != nil {
		t.Fatalf("replica at 50, stream from 51: Run = %v", err)
	}
	if err := probe("at-49", want[:49], 0); !errors.Is(err, ErrTrimmed) {
		t.Fatalf("replica at 49, stream from 51: Run = %v, want ErrTrimmed", err)
	}
	if err := probe("bad-50", bad, 0); !errors.Is(err, store.ErrDiverged) {
		t.Fatalf("replica at 50 with another entry 50, stream from 51: Run = %v, want ErrDiverged", err)
	}
}

// ownEntries returns n entries with random IDs from position first on.
func ownEntries(first, n int) []store.EntryID {
	out := make([]store.EntryID, n)
	for i := range out {
		out[i].Seq = uint64(first + i)
		rand.Read(out[i].ID[:])
	}
	return out
}
