package replication

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/internal/natstest"
	"github.com/vindex-nl/vindex/store"
)

// natsCluster is a three-server NATS cluster on loopback (internal/natstest:
// JetStream with file storage syncing every write, TLS between the servers
// and to the clients, client certificates required).
type natsCluster struct {
	*natstest.Cluster
	t      testing.TB
	client *tls.Config
}

func startCluster(t testing.TB) *natsCluster {
	t.Helper()
	c := natstest.Start(t)
	return &natsCluster{Cluster: c, t: t, client: c.ClientTLS}
}

func (c *natsCluster) start(i int)      { c.Start(i) }
func (c *natsCluster) stop(i int)       { c.Stop(i) }
func (c *natsCluster) url(i int) string { return c.URL(i) }

// The fake replica's entries: position (8 bytes), ID (16), payload.
func encodeEntry(id store.EntryID, payload []byte) []byte {
	b := make([]byte, 24+len(payload))
	binary.BigEndian.PutUint64(b, id.Seq)
	copy(b[8:], id.ID[:])
	copy(b[24:], payload)
	return b
}

var errBadEntry = errors.New("fake: entry too short")

func entryOf(b []byte) (store.EntryID, error) {
	if len(b) < 24 {
		return store.EntryID{}, errBadEntry
	}
	var id store.EntryID
	id.Seq = binary.BigEndian.Uint64(b)
	copy(id.ID[:], b[8:24])
	return id, nil
}

// fakeReplica is a store in memory: the entries it applied, in order. A
// write, while it leads, is applied at once and appended to the log,
// the way a store writes its batch and waits for the log.
type fakeReplica struct {
	mu      sync.Mutex
	entries []store.EntryID
	log     store.Log // the log it was last given, kept after Follow
	leading bool
	leads   chan struct{} // a value per Lead
	// own holds the entries it wrote as leader that the log has not
	// acknowledged: the ones Rewind takes back.
	own     map[uint64]store.EntryID
	rewound int
}

func newFake() *fakeReplica {
	return &fakeReplica{leads: make(chan struct{}, 16), own: make(map[uint64]store.EntryID)}
}

// Rewind takes back the last entry if it is one of its own the log has
// not acknowledged.
func (f *fakeReplica) Rewind() (store.EntryID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.entries) == 0 || f.own[uint64(len(f.entries))] != f.entries[len(f.entries)-1] {
		return store.EntryID{}, errNoUndo
	}
	delete(f.own, uint64(len(f.entries)))
	f.entries = f.entries[:len(f.entries)-1]
	f.rewound++
	if len(f.entries) == 0 {
		return store.EntryID{}, nil
	}
	return f.entries[len(f.entries)-1], nil
}

var errNoUndo = errors.New("fake: the last entry is not an unacknowledged one of its own")

// Settled forgets its own unacknowledged entries up to a.
func (f *fakeReplica) Settled(a store.EntryID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.entries); n > 0 && f.entries[n-1] != a || n == 0 && a != (store.EntryID{}) {
		return fmt.Errorf("fake: settled at %d, applied %d", a.Seq, n)
	}
	clear(f.own)
	return nil
}

func (f *fakeReplica) Applied() (store.EntryID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.entries) == 0 {
		return store.EntryID{}, nil
	}
	return f.entries[len(f.entries)-1], nil
}

func (f *fakeReplica) ApplyEntry(seq uint64, entry []byte) error {
	id, err := entryOf(entry)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq != uint64(len(f.entries))+1 || id.Seq != seq {
		return fmt.Errorf("fake: entry %d (names %d) after %d: %w", seq, id.Seq, len(f.entries), store.ErrGap)
	}
	f.entries = append(f.entries, id)
	return nil
}

func (f *fakeReplica) Lead(log store.Log) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log, f.leading = log, true
	f.leads <- struct{}{}
	return nil
}

func (f *fakeReplica) Follow() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leading = false
}

func (f *fakeReplica) isLeading() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leading
}

func (f *fakeReplica) snapshot() []store.EntryID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.EntryID(nil), f.entries...)
}

// write writes payload as the next entry and waits for the log; force
// writes through the last log given even after Follow (a deposed leader
// that does not know it).
func (f *fakeReplica) write(ctx context.Context, payload []byte, force bool) (store.EntryID, error) {
	f.mu.Lock()
	if f.log == nil || !f.leading && !force {
		f.mu.Unlock()
		return store.EntryID{}, store.ErrNotLeader
	}
	id := store.EntryID{Seq: uint64(len(f.entries)) + 1}
	rand.Read(id.ID[:])
	f.entries = append(f.entries, id)
	f.own[id.Seq] = id
	wait := f.log.Append(id.Seq, encodeEntry(id, payload))
	f.mu.Unlock()
	err := wait(ctx)
	if err == nil {
		f.mu.Lock()
		delete(f.own, id.Seq)
		f.mu.Unlock()
	}
	return id, err
}

// rewinds returns how many entries Rewind took back.
func (f *fakeReplica) rewinds() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rewound
}

// testNode is a Node running on a fake replica.
type testNode struct {
	node    *Node
	replica *fakeReplica
	cancel  context.CancelFunc
	done    chan error
}

// logWriter writes a node's log lines to the test's log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testConfig(c *natsCluster, i int, name string) Config {
	return Config{
		Logger: slog.New(slog.NewTextHandler(logWriter{c.t}, nil)),
		URLs:   []string{c.url(i)}, TLS: c.client, Name: name, EntryOf: entryOf,
		LeaseTTL: time.Second, AckTimeout: 2 * time.Second, StatusInterval: 200 * time.Millisecond,
	}
}

func runNode(t testing.TB, cfg Config, r *fakeReplica) *testNode {
	t.Helper()
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{node: n, replica: r, cancel: cancel, done: make(chan error, 1)}
	go func() { tn.done <- n.Run(ctx, r) }()
	t.Cleanup(func() {
		start := time.Now()
		err := tn.stop()
		t.Logf("node %s stopped in %v: %v", cfg.Name, time.Since(start), err)
	})
	return tn
}

// runNodes runs three nodes, node-0 to node-2, each on a new fake replica
// and on its own server of c.
func runNodes(t testing.TB, c *natsCluster) []*testNode {
	t.Helper()
	var nodes []*testNode
	for i := range 3 {
		nodes = append(nodes, runNode(t, testConfig(c, i, fmt.Sprintf("node-%d", i)), newFake()))
	}
	return nodes
}

// stop stops the node and returns Run's error.
func (tn *testNode) stop() error {
	tn.cancel()
	select {
	case err := <-tn.done:
		tn.done <- err
		return err
	case <-time.After(10 * time.Second):
		return errors.New("node did not stop")
	}
}

// waitLeader waits for exactly one of nodes to lead and returns it.
func waitLeader(t testing.TB, nodes []*testNode, within time.Duration) *testNode {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var leaders []*testNode
		for _, tn := range nodes {
			if tn != nil && tn.replica.isLeading() {
				leaders = append(leaders, tn)
			}
		}
		if len(leaders) > 1 {
			t.Fatalf("%d nodes lead at once", len(leaders))
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no leader within %v", within)
	return nil
}

// waitApplied waits until every replica holds want, in order.
func waitApplied(t testing.TB, want []store.EntryID, within time.Duration, replicas ...*fakeReplica) {
	t.Helper()
	deadline := time.Now().Add(within)
	for i, r := range replicas {
		for {
			got := r.snapshot()
			if len(got) >= len(want) {
				for k := range want {
					if got[k] != want[k] {
						t.Fatalf("replica %d: entry %d is %x, want %x", i, k+1, got[k].ID, want[k].ID)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d has %d entries, want %d", i, len(got), len(want))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// waitReported waits until every node has reported in the status bucket
// that it has applied up to last (Trim refuses before).
func waitReported(t testing.TB, cfg Config, last uint64, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		st, err := ReadStatus(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		all := len(st.Nodes) == 3
		for _, n := range st.Nodes {
			all = all && n.Applied >= last
		}
		if all {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("nodes did not report %d: %+v", last, st.Nodes)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
