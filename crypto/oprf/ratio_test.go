package oprf_test

import (
	"fmt"
	"testing"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testkeys"
)

// A ratio re-keys an element made under one key, alone or in a split key,
// to the element the new key makes from the same input, without the input.
func TestRatioRekeys(t *testing.T) {
	bsn, err := identity.ParseBSN("111222333")
	if err != nil {
		t.Fatal(err)
	}
	a, a2, b := oprf.GenerateKey(), oprf.GenerateKey(), oprf.GenerateKey()
	r, err := oprf.RatioOf(a, a2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		old, new []*oprf.PrivateKey
	}{
		{"one key holder", []*oprf.PrivateKey{a}, []*oprf.PrivateKey{a2}},
		{"split key, A rotated", []*oprf.PrivateKey{a, b}, []*oprf.PrivateKey{a2, b}},
		{"split key, other order", []*oprf.PrivateKey{b, a}, []*oprf.PrivateKey{b, a2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, fresh := elementUnder(t, bsn, tc.old...), elementUnder(t, bsn, tc.new...)
			if old.Equal(fresh) {
				t.Fatal("the rotated key makes the same element")
			}
			got, err := r.Apply(old)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(fresh) {
				t.Fatal("the ratio does not re-key to the new key's element")
			}
		})
	}
	// Two rotations in one step.
	a3 := oprf.GenerateKey()
	r2, _ := oprf.RatioOf(a2, a3)
	both, err := r.Then(r2)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := both.Apply(elementUnder(t, bsn, a))
	if !got.Equal(elementUnder(t, bsn, a3)) {
		t.Fatal("Then does not compose the rotations")
	}
	inv, err := r.Inverse()
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := inv.Apply(elementUnder(t, bsn, a2)); !back.Equal(elementUnder(t, bsn, a)) {
		t.Fatal("Inverse does not undo the rotation")
	}
	// Round trip, and refusals.
	raw, _ := r.MarshalBinary()
	back, err := oprf.ParseRatio(raw)
	if err != nil {
		t.Fatal(err)
	}
	if x, _ := back.Apply(elementUnder(t, bsn, a)); !x.Equal(elementUnder(t, bsn, a2)) {
		t.Fatal("a parsed ratio re-keys differently")
	}
	if _, err := oprf.ParseRatio(make([]byte, 32)); err == nil {
		t.Error("a zero ratio parsed")
	}
	if _, err := oprf.ParseRatio(raw[:31]); err == nil {
		t.Error("a short ratio parsed")
	}
	if _, err := (oprf.Ratio{}).Apply(elementUnder(t, bsn, a)); err == nil {
		t.Error("the zero ratio applied")
	}
	if s := fmt.Sprintf("%v %x %#v %s", r, r, r, r); s != "oprf.Ratio(redacted) oprf.Ratio(redacted) oprf.Ratio(redacted) oprf.Ratio(redacted)" {
		t.Errorf("a ratio prints as %q", s)
	}
}

func TestLayerID(t *testing.T) {
	a, b := oprf.GenerateKey().Public(), oprf.GenerateKey().Public()
	if oprf.LayerID(a, b) != oprf.LayerID(b, a) {
		t.Error("the layer ID depends on the order")
	}
	for _, id := range []string{oprf.LayerID(a), oprf.LayerID(a, b)} {
		if !oprf.ValidLayerID(id) {
			t.Errorf("%q not valid", id)
		}
	}
	for _, bad := range []string{"", "abc", "0123456789ABCDEF", "0123456789abcdef+", "ffffffffffffffff+0000000000000000", "0123456789abcdef+0123456789abcdef+0123456789abcdef"} {
		if oprf.ValidLayerID(bad) {
			t.Errorf("%q valid", bad)
		}
	}
}

// elementUnder runs the client's protocol with each key in turn, as a
// client of one or two key holders does.
func elementUnder(t *testing.T, bsn identity.BSN, keys ...*oprf.PrivateKey) oprf.Element {
	t.Helper()
	return testkeys.Elements(t, []identity.BSN{bsn}, keys...)[0]
}
