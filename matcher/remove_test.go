package matcher_test

import (
	"errors"
	"testing"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// TestObjectionRemovalRevealsNothing: an objection removal by a caller
// not entitled to it answers the same for a registration that exists as
// for an id nobody holds, so it cannot probe for registrations.
func TestObjectionRemovalRevealsNothing(t *testing.T) {
	e := newEnv(t)
	r := e.involvement(t, 1)
	r.Municipality = "GM1952" // outside gemeente-groningen's GM0014
	g := e.register(t, ggd, r)
	random := store.NewID()
	for _, c := range []struct {
		who  string
		want error
	}{
		{school, matcher.ErrForbidden},  // not a municipality at all
		{ggd, matcher.ErrForbidden},     // the registration's own institution
		{gemeente, matcher.ErrNotFound}, // a municipality, not the youth's
	} {
		existing := e.m.Remove(ctx, matcher.Actor{Institution: c.who}, g.ID, matcher.RemoveObjection)
		unknown := e.m.Remove(ctx, matcher.Actor{Institution: c.who}, random, matcher.RemoveObjection)
		if !errors.Is(existing, c.want) || !errors.Is(unknown, c.want) {
			t.Errorf("%s: existing id: %v, unknown id: %v; want %v for both", c.who, existing, unknown, c.want)
		}
	}
	if _, err := e.store.Registration(ctx, g.ID); err != nil {
		t.Fatalf("the registration went: %v", err)
	}
}
