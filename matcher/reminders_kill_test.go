package matcher_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

const remindChildEnv = "VINDEX_TEST_REMIND_CHILD"

// remindersYouths is how many youths the reminder test sets up: enough that
// one pass over them takes long enough to be cut by a kill.
const remindersYouths = 500

// remindChild opens the store on the day given in the environment and sends
// what is due (SendHeld, from two goroutines at once, as vindex serve may
// while an operator runs it by hand) until it is killed, printing "pass"
// after each pass.
func remindChild(t *testing.T, dir string, day time.Time) {
	ps := loadTestKeys(t, dir)
	e := newEnvWith(t, ps, filepath.Join(dir, "data"), quiet())
	e.clock.Set(day)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := e.m.SendHeld(ctx); err != nil {
					fmt.Fprintln(os.Stderr, "send held:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintln(out, "pass")
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// A reminder is sent exactly once, also when the process that sends it is
// killed with SIGKILL at random moments while it does: the reminder and
// the record that it was sent are one atomic write, so a kill leaves
// either both or neither, and the next process sends what is left. Each
// of remindersYouths registrations recorded as "later" gets one inform-due
// event, and each agreement of a plan (every fifth youth's) open past its
// due day one agreement-overdue event, never two, however the kills fall.
func TestRemindersOnceUnderKill(t *testing.T) {
	if dir := os.Getenv(remindChildEnv); dir != "" {
		day, err := time.Parse(time.RFC3339, os.Getenv(remindChildEnv+"_DAY"))
		if err != nil {
			t.Fatal(err)
		}
		remindChild(t, dir, day)
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	ids := setUpReminders(t, dir)
	day := start.AddDate(0, 0, 20) // past the covenant's 14 days to inform
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for round := 0; ; round++ {
		if round == 40 {
			t.Fatal("reminders still due after 40 rounds")
		}
		// A kill within the first pass, later each round, so that a slow
		// machine (the race detector) gets through too.
		killAfter := time.Duration(rng.IntN(80)+25*round) * time.Millisecond
		// Each goroutine's second pass begins after its first ended, so
		// four passes mean a whole pass found nothing left.
		killed := runKilledChild(t, "TestRemindersOnceUnderKill",
			[]string{remindChildEnv + "=" + dir, remindChildEnv + "_DAY=" + day.Format(time.RFC3339)}, killAfter, 4)
		sent, want := countReminders(t, dir, ids), len(ids)+(len(ids)+4)/5
		t.Logf("round %d: killed %v, %d of %d reminders sent", round, killed, sent, want)
		if !killed && sent == want {
			return
		}
	}
}

// setUpReminders has wij report remindersYouths youths, each recorded as
// "later", on the start day, and returns their registrations.
func setUpReminders(t *testing.T, dir string) []store.ID {
	t.Helper()
	ps := loadTestKeys(t, dir)
	e := newEnvWith(t, ps, filepath.Join(dir, "data"), quiet())
	defer e.store.Close()
	var ids []store.ID
	for n := range remindersYouths {
		r := e.involvement(t, n+1)
		r.Inform = matcher.Inform{Not: matcher.NotInformedLater}
		ids = append(ids, e.register(t, wij, r).ID)
		if n%5 != 0 {
			continue
		}
		// Every fifth youth has a plan with an agreement of ggd's, due in
		// a week: wij coordinates.
		e.register(t, ggd, e.involvement(t, n+1))
		wijA, youth := matcher.Actor{Institution: wij}, e.youth(t, n+1)
		e.m.Accept(ctx, wijA, youth) // the coordinator accepts: its term would lapse before the agreements are due
		if err := e.m.RecordPlan(ctx, wijA, youth, start, start.AddDate(0, 3, 0)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.AddAgreement(ctx, wijA, youth, ggd, start.AddDate(0, 0, 7)); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// countReminders opens the store and returns how many reminders of ids
// were sent: their inform-due events, and the agreement-overdue events of
// the youths with a plan; it fails the test if one was sent twice.
func countReminders(t *testing.T, dir string, ids []store.ID) int {
	t.Helper()
	ps := loadTestKeys(t, dir)
	e := newEnvWith(t, ps, filepath.Join(dir, "data"), quiet())
	defer e.store.Close()
	per := map[store.ID]int{}
	overdue := map[store.ID]int{}
	for _, ev := range e.events(t, wij) {
		switch ev.Type {
		case store.EventInformDue:
			per[ev.Registration]++
		case store.EventAgreementOverdue:
			if overdue[ev.Registration]++; overdue[ev.Registration] > 1 || ev.Agreement != 1 {
				t.Fatalf("registration %s: agreement-overdue event %d, agreement %d: want one, of agreement 1", ev.Registration, overdue[ev.Registration], ev.Agreement)
			}
		}
	}
	for _, id := range ids {
		if per[id] > 1 {
			t.Fatalf("registration %s: %d inform-due events, want 1", id, per[id])
		}
	}
	for id := range per {
		if !slices.Contains(ids, id) {
			t.Fatalf("an inform-due event for %s, which was not recorded as later", id)
		}
	}
	for id := range overdue {
		if i := slices.Index(ids, id); i < 0 || i%5 != 0 {
			t.Fatalf("an agreement-overdue event for %s, which has no plan", id)
		}
	}
	return len(per) + len(overdue)
}
