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
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
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

// Elements returns the blind-mode elements of bsns under keys, as a client
// system computes them with one key holder, or two in turn (a split key):
// k_n·…·k_1·H(x).
func Elements(t testing.TB, bsns []identity.BSN, keys ...*oprf.PrivateKey) []oprf.Element {
	t.Helper()
	ins := make([]oprf.Input, len(bsns))
	for i, b := range bsns {
		ins[i] = oprf.YouthInput(b)
	}
	return InputElements(t, ins, keys...)
}

// InputElements is Elements for inputs of any domain (a youth's, a
// parent's, a home address's: crypto/oprf.YouthInput, ParentInput,
// AddressInput), in batches of at most oprf.MaxBatch.
func InputElements(t testing.TB, ins []oprf.Input, keys ...*oprf.PrivateKey) []oprf.Element {
	t.Helper()
	out := make([]oprf.Element, 0, len(ins))
	for len(ins) > 0 {
		n := min(len(ins), oprf.MaxBatch)
		out = append(out, inputBatch(t, ins[:n], keys)...)
		ins = ins[n:]
	}
	return out
}

func inputBatch(t testing.TB, ins []oprf.Input, keys []*oprf.PrivateKey) []oprf.Element {
	t.Helper()
	st, blinded, err := oprf.BlindInputs(ins...)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if i > 0 {
			if st, blinded, err = oprf.BlindElements(blinded...); err != nil {
				t.Fatal(err)
			}
		}
		ev, proof, err := oprf.Evaluate(k, blinded)
		if err != nil {
			t.Fatal(err)
		}
		if blinded, err = oprf.Finish(st, ev, proof, k.Public()); err != nil {
			t.Fatal(err)
		}
	}
	return blinded
}
