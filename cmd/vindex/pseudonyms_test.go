package main

import (
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
)

// TestBlindDeployment: a deployment made with keys init --pseudonyms blind
// serves a blind index: a BSN is refused (bsn_not_accepted), an element
// with a birth month is taken; its mode cannot be changed once its keyset
// exists.
func TestBlindDeployment(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, dir, "keys", "init", "--dev", "--data", "d", "--create-dev-kek", "--pseudonyms", "blind")
	if msg := runCLIFail(t, dir, "keys", "init", "--dev", "--data", "d", "--pseudonyms", "hmac"); !strings.Contains(msg, "exists") {
		t.Errorf("a second init: %s", msg)
	}
	p := start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	defer p.stop(t)
	school := devClient(t, dir, "d", p, "school-example-lyceum")
	s, b, err := school.post("/v1/registrations", youthReport(t, 1, "signal"))
	if err != nil || s != 400 || !strings.Contains(string(b), "bsn_not_accepted") {
		t.Fatalf("a BSN to a blind index: %d %s %v", s, b, err)
	}
	key := oprf.GenerateKey()
	bsn, _ := identity.ParseBSN(validBSN(t, 1))
	st, blinded, _ := oprf.Blind(bsn)
	ev, proof, _ := oprf.Evaluate(key, blinded)
	ys, err := oprf.Finish(st, ev, proof, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	text, _ := ys[0].MarshalText()
	r := youthReport(t, 1, "signal")
	r.BSN, r.BirthDate, r.Youth, r.BornIn = "", "", string(text), "2012-06"
	s, b, err = school.post("/v1/registrations", r)
	must[httpapi.RegistrationResponse](t, s, b, err, 201)
}
