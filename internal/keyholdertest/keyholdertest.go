// Package keyholdertest makes the key-holder service (package keyholder)
// for tests: a handler with a key of its own and one client's token, as
// `vindex keyholder serve` has after `init` and `token new`. It is for
// tests only.
package keyholdertest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/keyholder"
)

// Handler returns a key holder with cfg's settings (a fresh key if cfg.Key
// is nil) whose token file holds one token, for the client name client,
// and that token.
func Handler(t testing.TB, cfg keyholder.Config, client string) (h *keyholder.Handler, key *oprf.PrivateKey, token string) {
	t.Helper()
	token, line := keyholder.NewToken(client)
	path := filepath.Join(t.TempDir(), "keyholder-tokens")
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := keyholder.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Key == nil {
		cfg.Key = oprf.GenerateKey()
	}
	cfg.Tokens = tokens
	h, err = keyholder.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, cfg.Key, token
}
