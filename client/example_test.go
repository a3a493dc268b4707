package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

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

// A client system of a blind deployment reports a youth: the Client
// blinds the BSN through the key holder and sends the index only the
// element, the key holders' key ID and the birth month. Free text that
// quotes the youth is refused before anything is sent, and the index's
// refusals come as errors that match sentinels. (The index and the key
// holder here are real, in process: the package's test helpers start
// them.)
func ExampleClient() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "vindex-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ix, err := startIndex(dir, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ix.Stop()
	kh, stop, err := runHolder(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	// One Blinder (the key holders) for every Client of the system; a
	// Client per institution, by bearer token or client certificate.
	blinder := &client.Blinder{Holders: []client.KeyHolder{kh.KeyHolder}}
	school := &client.Client{BaseURL: ix.URL, Token: ix.tokens["school-example-lyceum"], HTTP: ix.httpClient(), Blinder: blinder}
	wij := &client.Client{BaseURL: ix.URL, HTTP: ix.httpClient(ix.wijCert), Blinder: blinder}
	ggd := &client.Client{BaseURL: ix.URL, Token: ix.tokens["ggd-groningen"], HTTP: ix.httpClient(), Blinder: blinder}

	bsn, _ := identity.ParseBSN("111222333")
	born, _ := identity.ParseBirthDate("2014-05-17")
	report := client.Report{BSN: bsn, BirthDate: born, Municipality: "GM0014", Kind: client.Signal, Code: "S01",
		Contact: client.Contact{Name: "A. Jansen", Phone: "050-1234567"}}
	res, err := school.Register(ctx, report)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("school: matched", res.Matched)

	report.Kind, report.Code = client.Involvement, ""
	report.ClientRef = "WIJ-111222333" // quotes the BSN
	_, err = wij.Register(ctx, report)
	var fe *client.FieldError
	fmt.Println("refused:", errors.As(err, &fe), fe.Field, errors.Is(err, client.ErrIdentifiesYouth))

	report.ClientRef = "WIJ-2026-0042"
	res, err = wij.Register(ctx, report)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("wij: matched", res.Matched, "with", res.Involved[0].Institution+"; coordinator", res.Coordinator.Institution)

	_, err = ggd.Lookup(ctx, bsn)
	fmt.Println(errors.Is(err, client.ErrNotInvolved), err)
	// Output:
	// school: matched false
	// refused: true client_ref true
	// wij: matched true with school-example-lyceum; coordinator wij-groningen
	// true client: the index answered 404 not_involved: your institution has no live registration for this youth
}
