package oprf

import (
	"encoding/base64"
	"fmt"
	"log/slog"

	r255 "github.com/gtank/ristretto255"
)

// Element is a ristretto255 group element other than the identity: a blinded
// element, an evaluated element, or a final element Y. The zero Element is
// "no element" and is refused wherever one is needed. It never prints its
// bytes (see the package documentation); its wire encodings are
// MarshalBinary (32 bytes, RFC 9496's canonical encoding) and MarshalText
// (those bytes in standard padded base64, 44 characters).
type Element struct {
	e *point
}

// newElement wraps e, refusing the identity. The caller does not change e
// afterwards.
func newElement(e *r255.Element) (Element, error) {
	if e == nil || isIdentity(e) {
		return Element{}, ErrInvalidElement
	}
	return Element{newPoint(e)}, nil
}

// IsZero reports whether x is the zero Element.
func (x Element) IsZero() bool { return x.e == nil }

// Equal reports whether x and y are the same element.
func (x Element) Equal(y Element) bool {
	if x.e == nil || y.e == nil {
		return x.e == nil && y.e == nil
	}
	return x.e.p.Equal(&y.e.p) == 1
}

// MarshalBinary returns the 32-byte canonical encoding; an error for the
// zero Element.
func (x Element) MarshalBinary() ([]byte, error) {
	if x.e == nil {
		return nil, ErrInvalidElement
	}
	return append([]byte(nil), x.e.bytes()...), nil
}

// UnmarshalBinary decodes the canonical 32-byte encoding of an element
// other than the identity. Anything else is ErrInvalidElement.
func (x *Element) UnmarshalBinary(b []byte) error {
	e, ok := decodePoint(b)
	if !ok {
		return ErrInvalidElement
	}
	*x = Element{e}
	return nil
}

// MarshalText returns the encoding in standard padded base64.
func (x Element) MarshalText() ([]byte, error) {
	b, err := x.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return base64Text(b), nil
}

// UnmarshalText decodes standard padded base64 of the canonical encoding.
func (x *Element) UnmarshalText(text []byte) error {
	b, ok := fromBase64(text, ElementSize)
	if !ok {
		return ErrInvalidElement
	}
	return x.UnmarshalBinary(b)
}

// String returns "oprf.Element(redacted)".
func (x Element) String() string { return "oprf.Element(redacted)" }

// GoString is String.
func (x Element) GoString() string { return x.String() }

// Format prints String for every verb and flag.
func (x Element) Format(f fmt.State, _ rune) { f.Write([]byte(x.String())) }

// LogValue redacts the element in structured logs.
func (x Element) LogValue() slog.Value { return slog.StringValue(x.String()) }

// Proof is the key holder's batched DLEQ proof (RFC 9497 §2.2): two scalars
// c and s that show that every evaluated element is the blinded element
// multiplied by the private key of the public key. It is public.
type Proof struct {
	p *proof
}

// IsZero reports whether p is the zero Proof.
func (p Proof) IsZero() bool { return p.p == nil }

// MarshalBinary returns c || s, each 32 bytes; an error for the zero Proof.
func (p Proof) MarshalBinary() ([]byte, error) {
	if p.p == nil {
		return nil, ErrInvalidProof
	}
	b := p.p.c.Encode(make([]byte, 0, ProofSize))
	return p.p.s.Encode(b), nil
}

// UnmarshalBinary decodes c || s: 64 bytes, each half a canonical scalar.
func (p *Proof) UnmarshalBinary(b []byte) error {
	if len(b) != ProofSize {
		return ErrInvalidProof
	}
	c, okC := decodeScalar(b[:ScalarSize])
	s, okS := decodeScalar(b[ScalarSize:])
	if !okC || !okS {
		return ErrInvalidProof
	}
	p.p = &proof{c: *c, s: *s}
	return nil
}

// MarshalText returns the encoding in standard padded base64.
func (p Proof) MarshalText() ([]byte, error) {
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return base64Text(b), nil
}

// UnmarshalText decodes standard padded base64 of c || s.
func (p *Proof) UnmarshalText(text []byte) error {
	b, ok := fromBase64(text, ProofSize)
	if !ok {
		return ErrInvalidProof
	}
	return p.UnmarshalBinary(b)
}

// String returns the proof in base64.
func (p Proof) String() string {
	t, err := p.MarshalText()
	if err != nil {
		return "oprf.Proof(none)"
	}
	return string(t)
}

func base64Text(b []byte) []byte {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(out, b)
	return out
}

// fromBase64 decodes standard padded base64 of exactly n bytes, strictly:
// no white space, no missing padding, no non-zero trailing bits.
func fromBase64(text []byte, n int) ([]byte, bool) {
	if len(text) != base64.StdEncoding.EncodedLen(n) {
		return nil, false
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	m, err := base64.StdEncoding.Strict().Decode(b, text)
	return b[:n], err == nil && m == n
}
