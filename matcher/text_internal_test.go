package matcher

import "testing"

// The forms of a report's free text, with the probes that got through
// before: case details in a name, a BSN as a phone number, bidi overrides,
// zero-width and C1 characters, U+2028 (which forged lines in text mail).
func TestTextForms(t *testing.T) {
	for _, c := range []struct {
		name  string
		valid func(string) bool
		in    string
		want  bool
	}{
		{"name", validName, "A. Jansen", true},
		{"name", validName, "J. van den Berg-de Vries", true},
		{"name", validName, "'t Hart", true},
		{"name", validName, "Zoë d'Ancona", true},
		{"name", validName, "Çelik Şahin", true},
		{"name", validName, "Zoe\u0308 Bakker", true}, // a combining diaeresis
		{"name", validName, "J. Jansen - vader drinkt", false},
		{"name", validName, "M. Bakker (mentor)", false},
		{"name", validName, "Jansen, vermoeden mishandeling", false},
		{"name", validName, "een twee drie vier vijf zes zeven acht negen", false},
		{"name", validName, "A.  Jansen", false},
		{"name", validName, " A. Jansen", false},
		{"name", validName, "A. Jansen2", false},
		{"name", validName, "A\u202eJansen", false}, // right-to-left override
		{"name", validName, "A\u200bJansen", false}, // zero-width space
		{"name", validName, "A\u0085Jansen", false}, // C1 next line
		{"name", validName, "A. Jansen\u2028Onderwerp: x", false},
		{"name", validName, "-Jansen", false},
		{"name", validName, ".", false},
		{"phone", validPhone, "050-1234567", true},
		{"phone", validPhone, "06 12345678", true},
		{"phone", validPhone, "(050) 123 45 67", true},
		{"phone", validPhone, "+31 50 367 4000", true},
		{"phone", validPhone, "+49 30 1234567", true},
		{"phone", validPhone, "0800-1234", true},
		{"phone", validPhone, "14 050", true},
		{"phone", validPhone, "164214768", false}, // a BSN
		{"phone", validPhone, "1", false},
		{"phone", validPhone, "050-123456", false},
		{"phone", validPhone, "+0 50 1234567", false},
		{"phone", validPhone, "050-1234567 (na 17u)", false},
		{"phone", validPhone, "-050 1234567", false},
		{"phone", validPhone, "050\u20281234567", false},
		{"email", validEmail, "a.jansen@ggd-groningen.example", true},
		{"email", validEmail, "zorg+jeugd@wij.example.nl", true},
		{"email", validEmail, "A. Jansen <a@example.nl>", false},
		{"email", validEmail, "groep: a@example.nl;", false},
		{"email", validEmail, "a@example.nl, b@example.nl", false},
		{"email", validEmail, "a@localhost", false},
		{"email", validEmail, `"vader drinkt"@example.nl`, false},
		{"email", validEmail, "a@example.nl (moeder)", false},
		{"email", validEmail, "zoë@example.nl", false},
		{"email", validEmail, "a@\u202eexample.nl", false},
	} {
		if got := c.valid(c.in); got != c.want {
			t.Errorf("%s %q: %v, want %v", c.name, c.in, got, c.want)
		}
	}
}
