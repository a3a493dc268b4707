package canary

import (
	"slices"
	"testing"
)

// Significant keeps every long form, and 4-byte forms only when they
// name enough needles.
func TestSignificant(t *testing.T) {
	n := Needles{}
	n.BSN("bsn 1", "111222333")
	n.BSN("bsn 2", "123456782")
	n.BSN("bsn 3", "100700001")
	var all []byte
	for _, name := range []string{"bsn 1", "bsn 2", "bsn 3"} {
		all = append(all, n[name][1]...) // the 4-byte big-endian form
		all = append(all, 'x')
	}
	found := n.Scan("f", all)
	if len(found) != 3 {
		t.Fatalf("scan: %q", found)
	}
	if got := Significant(found, 3); len(got) != 3 {
		t.Fatalf("three names in 4-byte form, at least 3 wanted: %q", got)
	}
	if got := Significant(found[:2], 3); len(got) != 0 {
		t.Fatalf("two names in 4-byte form are chance: %q", got)
	}
	digits := n.Scan("f", []byte("... 111222333 ..."))
	if got := Significant(append(digits, found[:1]...), 3); !slices.Equal(got, digits) {
		t.Fatalf("the digits are always significant, one 4-byte form is not: %q", got)
	}
}
