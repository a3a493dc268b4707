package main

import (
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
)

// acked records which institutions' reports of a youth were answered 201.
type acked struct{ school, wij bool }

// kill sends SIGKILL and waits for the process to go.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("vindex did not die")
	}
}

// TestCrashLosesNothingAcknowledged: clients register youths with two
// institutions each while the real server is killed with SIGKILL at random
// moments and restarted. After each restart, every registration that was
// answered 201 is there, every youth both institutions were acknowledged
// for is matched, and no registration has two match events about the same
// institution. VINDEX_CRASH_ROUNDS sets the rounds (3 by default).
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	rounds := crashRounds(t)
	dir := t.TempDir()
	args := []string{"serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0"}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))

	var mu sync.Mutex
	state := map[int]*acked{}
	next := 0
	for round := range rounds {
		p := start(t, dir, args...)
		school := devClient(t, dir, "d", p, "school-example-lyceum")
		wij := devClient(t, dir, "d", p, "wij-groningen")
		verify(t, school, wij, state)

		// Load: 8 clients, each reporting new youths for the school and
		// then WIJ, until the server dies under them.
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					mu.Lock()
					next++
					n := next
					a := &acked{}
					state[n] = a
					mu.Unlock()
					s, _, err := school.post("/v1/registrations", youthReport(t, n, "signal"))
					if err != nil {
						return
					}
					mu.Lock()
					a.school = s == 201
					mu.Unlock()
					s, _, err = wij.post("/v1/registrations", youthReport(t, n, "involvement"))
					if err != nil {
						return
					}
					mu.Lock()
					a.wij = s == 201
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond)
		p.kill(t)
		wg.Wait()
		mu.Lock()
		n := 0
		for _, a := range state {
			if a.school {
				n++
			}
		}
		mu.Unlock()
		t.Logf("round %d: killed with %d youths acknowledged for the school so far", round+1, n)
	}
	p := start(t, dir, args...)
	verify(t, devClient(t, dir, "d", p, "school-example-lyceum"), devClient(t, dir, "d", p, "wij-groningen"), state)
	p.stop(t)
}

// crashRounds is VINDEX_CRASH_ROUNDS, the rounds of a kill -9 test (3 by
// default).
func crashRounds(t *testing.T) int {
	t.Helper()
	s := os.Getenv("VINDEX_CRASH_ROUNDS")
	if s == "" {
		return 3
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("VINDEX_CRASH_ROUNDS=%q", s)
	}
	return n
}

// noDoubleMatch fails t if a registration of the school has two match
// events about WIJ, and returns how many have one.
func noDoubleMatch(t *testing.T, school *client) int {
	t.Helper()
	seen := map[string]int{}
	after := "0"
	for {
		s, b, err := school.get("/v1/events?limit=1000&after=" + after)
		ev := must[httpapi.EventsResponse](t, s, b, err, 200)
		for _, e := range ev.Events {
			if e.Type == "match" && e.Subject == "wij-groningen" {
				seen[e.Registration]++
				if seen[e.Registration] > 1 {
					t.Fatalf("registration %s has two match events about WIJ", e.Registration)
				}
			}
		}
		if len(ev.Events) == 0 {
			return len(seen)
		}
		after = strconv.FormatUint(ev.Next, 10)
	}
}

// verify checks a restarted server against what was acknowledged.
func verify(t *testing.T, school, wij *client, state map[int]*acked) {
	t.Helper()
	for n, a := range state {
		for _, c := range []struct {
			who *client
			ok  bool
		}{{school, a.school}, {wij, a.wij}} {
			if !c.ok {
				continue
			}
			s, b, err := c.who.post("/v1/lookups", httpapi.BSNRequest{BSN: validBSN(t, n)})
			if err != nil {
				t.Fatal(err)
			}
			if s != 200 {
				t.Fatalf("youth %d: an acknowledged registration is gone: %d %s", n, s, b)
			}
			if a.school && a.wij {
				if v := must[httpapi.ViewResponse](t, s, b, err, 200); !v.Matched || v.Coordinator == nil {
					t.Fatalf("youth %d: acknowledged by both institutions but %+v", n, v)
				}
			}
		}
	}
	noDoubleMatch(t, school)
}
