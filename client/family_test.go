package client_test

import (
	"errors"
	"testing"

	"github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/identity"
)

// The Client sends a report's parents to an hmac index, where two
// children with a parent in common make a family match; an address the
// covenant does not match is refused by the index; a Client with a
// Blinder refuses both before anything is sent.
func TestClientFamily(t *testing.T) {
	for _, md := range modes(t) {
		t.Run(md.name, func(t *testing.T) {
			ix := newIndex(t, md.blind)
			sch, g := ix.byToken(school, md.blinder), ix.byToken(ggd, md.blinder)
			checkContract(t, sch)
			checkContract(t, g)
			parent := newYouth(t, 90, "1990-01-01").bsn
			a, b := newYouth(t, 1, "2014-05-17").report(client.Signal), newYouth(t, 2, "2012-01-03").report(client.Involvement)
			a.Parents, b.Parents = []identity.BSN{parent}, []identity.BSN{parent}
			if md.blind {
				var fe *client.FieldError
				if _, err := sch.Register(ctx, a); !errors.As(err, &fe) || !errors.Is(err, client.ErrFamilyBlind) {
					t.Fatalf("blind report with parents: %v", err)
				}
				return
			}
			if _, err := sch.Register(ctx, a); err != nil {
				t.Fatal(err)
			}
			if _, err := g.Register(ctx, b); err != nil {
				t.Fatal(err)
			}
			for inst, c := range map[string]*client.Client{school: sch, ggd: g} {
				evs, err := c.Events(ctx, 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, e := range evs.Events {
					if e.Type == "family-match" && e.Reason == "parent" && len(e.Others) == 1 {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%s: %d family-match events, want 1: %+v", inst, n, evs.Events)
				}
			}
			addr, _ := identity.ParseAddress("9712CP", 1, "")
			a.Address = &addr
			_, err := sch.Register(ctx, a)
			if ae := apiError(t, err); ae.Code != "address_not_enabled" {
				t.Errorf("an address the covenant does not match: %v", err)
			}
		})
	}
}
