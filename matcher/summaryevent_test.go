package matcher_test

import (
	"testing"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// A summary event reaches its recipient with the count of the events it
// stands for, and names the others and the coordinator as a match event
// does; any other event has a count of 0.
func TestEventsCarryASummarysCount(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	res := e.register(t, wij, e.involvement(t, 1))
	before, err := e.m.Events(ctx, matcher.Actor{Institution: wij}, 0, 0)
	if err != nil || len(before) == 0 {
		t.Fatalf("wij's events: %+v %v", before, err)
	}
	for _, ev := range before {
		if ev.Collapsed != 0 {
			t.Fatalf("a %s event with a count: %+v", ev.Type, ev)
		}
	}
	match := e.events(t, wij)[len(before)-1]
	if match.Type != store.EventMatch || len(match.Others) != 1 {
		t.Fatalf("wij's last event: %+v", match)
	}
	summary := store.Event{Type: store.EventSummary, At: e.clock.Now(), Recipient: wij, Registration: res.ID,
		Urgent: true, Others: match.Others, Coordinator: wij, Rule: "r", Collapsed: 7}
	if err := e.store.Update(ctx, mustYouth(t, e, 1), func(tx store.Tx) error { tx.Append(summary); return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := e.m.Events(ctx, matcher.Actor{Institution: wij}, before[len(before)-1].Seq, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("wij's events after the match: %+v %v", got, err)
	}
	ev := got[0]
	if ev.Type != store.EventSummary || ev.Collapsed != 7 || !ev.Urgent || ev.Registration != res.ID ||
		ev.Coordinator != (matcher.Coordinator{Institution: wij, Rule: "r"}) {
		t.Fatalf("summary event = %+v", ev)
	}
	if len(ev.Others) != 1 || ev.Others[0].Institution != school || ev.Others[0].Name == "" || ev.Others[0].Contact.Name != "M. Bakker" {
		t.Fatalf("summary event's others = %+v", ev.Others)
	}
}
