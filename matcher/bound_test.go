package matcher_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// cycle is what the review's attacker did: report youth n and end the
// registration at once.
func (e *env) cycle(t testing.TB, inst string, n int) matcher.Result {
	t.Helper()
	res := e.register(t, inst, e.involvement(t, n))
	if err := e.m.End(ctx, matcher.Actor{Institution: inst}, res.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	return res
}

// history returns youth n's ended registrations.
func (e *env) history(t testing.TB, n int) []store.Registration {
	t.Helper()
	set, err := e.ps.Youth(bsnFor(t, n))
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Registration
	if err := e.store.View(ctx, set.All, func(r store.Reader) error { out = r.History(); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReviveWithinRefreshWindow: an institution that reports and ends the
// same youth over and over revives one registration (a refresh: same ID,
// no new history); after the refresh window a report is a new
// registration, and so is one after an end the institution did not make.
func TestReviveWithinRefreshWindow(t *testing.T) {
	e := newEnv(t)
	e.register(t, wij, e.involvement(t, 1))
	first := e.cycle(t, ggd, 1)
	for i := range 50 {
		e.clock.Add(time.Minute)
		res := e.cycle(t, ggd, 1)
		if res.ID != first.ID || !res.Refreshed || !res.Matched || len(res.Involved) != 1 {
			t.Fatalf("report %d after an end a minute ago: %+v, want a refresh of %s", i, res, first.ID)
		}
	}
	if h := e.history(t, 1); len(h) != 1 || h[0].ID != first.ID {
		t.Fatalf("history after 51 reports and ends: %d registrations", len(h))
	}
	// Revived, it is live and matched as before, since its first report.
	e.clock.Add(time.Minute)
	back := e.register(t, ggd, e.involvement(t, 1))
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1))
	if err != nil || back.ID != first.ID || !v.Matched || len(v.Involved) != 1 || !v.Involved[0].Since.Equal(start) {
		t.Fatalf("the revived registration: %+v; the other's view %+v %v", back, v, err)
	}
	if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, back.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	// After the window: a new registration.
	e.clock.Add(matcher.DefaultRefreshWindow)
	later := e.register(t, ggd, e.involvement(t, 1))
	if later.ID == first.ID || later.Refreshed {
		t.Fatalf("a report after the refresh window: %+v", later)
	}
	// Ended by its end day, not by the institution: a new registration.
	r := e.involvement(t, 2)
	r.EndsOn = e.clock.Now().AddDate(0, 0, 1)
	expiring := e.register(t, ggd, r)
	e.clock.Add(25 * time.Hour)
	if st, err := e.m.ExpireDue(ctx); err != nil || st.Ended != 1 {
		t.Fatalf("expiry: %+v %v", st, err)
	}
	if again := e.register(t, ggd, e.involvement(t, 2)); again.ID == expiring.ID || again.Refreshed {
		t.Fatalf("a report after an expiry: %+v", again)
	}
}

// TestRefreshWindowOff: with a negative window every report after an end
// is a new registration.
func TestRefreshWindowOff(t *testing.T) {
	e := newEnv(t)
	e.rematch(t, nil, func(c *matcher.Config) { c.RefreshWindow = -1 })
	a, b := e.cycle(t, ggd, 1), e.cycle(t, ggd, 1)
	if a.ID == b.ID || b.Refreshed || len(e.history(t, 1)) != 2 {
		t.Fatalf("without a window: %+v then %+v", a, b)
	}
}

// TestEventsBoundedPerHour: the review's attack gave the other institution
// an event per report and per end. Now it gets EventsPerHour of them in
// the hour, and when the hour is over one summary that counts the rest
// and gives the youth's state then; nothing more until something changes.
func TestEventsBoundedPerHour(t *testing.T) {
	e := newEnv(t)
	victim := e.register(t, wij, e.involvement(t, 1))
	const cycles = 100
	for range cycles {
		e.clock.Add(10 * time.Second)
		e.cycle(t, ggd, 1)
	}
	e.register(t, ggd, e.involvement(t, 1)) // the latest state: ggd involved
	told := e.events(t, wij)
	if len(told) != matcher.DefaultEventsPerHour {
		t.Fatalf("events to the other institution in the hour: %d, want %d (%v)", len(told), matcher.DefaultEventsPerHour, types(told))
	}
	if n, err := e.m.SendHeld(ctx); err != nil || n != 0 {
		t.Fatalf("summaries before the hour is over: %d %v", n, err)
	}
	e.clock.Set(start.Add(time.Hour))
	if n, err := e.m.SendHeld(ctx); err != nil || n != 1 {
		t.Fatalf("summaries when the hour is over: %d %v", n, err)
	}
	all := e.events(t, wij)
	sum := newEvents(told, all)
	// No-match at its own report, then a match and an ended per cycle and
	// the last match: all but the hour's share are held.
	held := 1 + 2*cycles + 1 - matcher.DefaultEventsPerHour
	if len(sum) != 1 || sum[0].Type != store.EventSummary || sum[0].Collapsed != held || sum[0].Registration != victim.ID {
		t.Fatalf("the summary: %+v, want one standing for %d events", sum, held)
	}
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1))
	if err != nil || len(sum[0].Others) != 1 || sum[0].Others[0].Institution != ggd || sum[0].Coordinator != v.Coordinator.Institution {
		t.Fatalf("the summary's state: others %v, coordinator %q; the youth's: %+v %v", sum[0].Others, sum[0].Coordinator, v, err)
	}
	if n, err := e.m.SendHeld(ctx); err != nil || n != 0 {
		t.Fatalf("summaries again: %d %v", n, err)
	}
	// A new hour: events go out one by one again (the first report is
	// a refresh of the live registration: no event).
	e.clock.Add(time.Minute)
	e.cycle(t, ggd, 1)
	e.cycle(t, ggd, 1)
	if got := types(newEvents(all, e.events(t, wij))); !slices.Equal(got, []string{"ended", "match", "ended"}) {
		t.Fatalf("events in the next hour: %v", got)
	}
}

// TestOwnEndNeverHeld: an institution whose hour's share is spent still
// learns at once that its own registration ended (here by a death), and
// gets no summary after it.
func TestOwnEndNeverHeld(t *testing.T) {
	e := newEnv(t)
	e.register(t, wij, e.involvement(t, 1))
	for range 20 {
		e.cycle(t, ggd, 1)
	}
	before := e.events(t, wij)
	if err := e.m.RecordDeath(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1)); err != nil {
		t.Fatal(err)
	}
	got := newEvents(before, e.events(t, wij))
	if len(got) != 1 || got[0].Type != store.EventEnded || got[0].Reason != "death" {
		t.Fatalf("after the death: %v", types(got))
	}
	e.clock.Add(2 * time.Hour)
	if n, err := e.m.SendHeld(ctx); err != nil || n != 0 {
		t.Fatalf("summaries to an institution no longer involved: %d %v", n, err)
	}
}

// TestNoBound: with a negative EventsPerHour every event goes out.
func TestNoBound(t *testing.T) {
	e := newEnv(t)
	e.rematch(t, nil, func(c *matcher.Config) { c.EventsPerHour = -1 })
	e.register(t, wij, e.involvement(t, 1))
	for range 20 {
		e.cycle(t, ggd, 1)
	}
	if n := len(e.events(t, wij)); n != 41 {
		t.Fatalf("events without a bound: %d, want 41", n)
	}
}

// historySpy counts the reads of a youth's whole history.
type historySpy struct {
	store.Store
	calls atomic.Int64
}

type spyTx struct {
	store.Tx
	calls *atomic.Int64
}

func (t spyTx) History() []store.Registration { t.calls.Add(1); return t.Tx.History() }

type spyReader struct {
	store.Reader
	calls *atomic.Int64
}

func (r spyReader) History() []store.Registration { r.calls.Add(1); return r.Reader.History() }

func (s *historySpy) Update(ctx context.Context, y []pseudonym.Pseudonym, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, y, func(tx store.Tx) error { return fn(spyTx{tx, &s.calls}) })
}

func (s *historySpy) UpdateByID(ctx context.Context, id store.ID, fn func(store.Tx) error) error {
	return s.Store.UpdateByID(ctx, id, func(tx store.Tx) error { return fn(spyTx{tx, &s.calls}) })
}

func (s *historySpy) View(ctx context.Context, y []pseudonym.Pseudonym, fn func(store.Reader) error) error {
	return s.Store.View(ctx, y, func(r store.Reader) error { return fn(spyReader{r, &s.calls}) })
}

// TestVerbsNeverReadTheWholeHistory: no verb reads a youth's whole history
// (on the real store, through a spy): reports, lookups, ends, revivals,
// closing, removal, expiry and summaries cost the same whatever the
// youth's history. A death reads it once, to destroy it.
func TestVerbsNeverReadTheWholeHistory(t *testing.T) {
	e := newEnv(t)
	spy := &historySpy{Store: e.store}
	e.rematch(t, spy, nil)
	m := e.m
	for n := 1; n <= 3; n++ {
		e.register(t, wij, e.involvement(t, n))
		for range 15 {
			e.cycle(t, ggd, n)
			e.clock.Add(time.Minute)
		}
		e.register(t, ggd, e.involvement(t, n))
		if _, err := m.Lookup(ctx, matcher.Actor{Institution: school}, e.youth(t, n)); !errors.Is(err, matcher.ErrNotInvolved) {
			t.Fatal(err)
		}
	}
	view, err := m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	coord := view.Coordinator.Institution
	if err := m.CloseCase(ctx, matcher.Actor{Institution: coord}, e.youth(t, 1)); err != nil {
		t.Fatalf("close by %s: %v", coord, err)
	}
	before := spy.calls.Load()
	if err := m.RecordDeath(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 2)); err != nil {
		t.Fatal(err)
	}
	if n := spy.calls.Load() - before; n != 1 {
		t.Fatalf("a death, which destroys the archive, read the whole history %d times, want once", n)
	}
	res := e.register(t, school, e.signal(t, 3))
	if err := m.Remove(ctx, matcher.Actor{Institution: gemeente}, res.ID, matcher.RemoveObjection); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(3 * 365 * 24 * time.Hour)
	if _, err := m.SendHeld(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := spy.calls.Load() - 1; n != 0 {
		t.Fatalf("the whole history was read %d times besides the death's", n)
	}
	if len(e.history(t, 1)) == 0 {
		t.Fatal("no history to read: the test shows nothing")
	}
}

// rematch gives e a matcher made anew on s (nil: e's store), with change
// (if any) made to its Config.
func (e *env) rematch(t testing.TB, s store.Store, change func(*matcher.Config)) {
	t.Helper()
	c := matcher.Config{Store: e.store, Pseudonymiser: e.ps, Covenant: exampleCovenant(t), Clock: e.clock.Now, Location: time.UTC}
	if s != nil {
		c.Store = s
	}
	if change != nil {
		change(&c)
	}
	m, err := matcher.New(c)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
}
