package matcher_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// updateSpy counts the store's updates and views.
type updateSpy struct {
	store.Store
	updates, views atomic.Int64
}

func (s *updateSpy) Update(ctx context.Context, y []pseudonym.Pseudonym, fn func(store.Tx) error) error {
	s.updates.Add(1)
	return s.Store.Update(ctx, y, fn)
}

func (s *updateSpy) View(ctx context.Context, y []pseudonym.Pseudonym, fn func(store.Reader) error) error {
	s.views.Add(1)
	return s.Store.View(ctx, y, fn)
}

// TestRefusalsReadAsALookupDoes: a case close by an institution not
// involved, the coordination verbs by one, and a death reported (or an
// alderman's decision taken) by a municipality that serves none of the
// youth's registrations, are answered from one view and no update, for a
// youth that is registered as for one nobody registered: the same work as
// a lookup, whose time tells nothing (vindex bench --workload oracle).
// Before, both went through an update, which skips the read of a youth the
// store never held.
func TestRefusalsReadAsALookupDoes(t *testing.T) {
	e := newEnv(t)
	spy := &updateSpy{Store: e.store}
	e.rematch(t, spy, nil)
	m := e.m
	e.register(t, wij, e.involvement(t, 1))
	e.register(t, ggd, e.involvement(t, 1))
	for _, tc := range []struct {
		name string
		do   func(n int) error
		want error
	}{
		{"close by an uninvolved institution", func(n int) error {
			return m.CloseCase(ctx, matcher.Actor{Institution: school}, e.youth(t, n))
		}, matcher.ErrNotInvolved},
		{"death by another municipality", func(n int) error {
			return m.RecordDeath(ctx, matcher.Actor{Institution: gemeenteElders}, e.youth(t, n))
		}, nil},
		{"accept by an uninvolved institution", func(n int) error {
			return m.Accept(ctx, matcher.Actor{Institution: school}, e.youth(t, n))
		}, matcher.ErrNotInvolved},
		{"decline by an uninvolved institution", func(n int) error {
			return m.Decline(ctx, matcher.Actor{Institution: school}, e.youth(t, n), matcher.DeclineOther)
		}, matcher.ErrNotInvolved},
		{"hand-over by an uninvolved institution", func(n int) error {
			return m.Handover(ctx, matcher.Actor{Institution: school}, e.youth(t, n), wij)
		}, matcher.ErrNotInvolved},
		{"hand-over accepted by an uninvolved institution", func(n int) error {
			return m.AcceptHandover(ctx, matcher.Actor{Institution: school}, e.youth(t, n))
		}, matcher.ErrNotInvolved},
		{"hand-over declined by an uninvolved institution", func(n int) error {
			return m.DeclineHandover(ctx, matcher.Actor{Institution: school}, e.youth(t, n), matcher.DeclineOther)
		}, matcher.ErrNotInvolved},
		{"escalation by an uninvolved institution", func(n int) error {
			return m.Escalate(ctx, matcher.Actor{Institution: school}, e.youth(t, n), matcher.Escalation{Step: "own-management"})
		}, matcher.ErrNotInvolved},
		{"the alderman's decision by another municipality", func(n int) error {
			return m.Escalate(ctx, matcher.Actor{Institution: gemeenteElders}, e.youth(t, n), matcher.Escalation{Step: "decision", Coordinator: wij})
		}, matcher.ErrNotInvolved},
	} {
		for _, n := range []int{1, 2} { // registered, never registered
			spy.updates.Store(0)
			spy.views.Store(0)
			if err := tc.do(n); !errors.Is(err, tc.want) {
				t.Fatalf("%s, youth %d: %v, want %v", tc.name, n, err, tc.want)
			}
			if u, v := spy.updates.Load(), spy.views.Load(); u != 0 || v != 1 {
				t.Errorf("%s, youth %d: %d updates and %d views, want none and one", tc.name, n, u, v)
			}
		}
	}
	if v, err := m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1)); err != nil || !v.Matched {
		t.Fatalf("the youth after the refusals: %+v %v", v, err)
	}
}
