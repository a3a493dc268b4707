// Package client is the Go SDK a vendor embeds in the client system of an
// institution that reports to vindex: the HTTP client of the whole API
// (Client) and, for a blind deployment, the blinding of BSNs through the
// key holders (Blinder).
//
// # The Client
//
// A Client acts for one institution, authenticated by a bearer token
// (Token) or by the TLS client certificate its *http.Client presents. Its
// methods are the API's verbs (httpapi/openapi.yaml): Register, Lookup,
// End, Remove, RecordInformed, Letter, CloseCase, RecordDeath, Object,
// SubjectAccess, Events, Stats, Ready and AuditCheckpoint. They take the
// youth by its clear BSN and birth date (identity.BSN, identity.BirthDate,
// which never print them) and send what the deployment takes:
//
//   - without a Blinder (an hmac deployment): bsn and birth_date; the
//     index pseudonymises the BSN;
//   - with a Blinder (a blind deployment): youth, the BSN's element
//     evaluated by the key holders, youth_key, the ID of their keys
//     (Blinder.LayerID), and born_in, the birth month: never the BSN or
//     the birth date, which do not leave the client system.
//
// The BSNs of concurrent calls are blinded together: a call that finds a
// key-holder request on its way waits for it and goes in the next one,
// with every BSN queued meanwhile (a key-holder request costs about as
// much as two evaluations); a lone call is sent at once.
//
// Before any request, Register refuses a report whose free text (the
// client reference, the contact's name, phone or e-mail, the idempotency
// key) quotes the youth's BSN or birth date (identity.Quotes, the rule the
// index applies in an hmac deployment), with a *FieldError naming the
// field and matching ErrIdentifiesYouth. A blind index cannot check this:
// it never has the BSN or the birth date, so the client system must.
//
// An answer other than 2xx is an *APIError with the problem's status,
// stable code, detail and field; errors.Is matches it against ErrAPI and
// the sentinels of the common codes (ErrNotInvolved, ErrNotFound,
// ErrForbidden, ErrUnauthenticated, ErrRateLimited, ErrUnavailable,
// ErrBirthDateMismatch, ErrIdempotencyReused, ErrIdentifiesYouth,
// ErrWrongMode, ErrYouthKey).
//
// The request and answer types are the package's own, mirroring the
// API's JSON field for field (a test holds them to package httpapi's and
// to the API description): the package does not import httpapi, so a
// vendor's binary links nothing of the index.
//
// # The Blinder
//
// A Blinder turns BSNs into the elements a blind-mode index takes in
// their place, by asking one key holder, or two in turn for a split key,
// to evaluate them under its key (RFC 9497 VOPRF over
// ristretto255-SHA512; the protocol is in docs/blind.md and package
// crypto/oprf). The key holder sees only blinded elements, each
// multiplied by a random blind the client keeps, and proves with every
// answer that it used the key whose public half the client was configured
// with; the client checks that proof before it unblinds. Neither the key
// holder nor anyone on the wire learns a BSN; the index, which gets the
// unblinded element, cannot compute one from a BSN without the key
// holders.
//
// # What it never does
//
// It never sends a BSN or a birth date to a blind index or to a key
// holder, and never puts a BSN, a birth date, a blind or an element in an
// error, a log line or a String method: errors name the field, the key
// holder (its URL) or the index's problem code, nothing of the input. The
// index never quotes them in a problem; should an answer do so anyway (a
// proxy that echoes the request), the APIError drops its detail and
// field. The package logs nothing.
package client
