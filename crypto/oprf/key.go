package oprf

import (
	"fmt"
	"log/slog"

	r255 "github.com/gtank/ristretto255"
)

// PrivateKey is a key holder's key: a non-zero scalar k. It prints as a
// fixed redacted text for every verb; MarshalBinary is the only way to its
// bytes, for wrapping it under a key-encryption key. It does not change
// once made: Evaluate may use one key from many goroutines at once.
type PrivateKey struct {
	k   *r255.Scalar
	pub PublicKey
}

// GenerateKey returns a new random private key (crypto/rand).
func GenerateKey() *PrivateKey {
	return newPrivateKey(randomScalar(true))
}

// newPrivateKey makes the key k, which is not zero and which the caller
// does not change afterwards; pkS = k·G in constant time.
func newPrivateKey(k *r255.Scalar) *PrivateKey {
	return &PrivateKey{k: k, pub: PublicKey{Element{newPoint(r255.NewElement().ScalarBaseMult(k))}}}
}

// ParsePrivateKey decodes a private key from its 32 bytes (RFC 9497's
// SerializeScalar: little-endian, below the group order, not zero).
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	if len(b) != ScalarSize {
		return nil, ErrInvalidKey
	}
	k, ok := decodeScalar(b)
	if !ok || isZeroScalar(k) {
		return nil, ErrInvalidKey
	}
	return newPrivateKey(k), nil
}

// MarshalBinary returns the 32 bytes of the scalar.
func (k *PrivateKey) MarshalBinary() ([]byte, error) {
	return k.k.Encode(make([]byte, 0, ScalarSize)), nil
}

// Public returns the public key k·G.
func (k *PrivateKey) Public() PublicKey { return k.pub }

// String returns "oprf.PrivateKey(redacted)".
func (k PrivateKey) String() string { return "oprf.PrivateKey(redacted)" }

// GoString is String.
func (k PrivateKey) GoString() string { return k.String() }

// Format prints String for every verb and flag.
func (k PrivateKey) Format(f fmt.State, _ rune) { f.Write([]byte(k.String())) }

// LogValue redacts the key in structured logs.
func (k PrivateKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// PublicKey is a key holder's public key pkS = k·G, which clients use to
// verify its proofs. It is public: it prints and encodes as the base64 of
// its 32 bytes.
type PublicKey struct {
	e Element
}

// IsZero reports whether p is the zero PublicKey.
func (p PublicKey) IsZero() bool { return p.e.IsZero() }

// Equal reports whether p and q are the same key.
func (p PublicKey) Equal(q PublicKey) bool { return p.e.Equal(q.e) }

// MarshalBinary returns the element's 32 bytes.
func (p PublicKey) MarshalBinary() ([]byte, error) { return p.e.MarshalBinary() }

// UnmarshalBinary decodes a public key as an Element: the canonical
// encoding of an element other than the identity, else ErrInvalidKey.
func (p *PublicKey) UnmarshalBinary(b []byte) error {
	var e Element
	if err := e.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	p.e = e
	return nil
}

// MarshalText returns the 32 bytes in standard padded base64.
func (p PublicKey) MarshalText() ([]byte, error) { return p.e.MarshalText() }

// UnmarshalText decodes standard padded base64 of the 32 bytes.
func (p *PublicKey) UnmarshalText(text []byte) error {
	var e Element
	if err := e.UnmarshalText(text); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	p.e = e
	return nil
}

// String returns the key in base64.
func (p PublicKey) String() string {
	t, err := p.MarshalText()
	if err != nil {
		return "oprf.PublicKey(none)"
	}
	return string(t)
}

// Evaluate is the key holder's side of the protocol: RFC 9497's
// BlindEvaluate in the verifiable mode. It multiplies every blinded element
// by the key and proves, in one batched DLEQ proof (GenerateProof with
// ComputeCompositesFast), that the same key k with pkS = k·G was used for
// all of them. blinded must hold 1 to MaxBatch elements, none of them zero.
// It learns nothing about the inputs and keeps nothing.
func Evaluate(key *PrivateKey, blinded []Element) ([]Element, Proof, error) {
	return evaluate(modeVOPRF, key, blinded, randomScalar(false))
}

// evaluate is Evaluate with the proof's random scalar r given (the RFC's
// test vectors fix it) and the mode's context string.
func evaluate(m mode, key *PrivateKey, blinded []Element, r *r255.Scalar) ([]Element, Proof, error) {
	if key == nil || key.k == nil {
		return nil, Proof{}, ErrInvalidKey
	}
	bs, err := elements(blinded)
	if err != nil {
		return nil, Proof{}, err
	}
	evaluated := make([]Element, len(bs))
	ds := make([]*point, len(bs))
	for i, b := range bs {
		ds[i] = newPoint(r255.NewElement().ScalarMult(key.k, &b.p))
		evaluated[i] = Element{ds[i]}
	}
	p := generateProof(m, key.k, key.pub.e.e, bs, ds, r)
	return evaluated, Proof{p}, nil
}

// elements checks a batch's size and that no element is zero.
func elements(xs []Element) ([]*point, error) {
	if len(xs) == 0 || len(xs) > MaxBatch {
		return nil, ErrBatchSize
	}
	es := make([]*point, len(xs))
	for i, x := range xs {
		if x.e == nil {
			return nil, fmt.Errorf("%w at index %d", ErrInvalidElement, i)
		}
		es[i] = x.e
	}
	return es, nil
}
