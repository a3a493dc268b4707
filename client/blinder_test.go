package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testbsn"
	"github.com/vindex-nl/vindex/internal/testkeys"
)

var ctx = context.Background()

// evaluator is a key holder over TLS that evaluates with key, by the
// protocol package; token is required; calls counts its requests.
type evaluator struct {
	srv   *httptest.Server
	key   *oprf.PrivateKey
	calls atomic.Int32
}

func newEvaluator(t testing.TB, token string) *evaluator {
	t.Helper()
	e := &evaluator{key: oprf.GenerateKey()}
	e.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"type":"urn:x","title":"Unauthorized","status":401,"code":"unauthenticated"}`))
			return
		}
		req, err := oprf.DecodeEvaluateRequest(http.MaxBytesReader(w, r.Body, oprf.MaxBodySize))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		ev, proof, err := oprf.Evaluate(e.key, req.Blinded)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(oprf.EvaluateResponse{Evaluated: ev, Proof: proof})
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *evaluator) holder(token string) client.KeyHolder {
	return client.KeyHolder{URL: e.srv.URL, Token: token, PublicKey: e.key.Public(), HTTP: e.srv.Client()}
}

func bsns(t testing.TB, n int) []identity.BSN {
	t.Helper()
	out := make([]identity.BSN, n)
	for i := range out {
		b, err := identity.ParseBSN(testbsn.For(30000000, i+1))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// direct evaluates bs with the keys in turn, in process: what the
// Blinder's elements must equal (Y does not depend on the blinds).
func direct(t *testing.T, bs []identity.BSN, keys ...*oprf.PrivateKey) []oprf.Element {
	t.Helper()
	st, blinded, err := oprf.Blind(bs...)
	if err != nil {
		t.Fatal(err)
	}
	var ys []oprf.Element
	for i, k := range keys {
		if i > 0 {
			if st, blinded, err = oprf.BlindElements(ys...); err != nil {
				t.Fatal(err)
			}
		}
		ev, proof, err := oprf.Evaluate(k, blinded)
		if err != nil {
			t.Fatal(err)
		}
		if ys, err = oprf.Finish(st, ev, proof, k.Public()); err != nil {
			t.Fatal(err)
		}
	}
	return ys
}

func sameElements(t *testing.T, got, want []oprf.Element) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d elements, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Fatalf("element %d differs", i)
		}
	}
}

// InputElements blinds inputs of every domain, in batches of at most
// oprf.MaxBatch: a split key's elements of addresses (more than a batch)
// are those evaluated in process, in order; a BSN's element as a parent
// is not its element as a youth, which Elements gives.
func TestBlinderInputElements(t *testing.T) {
	a, b := newEvaluator(t, "ta"), newEvaluator(t, "tb")
	split := client.Blinder{Holders: []client.KeyHolder{a.holder("ta"), b.holder("tb")}}
	var ins []oprf.Input
	for i := range oprf.MaxBatch + 3 {
		addr, err := identity.ParseAddress("9712CP", i+1, "")
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, oprf.AddressInput(addr))
	}
	got, err := split.InputElements(ctx, ins...)
	if err != nil {
		t.Fatal(err)
	}
	if n := a.calls.Load(); n != 2 {
		t.Errorf("%d requests to the first key holder for %d inputs, want 2 batches", n, len(ins))
	}
	want := append(testkeys.InputElements(t, ins[:oprf.MaxBatch], a.key, b.key), testkeys.InputElements(t, ins[oprf.MaxBatch:], a.key, b.key)...)
	sameElements(t, got, want)
	if got[0].Equal(got[1]) {
		t.Error("two addresses, one element")
	}
	in := bsns(t, 1)
	parent, err := split.InputElements(ctx, oprf.ParentInput(in[0]))
	if err != nil {
		t.Fatal(err)
	}
	youth, err := split.Elements(ctx, in...)
	if err != nil {
		t.Fatal(err)
	}
	sameElements(t, parent, testkeys.InputElements(t, []oprf.Input{oprf.ParentInput(in[0])}, a.key, b.key))
	if parent[0].Equal(youth[0]) {
		t.Error("a BSN's element as a parent equals its element as a youth")
	}
	if _, err := split.InputElements(ctx, oprf.Input{}); err == nil {
		t.Error("a zero input was blinded")
	}
}

// One key holder, and a split key over two: the elements are k·H(x) and
// k_B·k_A·H(x), the same as evaluated in process, and distinct per BSN.
func TestBlinderElements(t *testing.T) {
	a, b := newEvaluator(t, "ta"), newEvaluator(t, "tb")
	in := bsns(t, 5)
	one := client.Blinder{Holders: []client.KeyHolder{a.holder("ta")}}
	got, err := one.Elements(ctx, in...)
	if err != nil {
		t.Fatal(err)
	}
	sameElements(t, got, direct(t, in, a.key))
	if got[0].Equal(got[1]) {
		t.Error("two BSNs, one element")
	}
	split := client.Blinder{Holders: []client.KeyHolder{a.holder("ta"), b.holder("tb")}}
	got2, err := split.Elements(ctx, in...)
	if err != nil {
		t.Fatal(err)
	}
	sameElements(t, got2, direct(t, in, a.key, b.key))
	if got2[0].Equal(got[0]) {
		t.Error("the split key's element equals the first key holder's")
	}
}

// More BSNs than a batch holds go in batches, in order.
func TestBlinderBatches(t *testing.T) {
	a := newEvaluator(t, "ta")
	in := bsns(t, oprf.MaxBatch+3)
	got, err := (&client.Blinder{Holders: []client.KeyHolder{a.holder("ta")}}).Elements(ctx, in...)
	if err != nil {
		t.Fatal(err)
	}
	if a.calls.Load() != 2 {
		t.Errorf("%d requests for %d BSNs", a.calls.Load(), len(in))
	}
	sameElements(t, got[oprf.MaxBatch:], direct(t, in[oprf.MaxBatch:], a.key))
}

// A key holder that evaluates under another key than the one configured,
// one that refuses, and a configuration that cannot work: each fails,
// returning nothing, and no error holds a BSN.
func TestBlinderRefusals(t *testing.T) {
	a, other := newEvaluator(t, "ta"), newEvaluator(t, "to")
	in := bsns(t, 3)
	wrongKey := a.holder("ta")
	wrongKey.PublicKey = other.key.Public()
	badToken := a.holder("nope")
	for name, c := range map[string]struct {
		b    client.Blinder
		want error
		code string
	}{
		"another key's proof": {client.Blinder{Holders: []client.KeyHolder{wrongKey}}, oprf.ErrProof, ""},
		"refused":             {client.Blinder{Holders: []client.KeyHolder{badToken}}, client.ErrKeyHolder, "unauthenticated"},
		"split, second wrong": {client.Blinder{Holders: []client.KeyHolder{a.holder("ta"), wrongKey}}, oprf.ErrProof, ""},
		"no key holder":       {client.Blinder{}, client.ErrConfig, ""},
		"three key holders":   {client.Blinder{Holders: []client.KeyHolder{a.holder("ta"), a.holder("ta"), a.holder("ta")}}, client.ErrConfig, ""},
		"no public key":       {client.Blinder{Holders: []client.KeyHolder{{URL: a.srv.URL}}}, client.ErrConfig, ""},
	} {
		got, err := c.b.Elements(ctx, in...)
		if !errors.Is(err, c.want) || got != nil {
			t.Errorf("%s: %v (%d elements), want %v", name, err, len(got), c.want)
			continue
		}
		var ke *client.KeyHolderError
		if c.code != "" && (!errors.As(err, &ke) || ke.Code != c.code || ke.Status != http.StatusUnauthorized) {
			t.Errorf("%s: %v, want code %s", name, err, c.code)
		}
		for _, b := range in {
			if strings.Contains(err.Error(), b.RevealDigits()) {
				t.Errorf("%s: the error holds a BSN", name)
			}
		}
	}
}
