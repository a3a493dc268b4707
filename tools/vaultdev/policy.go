package main

import _ "embed"

// defaultPolicy is a copy of docs/vault/vindex-policy.hcl (a test in the
// main module checks they are the same).
//
//go:embed vindex-policy.hcl
var defaultPolicy string
