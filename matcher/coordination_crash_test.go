package matcher_test

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// crashChildDir is the environment variable that makes
// TestEscalationDueCrashChild run: the store directory it opens.
const crashChildDir = "VINDEX_ESCALATION_CRASH_DIR"

// overdueAt is after the deadline of the escalations the crash test
// makes (taken on Monday 2026-03-02, the next step due from Thursday).
var overdueAt = time.Date(2026, 3, 5, 1, 0, 0, 0, time.UTC)

// TestEscalationDueOnceAcrossKill: youths whose escalation's next step is
// overdue are woken by a process that is killed with SIGKILL at random
// moments while it raises them, and started again; in the end every
// recipient has exactly one escalation-due event per youth: none lost,
// none twice, whatever commit the kill fell in.
func TestEscalationDueOnceAcrossKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	const youths = 300
	dir := t.TempDir()
	ps := freshPseudonymiser(t)
	e := newEnvWith(t, ps, dir, quiet())
	wij, ggd := matcher.Actor{Institution: "wij-groningen"}, matcher.Actor{Institution: "ggd-groningen"}
	for n := range youths {
		e.register(t, wij.Institution, e.involvement(t, 500+n))
		e.register(t, ggd.Institution, e.involvement(t, 500+n))
		who := e.youth(t, 500+n)
		if err := e.m.Accept(ctx, wij, who); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Escalate(ctx, wij, who, matcher.Escalation{Step: "own-management"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}

	raised := func(e *env) int {
		n := 0
		for _, ev := range e.events(t, ggd.Institution) {
			if ev.Type == store.EventEscalationDue {
				n++
			}
		}
		return n
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for round := range 4 {
		// Killed while it works: after it opened the store, within the
		// time raising them all takes. The child never ends a pass.
		runKilledChild(t, "TestEscalationDueCrashChild", []string{crashChildDir + "=" + dir},
			time.Duration(rng.IntN(150))*time.Millisecond, 1)
		e = newEnvWith(t, ps, dir, quiet())
		t.Logf("round %d: killed with %d of %d youths raised", round+1, raised(e), youths)
		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// Started once more, it raises what is left.
	e = newEnvWith(t, ps, dir, quiet())
	e.clock.Set(overdueAt)
	if _, err := e.m.SendHeld(ctx); err != nil {
		t.Fatal(err)
	}
	for _, inst := range []string{wij.Institution, ggd.Institution} {
		per := map[store.ID]int{}
		for _, ev := range e.events(t, inst) {
			if ev.Type == store.EventEscalationDue {
				per[ev.Registration]++
			}
		}
		if len(per) != youths {
			t.Errorf("%s: escalation-due events for %d youths, want %d", inst, len(per), youths)
		}
		for id, n := range per {
			if n != 1 {
				t.Errorf("%s: %d escalation-due events about %s", inst, n, id)
			}
		}
	}
}

// TestEscalationDueCrashChild is the process TestEscalationDueOnceAcrossKill
// kills: it wakes the youths whose time has come, over and over.
func TestEscalationDueCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildDir)
	if dir == "" {
		t.Skip("run by TestEscalationDueOnceAcrossKill")
	}
	e := newEnvWith(t, freshPseudonymiser(t), dir, quiet())
	e.clock.Set(overdueAt)
	os.Stdout.WriteString("ready\n")
	for {
		if _, err := e.m.SendHeld(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
