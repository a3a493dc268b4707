// Package testkeys makes keysets for tests: fresh, held only in memory, and
// gone with the process.
package testkeys

import (
	"testing"

	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/keys"
)

// Sealer returns a client-reference sealer over a fresh reference keyset.
func Sealer(t testing.TB) *clientref.Sealer {
	t.Helper()
	h, err := keys.CreateRefKeyset()
	if err != nil {
		t.Fatal(err)
	}
	s, err := clientref.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
