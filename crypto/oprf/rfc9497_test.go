package oprf

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/cloudflare/circl/group"
	circloprf "github.com/cloudflare/circl/oprf"
	"github.com/cloudflare/circl/zk/dleq"
	r255 "github.com/gtank/ristretto255"
)

// rfcVectors is testdata/rfc9497-ristretto255.json: RFC 9497 Appendix A.1.1
// (OPRF) and A.1.2 (VOPRF), transcribed from the RFC, all values hex.
type rfcVectors struct {
	Suite string `json:"suite"`
	Modes []struct {
		Mode     string `json:"mode"`
		ModeByte byte   `json:"modeByte"`
		Seed     string `json:"seed"`
		KeyInfo  string `json:"keyInfo"`
		SkSm     string `json:"skSm"`
		PkSm     string `json:"pkSm"`
		Vectors  []struct {
			Name              string   `json:"name"`
			Input             []string `json:"input"`
			Blind             []string `json:"blind"`
			BlindedElement    []string `json:"blindedElement"`
			EvaluationElement []string `json:"evaluationElement"`
			Proof             string   `json:"proof"`
			ProofRandomScalar string   `json:"proofRandomScalar"`
			Output            []string `json:"output"`
		} `json:"vectors"`
	} `json:"modes"`
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func scalar(t testing.TB, s string) *r255.Scalar {
	t.Helper()
	k, ok := decodeScalar(unhex(t, s))
	if !ok {
		t.Fatalf("scalar %s: not canonical", s)
	}
	return k
}

func hexOf(t testing.TB, m interface{ MarshalBinary() ([]byte, error) }) string {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// finalizeRFC is RFC 9497's Finalize hash (OPRF and VOPRF modes), which
// vindex does not use; the test applies it to Y to reach the RFC's Output:
// SHA-512(I2OSP(len(input), 2) || input || I2OSP(len(Y), 2) || Y || "Finalize").
func finalizeRFC(input, y []byte) []byte {
	h := sha512.New()
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(input)))
	h.Write(n[:])
	h.Write(input)
	binary.BigEndian.PutUint16(n[:], uint16(len(y)))
	h.Write(n[:])
	h.Write(y)
	h.Write([]byte("Finalize"))
	return h.Sum(nil)
}

// TestRFC9497Vectors reproduces every ristretto255-SHA512 vector of RFC 9497
// Appendix A.1.1 and A.1.2 through this package's client and key holder
// code: blinded elements from the fixed blinds, evaluated elements and (in
// the VOPRF mode) the proof byte for byte from the fixed proof scalar, the
// proof verified and the element unblinded by the client, and the RFC's
// Output as the Finalize hash of Y.
func TestRFC9497Vectors(t *testing.T) {
	b, err := os.ReadFile("testdata/rfc9497-ristretto255.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs rfcVectors
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if vs.Suite != SuiteID || len(vs.Modes) != 2 {
		t.Fatalf("suite %q with %d modes", vs.Suite, len(vs.Modes))
	}
	n := 0
	for _, md := range vs.Modes {
		m := mode(md.ModeByte)
		// The key: the RFC derives it with DeriveKeyPair (circl's, here),
		// then this package parses it and computes its public key.
		derived, err := circloprf.DeriveKey(circloprf.SuiteRistretto255, md.ModeByte, unhex(t, md.Seed), unhex(t, md.KeyInfo))
		if err != nil {
			t.Fatal(err)
		}
		if got := hexOf(t, derived); got != md.SkSm {
			t.Errorf("%s: DeriveKeyPair = %s, RFC says %s", md.Mode, got, md.SkSm)
		}
		key, err := ParsePrivateKey(unhex(t, md.SkSm))
		if err != nil {
			t.Fatal(err)
		}
		if md.PkSm != "" {
			if got := hexOf(t, key.Public()); got != md.PkSm {
				t.Errorf("%s: pkSm = %s, RFC says %s", md.Mode, got, md.PkSm)
			}
		}
		for _, v := range md.Vectors {
			n++
			t.Run(md.Mode+"/"+v.Name, func(t *testing.T) {
				checkRFCVector(t, m, key, v.Input, v.Blind, v.BlindedElement, v.EvaluationElement, v.Proof, v.ProofRandomScalar, v.Output)
			})
		}
	}
	if n != 5 {
		t.Fatalf("%d vectors, want 5 (2 OPRF, 3 VOPRF)", n)
	}
}

func checkRFCVector(t *testing.T, m mode, key *PrivateKey, inputs, blinds, blinded, evaluated []string, proof, r string, outputs []string) {
	points := make([]*r255.Element, len(inputs))
	bs := make([]*r255.Scalar, len(inputs))
	for i := range inputs {
		points[i] = hashToGroup(m, unhex(t, inputs[i]))
		bs[i] = scalar(t, blinds[i])
	}
	st, gotBlinded, err := blindPoints(points, bs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range gotBlinded {
		if got := hexOf(t, gotBlinded[i]); got != blinded[i] {
			t.Errorf("BlindedElement[%d] = %s, RFC says %s", i, got, blinded[i])
		}
		var dec Element
		if err := dec.UnmarshalBinary(unhex(t, blinded[i])); err != nil || !dec.Equal(gotBlinded[i]) {
			t.Errorf("BlindedElement[%d] does not decode to the element: %v", i, err)
		}
	}
	rs := randomScalar(false)
	if r != "" {
		rs = scalar(t, r)
	}
	gotEvaluated, gotProof, err := evaluate(m, key, gotBlinded, rs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range gotEvaluated {
		if got := hexOf(t, gotEvaluated[i]); got != evaluated[i] {
			t.Errorf("EvaluationElement[%d] = %s, RFC says %s", i, got, evaluated[i])
		}
	}
	var ys []Element
	if m == modeVOPRF {
		if got := hexOf(t, gotProof); got != proof {
			t.Errorf("Proof = %s, RFC says %s", got, proof)
		}
		var p Proof
		if err := p.UnmarshalBinary(unhex(t, proof)); err != nil {
			t.Fatal(err)
		}
		ys, err = finish(m, st, gotEvaluated, p, key.Public())
		if err != nil {
			t.Fatalf("the RFC's proof: %v", err)
		}
	} else {
		es, _ := elements(gotEvaluated)
		ys = unblind(st, es)
	}
	for i, y := range ys {
		yb, _ := y.MarshalBinary()
		if got := hex.EncodeToString(finalizeRFC(unhex(t, inputs[i]), yb)); got != outputs[i] {
			t.Errorf("Output[%d] = Finalize(Y) = %s, RFC says %s", i, got, outputs[i])
		}
		// Y is k·H(x), whatever the blind.
		if want := g.NewElement().Mul(toCircl(t, Element{newPoint(points[i])}), scalarToCircl(t, key.k)); !toCircl(t, y).IsEqual(want) {
			t.Errorf("Y[%d] is not k·H(x)", i)
		}
	}
}

// TestAgainstCircl runs this package against circl's own RFC 9497 client
// and server in the verifiable mode, both ways round: circl's server
// answers this package's client, and this package's key holder answers
// circl's client. Both give the same Output for the same input.
func TestAgainstCircl(t *testing.T) {
	key := GenerateKey()
	raw, _ := key.MarshalBinary()
	var ck circloprf.PrivateKey
	if err := ck.UnmarshalBinary(circloprf.SuiteRistretto255, raw); err != nil {
		t.Fatal(err)
	}
	bsns := testBSNs(t, "111222333", "123456782", "999999990")
	inputs := make([][]byte, len(bsns))
	for i, b := range bsns {
		inputs[i] = YouthInput(b).b
	}

	// circl's server, this package's client.
	st, blinded, err := Blind(bsns...)
	if err != nil {
		t.Fatal(err)
	}
	req := &circloprf.EvaluationRequest{}
	for _, x := range blinded {
		req.Elements = append(req.Elements, toCircl(t, x))
	}
	ev, err := circloprf.NewVerifiableServer(circloprf.SuiteRistretto255, &ck).Evaluate(req)
	if err != nil {
		t.Fatal(err)
	}
	var evaluated []Element
	for _, e := range ev.Elements {
		evaluated = append(evaluated, fromCircl(t, e))
	}
	pb, err := ev.Proof.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var p Proof
	if err := p.UnmarshalBinary(pb); err != nil {
		t.Fatal(err)
	}
	ys, err := Finish(st, evaluated, p, key.Public())
	if err != nil {
		t.Fatalf("Finish with circl's proof: %v", err)
	}

	// circl's client, this package's key holder.
	var cpub circloprf.PublicKey
	pub, _ := key.Public().MarshalBinary()
	if err := cpub.UnmarshalBinary(circloprf.SuiteRistretto255, pub); err != nil {
		t.Fatal(err)
	}
	client := circloprf.NewVerifiableClient(circloprf.SuiteRistretto255, &cpub)
	fin, creq, err := client.Blind(inputs)
	if err != nil {
		t.Fatal(err)
	}
	var ours []Element
	for _, e := range creq.Elements {
		ours = append(ours, fromCircl(t, e))
	}
	out, proof, err := Evaluate(key, ours)
	if err != nil {
		t.Fatal(err)
	}
	cproof := new(dleq.Proof)
	if pb, err := proof.MarshalBinary(); err != nil || cproof.UnmarshalBinary(g, pb) != nil {
		t.Fatalf("proof: %v", err)
	}
	cev := &circloprf.Evaluation{Proof: cproof}
	for _, x := range out {
		cev.Elements = append(cev.Elements, toCircl(t, x))
	}
	outputs, err := client.Finalize(fin, cev)
	if err != nil {
		t.Fatalf("circl's Finalize with this package's proof: %v", err)
	}
	for i := range inputs {
		yb, _ := ys[i].MarshalBinary()
		if !bytes.Equal(finalizeRFC(inputs[i], yb), outputs[i]) {
			t.Errorf("input %d: Finalize(Y) differs from circl's Output", i)
		}
	}
}

// verifyProofRFC is RFC 9497 §2.2.2's VerifyProof(G, pkS, C, D, proof),
// written out here from the RFC with plain group operations, independently
// of this package's DLEQ code that Finish uses, on circl's group.
func verifyProofRFC(t *testing.T, pk group.Element, cs, ds []group.Element, proof []byte) bool {
	ctx := contextString(modeVOPRF)
	enc := func(e group.Element) []byte { b, _ := e.MarshalBinaryCompress(); return b }
	lp := func(b []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...) }
	h2s := func(msg []byte) group.Scalar { return g.HashToScalar(msg, append([]byte("HashToScalar-"), ctx...)) }

	seedDST := append([]byte("Seed-"), ctx...)
	seed := sha512.Sum512(append(lp(enc(pk)), lp(seedDST)...))
	m, z := g.Identity(), g.Identity()
	for i := range cs {
		msg := append(lp(seed[:]), binary.BigEndian.AppendUint16(nil, uint16(i))...)
		msg = append(append(append(msg, lp(enc(cs[i]))...), lp(enc(ds[i]))...), "Composite"...)
		d := h2s(msg)
		m.Add(m, g.NewElement().Mul(cs[i], d))
		z.Add(z, g.NewElement().Mul(ds[i], d))
	}
	c, s := g.NewScalar(), g.NewScalar()
	if c.UnmarshalBinary(proof[:32]) != nil || s.UnmarshalBinary(proof[32:]) != nil {
		return false
	}
	t2 := g.NewElement().Add(g.NewElement().MulGen(s), g.NewElement().Mul(pk, c))
	t3 := g.NewElement().Add(g.NewElement().Mul(m, s), g.NewElement().Mul(z, c))
	var msg []byte
	for _, e := range []group.Element{pk, m, z, t2, t3} {
		msg = append(msg, lp(enc(e))...)
	}
	return h2s(append(msg, "Challenge"...)).IsEqual(c)
}

// TestVerifyProofIndependently checks that Finish's verdict on a proof is
// that of verifyProofRFC, for valid proofs and for proofs of something else.
func TestVerifyProofIndependently(t *testing.T) {
	key, other := GenerateKey(), GenerateKey()
	for _, n := range []int{1, 2, 7} {
		bsns := make([]string, n)
		for i := range bsns {
			bsns[i] = []string{"111222333", "123456782", "999999990"}[i%3]
		}
		st, blinded, err := Blind(testBSNs(t, bsns...)...)
		if err != nil {
			t.Fatal(err)
		}
		ev, proof, err := Evaluate(key, blinded)
		if err != nil {
			t.Fatal(err)
		}
		var cs, ds []group.Element
		for i := range blinded {
			cs = append(cs, toCircl(t, blinded[i]))
			ds = append(ds, toCircl(t, ev[i]))
		}
		pb, _ := proof.MarshalBinary()
		swapped := append([]group.Element{ds[len(ds)-1]}, ds[:len(ds)-1]...)
		for name, c := range map[string]struct {
			pk     PublicKey
			ds     []group.Element
			proof  []byte
			verify bool
		}{
			"valid":         {key.Public(), ds, pb, true},
			"other key":     {other.Public(), ds, pb, false},
			"rotated":       {key.Public(), swapped, pb, n == 1},
			"c changed":     {key.Public(), ds, append([]byte{pb[0] ^ 1}, pb[1:]...), false},
			"s changed":     {key.Public(), ds, append(append([]byte{}, pb[:32]...), append([]byte{pb[32] ^ 1}, pb[33:]...)...), false},
			"blinded twice": {key.Public(), cs, pb, false},
		} {
			if got := verifyProofRFC(t, toCircl(t, c.pk.e), cs, c.ds, c.proof); got != c.verify {
				t.Errorf("batch of %d, %s: the RFC's VerifyProof says %v", n, name, got)
			}
			var p Proof
			if err := p.UnmarshalBinary(c.proof); err != nil {
				continue // a changed byte made a scalar non-canonical
			}
			probe := &State{blinds: st.blinds, blinded: st.blinded}
			evs := make([]Element, len(c.ds))
			for i, d := range c.ds {
				evs[i] = fromCircl(t, d)
			}
			_, err := Finish(probe, evs, p, c.pk)
			if (err == nil) != c.verify {
				t.Errorf("batch of %d, %s: Finish says %v", n, name, err)
			}
		}
	}
}
