package replication

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests here look for a canary in the NATS servers' files: the
// stream's message blocks (jetstream/$G/streams/VINDEX/msgs) and the raft
// log of the stream's group (jetstream/$SYS/_js_/S-R3F-*/msgs). An entry
// carrying a canary is kept under 8 KiB: JetStream S2-compresses a larger
// message in its raft log.

// newCanary returns a byte string no file holds by chance.
func newCanary(name string) []byte {
	var r [12]byte
	rand.Read(r[:])
	return []byte(name + "-" + hex.EncodeToString(r[:]))
}

// holding returns the files under dir (relative to it) that contain
// canary. A file that goes while it is read (a store rewriting or removing
// it) is skipped.
func holding(t testing.TB, dir string, canary []byte) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.Contains(b, canary) {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Where a file is: in the stream's message blocks, or in a raft log
// (group directories under $SYS/_js_).
func inStreamBlocks(f, stream string) bool {
	return strings.HasPrefix(f, filepath.Join("jetstream", "$G", "streams", stream, "msgs")+string(filepath.Separator))
}

func inRaftLog(f string) bool {
	return strings.HasPrefix(f, filepath.Join("jetstream", "$SYS", "_js_")+string(filepath.Separator))
}

// holdingAll returns, for every server, the files that hold canary and for
// which keep is true, as "server i: path".
func holdingAll(t testing.TB, c *natsCluster, canary []byte, keep func(string) bool) []string {
	t.Helper()
	var out []string
	for i := range 3 {
		for _, f := range holding(t, c.StoreDir(i), canary) {
			if keep(f) {
				out = append(out, fmt.Sprintf("server %d: %s", i, f))
			}
		}
	}
	return out
}

// waitGone waits until no server has a file that holds canary and for
// which keep is true, and returns how long that took.
func waitGone(t testing.TB, c *natsCluster, canary []byte, keep func(string) bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		left := holdingAll(t, c, canary, keep)
		if len(left) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s still on disk after %v: %q", canary, within, left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// trimDiskCluster is three nodes on a three-server cluster, with a leader,
// for the tests below.
type trimDiskCluster struct {
	t        *testing.T
	c        *natsCluster
	cfg      Config // the trimmer's
	leader   *testNode
	nodes    []*testNode
	replicas []*fakeReplica
	ctx      context.Context
}

func startTrimDisk(t *testing.T, within time.Duration) *trimDiskCluster {
	c := startCluster(t)
	td := &trimDiskCluster{t: t, c: c, cfg: testConfig(c, 0, "trimmer")}
	td.cfg.ensureDefaults()
	for i := range 3 {
		// A longer lease than other tests': megabytes of writes on a busy
		// machine must not cost the leader its lease (a write then
		// retries on the next leader, see write).
		cfg := testConfig(c, i, fmt.Sprintf("node-%d", i))
		cfg.LeaseTTL = 4 * time.Second
		td.nodes = append(td.nodes, runNode(t, cfg, newFake()))
		td.replicas = append(td.replicas, td.nodes[i].replica)
	}
	td.leader = waitLeader(t, td.nodes, 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), within)
	t.Cleanup(cancel)
	td.ctx = ctx
	return td
}

// write writes one entry and returns its position; if the leader no
// longer leads, on the node that leads next.
func (td *trimDiskCluster) write(payload []byte) uint64 {
	td.t.Helper()
	for range 3 {
		id, err := td.leader.replica.write(td.ctx, payload, false)
		if err == nil {
			return id.Seq
		}
		td.t.Logf("write: %v; again on the next leader", err)
		td.leader = waitLeader(td.t, td.nodes, 20*time.Second)
	}
	td.t.Fatal("write: no leader took it")
	return 0
}

// writeCanary writes three entries carrying canary, between two without,
// and returns the last position.
func (td *trimDiskCluster) writeCanary(canary []byte) uint64 {
	td.t.Helper()
	td.write([]byte("an entry before"))
	for i := range 3 {
		td.write(fmt.Appendf(nil, "a record the store destroys later (%d): %s", i, canary))
	}
	return td.write([]byte("an entry after"))
}

// fill writes n entries of 256 KiB of random bytes (so that no layer
// compresses them away) and returns the last position.
func (td *trimDiskCluster) fill(n int) uint64 {
	td.t.Helper()
	b := make([]byte, 256<<10)
	var last uint64
	for range n {
		rand.Read(b)
		last = td.write(b)
	}
	return last
}

// settle waits until every node has applied and reported every entry.
func (td *trimDiskCluster) settle() uint64 {
	td.t.Helper()
	want := td.leader.replica.snapshot()
	waitApplied(td.t, want, 30*time.Second, td.replicas...)
	last := uint64(len(want))
	waitReported(td.t, td.cfg, last, 20*time.Second)
	return last
}

// trim trims the stream before keepFrom.
func (td *trimDiskCluster) trim(keepFrom uint64) {
	td.t.Helper()
	if _, err := Trim(td.ctx, td.cfg, keepFrom); err != nil {
		td.t.Fatalf("trim to %d: %v", keepFrom, err)
	}
}

// The canary reaches the stream's message blocks and the raft log on
// every server (the positive control of the tests below).
func (td *trimDiskCluster) control(canary []byte) {
	td.t.Helper()
	for i := range 3 {
		files := holding(td.t, td.c.StoreDir(i), canary)
		var blocks, raft bool
		for _, f := range files {
			blocks = blocks || inStreamBlocks(f, td.cfg.Stream)
			raft = raft || inRaftLog(f)
		}
		if !blocks || !raft {
			td.t.Fatalf("server %d: %s not in both the stream's blocks and the raft log: %q", i, canary, files)
		}
	}
}

// What a trim does to the trimmed entries' bytes on the NATS servers'
// disks (see doc.go, "How long the servers' disks hold an entry").
//
// A trim removes JetStream's message blocks that hold only trimmed
// entries, and rewrites the block it cuts once more than half of it
// (and 2 MiB) is trimmed; it leaves a block that is less than half
// trimmed, or still under 2 MiB, as it is (logged here: the canary stays
// in it). The raft log of the stream's group drops an entry only at the
// group's next snapshot, every 8 MiB of entries (here) or every two to
// three minutes (TestTrimRaftLogQuiet); a trim does not hasten it.
func TestTrimRemovesFromDisk(t *testing.T) {
	td := startTrimDisk(t, 50*time.Second)
	blocks := func(f string) bool { return inStreamBlocks(f, td.cfg.Stream) }
	anywhere := func(string) bool { return true }

	// A trim past a canary in a block still under 2 MiB.
	first := newCanary("first-canary")
	td.writeCanary(first)
	last := td.settle()
	td.control(first)
	td.trim(last)
	time.Sleep(500 * time.Millisecond)
	t.Logf("a trim of a block under 2 MiB: the canary stays in %q", holdingAll(t, td.c, first, anywhere))

	// A trim past a canary and 3 MiB after it: the block it cuts is
	// more than half trimmed, and rewritten.
	second := newCanary("second-canary")
	td.writeCanary(second)
	start := time.Now()
	td.fill(12)
	last = td.settle()
	t.Logf("3 MiB written and reported in %v", time.Since(start))
	td.control(second)
	td.trim(last)
	t.Logf("both canaries gone from every server's message blocks %v after the trim", waitGone(t, td.c, first, blocks, 5*time.Second))
	waitGone(t, td.c, second, blocks, 5*time.Second)
	t.Logf("the raft logs still hold the first canary in %q", holdingAll(t, td.c, first, inRaftLog))

	// 7 MiB more: the raft log passes 8 MiB since its last snapshot, the
	// group snapshots, and its log drops the blocks before the snapshot.
	start = time.Now()
	td.fill(28)
	last = td.settle()
	t.Logf("7 MiB more written and reported in %v", time.Since(start))
	t.Logf("both canaries gone from every server's raft log %v later, with no trim", waitGone(t, td.c, first, inRaftLog, 10*time.Second))
	waitGone(t, td.c, second, inRaftLog, 5*time.Second)
	td.trim(last)
	waitGone(t, td.c, first, anywhere, 5*time.Second)
	waitGone(t, td.c, second, anywhere, 5*time.Second)
}

// An entry's bytes leave the raft log of the stream's group at the
// group's periodic snapshot, every two to three minutes when little is
// written (JetStream 2.15: every 2 minutes plus up to one at random per
// group, or earlier every 8 MiB), with no trim. It takes that long, so it
// runs only when VINDEX_SLOW_NATS is set.
func TestTrimRaftLogQuiet(t *testing.T) {
	if os.Getenv("VINDEX_SLOW_NATS") == "" {
		t.Skip("waits for JetStream's periodic raft snapshot (up to 3 minutes): set VINDEX_SLOW_NATS=1")
	}
	td := startTrimDisk(t, 5*time.Minute)
	canary := newCanary("raft-canary")
	td.writeCanary(canary)
	td.settle()
	td.control(canary)
	start := time.Now()
	for {
		left := holdingAll(t, td.c, canary, inRaftLog)
		if len(left) == 0 {
			break
		}
		if time.Since(start) > 4*time.Minute {
			t.Fatalf("the raft logs still hold the canary after %v: %q", time.Since(start), left)
		}
		time.Sleep(time.Second)
	}
	t.Logf("the canary left every server's raft log %v after it was written; still in %q",
		time.Since(start), holdingAll(t, td.c, canary, func(string) bool { return true }))
}
