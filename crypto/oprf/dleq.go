package oprf

import (
	"crypto/sha512"
	"encoding/binary"

	r255 "github.com/gtank/ristretto255"
)

// The batched DLEQ proof of RFC 9497 §2.2, with A = G (the generator),
// B = pkS, C the blinded elements and D the evaluated elements.

// proof is the pair (c, s).
type proof struct {
	c, s r255.Scalar
}

// composites is the loop shared by ComputeComposites and
// ComputeCompositesFast (RFC 9497 §2.2.1): the scalars d_i hashed from the
// seed and each pair (C[i], D[i]). withZ also returns Z = Σ d_i·D[i]; the
// key holder computes Z = k·M instead. Everything here is public (the
// elements travel in the clear), so the sums are variable-time
// multi-scalar multiplications.
func composites(m mode, pk *point, cs, ds []*point, withZ bool) (mm, z *r255.Element) {
	seedT := appendLP(nil, pk.bytes())
	seedT = appendLP(seedT, seedDST[m])
	seed := sha512.Sum512(seedT)

	dis := make([]*r255.Scalar, len(cs))
	msg := make([]byte, 0, 2+64+2+2+ElementSize+2+ElementSize+len("Composite"))
	for i := range cs {
		msg = appendLP(msg[:0], seed[:])
		msg = binary.BigEndian.AppendUint16(msg, uint16(i))
		msg = appendLP(msg, cs[i].bytes())
		msg = appendLP(msg, ds[i].bytes())
		msg = append(msg, "Composite"...)
		dis[i] = hashToScalar(m, msg)
	}
	mm = r255.NewElement().VarTimeMultiScalarMult(dis, pointsOf(cs))
	if withZ {
		z = r255.NewElement().VarTimeMultiScalarMult(dis, pointsOf(ds))
	}
	return mm, z
}

func pointsOf(xs []*point) []*r255.Element {
	ps := make([]*r255.Element, len(xs))
	for i, x := range xs {
		ps[i] = &x.p
	}
	return ps
}

// challenge is the proof's challenge c = HashToScalar(I2OSP(len(Bm), 2) ||
// Bm || ... || I2OSP(len(a3), 2) || a3 || "Challenge") over the encodings
// of B = pkS, M, Z, t2 and t3.
func challenge(m mode, pk *point, elems ...*r255.Element) *r255.Scalar {
	msg := make([]byte, 0, 5*(2+ElementSize)+len("Challenge"))
	msg = appendLP(msg, pk.bytes())
	var enc [ElementSize]byte
	for _, e := range elems {
		msg = appendLP(msg, e.Encode(enc[:0]))
	}
	return hashToScalar(m, append(msg, "Challenge"...))
}

// generateProof is GenerateProof(k, G, pkS, C, D) with the random scalar r
// given: (M, Z) from ComputeCompositesFast, t2 = r·G, t3 = r·M,
// c = the challenge, s = r − c·k. The multiplications by k and r are
// constant-time.
func generateProof(m mode, k *r255.Scalar, pk *point, cs, ds []*point, r *r255.Scalar) *proof {
	mm, _ := composites(m, pk, cs, ds, false)
	z := r255.NewElement().ScalarMult(k, mm)
	t2 := r255.NewElement().ScalarBaseMult(r)
	t3 := r255.NewElement().ScalarMult(r, mm)
	p := new(proof)
	p.c = *challenge(m, pk, mm, z, t2, t3)
	p.s.Subtract(r, r255.NewScalar().Multiply(&p.c, k))
	return p
}

// verifyProof is VerifyProof(G, pkS, C, D, proof): (M, Z) from
// ComputeComposites, t2 = s·G + c·pkS, t3 = s·M + c·Z, and the proof holds
// if the challenge over them is c. All of it is public.
func verifyProof(m mode, pk *point, cs, ds []*point, p *proof) bool {
	mm, z := composites(m, pk, cs, ds, true)
	t2 := r255.NewElement().VarTimeDoubleScalarBaseMult(&p.c, &pk.p, &p.s)
	t3 := r255.NewElement().VarTimeMultiScalarMult([]*r255.Scalar{&p.s, &p.c}, []*r255.Element{mm, z})
	return challenge(m, pk, mm, z, t2, t3).Equal(&p.c) == 1
}
