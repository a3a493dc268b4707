//go:build !invariants

package matcher

import "github.com/vindex-nl/vindex/store"

// checkYouth checks a youth's records before they commit; without the
// invariants build tag it does nothing (see invariants_on.go).
func checkYouth(store.Reader) {}
