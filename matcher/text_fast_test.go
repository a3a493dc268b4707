package matcher

import (
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vindex-nl/vindex/identity"
)

// The forms of free text give the answers of their previous
// implementations (text_ref_test.go) on any text: printable with a few
// limits, and each of validName, validPhone and validEmail.
func FuzzContactForms(f *testing.F) {
	for _, s := range []string{
		"", "M. Bakker", "J. van den Berg-de Vries", "'t Hart", "Zoë d'Ancona", "Zoe\u0308 Bakker",
		"d’Ancona", "A\u200bJansen", "A\u202eJansen", "A. Jansen\u2028x", "\u0308a",
		"050-1111111", "(050) 123 45 67", "+31 50 367 4000", "0800-1234", "14 050", "+0 50 1234567",
		"m.bakker@lyceum.example", `"a b"@example.nl`, "A <a@example.nl>", "a@[192.0.2.1]",
		"a@example.nl (moeder)", ".a@example.nl", "a..b@example.nl", "a@example.nl.", "a@b@c.nl",
		"zoë@example.nl", "a@xn--zo-cka.example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, max := range []int{0, 1, 32, maxEmail, maxName * 4, len(s) - 1, len(s)} {
			if got, want := printable(s, max), refPrintable(s, max); got != want {
				t.Errorf("printable(%q, %d) = %v, reference %v", s, max, got, want)
			}
		}
		if got, want := validName(s), refValidName(s); got != want {
			t.Errorf("validName(%q) = %v, reference %v", s, got, want)
		}
		if got, want := validPhone(s), refValidPhone(s); got != want {
			t.Errorf("validPhone(%q) = %v, reference %v", s, got, want)
		}
		if got, want := validEmail(s), refValidEmail(s); got != want {
			t.Errorf("validEmail(%q) = %v, reference %v", s, got, want)
		}
		// validEmail's fast path takes only what net/mail reads as an
		// addr-spec with Address == s and no name.
		if domainDot, ok := dotAtomAddress(s); ok {
			a, err := mail.ParseAddress(s)
			if err != nil || a.Name != "" || a.Address != s {
				t.Errorf("dotAtomAddress(%q) ok, but mail.ParseAddress gives %+v, %v", s, a, err)
			}
			at := strings.LastIndexByte(s, '@')
			if domainDot != strings.Contains(s[at+1:], ".") || !refPrintable(s, maxEmail) {
				t.Errorf("dotAtomAddress(%q) = %v, ok", s, domainDot)
			}
		}
	})
}

// printable gives the reference's answer for every code point alone, and
// for every one between two letters and after a letter (as a name's
// combining mark would be), and for every invalid or surrogate encoding of
// one.
func TestPrintableEveryRune(t *testing.T) {
	for r := rune(0); r <= utf8.MaxRune+1; r++ {
		s := string(r)
		if r >= 0xd800 && r <= 0xdfff {
			// Not encodable by string(r): its three bytes as WTF-8.
			s = string([]byte{0xe0 | byte(r>>12), 0x80 | byte(r>>6)&0x3f, 0x80 | byte(r)&0x3f})
		}
		for _, in := range []string{s, "a" + s + "b", "a" + s} {
			if got, want := printable(in, 16), refPrintable(in, 16); got != want {
				t.Fatalf("printable(%q) = %v, reference %v", in, got, want)
			}
			if got, want := validName(in), refValidName(in); got != want {
				t.Fatalf("validName(%q) = %v, reference %v", in, got, want)
			}
		}
	}
	for b := 0; b < 256; b++ {
		for _, in := range []string{string([]byte{byte(b)}), "a" + string([]byte{byte(b)}) + "b", string([]byte{0xc3, byte(b)})} {
			if got, want := printable(in, 16), refPrintable(in, 16); got != want {
				t.Fatalf("printable(%q) = %v, reference %v", in, got, want)
			}
		}
	}
}

// refCheckContact is checkContact with the previous forms.
func refCheckContact(c Contact, r *Registration) error {
	return checkContactForms(c, r, refValidName, refValidPhone, refValidEmail)
}

// BenchmarkCheckContact checks the contacts of typical reports (those of
// an import's file), with the youth's BSN and birth date known, with the
// current forms (new) and the previous ones (ref).
func BenchmarkCheckContact(b *testing.B) {
	bsn, err := identity.ParseBSN("111222333")
	if err != nil {
		b.Fatal(err)
	}
	bd, err := identity.ParseBirthDate("2014-05-07")
	if err != nil {
		b.Fatal(err)
	}
	r := &Registration{Youth: Youth{bsn: bsn}, BirthDate: bd}
	contacts := []Contact{
		{Name: "M. Bakker", Phone: "050-1111111", Email: "m.bakker@lyceum.example"},
		{Name: "J. van den Berg-de Vries", Phone: "06 12345678", Email: "j.vandenberg@wijkteam-noord.example.nl"},
		{Name: "Zoë d'Ancona", Email: "zorg+jeugd@ggd.example"},
		{Name: "A. Jansen", Phone: "+31 50 367 4000"},
	}
	for _, bc := range []struct {
		name  string
		check func(Contact, *Registration) error
	}{{"new", checkContact}, {"ref", refCheckContact}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, c := range contacts {
					if err := bc.check(c, r); err != nil {
						b.Fatalf("%+v: %v", c, err)
					}
				}
			}
		})
	}
}

// validEmail gives the reference's answer on every string of up to six
// characters made of those that matter to an address's form.
func TestEmailShortStrings(t *testing.T) {
	const alphabet = "a.@[]\"( 1:-"
	n := 0
	var walk func(b []byte)
	walk = func(b []byte) {
		s := string(b)
		n++
		if got, want := validEmail(s), refValidEmail(s); got != want {
			t.Fatalf("validEmail(%q) = %v, reference %v", s, got, want)
		}
		if len(b) == 6 {
			return
		}
		for i := 0; i < len(alphabet); i++ {
			walk(append(b, alphabet[i]))
		}
	}
	walk(nil)
	if n < 1e6 {
		t.Fatalf("checked only %d strings", n)
	}
}
