// Package fuzz is the auditors' index of vindex's fuzz targets. The targets
// live next to the code they exercise (they need its internals); this
// package's test checks that scripts/fuzz, which runs them all, lists every
// one, and that each has seed inputs: f.Add values in its code and a corpus
// under its package's testdata/fuzz/NAME (inputs the fuzzer found
// interesting, kept so that every `go test` runs them).
//
// Run every target for a minute each:
//
//	scripts/fuzz 1m
//
// or one of them:
//
//	go test -run '^$' -fuzz '^FuzzKeys$' -fuzztime 5m ./store/pebblestore/
//
// The targets: identity.FuzzParseBSN (accepts exactly the numbers a plain
// eleven-check accepts), identity.FuzzParseAddressLine (an address line
// parses to one normalised value, or fails without quoting it),
// identity.FuzzQuotes (Quotes gives the answer of its previous,
// allocating implementation, kept in the test as the reference, on any
// text, with the youth's BSN or birth date spliced in or not),
// rules.FuzzLoad (never panics; errors carry the
// file name), rules.FuzzDecide (deterministic, order-independent, eligible
// coordinators only, unchanged by a signal), pebblestore.FuzzDecode*
// (decode never panics; what decodes re-encodes to the same bytes),
// pebblestore.FuzzKeys (key encodings round-trip and keep their order),
// httpapi.FuzzRegister (any body gets a 2xx or a problem document, never a
// server error, and no digits of the body in the problem),
// httpapi.FuzzCheckStrict (the strict-JSON check of request bodies refuses
// exactly what its previous json.Decoder.Token implementation, kept in the
// test as the reference, refused, for the same field),
// matcher.FuzzContactForms (the forms of a report's free text — printable,
// a contact's name, phone and e-mail — accept exactly what their previous
// implementations, kept in the test as the reference, accepted),
// audit.FuzzEntry
// (audit entries decode strictly: what decodes re-encodes to the same bytes),
// oprf.FuzzDecode (blind-mode elements, proofs and POST /v1/evaluate bodies
// decode strictly and canonically, or fail with the package's errors).
package fuzz
