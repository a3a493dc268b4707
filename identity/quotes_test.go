package identity_test

import (
	"testing"

	"github.com/vindex-nl/vindex/identity"
)

// Quotes finds the youth's BSN and birth date in the usual notations, and
// not in text that merely has numbers.
func TestQuotes(t *testing.T) {
	bsn, err := identity.ParseBSN("111222333")
	if err != nil {
		t.Fatal(err)
	}
	bd, err := identity.ParseBirthDate("2014-05-07")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"111222333", true},
		{"111-222-333", true},
		{"dossier 111.22.2333", true},
		{"20140507", true},
		{"2014-05-07", true},
		{"07-05-2014", true},
		{"07.05.14", true},
		{"7-5-2014", true},
		{"7/5/14", true},
		{"7 mei 2014", true},
		{"7mei2014", true},
		{"May 7, 2014", true},
		{"5/7/2014", true},
		{"geb. 7 MEI '14", true},
		{"2014-5-7", true},
		{"050-1234567", false},
		{"WIJ-2026-0042", false},
		{"7 mei 2015", false},
		{"8-5-2014", false},
		{"111222334", false},
		{"A. Jansen", false},
	} {
		if got := identity.Quotes(c.in, bsn, bd); got != c.want {
			t.Errorf("Quotes(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	if identity.Quotes("111222333", identity.BSN{}, identity.BirthDate{}) {
		t.Error("no BSN and no birth date known, yet quoted")
	}
	if !identity.Quotes("111222333", bsn, identity.BirthDate{}) || identity.Quotes("2014-05-07", bsn, identity.BirthDate{}) {
		t.Error("with the BSN alone: the BSN must be found, a date not")
	}
	if identity.Quotes("111222333", identity.BSN{}, bd) || !identity.Quotes("2014-05-07", identity.BSN{}, bd) {
		t.Error("with the birth date alone: the date must be found, the BSN not")
	}
}
