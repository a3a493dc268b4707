package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
)

// A client system turns BSNs into blind-mode elements through a key
// holder (here one in process; in production vindex keyholder serve, run
// by another party, whose public key the client is given out of band).
func ExampleBlinder() {
	key := oprf.GenerateKey()
	kh := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := oprf.DecodeEvaluateRequest(r.Body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ev, proof, _ := oprf.Evaluate(key, req.Blinded)
		json.NewEncoder(w).Encode(oprf.EvaluateResponse{Evaluated: ev, Proof: proof})
	}))
	defer kh.Close()

	b := client.Blinder{Holders: []client.KeyHolder{{URL: kh.URL, Token: "token", PublicKey: key.Public(), HTTP: kh.Client()}}}
	bsn, _ := identity.ParseBSN("111222333")
	ys, err := b.Elements(context.Background(), bsn, bsn)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(ys), "elements; the same BSN gives the same element:", ys[0].Equal(ys[1]))
	fmt.Println(ys[0]) // never printed in clear
	// Output:
	// 2 elements; the same BSN gives the same element: true
	// oprf.Element(redacted)
}
