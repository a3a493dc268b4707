package matcher_test

import (
	"errors"
	"testing"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/matcher"
)

// element computes youth n's blind-mode element with key, as a client
// system does with a key holder.
func element(t *testing.T, key *oprf.PrivateKey, n int) oprf.Element {
	t.Helper()
	st, blinded, err := oprf.Blind(bsnFor(t, n))
	if err != nil {
		t.Fatal(err)
	}
	ev, proof, err := oprf.Evaluate(key, blinded)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := oprf.Finish(st, ev, proof, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return ys[0]
}

// TestYouthByElement: the verbs work unchanged on a youth named by its
// blind-mode element (the subject-identification seam): two institutions
// reporting one element match, another element is another youth, the
// same youth named by its clear BSN is not the element's (the layers are
// separate), and the store holds the index's layer, never the element.
func TestYouthByElement(t *testing.T) {
	e := newEnv(t)
	key := oprf.GenerateKey()
	y1, err := e.m.YouthByElement(element(t, key, 1))
	if err != nil {
		t.Fatal(err)
	}
	s := e.signal(t, 1)
	s.Youth = y1
	e.register(t, school, s)
	w := e.involvement(t, 1)
	w.Youth = y1
	if res := e.register(t, wij, w); !res.Matched {
		t.Fatalf("one element reported twice does not match: %+v", res)
	}
	y2, err := e.m.YouthByElement(element(t, key, 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, y2); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Errorf("another element: %v", err)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Errorf("the BSN's youth is the element's: %v", err)
	}
	again, err := e.m.YouthByElement(element(t, key, 1))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, again); err != nil || !v.Matched {
		t.Fatalf("the element computed again: %+v %v", v, err)
	}
	if _, err := e.m.YouthByElement(oprf.Element{}); !errors.Is(err, matcher.ErrMissingYouth) {
		t.Errorf("a zero element: %v", err)
	}

	// The element's bytes are nowhere in the store's files.
	raw, _ := element(t, key, 1).MarshalBinary()
	needles := canary.Needles{}
	needles.Bytes("element of youth 1", raw[8:])
	if err := e.store.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	found, err := needles.ScanDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("the element is in the store: %q", found)
	}
	// The positive control: the index's layer over it is.
	layer, err := e.ps.Of(pseudonym.DomainYouthElement, raw)
	if err != nil {
		t.Fatal(err)
	}
	control := canary.Needles{}
	control.Bytes("the index's pseudonym of the element", layer.Primary.Sum[8:])
	if found, err := control.ScanDir(e.dir); err != nil || len(found) == 0 {
		t.Errorf("the scan does not see the index's pseudonym: it proves nothing (%q, %v)", found, err)
	}
}
