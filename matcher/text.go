package matcher

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The free text of a report — the contact's name, phone and e-mail, the
// client reference and the idempotency key — is quoted in mails and kept in
// the store, so it gets strict forms: a form that fits a name, a phone
// number or an address and little else, no control, format or line
// separator characters anywhere (they forge lines in a text mail or turn
// text around on screen), and never the youth's BSN or birth date in any
// usual notation (identity.Quotes).

const (
	maxName  = 100
	maxWords = 8
	maxEmail = 254
)

// printable reports whether s is valid UTF-8 of at most max bytes without
// control characters (C0, C1, DEL), format characters (bidi overrides and
// isolates, zero-width characters, soft hyphen), line and paragraph
// separators, non-characters or the replacement character.
func printable(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return false // C0 or DEL
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if !printableRune(r) {
			return false
		}
		i += w
	}
	return true
}

// printableRune is printable's test of one rune outside ASCII (U+FFFD,
// refused, stands for invalid UTF-8 too). Of the rest of Latin-1 it
// refuses the C1 controls and the soft hyphen, the one format character
// there.
func printableRune(r rune) bool {
	if r < 0x100 {
		return r >= 0xa0 && r != 0xad
	}
	return !unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co, unicode.Cs) &&
		r != utf8.RuneError && r&0xfffe != 0xfffe && (r < 0xfdd0 || r > 0xfdef)
}

// validName reports whether s has a person's name's form: words of
// letters (with their combining marks), separated by single spaces, at most
// maxWords of them; a hyphen only between letters ("Berg-de Vries"), a full
// stop only after a letter ("J."), an apostrophe only next to a letter
// ("d'Ancona", "'t Hart"). So "J. Jansen - vader drinkt" is refused (a
// free-standing hyphen), and a sentence is refused by its length.
func validName(s string) bool {
	if s == "" || !printable(s, maxName*4) {
		return false
	}
	// One pass over the runes; a word starts after a space, and the
	// letter before a rune is only one of its own word.
	runes, words, letters := 0, 1, 0
	prevLetter := false
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:]) // inlined, ASCII without a call
		i += w
		if runes++; runes > maxName {
			return false
		}
		letter := isNameLetter(r)
		switch {
		case r == ' ':
			if letters == 0 {
				return false // a double or leading space, or a word without letters
			}
			if words++; words > maxWords {
				return false
			}
			letters = 0
		case letter:
			if !prevLetter && r >= utf8.RuneSelf && unicode.Is(unicode.Mn, r) {
				return false
			}
			letters++
		case r == '-':
			if !prevLetter || !nameLetterAt(s, i) {
				return false
			}
		case r == '.':
			if !prevLetter {
				return false
			}
		case r == '\'' || r == '’':
			if !prevLetter && !nameLetterAt(s, i) {
				return false
			}
		default:
			return false
		}
		prevLetter = letter
	}
	return letters > 0 // not a trailing space, and letters in the last word
}

// nameLetterAt reports whether the rune at s[i:], if any, is a name's
// letter.
func nameLetterAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isNameLetter(r)
}

// isNameLetter reports whether r is a letter or a combining mark.
func isNameLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.Is(unicode.Mn, r)
}

// validPhone reports whether s is a phone number: digits with spaces,
// hyphens, full stops or brackets between them, either Dutch (ten digits
// starting with 0; 0800 and 090x numbers of eight or eleven digits; a
// municipality's 14 number, 14 and three or four digits) or international
// (+, a country code not starting with 0, eight to fifteen digits in all).
func validPhone(s string) bool {
	// Only ASCII digits and separators (and a leading +) get through
	// phoneDigits, all printable: of printable(s, 32) only the length is
	// left to check.
	if len(s) > 32 {
		return false
	}
	body, international := strings.CutPrefix(s, "+")
	n, first, ok := phoneDigits(body)
	if !ok {
		return false
	}
	prefix := string(first[:min(n, len(first))])
	switch {
	case international:
		return n >= 8 && n <= 15 && prefix[0] != '0'
	case n == 10 && prefix[0] == '0':
		return true
	case (n == 8 || n == 11) && (strings.HasPrefix(prefix, "0800") || strings.HasPrefix(prefix, "090")):
		return true
	case (n == 5 || n == 6) && strings.HasPrefix(prefix, "14"):
		return true
	}
	return false
}

// phoneDigits counts the digits of a phone number written with spaces,
// hyphens, full stops or brackets between them (an opening bracket may
// come first), and returns the first four of them (as many as there are);
// false if it has anything else, or a separator at an end.
func phoneDigits(body string) (n int, first [4]byte, ok bool) {
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c >= '0' && c <= '9':
			if n < len(first) {
				first[n] = c
			}
			n++
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
			if (i == 0 && c != '(') || i == len(body)-1 {
				return 0, first, false
			}
		default:
			return 0, first, false
		}
	}
	return n, first, true
}

// validEmail reports whether s is one plain address (addr-spec), in ASCII:
// no display name, no group, no comment, no quoted local part, and a domain
// with a dot in it.
func validEmail(s string) bool {
	if domainDot, ok := dotAtomAddress(s); ok {
		return domainDot
	}
	if s == "" || len(s) > maxEmail || !printable(s, maxEmail) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == '<' || c == '>' || c == ',' || c == ';' || c == ':' || c == '\\' {
			return false
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// dotAtomAddress reports whether s, of at most maxEmail bytes, is the
// plain form of an address: local@domain, both dot-atoms of RFC 5322
// (atext characters in ASCII, with single full stops between them), and
// if so whether the domain has a full stop. Of such an s, net/mail's
// ParseAddress takes both parts as dot-atoms (an addr-spec, the first
// form it tries), with no name and with Address == s, and the domain has
// neither a leading nor a trailing full stop: validEmail's answer is
// whether the domain has a full stop. Anything else is left to the whole
// check.
func dotAtomAddress(s string) (domainDot, ok bool) {
	if len(s) > maxEmail {
		return false, false
	}
	at := -1
	prev := byte('.') // so that a leading full stop or @ is refused
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if prev == '.' || prev == '@' {
				return false, false // a leading or double full stop
			}
			if at >= 0 {
				domainDot = true
			}
		case c == '@':
			if at >= 0 || prev == '.' {
				return false, false // a second @, an empty local part or one ending in a full stop
			}
			at = i
		case !isAtext(c):
			return false, false
		}
		prev = c
	}
	if at < 0 || prev == '.' || prev == '@' {
		return false, false // no @, an empty domain or one ending in a full stop
	}
	return domainDot, true
}

// isAtext reports whether c is an atext character of RFC 5322 (3.2.3):
// visible ASCII other than the specials and the full stop.
func isAtext(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '"', '.':
		return false
	}
	return '!' <= c && c <= '~'
}
