package matcher_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

const familyChildEnv = "VINDEX_TEST_FAMILY_CHILD"

// familyKillFamilies is how many families the test sets up: two children
// each, with different coordinators.
const familyKillFamilies = 120

const accare = "accare-groningen"

// familyChild reports, family by family, the school's report of the first
// child and the police's report of the second, both with the family's
// parent, over and over until it is killed, printing "pass" after each
// pass over all families.
func familyChild(t *testing.T, dir string) {
	ps := loadTestKeys(t, dir)
	e := newEnvWith(t, ps, filepath.Join(dir, "data"), quiet())
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	for {
		for i := range familyKillFamilies {
			for _, rep := range []struct {
				inst  string
				youth int
			}{{school, 2 * i}, {police, 2*i + 1}} {
				r := e.signal(t, rep.youth)
				r.Parents = []identity.BSN{bsnFor(t, 9000+i)}
				if _, err := e.m.Register(ctx, matcher.Actor{Institution: rep.inst}, r); err != nil {
					fmt.Fprintln(os.Stderr, "register:", err)
					os.Exit(3)
				}
			}
		}
		fmt.Fprintln(out, "pass")
		out.Flush()
	}
}

// A family-coordination notice is sent exactly once per pair of children,
// also when the process that makes the family matches is killed with
// SIGKILL at random moments and the reports are made again: the notice
// and the record that it was sent are one atomic write. Each family's
// first child is coordinated by wij-groningen, its second by
// accare-groningen; each coordinator gets one family-coordination event
// per family, never two, however the kills fall.
func TestFamilyCoordinationOnceUnderKill(t *testing.T) {
	if dir := os.Getenv(familyChildEnv); dir != "" {
		familyChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	setUpFamilies(t, dir)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	for round := 0; ; round++ {
		if round == 40 {
			t.Fatal("family notices still missing after 40 rounds")
		}
		killAfter := time.Duration(rng.IntN(60)+25*round) * time.Millisecond
		killed := runKilledChild(t, "TestFamilyCoordinationOnceUnderKill", []string{familyChildEnv + "=" + dir}, killAfter, 1)
		sent := countFamilyNotices(t, dir)
		t.Logf("round %d: killed %v after %v, %d of %d family-coordination notices sent", round, killed, killAfter, sent, 2*familyKillFamilies)
		if !killed {
			if sent != 2*familyKillFamilies {
				t.Fatalf("after a whole pass: %d family-coordination notices, want %d", sent, 2*familyKillFamilies)
			}
			return
		}
	}
}

// setUpFamilies registers each family's children with their
// coordinators: wij and the school for the first, accare and the police
// for the second.
func setUpFamilies(t *testing.T, dir string) {
	t.Helper()
	ps := loadTestKeys(t, dir)
	e := newEnvWith(t, ps, filepath.Join(dir, "data"), quiet())
	defer e.store.Close()
	for i := range familyKillFamilies {
		e.register(t, wij, e.involvement(t, 2*i))
		e.register(t, school, e.signal(t, 2*i))
		e.register(t, accare, e.involvement(t, 2*i+1))
		if res := e.register(t, police, e.signal(t, 2*i+1)); res.Coordinator.Institution != accare {
			t.Fatalf("the second child's coordinator is %q", res.Coordinator.Institution)
		}
	}
}

// countFamilyNotices opens the store and returns how many
// family-coordination events the two coordinators got; it fails the test
// if a registration got two.
func countFamilyNotices(t *testing.T, dir string) int {
	t.Helper()
	ps := loadTestKeys(t, dir)
	e := newEnvWith(t, ps, filepath.Join(dir, "data"), quiet())
	defer e.store.Close()
	n := 0
	for _, inst := range []string{wij, accare} {
		per := map[store.ID]int{}
		for _, ev := range e.events(t, inst) {
			if ev.Type != store.EventFamilyCoordination {
				continue
			}
			if per[ev.Registration]++; per[ev.Registration] > 1 {
				t.Fatalf("%s: registration %s got %d family-coordination events, want 1", inst, ev.Registration, per[ev.Registration])
			}
			n++
		}
	}
	return n
}
