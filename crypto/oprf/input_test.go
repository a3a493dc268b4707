package oprf

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	circloprf "github.com/cloudflare/circl/oprf"
	"github.com/cloudflare/circl/zk/dleq"

	"github.com/vindex-nl/vindex/identity"
)

// TestFamilyInputs: each domain has its own input recipe, so the element of
// a BSN as a parent is never its element as a youth, and each recipe is the
// one docs/blind.md states: circl's client, given the documented input
// bytes, finalises to the same output as this package's element.
func TestFamilyInputs(t *testing.T) {
	key := GenerateKey()
	bsn := testBSNs(t, "111222333")[0]
	addr, err := identity.ParseAddress("1234 ab", 12, "a")
	if err != nil {
		t.Fatal(err)
	}
	ins := []Input{YouthInput(bsn), ParentInput(bsn), AddressInput(addr)}
	want := []string{"vindex:v1:youth-bsn:111222333", "vindex:v1:parent-bsn:111222333", "vindex:v1:home-address:1234AB:12:A"}
	for i, in := range ins {
		if string(in.b) != want[i] {
			t.Errorf("input %d is %q, want %q", i, in.b, want[i])
		}
	}
	st, blinded, err := BlindInputs(ins...)
	if err != nil {
		t.Fatal(err)
	}
	ys := evaluateAndFinish(t, key, st, blinded)
	if ys[0].Equal(ys[1]) || ys[0].Equal(ys[2]) || ys[1].Equal(ys[2]) {
		t.Error("two domains gave the same element")
	}
	if y := roundTrip(t, key, bsn); !y[0].Equal(ys[0]) {
		t.Error("BlindInputs(YouthInput(b)) differs from Blind(b)")
	}

	// circl's client on the documented input bytes, this package's key.
	var cpub circloprf.PublicKey
	pub, _ := key.Public().MarshalBinary()
	if err := cpub.UnmarshalBinary(circloprf.SuiteRistretto255, pub); err != nil {
		t.Fatal(err)
	}
	client := circloprf.NewVerifiableClient(circloprf.SuiteRistretto255, &cpub)
	inputs := [][]byte{[]byte(want[0]), []byte(want[1]), []byte(want[2])}
	fin, creq, err := client.Blind(inputs)
	if err != nil {
		t.Fatal(err)
	}
	var theirs []Element
	for _, e := range creq.Elements {
		theirs = append(theirs, fromCircl(t, e))
	}
	out, cp, err := Evaluate(key, theirs)
	if err != nil {
		t.Fatal(err)
	}
	cev := &circloprf.Evaluation{Proof: toCirclProof(t, cp)}
	for _, x := range out {
		cev.Elements = append(cev.Elements, toCircl(t, x))
	}
	outputs, err := client.Finalize(fin, cev)
	if err != nil {
		t.Fatal(err)
	}
	for i := range inputs {
		yb, _ := ys[i].MarshalBinary()
		if !bytes.Equal(finalizeRFC(inputs[i], yb), outputs[i]) {
			t.Errorf("input %d: this package's element is not circl's evaluation of the documented input", i)
		}
	}
}

func TestInputRefusedAndNeverPrinted(t *testing.T) {
	bsn := testBSNs(t, "111222333")[0]
	if _, _, err := BlindInputs(ParentInput(bsn), ParentInput(identity.BSN{})); err == nil {
		t.Error("a zero parent was blinded")
	}
	if _, _, err := BlindInputs(AddressInput(identity.Address{})); err == nil {
		t.Error("a zero address was blinded")
	}
	if _, _, err := BlindInputs(); err == nil {
		t.Error("an empty batch was blinded")
	}
	in := ParentInput(bsn)
	var out strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		fmt.Fprintf(&out, verb+"\n", in)
		fmt.Fprintf(&out, verb+"\n", []Input{in})
	}
	if strings.Contains(out.String(), "111222333") || strings.Contains(out.String(), "3131313232") {
		t.Errorf("an input was printed: %s", out.String())
	}
}

func toCirclProof(t *testing.T, p Proof) *dleq.Proof {
	t.Helper()
	cp := new(dleq.Proof)
	if pb, err := p.MarshalBinary(); err != nil || cp.UnmarshalBinary(g, pb) != nil {
		t.Fatalf("proof: %v", err)
	}
	return cp
}
