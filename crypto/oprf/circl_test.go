package oprf

import (
	"testing"

	"github.com/cloudflare/circl/group"
	r255 "github.com/gtank/ristretto255"
)

// The tests keep github.com/cloudflare/circl as a second, independent
// implementation of the group and of RFC 9497: the RFC's key derivation,
// its client and server (TestAgainstCircl), a VerifyProof written out with
// circl's group operations (verifyProofRFC), and the cross-checks of
// TestCrossCheckCircl. Values pass between the two only as bytes.

// g is circl's ristretto255 group.
var g = group.Ristretto255

// toCircl is x as a circl element.
func toCircl(t testing.TB, x Element) group.Element {
	t.Helper()
	b, err := x.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	e := g.NewElement()
	if err := e.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return e
}

// fromCircl is the circl element e as an Element.
func fromCircl(t testing.TB, e group.Element) Element {
	t.Helper()
	b, err := e.MarshalBinaryCompress()
	if err != nil {
		t.Fatal(err)
	}
	var x Element
	if err := x.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return x
}

// scalarToCircl is s as a circl scalar.
func scalarToCircl(t testing.TB, s *r255.Scalar) group.Scalar {
	t.Helper()
	c := g.NewScalar()
	if err := c.UnmarshalBinary(s.Encode(nil)); err != nil {
		t.Fatal(err)
	}
	return c
}

// scalarBytes gives a scalar the MarshalBinary of hexOf.
type scalarBytes struct{ s *r255.Scalar }

func (s scalarBytes) MarshalBinary() ([]byte, error) { return s.s.Encode(nil), nil }
