package replication

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// The leader's append throughput through a three-server cluster on
// loopback (TLS, file storage, a sync to disk on every write): 64
// writers, entries of 1 KiB, each write waiting for its acknowledgement.
func BenchmarkAppend(b *testing.B) {
	c := startCluster(b)
	nodes := runNodes(b, c)
	leader := waitLeader(b, nodes, 20*time.Second)
	payload := make([]byte, 1024-24)
	b.SetBytes(1024)
	b.SetParallelism(64 / max(1, testingGOMAXPROCS()))
	b.ResetTimer()
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if _, err := leader.replica.write(ctx, payload, false); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// Failover: from the leader's stop (a clean stop, which releases the lease,
// or a crash: its connection closed, the lease left to expire after the
// default LeaseTTL of 4s) to the new leader's first acknowledged write.
func BenchmarkFailover(b *testing.B) {
	for _, crash := range []bool{false, true} {
		name := "stop"
		if crash {
			name = "crash"
		}
		b.Run(name, func(b *testing.B) {
			c := startCluster(b)
			var nodes []*testNode
			for i := range 3 {
				cfg := testConfig(c, i, fmt.Sprintf("node-%d", i))
				cfg.LeaseTTL = 0 // the default
				cfg.Logger = nil
				nodes = append(nodes, runNode(b, cfg, newFake()))
			}
			var times []time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				leader := waitLeader(b, nodes, 20*time.Second)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if _, err := leader.replica.write(ctx, []byte("before"), false); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				if crash {
					leader.node.conn.Load().Close()
				} else {
					leader.stop()
				}
				var next *testNode
				for next == nil {
					for _, n := range others(nodes, leader) {
						if n.replica.isLeading() {
							next = n
						}
					}
					time.Sleep(2 * time.Millisecond)
				}
				if _, err := next.replica.write(ctx, []byte("after"), false); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
				b.StopTimer()
				cancel()
				leader.stop()
				for i, n := range nodes {
					if n == leader {
						cfg := leader.node.cfg
						nodes[i] = runNode(b, cfg, leader.replica)
					}
				}
				// Let the restarted node catch up before the next round.
				want := len(next.replica.snapshot())
				for len(leader.replica.snapshot()) < want {
					time.Sleep(10 * time.Millisecond)
				}
				b.StartTimer()
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(times[len(times)/2].Milliseconds()), "median-ms")
		})
	}
}

func testingGOMAXPROCS() int { return runtime.GOMAXPROCS(0) }
