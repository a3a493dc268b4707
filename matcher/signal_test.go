package matcher_test

import (
	"slices"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// A report by an institution already involved tells the other institutions
// involved when it says something new: a signal with another code, or
// urgency where there was none. It names the reporter and its professional,
// never the code; a report that repeats what is on file tells no one.
func TestSignalEvents(t *testing.T) {
	signal := func(code string, urgent bool) func(e *env, t *testing.T) matcher.Registration {
		return func(e *env, t *testing.T) matcher.Registration {
			r := e.signal(t, 1)
			r.SignalCode, r.Urgent = code, urgent
			return r
		}
	}
	involvement := func(urgent bool) func(e *env, t *testing.T) matcher.Registration {
		return func(e *env, t *testing.T) matcher.Registration {
			r := e.involvement(t, 1)
			r.Urgent = urgent
			return r
		}
	}
	for _, tc := range []struct {
		name        string
		first, next func(e *env, t *testing.T) matcher.Registration
		reporter    string
		want        bool // the other institution gets a signal event
		wantUrgent  bool
	}{
		{"same code again", signal("S01", false), signal("S01", false), school, false, false},
		{"another code", signal("S01", false), signal("S03", false), school, true, false},
		{"newly urgent", signal("S01", false), signal("S01", true), school, true, true},
		{"urgent again", signal("S01", true), signal("S01", true), school, false, false},
		{"another code, urgent", signal("S01", true), signal("S02", true), school, true, true},
		{"no longer urgent", signal("S01", true), signal("S01", false), school, false, false},
		{"care provider's signal", involvement(false), signal("S01", false), ggd, false, false},
		{"care provider's urgent signal", involvement(false), signal("S01", true), ggd, true, true},
		{"care provider newly urgent", involvement(false), involvement(true), ggd, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.register(t, tc.reporter, tc.first(e, t))
			e.register(t, wij, e.involvement(t, 1))
			before := e.events(t, "")
			e.clock.Add(time.Minute)
			res := e.register(t, tc.reporter, tc.next(e, t))
			if !res.Refreshed {
				t.Fatalf("second report not a refresh: %+v", res)
			}
			got := newEvents(before, e.events(t, ""))
			var signals []store.Event
			for _, ev := range got {
				if ev.Type == store.EventSignal {
					signals = append(signals, ev)
				}
			}
			if !tc.want {
				if len(signals) != 0 {
					t.Fatalf("signal events %+v, want none", signals)
				}
				return
			}
			if len(signals) != 1 {
				t.Fatalf("events %v, want one signal event", types(got))
			}
			ev := signals[0]
			if ev.Recipient != wij || ev.Subject != tc.reporter || ev.Urgent != tc.wantUrgent {
				t.Fatalf("signal event %+v: want to %s about %s, urgent %v", ev, wij, tc.reporter, tc.wantUrgent)
			}
			if len(ev.Others) != 1 || ev.Others[0].Institution != tc.reporter || ev.Others[0].Registration != res.ID || ev.Reason != "" {
				t.Fatalf("signal event names %+v (reason %q): want the reporter only, and no code", ev.Others, ev.Reason)
			}
		})
	}
}

// A report that is the institution's first, or that revives its own
// registration, is a match, not a signal.
func TestSignalNotOnFirstReport(t *testing.T) {
	e := newEnv(t)
	e.register(t, wij, e.involvement(t, 1))
	r := e.signal(t, 1)
	r.Urgent = true
	e.register(t, school, r)
	for _, ev := range e.events(t, "") {
		if ev.Type == store.EventSignal {
			t.Fatalf("a signal event on a first report: %+v", ev)
		}
	}
}

// An institution that alternates codes and urgency cannot flood the others:
// each recipient gets its hour's share of events about the youth, and the
// rest in one summary, urgent if a held one was.
func TestSignalEventsAreBounded(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	e.register(t, wij, e.involvement(t, 1))
	before := e.events(t, wij)
	codes := []string{"S02", "S03"}
	for i := range 50 {
		r := e.signal(t, 1)
		r.SignalCode, r.Urgent = codes[i%2], i%7 == 3
		e.register(t, school, r)
	}
	told := newEvents(before, e.events(t, wij))
	if len(told) > matcher.DefaultEventsPerHour {
		t.Fatalf("%d events to %s within the hour (%v), want at most %d", len(told), wij, types(told), matcher.DefaultEventsPerHour)
	}
	if !slices.ContainsFunc(told, func(ev store.Event) bool { return ev.Type == store.EventSignal }) {
		t.Fatalf("no signal event at all: %v", types(told))
	}
	e.clock.Add(time.Hour + time.Minute)
	if _, err := e.m.SendHeld(ctx); err != nil {
		t.Fatal(err)
	}
	after := newEvents(before, e.events(t, wij))[len(told):]
	if len(after) != 1 || after[0].Type != store.EventSummary || !after[0].Urgent {
		t.Fatalf("after the hour: %+v, want one urgent summary", after)
	}
	if want := 50 - len(told); after[0].Collapsed < want {
		t.Fatalf("summary stands for %d events, want at least %d", after[0].Collapsed, want)
	}
}

// A reminder is never held back into a summary: an escalation step's
// deadline reaches the coordinator as an escalation-due event even when
// its hour's share of events about the youth went to a flood of signals.
func TestRemindersPassTheHourlyBound(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	e.register(t, wij, e.involvement(t, 1))
	who, wijA := e.youth(t, 1), matcher.Actor{Institution: wij}
	if err := e.m.Accept(ctx, wijA, who); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Escalate(ctx, wijA, who, matcher.Escalation{Step: "own-management"}); err != nil {
		t.Fatal(err)
	}
	var due time.Time
	e.store.View(ctx, mustYouth(t, e, 1), func(r store.Reader) error {
		if c, ok := r.Case(); ok && len(c.Escalation) == 1 {
			due = c.Escalation[0].Due
		}
		return nil
	})
	if due.IsZero() {
		t.Fatal("the escalation step has no deadline")
	}
	e.clock.Set(due.Add(-30 * time.Minute))
	codes := []string{"S02", "S03"}
	for i := range 2 * matcher.DefaultEventsPerHour {
		r := e.signal(t, 1)
		r.SignalCode = codes[i%2]
		e.register(t, school, r)
	}
	before := e.events(t, wij)
	e.clock.Set(due.Add(time.Minute))
	if _, err := e.m.SendHeld(ctx); err != nil {
		t.Fatal(err)
	}
	got := newEvents(before, e.events(t, wij))
	if len(got) != 1 || got[0].Type != store.EventEscalationDue {
		t.Fatalf("after the deadline, within the flooded hour: %v, want one escalation-due", types(got))
	}
}
