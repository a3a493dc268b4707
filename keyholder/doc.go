// Package keyholder is the HTTP service of a blind-mode key holder: it
// evaluates batches of blinded elements under its private key (RFC 9497's
// VOPRF, package crypto/oprf) for clients that hold one of its bearer
// tokens, and publishes its public key so that clients can check every
// answer's proof. `vindex keyholder serve` runs it; another organisation
// than the index's operator may.
//
// # Endpoints
//
//   - POST /v1/evaluate: the body of docs/blind.md ({"blinded": [...]},
//     1 to oprf.MaxBatch elements, at most oprf.MaxBodySize bytes), read
//     strictly by oprf.DecodeEvaluateRequest; the answer is an
//     oprf.EvaluateResponse with one batched DLEQ proof. A bearer token is
//     required: an evaluator open to anyone would let anyone compute the
//     table of all BSNs.
//   - GET /v1/public-key: {"public_key": "<base64>", "key_id": "<hex>"},
//     without authentication (it is public).
//   - GET /healthz: 200 "ok", without authentication.
//
// Every refusal is an RFC 9457 problem (application/problem+json) with a
// stable code (the Code constants); clients branch on the code.
//
// # What it guarantees
//
//   - It keeps nothing about its inputs: a request's elements live on the
//     stack of its handler and are dropped with the answer. It writes no
//     file; its only state is the key, the token hashes and, per client, a
//     token bucket.
//   - It evaluates only for an authenticated client, and each client at
//     most Config.ElementsPerSecond elements a second (Config.Burst at
//     once): the rate at which anyone with a token could compute BSNs'
//     elements is bounded per token holder.
//   - It never learns a BSN: a blinded element is a uniformly random group
//     element, whatever the BSN.
//
// # Never logged
//
// The log has one line per request ("request": method, path, status,
// problem code, client name, batch size, duration) and nothing else about
// a request: never an element, a body, a proof or a token. The metrics
// (Metrics) are counts with bounded labels. The private key prints as
// redacted text (oprf.PrivateKey).
//
// # Tokens
//
// The token file holds one "client-name sha256:HEX" line per token, HEX
// the lower-case hex SHA-256 of the token, the format of vindex serve's
// token file (without its covenant: a client name is any word the
// operator chooses). Blank lines and lines starting with # are skipped. A
// client may have several tokens, to rotate them. NewToken makes a token
// and its line.
package keyholder
