package identity_test

import (
	"testing"

	"github.com/vindex-nl/vindex/identity"
)

// quotesBenchFields are the free-text fields of a typical report: a
// contact's name, phone and e-mail, a client reference and a note with a
// date in words. None quotes the youth, so Quotes reads each to the end.
var quotesBenchFields = []string{
	"J. de Vries",
	"06-12345678",
	"j.devries@example.nl",
	"DOSSIER-2026-000123",
	"gesprek 17 mei 2014",
}

// BenchmarkQuotes checks the fields of one report (five calls per
// iteration) with a BSN and a birth date known.
func BenchmarkQuotes(b *testing.B) {
	bsn, err := identity.ParseBSN("111222333")
	if err != nil {
		b.Fatal(err)
	}
	bd, err := identity.ParseBirthDate("2014-05-07")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range quotesBenchFields {
			if identity.Quotes(s, bsn, bd) {
				b.Fatalf("Quotes(%q) = true", s)
			}
		}
	}
}
