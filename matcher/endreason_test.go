package matcher_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// TestEndReasons: ended as risk gone or for another reason, a registration
// goes to the archive; ended as unjustified, live or archived, it is
// destroyed with its idempotency records, and a new report is a new
// registration. The others involved hear the reason.
func TestEndReasons(t *testing.T) {
	e := newEnv(t)
	e.register(t, wij, e.involvement(t, 1))
	g := e.register(t, ggd, e.involvement(t, 1))
	sig := e.signal(t, 1)
	sig.IdempotencyKey = "melding-1"
	s := e.register(t, school, sig)
	end := func(inst string, id store.ID, on time.Time, why matcher.EndReason) error {
		return e.m.End(ctx, matcher.Actor{Institution: inst}, id, on, why)
	}

	if err := end(school, s.ID, time.Time{}, matcher.EndReason(7)); !errors.Is(err, matcher.ErrEndReason) {
		t.Fatalf("an unknown reason: %v", err)
	}
	if err := end(school, s.ID, start.AddDate(0, 1, 0), matcher.EndUnjustified); !errors.Is(err, matcher.ErrUnjustifiedLater) {
		t.Fatalf("unjustified on a later day: %v", err)
	}
	before := e.events(t, wij)
	if err := end(ggd, g.ID, time.Time{}, matcher.EndOther); err != nil {
		t.Fatal(err)
	}
	if r, err := e.store.Registration(ctx, g.ID); err != nil || r.EndReason != store.EndedOther {
		t.Fatalf("ended for another reason: %+v %v, want archived as %v", r, err, store.EndedOther)
	}
	if err := end(school, s.ID, time.Time{}, matcher.EndUnjustified); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Registration(ctx, s.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unjustified registration after its end: %v, want ErrNotFound", err)
	}
	e.noIdempotency(t, 1, school, "melding-1")
	if got := newEvents(before, e.events(t, wij)); len(got) != 2 || got[0].Reason != "ended-other" || got[1].Reason != "unjustified" {
		t.Fatalf("the other institution was told: %+v", got)
	}
	if h := e.history(t, 1); len(h) != 1 || h[0].ID != g.ID {
		t.Fatalf("the archive: %d registrations, want the GGD's only", len(h))
	}
	// Within the refresh window: the archived one is revived, the
	// unjustified one is gone for good.
	if again := e.register(t, school, e.signal(t, 1)); again.ID == s.ID || again.Refreshed {
		t.Fatalf("a report after an unjustified end: %+v", again)
	}
	// An archived registration found unjustified later goes too.
	e.clock.Add(matcher.DefaultRefreshWindow + time.Hour)
	if err := end(ggd, g.ID, time.Time{}, matcher.EndUnjustified); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Registration(ctx, g.ID); !errors.Is(err, store.ErrNotFound) || len(e.history(t, 1)) != 0 {
		t.Fatalf("an archived registration ended as unjustified: %v, archive %d", err, len(e.history(t, 1)))
	}
}
