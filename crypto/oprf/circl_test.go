package oprf

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/zk/dleq"
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

// TestCrossCheckCircl compares this package's group arithmetic and proofs
// with circl's on random inputs: the hashes to the group and to scalars,
// the decoding of random and of tampered encodings, scalar and element
// multiplication, inversion (alone and batched in unblind), and the DLEQ
// proof, which must come out byte for byte the same from the same nonce
// and verify in both directions.
func TestCrossCheckCircl(t *testing.T) {
	rnd := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	enc := func(e group.Element) []byte { b, _ := e.MarshalBinaryCompress(); return b }
	for round := range 50 {
		// HashToGroup and HashToScalar under both modes' DSTs and a foreign one.
		msg := rnd(round * 3)
		for _, m := range []mode{modeOPRF, modeVOPRF} {
			got, _ := Element{newPoint(hashToGroup(m, msg))}.MarshalBinary()
			if want := enc(g.HashToElement(msg, hashToGroupDST[m])); !bytes.Equal(got, want) {
				t.Fatalf("HashToGroup(%x) = %x, circl %x", msg, got, want)
			}
			got = hashToScalar(m, msg).Encode(nil)
			want, _ := g.HashToScalar(msg, hashToScalarDST[m]).MarshalBinary()
			if !bytes.Equal(got, want) {
				t.Fatalf("HashToScalar(%x) = %x, circl %x", msg, got, want)
			}
		}
		if got, want := testScalar(string(msg)).Encode(nil), must(g.HashToScalar(msg, []byte(testScalarDST)).MarshalBinary()); !bytes.Equal(got, want) {
			t.Fatalf("hash_to_field(%x) = %x, circl %x", msg, got, want)
		}

		// Decoding: random bytes, a valid encoding with one bit flipped, and
		// the same with the top bit set; both must accept exactly the same.
		valid := enc(g.HashToElement(msg, []byte("cross-check")))
		flipped := append([]byte{}, valid...)
		flipped[round%32] ^= 1 << (round % 8)
		high := append([]byte{}, valid...)
		high[31] |= 0x80
		for _, b := range [][]byte{rnd(32), valid, flipped, high} {
			var x Element
			ours := x.UnmarshalBinary(b) == nil
			c := g.NewElement()
			theirs := c.UnmarshalBinary(b) == nil && bytes.Equal(enc(c), b) && !c.IsIdentity()
			if ours != theirs {
				t.Fatalf("decoding %x: accepted %v, circl %v", b, ours, theirs)
			}
		}
		for _, b := range [][]byte{rnd(32), valid[:32]} {
			_, ours := decodeScalar(b)
			theirs := g.NewScalar().UnmarshalBinary(b) == nil
			if ours != theirs {
				t.Fatalf("scalar %x: accepted %v, circl %v", b, ours, theirs)
			}
		}

		// Multiplications and inversion.
		k, a := randomScalar(true), randomScalar(true)
		ck, ca := scalarToCircl(t, k), scalarToCircl(t, a)
		p := hashToGroup(modeVOPRF, msg)
		cp := toCircl(t, Element{newPoint(p)})
		checkEl := func(what string, ours *r255.Element, theirs group.Element) {
			t.Helper()
			got := Element{newPoint(ours)}
			if !bytes.Equal(must(got.MarshalBinary()), enc(theirs)) {
				t.Fatalf("%s differs from circl's", what)
			}
		}
		checkEl("k·P", r255.NewElement().ScalarMult(k, p), g.NewElement().Mul(cp, ck))
		checkEl("k·G", r255.NewElement().ScalarBaseMult(k), g.NewElement().MulGen(ck))
		if got, want := r255.NewScalar().Invert(k).Encode(nil), must(g.NewScalar().Inv(ck).MarshalBinary()); !bytes.Equal(got, want) {
			t.Fatal("k⁻¹ differs from circl's")
		}
		if got, want := r255.NewScalar().Multiply(k, a).Encode(nil), must(g.NewScalar().Mul(ck, ca).MarshalBinary()); !bytes.Equal(got, want) {
			t.Fatal("k·a differs from circl's")
		}

		// A batch: blind, evaluate, proof, unblind, against circl's DLEQ
		// prover and verifier and its per-element inversions.
		n := 1 + round%9
		points := make([]*r255.Element, n)
		blinds := make([]*r255.Scalar, n)
		for i := range points {
			points[i] = hashToGroup(modeVOPRF, rnd(20))
			blinds[i] = randomScalar(true)
		}
		key := newPrivateKey(k)
		st, blinded, err := blindPoints(points, blinds)
		if err != nil {
			t.Fatal(err)
		}
		cs, ds := make([]group.Element, n), make([]group.Element, n)
		for i := range blinded {
			checkEl("r·P", &blinded[i].e.p, g.NewElement().Mul(toCircl(t, Element{newPoint(points[i])}), scalarToCircl(t, blinds[i])))
			cs[i] = toCircl(t, blinded[i])
			ds[i] = g.NewElement().Mul(cs[i], ck)
		}
		r := randomScalar(false)
		evaluated, proof, err := evaluate(modeVOPRF, key, blinded, r)
		if err != nil {
			t.Fatal(err)
		}
		for i := range evaluated {
			checkEl("k·C", &evaluated[i].e.p, ds[i])
		}
		params := dleq.Params{G: g, H: crypto.SHA512, DST: contextString(modeVOPRF)}
		pk := toCircl(t, key.Public().e)
		cproof, err := dleq.Prover{Params: params}.ProveBatchWithRandomnessRFC9497(ck, pk, cs, ds, scalarToCircl(t, r))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := must(proof.MarshalBinary()), must(cproof.MarshalBinary()); !bytes.Equal(got, want) {
			t.Fatalf("batch of %d: proof %x, circl %x", n, got, want)
		}
		if !(dleq.Verifier{Params: params}).VerifyBatchRFC9497(pk, cs, ds, cproof) {
			t.Fatal("circl does not verify its own proof")
		}
		// The other direction: circl's proof from another nonce, verified here.
		other, err := dleq.Prover{Params: params}.ProveBatchRFC9497(ck, pk, cs, ds, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		var p2 Proof
		if err := p2.UnmarshalBinary(must(other.MarshalBinary())); err != nil {
			t.Fatal(err)
		}
		ys, err := Finish(st, evaluated, p2, key.Public())
		if err != nil {
			t.Fatalf("batch of %d: circl's proof: %v", n, err)
		}
		for i, y := range ys {
			inv := g.NewScalar().Inv(scalarToCircl(t, blinds[i]))
			if want := g.NewElement().Mul(ds[i], inv); !bytes.Equal(must(y.MarshalBinary()), enc(want)) {
				t.Fatalf("batch of %d: Y[%d] differs from circl's r⁻¹·D", n, i)
			}
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
