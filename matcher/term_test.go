package matcher_test

import (
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
)

// TestRefreshStartsANewTerm: the rule the store documents (EndsOn) and the
// README give: a refresh 23 months after the first report is a new report,
// so the registration lives two years from the refresh, and its since-date
// stays the first report's.
func TestRefreshStartsANewTerm(t *testing.T) {
	e := newEnv(t)
	first := e.register(t, ggd, e.involvement(t, 1))
	e.clock.Set(start.AddDate(0, 23, 0))
	refreshed := e.register(t, ggd, e.involvement(t, 1))
	if !refreshed.Refreshed || refreshed.ID != first.ID {
		t.Fatalf("the report 23 months on: %+v", refreshed)
	}
	reg, err := e.store.Registration(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := civilDay(start.AddDate(0, 23, 0).AddDate(2, 0, 0)); !reg.EndsOn.Equal(want) || !reg.CreatedAt.Equal(start) {
		t.Fatalf("after the refresh: ends on %s (want %s), since %s (want %s)", reg.EndsOn, want, reg.CreatedAt, start)
	}
	// Two years after the first report it is still live; two years after
	// the refresh it ends.
	e.clock.Set(start.AddDate(2, 0, 1))
	if st, err := e.m.ExpireDue(ctx); err != nil || st.Ended != 0 {
		t.Fatalf("two years after the first report: %+v %v", st, err)
	}
	e.clock.Set(start.AddDate(0, 23, 0).AddDate(2, 0, 0).Add(time.Hour))
	if st, err := e.m.ExpireDue(ctx); err != nil || st.Ended != 1 {
		t.Fatalf("two years after the refresh: %+v %v", st, err)
	}
	if v, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 1)); err == nil {
		t.Fatalf("still live two years after the refresh: %+v", v)
	}
}
