// Package client is the Go SDK a vendor embeds in the client system of an
// institution that reports to vindex.
//
// Today it holds the blind mode's client side: a Blinder turns BSNs into
// the elements a blind-mode index takes in their place, by asking one key
// holder, or two in turn for a split key, to evaluate them under its key
// (RFC 9497 VOPRF over ristretto255-SHA512; the protocol is in
// docs/blind.md and package crypto/oprf). The key holder sees only blinded
// elements, each multiplied by a random blind the client keeps, and proves
// with every answer that it used the key whose public half the client was
// configured with; the client checks that proof before it unblinds. Neither
// the key holder nor anyone on the wire learns a BSN; the index, which gets
// the unblinded element, cannot compute one from a BSN without the key
// holders.
//
// # What it never does
//
// It never sends a BSN anywhere, and never puts one, a blind or an element
// in an error, a log line or a String method: errors name the key holder
// (its URL) and a stable problem code, nothing of the input.
package client
