// Package testkeys makes keys for tests: fresh, held only in memory, and
// gone with the process.
package testkeys

import (
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/keys"
)

// KEK returns a key-encryption key: an AES-256-GCM AEAD, standing in for
// Vault transit.
func KEK(t testing.TB) tink.AEAD {
	t.Helper()
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// RefKeyset returns a fresh reference keyset.
func RefKeyset(t testing.TB) *keyset.Handle {
	t.Helper()
	h, err := keys.CreateRefKeyset()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Sealer returns a client-reference sealer over a fresh reference keyset.
func Sealer(t testing.TB) *clientref.Sealer {
	t.Helper()
	s, err := clientref.New(RefKeyset(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
