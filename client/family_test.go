package client_test

import (
	"errors"
	"testing"

	"github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/identity"
)

// The Client sends a report's parents to an hmac index, and their
// elements (blinded with the youth's, through a real key holder) to a
// blind one; in both, two children with a parent in common make a family
// match, and an address the covenant does not match is refused by the
// index. What a blind index cannot check the Client refuses itself.
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
			// The Client refuses, in both modes, what a blind index could
			// not check: a parent who is the youth, three parents, a parent
			// quoted in free text.
			for _, c := range []struct {
				name  string
				edit  func(r *client.Report)
				field string
				want  error
			}{
				{"the youth as parent", func(r *client.Report) { r.Parents = []identity.BSN{r.BSN} }, "parents", client.ErrParents},
				{"three parents", func(r *client.Report) {
					r.Parents = []identity.BSN{parent, newYouth(t, 91, "1990-01-01").bsn, newYouth(t, 92, "1990-01-01").bsn}
				}, "parents", client.ErrParents},
				{"a parent twice", func(r *client.Report) { r.Parents = []identity.BSN{parent, parent} }, "parents", client.ErrParents},
				{"a parent as client reference", func(r *client.Report) { r.ClientRef = "D-" + parent.RevealDigits() }, "client_ref", client.ErrIdentifiesParent},
				{"an empty address", func(r *client.Report) { r.Address = &identity.Address{} }, "address", client.ErrAddress},
			} {
				r := a
				c.edit(&r)
				var fe *client.FieldError
				if _, err := sch.Register(ctx, r); !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, c.want) {
					t.Errorf("%s: %v", c.name, err)
				}
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
