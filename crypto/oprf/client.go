package oprf

import (
	"crypto/rand"
	"fmt"
	"log/slog"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/zk/dleq"

	"github.com/vindex-nl/vindex/identity"
)

// State is what the client keeps between Blind (or BlindElements) and
// Finish: the secret blinds and the blinded elements they made. It is for
// one Finish only, by one goroutine, and prints as a fixed redacted text
// for every verb.
type State struct {
	blinds  []group.Scalar
	blinded []group.Element
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
	points := make([]group.Element, len(bsns))
	for i, b := range bsns {
		if b.IsZero() {
			return nil, nil, fmt.Errorf("%w at index %d", ErrNoBSN, i)
		}
		in := youthInput(b)
		points[i] = hashToGroup(modeVOPRF, in)
		clear(in)
	}
	return blindPoints(points, randomBlinds(len(points)))
}

// BlindElements is the client's first step for the second key holder of a
// split key: it blinds elements that are already in the group (the results
// Y_A of Finish with key holder A) with fresh random blinds, so that
// key holder B sees values unlinkable to those A saw, and Finish with B
// gives k_B·Y_A = k_B·k_A·H(x). It takes 1 to MaxBatch elements, none zero.
func BlindElements(ys ...Element) (*State, []Element, error) {
	points, err := elements(ys)
	if err != nil {
		return nil, nil, err
	}
	return blindPoints(points, randomBlinds(len(points)))
}

// youthInput is the canonical input of a youth. Its caller clears it after
// use.
func youthInput(b identity.BSN) []byte {
	return append([]byte(InputPrefix), b.RevealDigits()...)
}

func randomBlinds(n int) []group.Scalar {
	blinds := make([]group.Scalar, n)
	for i := range blinds {
		blinds[i] = g.RandomNonZeroScalar(rand.Reader)
	}
	return blinds
}

// blindPoints multiplies each point by its blind (RFC 9497's Blind after
// HashToGroup). A point is never the identity: HashToGroup gives it with
// negligible probability, and BlindElements refuses it.
func blindPoints(points []group.Element, blinds []group.Scalar) (*State, []Element, error) {
	st := &State{blinds: blinds, blinded: make([]group.Element, len(points))}
	out := make([]Element, len(points))
	for i, p := range points {
		if p.IsIdentity() {
			return nil, nil, fmt.Errorf("%w at index %d", ErrInvalidElement, i)
		}
		st.blinded[i] = g.NewElement().Mul(p, blinds[i])
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
	if !(dleq.Verifier{Params: proofParams(m)}).VerifyBatchRFC9497(pub.e.e, st.blinded, es, proof.p) {
		return nil, ErrProof
	}
	ys := unblind(st, es)
	st.blinds, st.blinded = nil, nil
	return ys, nil
}

// unblind multiplies each evaluated element by the inverse of its blind
// (RFC 9497's Finalize up to, not including, its hash).
func unblind(st *State, evaluated []group.Element) []Element {
	ys := make([]Element, len(evaluated))
	inv := g.NewScalar()
	for i, e := range evaluated {
		inv.Inv(st.blinds[i])
		ys[i] = Element{g.NewElement().Mul(e, inv)}
	}
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
