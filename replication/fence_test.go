package replication

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vindex-nl/vindex/store"
)

// ack is one write's outcome.
type ack struct {
	by  string
	id  store.EntryID
	err error
	at  time.Time
}

// writeUntil writes from w goroutines through r (force: as a leader that
// does not know it was deposed) until stop is closed, and returns every
// outcome.
func writeUntil(r *fakeReplica, by string, w int, force bool, stop <-chan struct{}) func() []ack {
	var mu sync.Mutex
	var out []ack
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				id, err := r.write(ctx, []byte("that-information"), force)
				cancel()
				mu.Lock()
				out = append(out, ack{by, id, err, time.Now()})
				mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	return func() []ack {
		wg.Wait()
		return out
	}
}

// checkAcks fails unless no position was acknowledged twice and every
// acknowledged entry is the stream's at its position, as replica (a
// follower that applied the stream) holds it.
func checkAcks(t *testing.T, acks []ack, replica *fakeReplica) {
	t.Helper()
	seen := map[uint64]ack{}
	for _, a := range acks {
		if a.err != nil {
			continue
		}
		if b, ok := seen[a.id.Seq]; ok {
			t.Fatalf("position %d acknowledged twice: to %s and to %s", a.id.Seq, b.by, a.by)
		}
		seen[a.id.Seq] = a
	}
	var last uint64
	for seq := range seen {
		last = max(last, seq)
	}
	deadline := time.Now().Add(10 * time.Second)
	for uint64(len(replica.snapshot())) < last {
		if time.Now().After(deadline) {
			t.Fatalf("follower holds %d entries, %d acknowledged", len(replica.snapshot()), last)
		}
		time.Sleep(10 * time.Millisecond)
	}
	entries := replica.snapshot()
	for seq, a := range seen {
		if entries[seq-1] != a.id {
			t.Fatalf("position %d acknowledged to %s as %x, the stream holds %x", seq, a.by, a.id.ID, entries[seq-1].ID)
		}
	}
}

func waitLeaderAmong(t *testing.T, nodes []*testNode, within time.Duration) *testNode {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n.replica.isLeading() {
				return n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("none of %d nodes leads within %v", len(nodes), within)
	return nil
}

// A leader that lost its lease without noticing (it renews no more) goes
// on appending: once another node leads and has appended, its appends are
// fenced, every one after fails too, and no position is acknowledged to
// both. Run again on its replica, whose last entries the stream does not
// hold, the node takes them back and follows the new leader.
func TestDeposedLeaderIsFenced(t *testing.T) {
	c := startCluster(t)
	nodes := runNodes(t, c)
	old := waitLeader(t, nodes, 20*time.Second)
	writeMany(t, old.replica, 2, 5)

	old.node.noRenew.Store(true)
	rest := others(nodes, old)
	next := waitLeaderAmong(t, rest, 5*time.Second)
	third := others(rest, next)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, err := next.replica.write(ctx, []byte("new leader"), false)
	if err != nil || id.Seq != 11 {
		t.Fatalf("new leader's first write: %v at %d, want 11", err, id.Seq)
	}
	if _, err := old.replica.write(ctx, []byte("deposed"), true); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("deposed leader's write: %v, want ErrFenced", err)
	}

	stop := make(chan struct{})
	olds := writeUntil(old.replica, "deposed", 4, true, stop)
	news := writeUntil(next.replica, "leader", 4, false, stop)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	acks := append(olds(), news()...)
	var newOK int
	for _, a := range acks {
		switch {
		case a.by == "deposed" && a.err == nil:
			t.Fatalf("deposed leader's write acknowledged at %d", a.id.Seq)
		case a.by == "deposed" && !errors.Is(a.err, store.ErrFenced):
			t.Fatalf("deposed leader's write: %v, want ErrFenced", a.err)
		case a.by == "leader" && a.err != nil:
			t.Fatalf("leader's write: %v", a.err)
		case a.by == "leader":
			newOK++
		}
	}
	if newOK == 0 {
		t.Fatal("the leader wrote nothing")
	}
	checkAcks(t, append(acks, ack{by: "leader", id: id}), third.replica)
	if got := testutil.ToFloat64(old.node.metrics.fences); got != 1 {
		t.Errorf("deposed node's fenced appends: %v, want 1", got)
	}
	if got := testutil.ToFloat64(next.node.metrics.elections); got != 1 {
		t.Errorf("leader's elections won: %v, want 1", got)
	}

	if err := old.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("deposed node's Run: %v", err)
	}
	own := old.replica.snapshot()
	again := runNode(t, old.node.cfg, old.replica)
	select {
	case <-again.node.Checked(): // its own entries taken back
	case err := <-again.done:
		t.Fatalf("node on the deposed leader's replica: Run = %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("node on the deposed leader's replica: not checked")
	}
	want := next.replica.snapshot()
	waitApplied(t, want, 20*time.Second, old.replica)
	if n := old.replica.rewinds(); n == 0 || n != len(own)-10 {
		t.Fatalf("the deposed leader took back %d entries, want its %d after entry 10", n, len(own)-10)
	}
	if got := testutil.ToFloat64(again.node.metrics.rewound); got != float64(len(own)-10) {
		t.Errorf("rewound entries metric: %v, want %d", got, len(own)-10)
	}
}

// Two logs after the same entry, as two leaders hold them: when the
// second's entry 6 loses to the first's, its entries 7 and 8, appended
// before 6 was refused, fail too and never reach the stream, though the
// stream's last position is then 6, as entry 7 expects. The first's
// entries, appended together, land in order.
func TestEntryAfterALostRaceIsNeverPublished(t *testing.T) {
	c := startCluster(t)
	tn := runNode(t, testConfig(c, 0, "node-0"), newFake())
	leader := waitLeader(t, []*testNode{tn}, 20*time.Second)
	writeMany(t, leader.replica, 1, 5)
	if err := tn.stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	prev := leader.replica.snapshot()[4]

	nc, js := jetStream(t, tn.node.cfg)
	subject := tn.node.cfg.subject()
	a := newLog(nc, js, subject, entryOf, 2*time.Second, nil, prev)
	b := newLog(nc, js, subject, entryOf, 2*time.Second, nil, prev)
	defer a.close()
	defer b.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	entry := func(seq uint64, tag byte) []byte {
		return encodeEntry(store.EntryID{Seq: seq, ID: [16]byte{tag, byte(seq)}}, nil)
	}
	if err := b.Append(6, entry(6, 'b'))(ctx); err != nil {
		t.Fatalf("first leader's entry 6: %v", err)
	}
	waits := []func(context.Context) error{a.Append(6, entry(6, 'a')), a.Append(7, entry(7, 'a')), a.Append(8, entry(8, 'a'))}
	for i, wait := range waits {
		if err := wait(ctx); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("second leader's entry %d: %v, want ErrFenced", 6+i, err)
		}
	}
	if err := a.Append(9, entry(9, 'a'))(ctx); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("second leader's entry 9: %v, want ErrFenced", err)
	}
	s, err := js.Stream(ctx, tn.node.cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := entryOf(m.Data); info.State.LastSeq != 6 || got.ID[0] != 'b' {
		t.Fatalf("the stream ends at %d, its entry 6 is %+v; want the first leader's entry 6 last", info.State.LastSeq, got)
	}
	if got := m.Header.Get(hdrPrev); got != hexID(prev.ID) {
		t.Fatalf("entry 6 names %q before it, want %q", got, hexID(prev.ID))
	}
	// A batch whose first entry expects 5 is refused whole.
	var batch []*pending
	for seq := uint64(6); seq <= 8; seq++ {
		batch = append(batch, &pending{seq: seq, msg: &nats.Msg{Subject: subject, Data: entry(seq, 'c'), Header: nats.Header{}}})
	}
	if err := a.publishBatch(batch); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("a batch from 6 after 6: %v, want ErrFenced", err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.LastSeq != 6 {
		t.Fatalf("after the refused batch the stream ends at %d (%v), want 6", info.State.LastSeq, err)
	}

	// The first leader goes on, its entries appended together going as
	// atomic batches.
	waits = nil
	for seq := uint64(7); seq <= 30; seq++ {
		waits = append(waits, b.Append(seq, entry(seq, 'b')))
	}
	for i, wait := range waits {
		if err := wait(ctx); err != nil {
			t.Fatalf("first leader's entry %d: %v", 7+i, err)
		}
	}
	for seq := uint64(7); seq <= 30; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := entryOf(m.Data); got.Seq != seq || got.ID[0] != 'b' {
			t.Fatalf("the stream's entry %d is %+v", seq, got)
		}
	}
	// The danger was real: published, an entry of the second expecting
	// 30 would land on the first's entry 30.
	if _, err := js.Publish(ctx, subject, entry(31, 'a'), jetstream.WithExpectLastSequence(30)); err != nil {
		t.Fatalf("an entry 31 expecting 30: %v", err)
	}
}

// A leader cut off from NATS (its server shut down) stops acknowledging
// and steps down; another leads; no position is acknowledged twice and
// every acknowledged entry is in the stream. When the server is back, the
// cut-off node takes back what it holds that the stream lacks, and
// catches up.
func TestLeaderCutOffFromNATS(t *testing.T) {
	c := startCluster(t)
	nodes := runNodes(t, c)
	old := waitLeader(t, nodes, 20*time.Second)
	idx := 0
	for i, n := range nodes {
		if n == old {
			idx = i
		}
	}
	writeMany(t, old.replica, 2, 5)

	stop := make(chan struct{})
	olds := writeUntil(old.replica, "cut off", 4, false, stop)
	time.Sleep(200 * time.Millisecond)
	c.stop(idx)
	cut := time.Now()
	rest := others(nodes, old)
	// A server that led the stream's or the lease's group takes a raft
	// election with it (4 to 9 seconds in NATS 2.15).
	next := waitLeaderAmong(t, rest, 20*time.Second)
	t.Logf("new leader %v after the cut", time.Since(cut))
	deadline := time.Now().Add(5 * time.Second)
	for old.replica.isLeading() {
		if time.Now().After(deadline) {
			t.Fatal("the cut-off leader still leads")
		}
		time.Sleep(10 * time.Millisecond)
	}
	news := writeUntil(next.replica, "leader", 4, false, stop)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	acks := append(olds(), news()...)
	var okBefore, okAfter, newOK int
	for _, a := range acks {
		switch {
		case a.err != nil:
		case a.by == "leader":
			newOK++
		case a.at.Before(cut):
			okBefore++
		default:
			okAfter++
		}
	}
	t.Logf("cut-off leader: %d writes acknowledged before the cut, %d as it was cut; leader: %d", okBefore, okAfter, newOK)
	if okBefore == 0 || newOK == 0 {
		t.Fatal("too few writes acknowledged to tell")
	}
	for _, a := range acks {
		if a.by == "cut off" && a.err == nil && a.at.After(cut.Add(time.Second)) {
			t.Fatalf("cut-off leader acknowledged entry %d %v after the cut", a.id.Seq, a.at.Sub(cut))
		}
	}
	checkAcks(t, acks, others(rest, next)[0].replica)

	c.start(idx)
	deadline = time.Now().Add(15 * time.Second)
	want := next.replica.snapshot()
	for {
		select {
		case err := <-old.done:
			old.done <- err
			t.Fatalf("cut-off node's Run: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		got := old.replica.snapshot()
		if len(got) >= len(want) && slices.Equal(got[:len(want)], want) {
			t.Logf("cut-off node caught up, after taking back %d entries", old.replica.rewinds())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cut-off node holds %d entries, the leader %d", len(got), len(want))
		}
	}
}

// An entry in the stream that does not name the entry before it (here one
// published at the right position by a log that took another entry 5 for
// the last) is never applied: a node following the stream stops with
// store.ErrDiverged at it, with the entries before it applied.
func TestEntryNamingAnotherIsNotApplied(t *testing.T) {
	c := startCluster(t)
	tn := runNode(t, testConfig(c, 0, "node-0"), newFake())
	leader := waitLeader(t, []*testNode{tn}, 20*time.Second)
	writeMany(t, leader.replica, 1, 5)
	if err := tn.stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	entries := leader.replica.snapshot()

	nc, js := jetStream(t, tn.node.cfg)
	other := entries[4]
	other.ID[0] ^= 1
	bad := newLog(nc, js, tn.node.cfg.subject(), entryOf, 2*time.Second, nil, other)
	defer bad.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bad.Append(6, encodeEntry(store.EntryID{Seq: 6, ID: [16]byte{'x'}}, nil))(ctx); err != nil {
		t.Fatalf("the entry naming another entry 5: %v", err)
	}

	f := newFake()
	f.entries = slices.Clone(entries[:3])
	again := runNode(t, testConfig(c, 1, "node-1"), f)
	select {
	case err := <-again.done:
		again.done <- err
		if !errors.Is(err, store.ErrDiverged) || !strings.Contains(err.Error(), "follows") {
			t.Fatalf("Run = %v, want ErrDiverged at entry 6", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the node follows a stream whose entry 6 names another entry 5")
	}
	if got := f.snapshot(); !slices.Equal(got, entries) {
		t.Fatalf("the node holds %d entries, want the stream's first 5", len(got))
	}
}

// jetStream connects to cfg's servers, closed when the test ends.
func jetStream(t *testing.T, cfg Config) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := connect(&cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}
