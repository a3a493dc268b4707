package oprf

import "errors"

// The suite and its sizes (RFC 9497 §4.1).
const (
	// SuiteID is the RFC 9497 identifier of the suite: ristretto255 with
	// SHA-512.
	SuiteID = "ristretto255-SHA512"
	// ElementSize is the size of a serialised element (Ne): 32 bytes.
	ElementSize = 32
	// ScalarSize is the size of a serialised scalar (Ns): 32 bytes,
	// little-endian, reduced modulo the group order.
	ScalarSize = 32
	// ProofSize is the size of a serialised proof: the scalars c and s.
	ProofSize = 2 * ScalarSize
	// InputPrefix is what comes before the nine digits of a BSN in the
	// input of a youth (ASCII, no terminator).
	InputPrefix = "vindex:v1:youth-bsn:"
	// ParentInputPrefix is what comes before the nine digits of a
	// parent's BSN in the input of a youth's parent or guardian.
	ParentInputPrefix = "vindex:v1:parent-bsn:"
	// AddressInputPrefix is what comes before the normalised address
	// ("1234AB:12:A") in the input of a youth's home address.
	AddressInputPrefix = "vindex:v1:home-address:"
)

// MaxBatch is the largest number of elements in one evaluation, on the key
// holder's side and the client's. One element costs the key holder a
// scalar multiplication (its evaluation), an encoding, a hash and its share
// of a variable-time multi-scalar multiplication (the batched proof), about
// 0.07 ms of one core here (BenchmarkEvaluate), and a client about 0.15 ms
// (BenchmarkClient). 1024 keeps one request to about 75 ms of a key
// holder's core and its body under [MaxBodySize], so that no single caller
// holds a key holder for long, while a bulk import still needs few
// requests. RFC 9497 itself allows at
// most 2^16 − 1 (the index in ComputeComposites is two bytes).
const MaxBatch = 1024

// Errors. Each names what is wrong without quoting the input.
var (
	// ErrInvalidElement: not the canonical 32-byte encoding of a ristretto255
	// element other than the identity (or not standard padded base64 of one).
	ErrInvalidElement = errors.New("oprf: invalid element")
	// ErrInvalidProof: not 64 bytes of two canonical scalars (or not standard
	// padded base64 of them).
	ErrInvalidProof = errors.New("oprf: invalid proof")
	// ErrInvalidKey: a private key that is not a canonical non-zero scalar,
	// or a public key that is not a valid element.
	ErrInvalidKey = errors.New("oprf: invalid key")
	// ErrBatchSize: a batch of no elements or of more than MaxBatch.
	ErrBatchSize = errors.New("oprf: batch size out of range")
	// ErrNoBSN: the zero identity.BSN was given to Blind.
	ErrNoBSN = errors.New("oprf: no BSN")
	// ErrMismatch: an answer with another number of elements than were
	// asked for, or a State that was already finished.
	ErrMismatch = errors.New("oprf: answer does not match the request")
	// ErrProof: the proof does not show that the evaluation used the key
	// holder's public key.
	ErrProof = errors.New("oprf: proof does not verify")
	// ErrBody: a JSON body that is malformed, has unknown or missing fields,
	// or is larger than MaxBodySize.
	ErrBody = errors.New("oprf: malformed body")
)

// mode is the RFC 9497 mode byte. vindex uses only the verifiable mode; the
// base mode is here for the RFC's test vectors.
type mode byte

const (
	modeOPRF  mode = 0x00
	modeVOPRF mode = 0x01
)

// contextString is "OPRFV1-" || I2OSP(mode, 1) || "-" || identifier
// (RFC 9497 §3.1).
func contextString(m mode) []byte {
	b := append([]byte("OPRFV1-"), byte(m), '-')
	return append(b, SuiteID...)
}
