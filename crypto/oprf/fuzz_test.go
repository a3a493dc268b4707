package oprf

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to every decoder of the package. None
// may panic; what decodes is canonical: an element or a proof re-encodes to
// the same bytes (and an element is never the identity), and a decoded
// body re-encodes to a body that decodes to the same elements and proof.
// Every refusal is one of the package's sentinel errors.
func FuzzDecode(f *testing.F) {
	key := GenerateKey()
	_, blinded, _ := Blind(testBSNs(f, "111222333", "123456782")...)
	ev, proof, _ := Evaluate(key, blinded)
	req, _ := json.Marshal(EvaluateRequest{Blinded: blinded})
	resp, _ := json.Marshal(EvaluateResponse{Evaluated: ev, Proof: proof})
	el, _ := blinded[0].MarshalBinary()
	pr, _ := proof.MarshalBinary()
	f.Add(req)
	f.Add(resp)
	f.Add(el)
	f.Add(pr)
	f.Add([]byte(`{"blinded":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]}`))
	f.Add([]byte(`{"blinded":[null],"blinded":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var x Element
		if err := x.UnmarshalBinary(data); err == nil {
			again, _ := x.MarshalBinary()
			if !bytes.Equal(again, data) || isIdentity(&x.e.p) {
				t.Fatalf("element %x decodes but re-encodes to %x", data, again)
			}
		} else if !errors.Is(err, ErrInvalidElement) {
			t.Fatalf("element: %v", err)
		}
		var p Proof
		if err := p.UnmarshalBinary(data); err == nil {
			if again, _ := p.MarshalBinary(); !bytes.Equal(again, data) {
				t.Fatalf("proof %x decodes but re-encodes to %x", data, again)
			}
		} else if !errors.Is(err, ErrInvalidProof) {
			t.Fatalf("proof: %v", err)
		}
		if r, err := DecodeEvaluateRequest(bytes.NewReader(data)); err == nil {
			body, _ := json.Marshal(r)
			r2, err := DecodeEvaluateRequest(bytes.NewReader(body))
			if err != nil || !sameElements(r.Blinded, r2.Blinded) {
				t.Fatalf("request %q re-encodes to %q: %v", data, body, err)
			}
		} else if !isSentinel(err) {
			t.Fatalf("request: %v", err)
		}
		if r, err := DecodeEvaluateResponse(bytes.NewReader(data)); err == nil {
			body, _ := json.Marshal(r)
			r2, err := DecodeEvaluateResponse(bytes.NewReader(body))
			if err != nil || !sameElements(r.Evaluated, r2.Evaluated) || r.Proof.String() != r2.Proof.String() {
				t.Fatalf("response %q re-encodes to %q: %v", data, body, err)
			}
		} else if !isSentinel(err) {
			t.Fatalf("response: %v", err)
		}
	})
}

func sameElements(a, b []Element) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrInvalidElement, ErrInvalidProof, ErrBatchSize, ErrBody} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
