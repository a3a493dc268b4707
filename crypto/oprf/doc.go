// Package oprf holds the primitives of vindex's blind mode: a youth's BSN is
// turned into a group element Y = k·H(x) by one or two key holders that never
// see the BSN, so that the index receives Y and never a BSN.
//
// It is RFC 9497's verifiable OPRF (VOPRF, mode 0x01) over ristretto255 with
// SHA-512 ([SuiteID]), with one deliberate difference: the client stops at the
// unblinded element Y and does not apply the RFC's Finalize hash, so that a
// key holder's layer can be replaced later by multiplying stored elements with
// a ratio of keys, without any BSN. docs/blind.md states the protocol byte for
// byte; testdata/README.md shows how to recompute the known-answer vectors.
//
// # The three roles
//
// The key holder keeps a [PrivateKey] and answers [Evaluate]: it multiplies
// each blinded element by its key and proves, with one batched DLEQ proof,
// that it used the key of its published [PublicKey].
//
// The client turns BSNs into blinded elements with [Blind], sends them
// (as an [EvaluateRequest]) to the key holder, and gives the answer to
// [Finish], which verifies the proof and unblinds to Y. With a split key the
// client does this twice: with key holder A on the BSNs, then with key holder
// B on A's results through [BlindElements], so that Y = k_B·k_A·H(x) and each
// key holder's proof is checked.
//
// The index receives Y (an [Element]) and keys it with its own layer; that is
// not this package's concern.
//
// # What it guarantees
//
//   - The input of a youth is exactly "vindex:v1:youth-bsn:" followed by the
//     nine digits of a BSN that passed identity's eleven-check; nothing else
//     can be blinded by [Blind].
//   - Elements, proofs and keys decode strictly: wrong length, bad base64,
//     non-canonical encodings and the identity element are refused with this
//     package's sentinel errors, never accepted and re-encoded.
//   - [Finish] returns nothing unless the key holder's proof verifies
//     against the public key the caller trusts.
//   - A batch holds 1 to [MaxBatch] elements on both sides.
//   - The blinds are fresh random scalars for every call; the blinded elements
//     are uniformly distributed and independent of the BSN.
//   - Every multiplication by a secret scalar (a private key, a ratio, a
//     blind or its inverse, the proof's nonce) and every inversion of one
//     takes a time independent of its value. Variable-time arithmetic is used
//     only on public values: the proof's composites and its verification.
//
// # Never printed
//
// No BSN appears in an error, a String, or any fmt or slog output of this
// package's types. A [PrivateKey] and the client's [State] print as a fixed
// redacted text for every verb. An [Element] does the same: the final Y is
// the youth's pseudonym at the key holder's layer and, like the index's
// pseudonyms, is not for logs; only MarshalBinary and MarshalText (the wire
// encodings) give its bytes. A [PublicKey] and a [Proof] are public and print
// as base64. Errors name what is wrong (for instance which element of a batch)
// and never quote the input.
package oprf
