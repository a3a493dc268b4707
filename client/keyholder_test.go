package client_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/internal/keyholdertest"
	"github.com/vindex-nl/vindex/keyholder"
)

// holder is the key-holder service (package keyholder) over TLS with a key
// of its own and one client's token; calls counts the requests it got.
type holder struct {
	client.KeyHolder
	key   *oprf.PrivateKey
	calls *atomic.Int64
}

func startHolder(t testing.TB) holder {
	t.Helper()
	h, stop, err := runHolder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return h
}

// runHolder starts a key holder with its token file in dir; stop stops it.
func runHolder(dir string) (h holder, stop func(), err error) {
	token, line := keyholder.NewToken("vendor-a")
	path := filepath.Join(dir, "keyholder-tokens")
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		return h, nil, err
	}
	tokens, err := keyholder.LoadTokens(path)
	if err != nil {
		return h, nil, err
	}
	key := oprf.GenerateKey()
	kh, err := keyholder.New(keyholder.Config{Key: key, Tokens: tokens})
	if err != nil {
		return h, nil, err
	}
	calls := new(atomic.Int64)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		kh.ServeHTTP(w, r)
	}))
	return holder{KeyHolder: client.KeyHolder{URL: srv.URL, Token: token, PublicKey: key.Public(), HTTP: srv.Client()}, key: key, calls: calls}, srv.Close, nil
}

// realHolder runs the key-holder service and returns how to ask it.
func realHolder(t *testing.T) (client.KeyHolder, *oprf.PrivateKey) {
	t.Helper()
	h := startHolder(t)
	return h.KeyHolder, h.key
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
	h, key, token := keyholdertest.Handler(t, keyholder.Config{ElementsPerSecond: 0.01}, "vendor-a")
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	bl := &client.Blinder{Holders: []client.KeyHolder{{URL: srv.URL, Token: token, PublicKey: key.Public(), HTTP: srv.Client()}}}
	if _, err := bl.Elements(ctx, bsns(t, oprf.MaxBatch)...); err != nil {
		t.Fatal(err)
	}
	_, err := bl.Elements(ctx, bsns(t, 2)...)
	var ke *client.KeyHolderError
	if !errors.As(err, &ke) || ke.Status != 429 || ke.Code != "rate_limited" || ke.RetryAfter < 100*time.Second || ke.RetryAfter > 200*time.Second {
		t.Fatalf("over the rate: %#v (%v), want 429 rate_limited, Retry-After about 200s", ke, err)
	}
}
