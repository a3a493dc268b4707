package oprf

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	r255 "github.com/gtank/ristretto255"

	"github.com/vindex-nl/vindex/identity"
)

func testBSNs(t testing.TB, ss ...string) []identity.BSN {
	t.Helper()
	out := make([]identity.BSN, len(ss))
	for i, s := range ss {
		b, err := identity.ParseBSN(s)
		if err != nil {
			t.Fatalf("BSN %d: %v", i, err)
		}
		out[i] = b
	}
	return out
}

// roundTrip runs one key holder's evaluation of a fresh blinding.
func roundTrip(t *testing.T, key *PrivateKey, bsns ...identity.BSN) []Element {
	t.Helper()
	st, blinded, err := Blind(bsns...)
	if err != nil {
		t.Fatal(err)
	}
	return evaluateAndFinish(t, key, st, blinded)
}

// evaluateAndFinish has key evaluate blinded and finishes with st.
func evaluateAndFinish(t *testing.T, key *PrivateKey, st *State, blinded []Element) []Element {
	t.Helper()
	ev, proof, err := Evaluate(key, blinded)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := Finish(st, ev, proof, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return ys
}

func TestSameBSNSameY(t *testing.T) {
	key := GenerateKey()
	bsns := testBSNs(t, "111222333", "123456782", "111222333")
	ys := roundTrip(t, key, bsns...)
	again := roundTrip(t, key, bsns[0])
	if !ys[0].Equal(ys[2]) || !ys[0].Equal(again[0]) {
		t.Error("the same BSN gave different elements")
	}
	if ys[0].Equal(ys[1]) {
		t.Error("different BSNs gave the same element")
	}
	if other := roundTrip(t, GenerateKey(), bsns[0]); other[0].Equal(ys[0]) {
		t.Error("another key gave the same element")
	}
}

func TestBlindedIsFresh(t *testing.T) {
	bsn := testBSNs(t, "111222333")[0]
	_, a, _ := Blind(bsn)
	_, b, _ := Blind(bsn)
	if a[0].Equal(b[0]) {
		t.Error("two blindings of one BSN are equal")
	}
}

func TestSplitKey(t *testing.T) {
	a, b := GenerateKey(), GenerateKey()
	bsns := testBSNs(t, "111222333", "123456782")
	ya := roundTrip(t, a, bsns...)

	st, blinded, err := BlindElements(ya...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range blinded {
		if blinded[i].Equal(ya[i]) {
			t.Fatal("B would see A's output")
		}
	}
	ev, proof, err := Evaluate(b, blinded)
	if err != nil {
		t.Fatal(err)
	}
	// A's public key does not verify B's proof.
	if _, err := Finish(st, ev, proof, a.Public()); !errors.Is(err, ErrProof) {
		t.Fatalf("B's proof against A's key: %v", err)
	}
	y, err := Finish(st, ev, proof, b.Public())
	if err != nil {
		t.Fatal(err)
	}
	// Y = k_B·k_A·H(x): the same as one key holder with the key k_A·k_B.
	ka, kb := a.k, b.k
	joint := newPrivateKey(r255.NewScalar().Multiply(ka, kb))
	want := roundTrip(t, joint, bsns...)
	for i := range y {
		if !y[i].Equal(want[i]) {
			t.Errorf("split-key Y[%d] is not k_B·k_A·H(x)", i)
		}
	}
	// Order does not matter: B then A gives the same element.
	yb := roundTrip(t, b, bsns...)
	st2, bl2, _ := BlindElements(yb...)
	ev2, p2, _ := Evaluate(a, bl2)
	y2, err := Finish(st2, ev2, p2, a.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !y2[0].Equal(y[0]) {
		t.Error("B then A differs from A then B")
	}
}

func TestFinishRefuses(t *testing.T) {
	key := GenerateKey()
	bsns := testBSNs(t, "111222333", "123456782")
	fresh := func() (*State, []Element, Proof) {
		st, blinded, err := Blind(bsns...)
		if err != nil {
			t.Fatal(err)
		}
		ev, proof, err := Evaluate(key, blinded)
		if err != nil {
			t.Fatal(err)
		}
		return st, ev, proof
	}

	st, ev, proof := fresh()
	if _, err := Finish(st, ev, proof, GenerateKey().Public()); !errors.Is(err, ErrProof) {
		t.Errorf("another public key: %v", err)
	}
	if _, err := Finish(st, []Element{ev[1], ev[0]}, proof, key.Public()); !errors.Is(err, ErrProof) {
		t.Errorf("swapped elements: %v", err)
	}
	if _, err := Finish(st, ev[:1], proof, key.Public()); !errors.Is(err, ErrMismatch) {
		t.Errorf("one element short: %v", err)
	}
	// An evaluation under another key with its own valid proof.
	_, blinded2, _ := Blind(bsns...)
	_, otherProof, _ := Evaluate(key, blinded2)
	if _, err := Finish(st, ev, otherProof, key.Public()); !errors.Is(err, ErrProof) {
		t.Errorf("proof of another request: %v", err)
	}
	// A tampered proof.
	pb, _ := proof.MarshalBinary()
	pb[0] ^= 1
	var bad Proof
	if err := bad.UnmarshalBinary(pb); err == nil {
		if _, err := Finish(st, ev, bad, key.Public()); !errors.Is(err, ErrProof) {
			t.Errorf("tampered proof: %v", err)
		}
	}
	if _, err := Finish(st, ev, Proof{}, key.Public()); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("no proof: %v", err)
	}
	if _, err := Finish(st, ev, proof, PublicKey{}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("no public key: %v", err)
	}
	// After all that, the right answer still finishes, once.
	if _, err := Finish(st, ev, proof, key.Public()); err != nil {
		t.Fatal(err)
	}
	if _, err := Finish(st, ev, proof, key.Public()); !errors.Is(err, ErrMismatch) {
		t.Errorf("second Finish: %v", err)
	}
	if _, err := Finish(nil, ev, proof, key.Public()); !errors.Is(err, ErrMismatch) {
		t.Errorf("nil state: %v", err)
	}
}

func TestBatchBounds(t *testing.T) {
	key := GenerateKey()
	if _, _, err := Blind(); !errors.Is(err, ErrBatchSize) {
		t.Errorf("Blind(): %v", err)
	}
	if _, _, err := Blind(identity.BSN{}); !errors.Is(err, ErrNoBSN) {
		t.Errorf("Blind(zero BSN): %v", err)
	}
	many := make([]identity.BSN, MaxBatch+1)
	for i := range many {
		many[i] = testBSNs(t, "111222333")[0]
	}
	if _, _, err := Blind(many...); !errors.Is(err, ErrBatchSize) {
		t.Errorf("Blind(MaxBatch+1): %v", err)
	}
	st, blinded, err := Blind(many[:MaxBatch]...)
	if err != nil {
		t.Fatalf("Blind(MaxBatch): %v", err)
	}
	if _, _, err := Evaluate(key, nil); !errors.Is(err, ErrBatchSize) {
		t.Errorf("Evaluate(none): %v", err)
	}
	if _, _, err := Evaluate(key, append(blinded, blinded[0])); !errors.Is(err, ErrBatchSize) {
		t.Errorf("Evaluate(MaxBatch+1): %v", err)
	}
	if _, _, err := Evaluate(key, []Element{blinded[0], {}}); !errors.Is(err, ErrInvalidElement) {
		t.Errorf("Evaluate(zero element): %v", err)
	}
	if _, _, err := Evaluate(nil, blinded[:1]); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Evaluate(nil key): %v", err)
	}
	ev, proof, err := Evaluate(key, blinded)
	if err != nil {
		t.Fatalf("Evaluate(MaxBatch): %v", err)
	}
	if _, err := Finish(st, ev, proof, key.Public()); err != nil {
		t.Fatalf("Finish(MaxBatch): %v", err)
	}
	if _, _, err := BlindElements(); !errors.Is(err, ErrBatchSize) {
		t.Errorf("BlindElements(): %v", err)
	}
	if _, _, err := BlindElements(Element{}); !errors.Is(err, ErrInvalidElement) {
		t.Errorf("BlindElements(zero): %v", err)
	}
}

func TestPrivateKeyEncoding(t *testing.T) {
	key := GenerateKey()
	raw, err := key.MarshalBinary()
	if err != nil || len(raw) != ScalarSize {
		t.Fatalf("MarshalBinary: %d bytes, %v", len(raw), err)
	}
	back, err := ParsePrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Public().Equal(key.Public()) {
		t.Error("the parsed key has another public key")
	}
	order := "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010" // ℓ, little-endian
	for name, b := range map[string][]byte{
		"empty":     nil,
		"short":     raw[:31],
		"long":      append(append([]byte{}, raw...), 0),
		"zero":      make([]byte, 32),
		"the order": unhex(t, order),
		"all ones":  bytes.Repeat([]byte{0xff}, 32),
	} {
		if _, err := ParsePrivateKey(b); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Nothing of this package prints a BSN, a key, a blind or an element.
func TestNeverPrinted(t *testing.T) {
	key := GenerateKey()
	bsn := testBSNs(t, "111222333")[0]
	st, blinded, err := Blind(bsn)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := key.MarshalBinary()
	el, _ := blinded[0].MarshalBinary()
	secrets := [][]byte{[]byte("111222333"), raw, el}
	for _, s := range st.blinds {
		secrets = append(secrets, s.Encode(nil))
	}
	var out strings.Builder
	for _, v := range []any{key, *key, st, *st, blinded[0], blinded, struct{ K *PrivateKey }{key}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
	}
	slog.New(slog.NewTextHandler(&out, nil)).Info("x", "key", key, "state", st, "element", blinded[0])
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "key", key, "state", st, "element", blinded[0])
	text := out.String()
	for i, s := range secrets {
		for _, enc := range []string{string(s), fmt.Sprintf("%x", s), fmt.Sprintf("%X", s),
			base64.StdEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s), fmt.Sprint(s)} {
			if len(enc) >= 9 && strings.Contains(text, enc) {
				t.Errorf("secret %d printed: %q", i, enc)
			}
		}
	}
	// Errors quote no input.
	_, _, err = Blind(bsn, identity.BSN{})
	if err == nil || strings.Contains(err.Error(), "111222333") {
		t.Errorf("error %v", err)
	}
}
