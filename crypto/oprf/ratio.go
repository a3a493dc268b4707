package oprf

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	r255 "github.com/gtank/ristretto255"
)

// ErrInvalidRatio is returned for a ratio that is not a canonical non-zero
// scalar, or one made from keys that are not both set.
var ErrInvalidRatio = errors.New("oprf: invalid ratio")

// Ratio re-keys elements from one key holder key to another without their
// inputs: for keys k and k', the ratio is k'·k⁻¹, and Apply maps an element
// k·H(x) made under k to k'·H(x), the element a client computes under k'.
// With a split key the layers commute (k_B·k_A·H(x)), so one key holder's
// ratio re-keys the joint element too.
//
// A ratio is as secret as the keys: with the old key it gives the new one.
// It is never printed or logged: every fmt verb and slog show
// "oprf.Ratio(redacted)".
type Ratio struct {
	s *r255.Scalar
}

// RatioOf returns the ratio that re-keys elements made under from to
// elements made under to.
func RatioOf(from, to *PrivateKey) (Ratio, error) {
	if from == nil || from.k == nil || to == nil || to.k == nil {
		return Ratio{}, ErrInvalidRatio
	}
	inv := r255.NewScalar().Invert(from.k)
	return Ratio{r255.NewScalar().Multiply(to.k, inv)}, nil
}

// ParseRatio parses the 32 bytes MarshalBinary returns.
func ParseRatio(b []byte) (Ratio, error) {
	if len(b) != ScalarSize {
		return Ratio{}, ErrInvalidRatio
	}
	s, ok := decodeScalar(b)
	if !ok || isZeroScalar(s) {
		return Ratio{}, ErrInvalidRatio
	}
	return Ratio{s}, nil
}

// IsZero reports whether r is the zero Ratio, which re-keys nothing.
func (r Ratio) IsZero() bool { return r.s == nil }

// MarshalBinary returns the ratio as a 32-byte little-endian scalar.
func (r Ratio) MarshalBinary() ([]byte, error) {
	if r.s == nil {
		return nil, ErrInvalidRatio
	}
	return r.s.Encode(make([]byte, 0, ScalarSize)), nil
}

// Then returns the ratio that applies r, then next: a second rotation
// before the first was applied everywhere.
func (r Ratio) Then(next Ratio) (Ratio, error) {
	if r.s == nil || next.s == nil {
		return Ratio{}, ErrInvalidRatio
	}
	return Ratio{r255.NewScalar().Multiply(r.s, next.s)}, nil
}

// Inverse returns the ratio that undoes r: k·k'⁻¹, from the new key back
// to the old one.
func (r Ratio) Inverse() (Ratio, error) {
	if r.s == nil {
		return Ratio{}, ErrInvalidRatio
	}
	return Ratio{r255.NewScalar().Invert(r.s)}, nil
}

// Apply returns the element x re-keyed by r. A zero x or r is refused.
func (r Ratio) Apply(x Element) (Element, error) {
	if r.s == nil {
		return Element{}, ErrInvalidRatio
	}
	if x.e == nil {
		return Element{}, ErrInvalidElement
	}
	return newElement(r255.NewElement().ScalarMult(r.s, &x.e.p))
}

// String returns "oprf.Ratio(redacted)".
func (r Ratio) String() string { return "oprf.Ratio(redacted)" }

// GoString returns "oprf.Ratio(redacted)".
func (r Ratio) GoString() string { return r.String() }

// Format prints "oprf.Ratio(redacted)" for every verb.
func (r Ratio) Format(f fmt.State, _ rune) { f.Write([]byte(r.String())) }

// LogValue returns "oprf.Ratio(redacted)".
func (r Ratio) LogValue() slog.Value { return slog.StringValue(r.String()) }

// KeyID names a public key: the first 16 hex digits of the SHA-256 of its
// 32 bytes. It is for people, logs and a request's layer name; clients
// check proofs against the whole key.
func KeyID(pub PublicKey) string {
	b, err := pub.MarshalBinary()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// LayerID names the layer of elements made under the key holders' public
// keys pubs (one, or two for a split key): their key IDs, sorted and joined
// by "+", so that the order in which a client asks does not change it (the
// layers commute). It is what a client sends beside its elements so that
// an index in the middle of a rotation knows which key made them.
func LayerID(pubs ...PublicKey) string {
	ids := make([]string, len(pubs))
	for i, p := range pubs {
		ids[i] = KeyID(p)
	}
	slices.Sort(ids)
	return strings.Join(ids, "+")
}

// ValidLayerID reports whether s has the form LayerID returns: one or two
// key IDs of 16 lower-case hex digits, sorted, joined by "+".
func ValidLayerID(s string) bool {
	ids := strings.Split(s, "+")
	if len(ids) > 2 || !slices.IsSorted(ids) {
		return false
	}
	for _, id := range ids {
		if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
			return false
		}
	}
	return true
}
