package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/natstest"
)

// replNode is one `vindex serve --dev --replication` process of a test, and
// its clients.
type replNode struct {
	i      int
	name   string
	args   []string
	p      *proc
	school *client
	wij    *client
	out    bool // cut off from NATS, and left out
}

// replicatedRounds is VINDEX_CRASH_ROUNDS, the leader kills of
// TestReplicatedServe (2 by default).
func replicatedRounds(t *testing.T) int {
	t.Helper()
	if os.Getenv("VINDEX_CRASH_ROUNDS") == "" {
		return 2
	}
	return crashRounds(t)
}

// servingOrExit waits until p serves (nil) or exits (its error, non-nil).
func servingOrExit(t *testing.T, p *proc, within time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(p.stderr.String()); m != nil {
			p.addr = m[1]
			if m := servingMetricsRE.FindStringSubmatch(p.stderr.String()); m != nil {
				p.metrics = m[1]
			}
			return nil
		}
		select {
		case err := <-p.done:
			p.done <- err
			if err == nil {
				err = errors.New("exit status 0")
			}
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("vindex neither served nor exited:\n%s", p.stderr.String())
	return nil
}

// exited reports p's exit, if it has exited.
func (p *proc) exited() (error, bool) {
	select {
	case err := <-p.done:
		p.done <- err
		return err, true
	default:
		return nil, false
	}
}

func (n *replNode) start(t *testing.T, dir string) error {
	t.Helper()
	n.p = launch(t, dir, n.args...)
	if err := servingOrExit(t, n.p, 60*time.Second); err != nil {
		return err
	}
	n.school = devClient(t, dir, "d1", n.p, "school-example-lyceum")
	n.wij = devClient(t, dir, "d1", n.p, "wij-groningen")
	n.school.http.Timeout, n.wij.http.Timeout = 15*time.Second, 15*time.Second
	return nil
}

// report posts youth n's report of kind by c: the status and, if not 201,
// the problem.
func report(t *testing.T, c *client, n int, kind string) (int, httpapi.Problem, error) {
	s, b, err := c.post("/v1/registrations", youthReport(t, n, kind))
	var p httpapi.Problem
	if err == nil && s != 201 {
		json.Unmarshal(b, &p)
	}
	return s, p, err
}

// metric reads one unlabelled metric of p's /metrics.
func metric(t *testing.T, p *proc, name string) float64 {
	t.Helper()
	v, err := scrapeMetric(p, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func scrapeMetric(p *proc, name string) (float64, error) {
	s, b, err := p.scrape()
	if err != nil || s != 200 {
		return 0, fmt.Errorf("scrape: %d %v", s, err)
	}
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("no %s in /metrics", name)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// copyDevFiles copies the top-level files of the first node's data
// directory (the development key-encryption key, the keysets, the audit
// key, the tokens, the TLS certificate) to another's: the nodes of a
// cluster share them.
func copyDevFiles(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplicatedServe runs three `vindex serve --dev --replication` nodes
// on a three-server NATS cluster started in the test (TLS with client
// certificates, JetStream syncing every write). Exactly one node takes
// writes; the others answer 503 not_leader naming it, and are ready. The
// leader is killed with SIGKILL under the load of concurrent reporters,
// VINDEX_CRASH_ROUNDS times (2 by default): another node takes writes
// within a few seconds, every registration acknowledged before the kill
// is on it, no youth has two match events for one pair of institutions,
// and the killed node, restarted, takes back the writes of its own the
// log never took and catches up. A follower whose data directory is lost
// is rebuilt from another's backup and catches up. vindex cluster status
// names the leader and the nodes. A
// leader whose NATS server is shut down stops acknowledging, and another
// node takes over (never two acknowledging at once). The NATS servers'
// files hold no BSN or birth date.
func TestReplicatedServe(t *testing.T) {
	rounds := replicatedRounds(t)
	nc := natstest.Start(t)
	dir := t.TempDir()
	caFile, certFile, keyFile := nc.ClientFiles(dir)
	var nodes []*replNode
	for i := range natstest.Size {
		name := fmt.Sprintf("node-%d", i+1)
		nodes = append(nodes, &replNode{i: i, name: name, args: []string{"serve", "--dev", "--data", fmt.Sprintf("d%d", i+1),
			"--listen", "127.0.0.1:0", "--replication", nc.URL(i), "--node", name,
			"--replication-ca", caFile, "--replication-cert", certFile, "--replication-key", keyFile,
			"--replication-lease-ttl", "2s", "--audit-checkpoint-interval", "1s"}})
	}
	if err := nodes[0].start(t, dir); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		copyDevFiles(t, filepath.Join(dir, "d1"), filepath.Join(dir, fmt.Sprintf("d%d", n.i+1)))
		if err := n.start(t, dir); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	state := map[int]*acked{}
	next := 100000
	newYouth := func() (int, *acked) {
		mu.Lock()
		defer mu.Unlock()
		next++
		a := &acked{}
		state[next] = a
		return next, a
	}
	live := func() []*replNode {
		var out []*replNode
		for _, n := range nodes {
			if n.p != nil && !n.out {
				if _, gone := n.p.exited(); !gone {
					out = append(out, n)
				}
			}
		}
		return out
	}
	// findLeader waits until one of the live nodes acknowledges a report,
	// and returns it and when.
	findLeader := func(within time.Duration) (*replNode, time.Time) {
		t.Helper()
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			for _, n := range live() {
				y, a := newYouth()
				s, _, err := report(t, n.school, y, "signal")
				if err == nil && s == 201 {
					at := time.Now()
					mu.Lock()
					a.school = true
					mu.Unlock()
					return n, at
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("no node takes writes")
		return nil, time.Time{}
	}
	// onlyLeader checks that every other live node refuses writes with
	// not_leader naming the leader, and is ready.
	onlyLeader := func(leader *replNode) {
		t.Helper()
		for _, n := range live() {
			if n == leader {
				continue
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				y, _ := newYouth()
				s, p, err := report(t, n.school, y, "signal")
				if err != nil {
					t.Fatal(err)
				}
				if s == 201 {
					t.Fatalf("%s acknowledged a write while %s leads", n.name, leader.name)
				}
				if s != 503 || p.Code != httpapi.CodeNotLeader {
					t.Fatalf("%s: a write answered %d %+v, want 503 not_leader", n.name, s, p)
				}
				if p.Leader == leader.name {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: not_leader names %q, want %s", n.name, p.Leader, leader.name)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if s, b, err := n.school.get("/readyz"); err != nil || s != 200 {
				t.Fatalf("%s: a follower's /readyz: %d %s %v", n.name, s, b, err)
			}
			// A lookup is audited, and the audit entry is a write: a
			// follower refuses it too.
			s, b, err := n.school.post("/v1/lookups", httpapi.BSNRequest{BSN: validBSN(t, 100001)})
			if p := must[httpapi.Problem](t, s, b, err, 503); p.Code != httpapi.CodeNotLeader {
				t.Fatalf("%s: a lookup on a follower: %+v", n.name, p)
			}
		}
	}

	leader, _ := findLeader(30 * time.Second)
	t.Logf("%s leads", leader.name)
	onlyLeader(leader)

	// Throughput through the replicated leader, and through a single
	// server in the same run, same load: 8 concurrent reporters, 2s.
	measure := func(c *client) (rate float64, p99 time.Duration) {
		var ok atomic.Int64
		stop := time.Now().Add(2 * time.Second)
		var wg sync.WaitGroup
		var lmu sync.Mutex
		var took []time.Duration
		for range 8 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					y, a := newYouth()
					start := time.Now()
					if s, _, err := report(t, c, y, "signal"); err == nil && s == 201 {
						d := time.Since(start)
						ok.Add(1)
						mu.Lock()
						a.school = true
						mu.Unlock()
						lmu.Lock()
						took = append(took, d)
						lmu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if len(took) == 0 {
			t.Fatal("no registration acknowledged")
		}
		slices.Sort(took)
		return float64(ok.Load()) / 2, took[len(took)*99/100]
	}
	replRate, replP99 := measure(leader.school)
	single := start(t, dir, "serve", "--dev", "--data", "single", "--listen", "127.0.0.1:0")
	singleClient := devClient(t, dir, "single", single, "school-example-lyceum")
	mu.Lock()
	saved := state
	state = map[int]*acked{} // the single server's youths are not the cluster's
	mu.Unlock()
	singleRate, singleP99 := measure(singleClient)
	single.stop(t)
	mu.Lock()
	state = saved
	mu.Unlock()
	t.Logf("registrations/s (p99), 8 concurrent reporters, 2s: replicated leader %.0f (%v), single server %.0f (%v) (three nodes, three NATS servers and the single server on one machine)",
		replRate, replP99.Round(100*time.Microsecond), singleRate, singleP99.Round(100*time.Microsecond))

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var rewound int
	for round := range rounds {
		// Load: 6 reporters, each reporting new youths for the school
		// and then WIJ, to the leader, until it dies under them.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					y, a := newYouth()
					s, _, err := report(t, leader.school, y, "signal")
					if err != nil {
						time.Sleep(10 * time.Millisecond)
						continue
					}
					mu.Lock()
					a.school = s == 201
					mu.Unlock()
					s, _, err = report(t, leader.wij, y, "involvement")
					if err != nil {
						continue
					}
					mu.Lock()
					a.wij = s == 201
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(700+rng.IntN(800)) * time.Millisecond)
		killed := leader
		killed.p.kill(t)
		killedAt := time.Now()
		killed.p = nil
		close(stop)
		wg.Wait()

		var at time.Time
		leader, at = findLeader(30 * time.Second)
		if leader == killed {
			t.Fatal("the killed node leads")
		}
		t.Logf("round %d: killed %s; %s took a write %v after the kill", round+1, killed.name, leader.name, at.Sub(killedAt).Round(time.Millisecond))
		verifyReplicated(t, leader.school, leader.wij, &mu, state)
		onlyLeader(leader)

		// The killed node restarts and catches up: it first takes back
		// the writes of its own that the log never took (it led, and
		// their acknowledgements never came).
		if err := restartNode(t, dir, killed, leader); err != nil {
			t.Fatalf("round %d: %s, restarted: %v\n%s", round+1, killed.name, err, killed.p.stderr.String())
		}
		took := 0
		for line := range strings.Lines(killed.p.stderr.String()) {
			if strings.Contains(line, "took back entries of its own") {
				var l struct{ Entries int }
				if err := json.Unmarshal([]byte(line), &l); err != nil || l.Entries == 0 {
					t.Fatalf("%s: %v: %s", killed.name, err, line)
				}
				took += l.Entries
			}
		}
		rewound += took
		t.Logf("round %d: %s restarted and caught up, after taking back %d entries of its own", round+1, killed.name, took)
	}
	t.Logf("restarted leaders: all %d caught up; %d entries taken back in all", rounds, rewound)
	onlyLeader(leader)

	// With the writes stopped, every node, the ones that took entries
	// back among them, holds the same records: their backups verify with
	// the same counts, position, newest write and digest of every record. (The leader's own
	// background work, the audit log's sealing, may write between two
	// backups: then all three are taken again.)
	var kept string // a backup the log must still serve, for cluster trim --backup below
	summaries := func(attempt int) []string {
		target := metric(t, leader.p, "vindex_replication_applied_sequence")
		var out []string
		for _, n := range live() {
			for deadline := time.Now().Add(30 * time.Second); ; {
				if v, err := scrapeMetric(n.p, "vindex_replication_applied_sequence"); err == nil && v >= target {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s did not reach %v", n.name, target)
				}
				time.Sleep(50 * time.Millisecond)
			}
			b := filepath.Join(dir, fmt.Sprintf("backup-%s-%d", n.name, attempt))
			runCLI(t, dir, "backup", "--dev", "--data", fmt.Sprintf("d%d", n.i+1), "--out", b)
			kept = b
			var got []string
			for line := range strings.Lines(runCLI(t, dir, "backup", "verify", b)) {
				if strings.Contains(line, "store schema") || strings.Contains(line, "newest acknowledged write") || strings.Contains(line, "replication position") || strings.Contains(line, "records digest") {
					got = append(got, strings.TrimSpace(line))
				}
			}
			if len(got) != 4 {
				t.Fatalf("%s's backup verify says %q", n.name, got)
			}
			out = append(out, strings.Join(got, "; "))
		}
		return out
	}
	for attempt := 1; ; attempt++ {
		got := summaries(attempt)
		if len(slices.Compact(slices.Clone(got))) == 1 {
			t.Logf("every node's backup: %s", got[0])
			break
		}
		if attempt == 5 {
			t.Fatalf("the nodes' backups differ:\n%s", strings.Join(got, "\n"))
		}
	}

	// A machine replaced: a follower's data directory is lost, and it is
	// rebuilt from a backup of the other follower; it catches up from the
	// backup's position through the log.
	var lost, from *replNode
	for _, n := range live() {
		switch {
		case n == leader:
		case lost == nil:
			lost = n
		default:
			from = n
		}
	}
	lost.p.kill(t)
	lost.p = nil
	data := filepath.Join(dir, fmt.Sprintf("d%d", lost.i+1))
	if err := os.Rename(data, data+".lost"); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup-replace")
	runCLI(t, dir, "backup", "--dev", "--data", fmt.Sprintf("d%d", from.i+1), "--out", backup)
	runCLI(t, dir, "restore", backup, "--data", data)
	if err := restartNode(t, dir, lost, leader); err != nil {
		t.Fatalf("%s, rebuilt from a backup of %s: %v\n%s", lost.name, from.name, err, lost.p.stderr.String())
	}
	t.Logf("%s, rebuilt from a backup of %s, caught up", lost.name, from.name)

	onlyLeader(leader)

	// The followers serve the audit checkpoints the leader signs.
	_, leaderCP := waitCheckpointSize(t, leader, 1)
	for _, n := range live() {
		if n != leader {
			waitCheckpointSize(t, n, leaderCP)
		}
	}

	// vindex cluster status names the leader and every node that ran.
	statusArgs := []string{"cluster", "status", "--replication", strings.Join(nc.URLs(), ","),
		"--replication-ca", caFile, "--replication-cert", certFile, "--replication-key", keyFile}
	var cs clusterJSON
	if err := json.Unmarshal([]byte(runCLI(t, dir, append(statusArgs, "--json")...)), &cs); err != nil {
		t.Fatal(err)
	}
	if cs.Leader != leader.name || len(cs.Nodes) != 3 || len(cs.Servers) != 3 || cs.LastSeq == 0 {
		t.Fatalf("cluster status: %+v", cs)
	}
	text := runCLI(t, dir, statusArgs...)
	if !strings.Contains(text, "leader: "+leader.name) || !strings.Contains(text, "NODE") {
		t.Fatalf("cluster status:\n%s", text)
	}
	t.Logf("vindex cluster status:\n%s", text)

	// vindex cluster trim keeps what every node has not applied, refuses
	// to remove more, and a trimmed log still has the nodes follow it.
	trimArgs := append([]string{"cluster", "trim"}, statusArgs[2:]...)
	lowest := cs.Nodes[0].Applied
	for _, n := range cs.Nodes {
		lowest = min(lowest, n.Applied)
	}
	if out := runCLIFail(t, dir, append(trimArgs, "--keep-from", strconv.FormatUint(cs.LastSeq+2, 10))...); !strings.Contains(out, "would remove entries a node has not applied") {
		t.Fatalf("a trim beyond the log's end: %s", out)
	}
	// Half of what every node has applied goes (the rest stays for the
	// canary's control below, on every NATS server).
	if keep := lowest / 2; keep > 1 {
		if out := runCLI(t, dir, append(trimArgs, "--keep-from", strconv.FormatUint(keep, 10))...); !strings.Contains(out, "removed ") {
			t.Fatalf("cluster trim: %s", out)
		}
		var after clusterJSON
		if err := json.Unmarshal([]byte(runCLI(t, dir, append(statusArgs, "--json")...)), &after); err != nil || after.FirstSeq != keep {
			t.Fatalf("after the trim to %d: %+v %v", keep, after, err)
		}
	}

	// The leader's NATS server is shut down: it stops acknowledging, and
	// another node takes over; the cut-off node never acknowledges again.
	{
		cut := leader
		nc.Stop(cut.i)
		stoppedAt := time.Now()
		for {
			y, a := newYouth()
			s, _, err := report(t, cut.school, y, "signal")
			if err == nil && s == 201 {
				mu.Lock()
				a.school = true
				mu.Unlock()
			} else {
				break
			}
			if time.Since(stoppedAt) > 20*time.Second {
				t.Fatal("a leader cut off from NATS still acknowledges")
			}
		}
		t.Logf("%s, cut off from NATS, stopped acknowledging after %v", cut.name, time.Since(stoppedAt).Round(time.Millisecond))
		cut.out = true // for findLeader
		leader, at := findLeader(30 * time.Second)
		t.Logf("%s took a write %v after %s's NATS server stopped", leader.name, at.Sub(stoppedAt).Round(time.Millisecond), cut.name)
		for range 5 {
			y, _ := newYouth()
			if s, _, err := report(t, cut.school, y, "signal"); err == nil && s == 201 {
				t.Fatalf("%s acknowledged a write while %s leads", cut.name, leader.name)
			}
		}
		verifyReplicated(t, leader.school, leader.wij, &mu, state)

		// A leader stopped with SIGTERM stops cleanly and releases the
		// lease: the last node takes over without waiting for it to
		// expire.
		leader.p.stop(t)
		stopped := time.Now()
		last, at := findLeader(30 * time.Second)
		t.Logf("%s stopped (SIGTERM); %s took a write %v later", leader.name, last.name, at.Sub(stopped).Round(time.Millisecond))
		verifyReplicated(t, last.school, last.wij, &mu, state)
	}

	// No node logged an error (a follower's background does not write).
	for _, n := range nodes {
		if n.p == nil {
			continue
		}
		for line := range strings.Lines(n.p.stderr.String()) {
			if strings.Contains(line, `"level":"ERROR"`) {
				t.Errorf("%s logged an error: %s", n.name, line)
			}
		}
	}

	// No BSN or birth date in the NATS servers' files; the scan does read
	// them (it finds the institutions' names, which the stream's entries
	// hold).
	//
	// A BSN is looked for as its digits only. Its forms as 4- and 8-byte
	// integers match by chance here: some 10^4 BSNs against some 10^7
	// bytes of pseudonyms, random IDs and raft metadata (whose little-endian
	// uint64 fields end in zero bytes like a small integer's). The stream's
	// entries are the store's own batches, byte for byte, which the store's
	// canary tests scan for those forms.
	needles := canary.Needles{}
	mu.Lock()
	for y := range state {
		needles[fmt.Sprintf("bsn %d", y)] = [][]byte{[]byte(validBSN(t, y))}
	}
	mu.Unlock()
	needles.Date("birth date", "2012-06-01")
	control := canary.Needles{}
	control.Bytes("institution", []byte("wij-groningen"))
	for i := range natstest.Size {
		found, err := needles.ScanDir(nc.StoreDir(i))
		if err != nil {
			t.Fatal(err)
		}
		if len(found) > 0 {
			t.Fatalf("NATS server %d's files hold identities: %v", i, found[:min(5, len(found))])
		}
		// The log's own stream files (JetStream's layout: the global
		// account, then the stream's name).
		stream := filepath.Join(nc.StoreDir(i), "jetstream", "$G", "streams", "VINDEX")
		var files int
		filepath.WalkDir(stream, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files++
			}
			return nil
		})
		seen, err := control.ScanDir(stream)
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) == 0 {
			t.Fatalf("the scan of NATS server %d's stream (%d files) did not find the control", i, files)
		}
	}

	// cluster trim --backup keeps what a backup kept needs: the log from
	// one after its position.
	m, err := readManifest(kept)
	if err != nil {
		t.Fatal(err)
	}
	if out := runCLI(t, dir, append(trimArgs, "--backup", kept)...); !strings.Contains(out, fmt.Sprintf("from position %d on", m.ReplicationPosition+1)) {
		t.Fatalf("cluster trim --backup %s (position %d): %s", kept, m.ReplicationPosition, out)
	}
	var trimmed clusterJSON
	if err := json.Unmarshal([]byte(runCLI(t, dir, append(statusArgs, "--json")...)), &trimmed); err != nil || trimmed.FirstSeq != m.ReplicationPosition+1 {
		t.Fatalf("after cluster trim --backup: %+v %v; want the log from %d", trimmed, err, m.ReplicationPosition+1)
	}
}

// restartNode starts n again and waits until it has applied what leader
// had when it started serving; the error is its exit, if it exits first.
func restartNode(t *testing.T, dir string, n, leader *replNode) error {
	t.Helper()
	n.p = launch(t, dir, n.args...)
	if err := servingOrExit(t, n.p, 60*time.Second); err != nil {
		return err
	}
	target := metric(t, leader.p, "vindex_replication_applied_sequence")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err, gone := n.p.exited(); gone {
			return err
		}
		if v, err := scrapeMetric(n.p, "vindex_replication_applied_sequence"); err == nil && v >= target {
			n.school = devClient(t, dir, "d1", n.p, "school-example-lyceum")
			n.wij = devClient(t, dir, "d1", n.p, "wij-groningen")
			return nil
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not catch up to %v:\n%s", n.name, target, n.p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verifyReplicated is verify (crash_test.go) with the lookups made by 8
// clients at once: every registration acknowledged is there, every youth
// acknowledged by both institutions is matched, and no registration of
// the school has two match events about WIJ.
func verifyReplicated(t *testing.T, school, wij *client, mu *sync.Mutex, state map[int]*acked) {
	t.Helper()
	type check struct {
		n    int
		both bool
		who  *client
	}
	var checks []check
	mu.Lock()
	for n, a := range state {
		if a.school {
			checks = append(checks, check{n, a.school && a.wij, school})
		}
		if a.wij {
			checks = append(checks, check{n, a.school && a.wij, wij})
		}
	}
	mu.Unlock()
	work := make(chan check)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for c := range work {
				s, b, err := c.who.post("/v1/lookups", httpapi.BSNRequest{BSN: validBSN(t, c.n)})
				if err != nil || s != 200 {
					errs <- fmt.Errorf("youth %d: an acknowledged registration is gone: %d %s %v", c.n, s, b, err)
					return
				}
				var v httpapi.ViewResponse
				if err := json.Unmarshal(b, &v); err != nil {
					errs <- err
					return
				}
				if c.both && (!v.Matched || v.Coordinator == nil) {
					errs <- fmt.Errorf("youth %d: acknowledged by both institutions but %+v", c.n, v)
					return
				}
			}
		})
	}
	start := time.Now()
	for _, c := range checks {
		select {
		case work <- c:
		case err := <-errs:
			close(work)
			wg.Wait()
			t.Fatal(err)
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	matched := noDoubleMatch(t, school)
	t.Logf("%d acknowledged registrations looked up, %d match events of the school in %v", len(checks), matched, time.Since(start).Round(time.Millisecond))
}

// waitCheckpointSize waits until n serves an audit checkpoint of at least
// size entries, and returns it and its size.
func waitCheckpointSize(t *testing.T, n *replNode, size uint64) ([]byte, uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, b, err := n.school.get("/v1/audit/checkpoint")
		if err == nil && s == 200 {
			// The checkpoint's text: origin, size, root, ….
			if lines := strings.Split(string(b), "\n"); len(lines) > 1 {
				if got, err := strconv.ParseUint(lines[1], 10, 64); err == nil && got >= size {
					return b, got
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s serves no audit checkpoint of %d entries: %d %s %v", n.name, size, s, b, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReplicationSettings: the replication settings are keys of the
// configuration file as well as flags, and are checked.
func TestReplicationSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "vindex.yaml")
	os.WriteFile(file, []byte("replication: tls://h1:4222, tls://h2:4222,tls://h3:4222\nnode: node-a\n"+
		"replication_ca: /etc/vindex/nats-ca.pem\nreplication_cert: /etc/vindex/nats.pem\nreplication_key: /etc/vindex/nats.key\n"+
		"replication_lease_ttl: 6s\n"), 0o600)
	c, _, err := loadConfig("serve", serveUsage, []string{"--config", file, "--node", "node-b"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := natsURLs(c.Replication); !slices.Equal(got, []string{"tls://h1:4222", "tls://h2:4222", "tls://h3:4222"}) {
		t.Errorf("URLs %q", got)
	}
	if c.Node != "node-b" || c.ReplicationCA != "/etc/vindex/nats-ca.pem" || c.ReplicationCert != "/etc/vindex/nats.pem" ||
		c.ReplicationKey != "/etc/vindex/nats.key" || c.LeaseTTL != 6*time.Second {
		t.Errorf("settings %+v", c)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--node", "n1"}, "node: only with replication"},
		{[]string{"--replication", "nats://h:4222"}, "node: a replicated server needs a name"},
		{[]string{"--replication", "h:4222", "--node", "n1"}, "is not a nats:// or tls:// URL"},
		{[]string{"--replication", "nats://h:4222", "--node", "n1", "--replication-cert", "c.pem"}, "replication_cert and replication_key go together"},
		{[]string{"--replication", "nats://h:4222", "--node", "n1", "--replication-lease-ttl", "100ms"}, "replication_lease_ttl: from 1s to 1m"},
	} {
		if _, _, err := loadConfig("serve", serveUsage, tc.args, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if _, err := replicationConfig(config{Replication: "nats://h:4222", Node: "n1", ReplicationCA: filepath.Join(dir, "none.pem")}, nil); err == nil {
		t.Error("a missing CA file is not an error")
	}
}
