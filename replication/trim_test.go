package replication

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Trim removes the entries every node has applied, up to the position
// asked for; it refuses a position a node has not reached or beyond the
// stream's end; a node restarted afterwards follows from the trimmed
// stream.
func TestTrim(t *testing.T) {
	c := startCluster(t)
	nodes := runNodes(t, c)
	leader := waitLeader(t, nodes, 20*time.Second)
	acked := writeMany(t, leader.replica, 4, 10)
	want := leader.replica.snapshot()
	if len(acked) != 40 {
		t.Fatalf("%d entries acknowledged, want 40", len(acked))
	}
	var replicas []*fakeReplica
	for _, n := range nodes {
		replicas = append(replicas, n.replica)
	}
	waitApplied(t, want, 20*time.Second, replicas...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := testConfig(c, 0, "trimmer")
	// Every node reports its position within StatusInterval.
	waitReported(t, cfg, 40, 10*time.Second)
	if _, err := Trim(ctx, cfg, 43); !errors.Is(err, ErrTrimUnsafe) {
		t.Fatalf("a trim beyond the stream's end: %v", err)
	}
	// A node stopped at 40 while the leader writes on: a trim past 41
	// would strand it.
	stopped := others(nodes, leader)[0]
	if err := stopped.stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	writeMany(t, leader.replica, 2, 5)
	if _, err := Trim(ctx, cfg, 45); !errors.Is(err, ErrTrimUnsafe) {
		t.Fatalf("a trim past a stopped node's position: %v", err)
	}
	if _, err := Trim(ctx, cfg, 51); !errors.Is(err, ErrTrimUnsafe) {
		t.Fatalf("a trim of the last entry (the stream ends at 50): %v", err)
	}
	n, err := Trim(ctx, cfg, 41)
	if err != nil || n != 40 {
		t.Fatalf("trim to 41: removed %d, %v", n, err)
	}
	st, err := ReadStatus(ctx, cfg)
	if err != nil || st.FirstSeq != 41 || st.LastSeq != 50 {
		t.Fatalf("after the trim: %+v, %v", st, err)
	}
	// The stopped node, started again at 40, follows from the trimmed
	// stream.
	again := runNode(t, testConfig(c, 1, stopped.node.cfg.Name), stopped.replica)
	waitApplied(t, leader.replica.snapshot(), 20*time.Second, again.replica)
}
