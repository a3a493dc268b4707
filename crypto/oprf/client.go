package oprf

import (
	"fmt"
	"log/slog"

	r255 "github.com/gtank/ristretto255"

	"github.com/vindex-nl/vindex/identity"
)

// State is what the client keeps between Blind (or BlindElements) and
// Finish: the secret blinds and the blinded elements they made. It is for
// one Finish only, by one goroutine, and prints as a fixed redacted text
// for every verb.
type State struct {
	blinds  []*r255.Scalar
	blinded []*point
}

// Blind is the client's first step for youths: for each BSN it hashes the
// input "vindex:v1:youth-bsn:" + the nine digits to the group (RFC 9497's
// HashToGroup with the DST "HashToGroup-OPRFV1-\x01-ristretto255-SHA512")
// and multiplies it by a fresh random blind. It returns the state for Finish
// and the blinded elements, in the order of bsns, to send to the key holder.
// It takes 1 to MaxBatch BSNs, none of them zero.
func Blind(bsns ...identity.BSN) (*State, []Element, error) {
	if len(bsns) == 0 || len(bsns) > MaxBatch {
		return nil, nil, ErrBatchSize
	}
	ins := make([]Input, len(bsns))
	for i, b := range bsns {
		ins[i] = YouthInput(b)
	}
	defer clearInputs(ins)
	return BlindInputs(ins...)
}

// Input is one value to blind: a youth's BSN, a parent's BSN or a home
// address, each in a domain of its own (YouthInput, ParentInput,
// AddressInput), so that the element of a parent never equals the element
// of the same BSN as a youth. It prints as a fixed redacted text for every
// verb.
type Input struct {
	b []byte
}

// YouthInput is a youth's input: InputPrefix + the nine digits of the BSN
// (what Blind blinds).
func YouthInput(b identity.BSN) Input { return inputOf(InputPrefix, b.RevealDigits()) }

// ParentInput is the input of a youth's parent or guardian:
// ParentInputPrefix + the nine digits of the parent's BSN.
func ParentInput(b identity.BSN) Input { return inputOf(ParentInputPrefix, b.RevealDigits()) }

// AddressInput is the input of a youth's home address: AddressInputPrefix
// + the address normalised as "1234AB:12:A" (postcode without space, upper
// case; house number without leading zeros; the addition upper case, empty
// if none: "1234AB:12:").
func AddressInput(a identity.Address) Input { return inputOf(AddressInputPrefix, a.RevealKey()) }

func inputOf(prefix, value string) Input {
	if value == "" {
		return Input{}
	}
	return Input{b: append([]byte(prefix), value...)}
}

// Clear overwrites i's bytes: a caller clears an input once it has its
// element (Blind does so for the inputs it makes).
func (i Input) Clear() { clear(i.b) }

// IsZero reports whether i holds no value (made from a zero BSN or address).
func (i Input) IsZero() bool { return len(i.b) == 0 }

// String returns a fixed text: an input is never printed.
func (Input) String() string { return "oprf.Input(redacted)" }

// GoString returns the same fixed text.
func (Input) GoString() string { return "oprf.Input(redacted)" }

// Format writes the same fixed text for every verb.
func (i Input) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(i.String())) }

// LogValue keeps an input out of structured logs.
func (i Input) LogValue() slog.Value { return slog.StringValue(i.String()) }

// BlindInputs is Blind for inputs of any domain: it hashes each to the
// group and multiplies it by a fresh random blind. It takes 1 to MaxBatch
// inputs, none of them zero.
func BlindInputs(ins ...Input) (*State, []Element, error) {
	if len(ins) == 0 || len(ins) > MaxBatch {
		return nil, nil, ErrBatchSize
	}
	points := make([]*r255.Element, len(ins))
	for i, in := range ins {
		if in.IsZero() {
			return nil, nil, fmt.Errorf("%w at index %d", ErrNoBSN, i)
		}
		points[i] = hashToGroup(modeVOPRF, in.b)
	}
	return blindPoints(points, randomBlinds(len(points)))
}

// BlindElements is the client's first step for the second key holder of a
// split key: it blinds elements that are already in the group (the results
// Y_A of Finish with key holder A) with fresh random blinds, so that
// key holder B sees values unlinkable to those A saw, and Finish with B
// gives k_B·Y_A = k_B·k_A·H(x). It takes 1 to MaxBatch elements, none zero.
func BlindElements(ys ...Element) (*State, []Element, error) {
	es, err := elements(ys)
	if err != nil {
		return nil, nil, err
	}
	points := make([]*r255.Element, len(es))
	for i, e := range es {
		points[i] = &e.p
	}
	return blindPoints(points, randomBlinds(len(points)))
}

// clearInputs overwrites the inputs' bytes after use.
func clearInputs(ins []Input) {
	for _, in := range ins {
		in.Clear()
	}
}

func randomBlinds(n int) []*r255.Scalar {
	blinds := make([]*r255.Scalar, n)
	for i := range blinds {
		blinds[i] = randomScalar(true)
	}
	return blinds
}

// blindPoints multiplies each point by its blind (RFC 9497's Blind after
// HashToGroup). A point is never the identity: HashToGroup gives it with
// negligible probability, and BlindElements refuses it. The blinds are
// secret: the multiplications are constant-time.
func blindPoints(points []*r255.Element, blinds []*r255.Scalar) (*State, []Element, error) {
	st := &State{blinds: blinds, blinded: make([]*point, len(points))}
	out := make([]Element, len(points))
	for i, p := range points {
		if isIdentity(p) {
			return nil, nil, fmt.Errorf("%w at index %d", ErrInvalidElement, i)
		}
		st.blinded[i] = newPoint(r255.NewElement().ScalarMult(blinds[i], p))
		out[i] = Element{st.blinded[i]}
	}
	return st, out, nil
}

// Finish is the client's last step: it verifies the key holder's proof
// (RFC 9497's VerifyProof over the blinded and the evaluated elements,
// against pub) and unblinds each evaluated element with the inverse of its
// blind, giving Y = k·P for each input point P, in the order of the
// request: Y = k·H(x) after Blind, Y = k_B·Y_A after BlindElements.
//
// Y is deliberately not hashed with the RFC's Finalize: as a group element
// it can be re-keyed by multiplication (docs/blind.md says why). The state
// is used up: a second Finish with it is ErrMismatch.
func Finish(st *State, evaluated []Element, proof Proof, pub PublicKey) ([]Element, error) {
	return finish(modeVOPRF, st, evaluated, proof, pub)
}

func finish(m mode, st *State, evaluated []Element, proof Proof, pub PublicKey) ([]Element, error) {
	if st == nil || st.blinds == nil {
		return nil, ErrMismatch
	}
	if pub.IsZero() {
		return nil, ErrInvalidKey
	}
	if proof.IsZero() {
		return nil, ErrInvalidProof
	}
	if len(evaluated) != len(st.blinded) {
		return nil, ErrMismatch
	}
	es, err := elements(evaluated)
	if err != nil {
		return nil, err
	}
	if !verifyProof(m, pub.e.e, st.blinded, es, proof.p) {
		return nil, ErrProof
	}
	ys := unblind(st, es)
	st.blinds, st.blinded = nil, nil
	return ys, nil
}

// unblind multiplies each evaluated element by the inverse of its blind
// (RFC 9497's Finalize up to, not including, its hash). The inverses are
// computed together (Montgomery's trick: one inversion and three
// multiplications per blind), all of it, like the multiplications by the
// inverses, in constant time. The blinds are never zero.
func unblind(st *State, evaluated []*point) []Element {
	n := len(evaluated)
	// prefix[i] = blinds[0]·…·blinds[i]
	prefix := make([]r255.Scalar, n)
	prefix[0] = *st.blinds[0]
	for i := 1; i < n; i++ {
		prefix[i].Multiply(&prefix[i-1], st.blinds[i])
	}
	// At the top of each round below, inv = (blinds[0]·…·blinds[i])⁻¹.
	inv := r255.NewScalar().Invert(&prefix[n-1])
	ys := make([]Element, n)
	bi := r255.NewScalar()
	for i := n - 1; i >= 0; i-- {
		if i > 0 {
			bi.Multiply(inv, &prefix[i-1]) // blinds[i]⁻¹
			inv.Multiply(inv, st.blinds[i])
		} else {
			*bi = *inv
		}
		ys[i] = Element{newPoint(r255.NewElement().ScalarMult(bi, &evaluated[i].p))}
	}
	clear(prefix)
	inv.Zero()
	bi.Zero()
	return ys
}

// String returns "oprf.State(redacted)".
func (st State) String() string { return "oprf.State(redacted)" }

// GoString is String.
func (st State) GoString() string { return st.String() }

// Format prints String for every verb and flag.
func (st State) Format(f fmt.State, _ rune) { f.Write([]byte(st.String())) }

// LogValue redacts the state in structured logs.
func (st State) LogValue() slog.Value { return slog.StringValue(st.String()) }
