package keyholder_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/keyholder"
)

// A key holder serves one client with a token; the client blinds a BSN,
// has it evaluated over HTTPS and checks the proof against the key
// holder's public key.
func Example() {
	// The operator: a token file with the client's token (its hash), and
	// the key (vindex keyholder init makes and wraps it).
	dir, _ := os.MkdirTemp("", "keyholder-example")
	defer os.RemoveAll(dir)
	token, line := keyholder.NewToken("vendor-a")
	os.WriteFile(filepath.Join(dir, "tokens"), []byte(line+"\n"), 0o600)
	tokens, err := keyholder.LoadTokens(filepath.Join(dir, "tokens"))
	if err != nil {
		panic(err)
	}
	key := oprf.GenerateKey()
	h, err := keyholder.New(keyholder.Config{Key: key, Tokens: tokens})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewTLSServer(h)
	defer srv.Close()

	// The client, configured with the key holder's public key.
	pub := key.Public()
	bsn, _ := identity.ParseBSN("111222333")
	state, blinded, _ := oprf.Blind(bsn)
	body, _ := json.Marshal(oprf.EvaluateRequest{Blinded: blinded})
	req, _ := http.NewRequest("POST", srv.URL+"/v1/evaluate", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	answer, err := oprf.DecodeEvaluateResponse(resp.Body)
	if err != nil {
		panic(err)
	}
	ys, err := oprf.Finish(state, answer.Evaluated, answer.Proof, pub)
	fmt.Println(resp.StatusCode, len(ys), err)

	// Without the token: refused.
	req, _ = http.NewRequest("POST", srv.URL+"/v1/evaluate", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, _ = srv.Client().Do(req)
	var p keyholder.Problem
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, p.Code)
	// Output:
	// 200 1 <nil>
	// 401 unauthenticated
}
