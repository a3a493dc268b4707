package oprf_test

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
)

// A client turns a BSN into the element Y with one key holder, over the
// JSON bodies of POST /v1/evaluate.
func Example() {
	// The key holder's key; its public key is published to clients.
	key := oprf.GenerateKey()
	pub := key.Public()

	// The client checks the BSN and blinds it.
	bsn, err := identity.ParseBSN("111222333")
	if err != nil {
		panic(err)
	}
	state, blinded, err := oprf.Blind(bsn)
	if err != nil {
		panic(err)
	}
	reqBody, _ := json.Marshal(oprf.EvaluateRequest{Blinded: blinded})

	// The key holder decodes the request strictly and evaluates it.
	req, err := oprf.DecodeEvaluateRequest(bytes.NewReader(reqBody))
	if err != nil {
		panic(err)
	}
	evaluated, proof, err := oprf.Evaluate(key, req.Blinded)
	if err != nil {
		panic(err)
	}
	respBody, _ := json.Marshal(oprf.EvaluateResponse{Evaluated: evaluated, Proof: proof})

	// The client checks the proof against the public key and unblinds.
	resp, err := oprf.DecodeEvaluateResponse(bytes.NewReader(respBody))
	if err != nil {
		panic(err)
	}
	ys, err := oprf.Finish(state, resp.Evaluated, resp.Proof, pub)
	if err != nil {
		panic(err)
	}
	y, _ := ys[0].MarshalText()
	fmt.Println("request body:", len(reqBody), "bytes; response body:", len(respBody), "bytes")
	fmt.Println("Y:", len(y), "base64 characters, printed as", ys[0])

	// The same youth gives the same Y, whatever the blinds.
	state2, blinded2, _ := oprf.Blind(bsn)
	evaluated2, proof2, _ := oprf.Evaluate(key, blinded2)
	again, _ := oprf.Finish(state2, evaluated2, proof2, pub)
	fmt.Println("same blinded elements:", blinded[0].Equal(blinded2[0]), "same Y:", ys[0].Equal(again[0]))

	// A proof does not verify under another key holder's public key.
	state3, blinded3, _ := oprf.Blind(bsn)
	evaluated3, proof3, _ := oprf.Evaluate(key, blinded3)
	_, err = oprf.Finish(state3, evaluated3, proof3, oprf.GenerateKey().Public())
	fmt.Println(err)
	// Output:
	// request body: 60 bytes; response body: 161 bytes
	// Y: 44 base64 characters, printed as oprf.Element(redacted)
	// same blinded elements: false same Y: true
	// oprf: proof does not verify
}

// With a split key the client asks key holder A, then key holder B on A's
// results, blinded afresh; each proof is checked against its own key
// holder's public key, and Y = k_B·k_A·H(x).
func Example_splitKey() {
	a, b := oprf.GenerateKey(), oprf.GenerateKey()
	bsns := make([]identity.BSN, 2)
	for i, s := range []string{"111222333", "123456782"} {
		bsns[i], _ = identity.ParseBSN(s)
	}

	ask := func(key *oprf.PrivateKey, state *oprf.State, blinded []oprf.Element) []oprf.Element {
		evaluated, proof, err := oprf.Evaluate(key, blinded) // over POST /v1/evaluate
		if err != nil {
			panic(err)
		}
		ys, err := oprf.Finish(state, evaluated, proof, key.Public())
		if err != nil {
			panic(err)
		}
		return ys
	}
	state, blinded, _ := oprf.Blind(bsns...)
	ya := ask(a, state, blinded)
	state, blinded, _ = oprf.BlindElements(ya...)
	y := ask(b, state, blinded)

	// In the other order, B then A, the same elements.
	state, blinded, _ = oprf.Blind(bsns...)
	yb := ask(b, state, blinded)
	state, blinded, _ = oprf.BlindElements(yb...)
	y2 := ask(a, state, blinded)

	fmt.Println(len(y), "elements;", "A then B equals B then A:", y[0].Equal(y2[0]) && y[1].Equal(y2[1]))
	fmt.Println("two youths, two elements:", !y[0].Equal(y[1]))
	// Output:
	// 2 elements; A then B equals B then A: true
	// two youths, two elements: true
}
