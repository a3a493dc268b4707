package matcher

// ClientRefOf is clientRef, for the tests of package matcher_test.
var ClientRefOf = (*Matcher).clientRef

// IdempotencyKeys is idempotencyKeys, for the tests of package matcher_test.
var IdempotencyKeys = (*Matcher).idempotencyKeys
