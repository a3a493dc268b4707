package testbsn

import (
	"testing"

	"github.com/vindex-nl/vindex/identity"
)

func TestForIsValidAndDistinct(t *testing.T) {
	for _, base := range []int{10000000, 20000000} {
		seen := map[string]int{}
		for n := range 200000 {
			s := For(base, n)
			if _, err := identity.ParseBSN(s); err != nil {
				t.Fatalf("For(%d, %d) = %s: %v", base, n, s, err)
			}
			if m, dup := seen[s]; dup {
				t.Fatalf("For(%d, %d) = For(%d, %d) = %s", base, n, base, m, s)
			}
			seen[s] = n
		}
	}
}
