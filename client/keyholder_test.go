package client_test

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/keyholder"
)

// realHolder runs the key-holder service (package keyholder) over TLS with
// a key of its own and one client's token, and returns how to ask it.
func realHolder(t *testing.T) (client.KeyHolder, *oprf.PrivateKey) {
	t.Helper()
	token, line := keyholder.NewToken("vendor-a")
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := keyholder.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	key := oprf.GenerateKey()
	h, err := keyholder.New(keyholder.Config{Key: key, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return client.KeyHolder{URL: srv.URL, Token: token, PublicKey: key.Public(), HTTP: srv.Client()}, key
}

// The Blinder against the real key-holder service, one and two of them (a
// split key): the same elements as evaluated in process.
func TestBlinderAgainstTheKeyHolderService(t *testing.T) {
	a, ka := realHolder(t)
	b, kb := realHolder(t)
	in := bsns(t, 3)
	one, err := (&client.Blinder{Holders: []client.KeyHolder{a}}).Elements(ctx, in...)
	if err != nil {
		t.Fatal(err)
	}
	sameElements(t, one, direct(t, in, ka))
	split, err := (&client.Blinder{Holders: []client.KeyHolder{a, b}}).Elements(ctx, in...)
	if err != nil {
		t.Fatal(err)
	}
	sameElements(t, split, direct(t, in, ka, kb))
}

// A key holder's rate limit reaches the caller as a *KeyHolderError with
// 429 rate_limited and the wait the key holder asks for (Retry-After).
func TestBlinderRateLimited(t *testing.T) {
	token, line := keyholder.NewToken("vendor-a")
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := keyholder.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	key := oprf.GenerateKey()
	h, err := keyholder.New(keyholder.Config{Key: key, Tokens: tokens, ElementsPerSecond: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	bl := &client.Blinder{Holders: []client.KeyHolder{{URL: srv.URL, Token: token, PublicKey: key.Public(), HTTP: srv.Client()}}}
	if _, err := bl.Elements(ctx, bsns(t, oprf.MaxBatch)...); err != nil {
		t.Fatal(err)
	}
	_, err = bl.Elements(ctx, bsns(t, 2)...)
	var ke *client.KeyHolderError
	if !errors.As(err, &ke) || ke.Status != 429 || ke.Code != "rate_limited" || ke.RetryAfter < 100*time.Second || ke.RetryAfter > 200*time.Second {
		t.Fatalf("over the rate: %#v (%v), want 429 rate_limited, Retry-After about 200s", ke, err)
	}
}
