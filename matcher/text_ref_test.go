package matcher

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The forms of a report's free text as they were before they got their
// fast paths (text.go), kept as the specification the current ones must
// match on every input (FuzzContactForms, BenchmarkCheckContact).

func refPrintable(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co, unicode.Cs) ||
			r == utf8.RuneError || r&0xfffe == 0xfffe || (r >= 0xfdd0 && r <= 0xfdef) {
			return false
		}
	}
	return true
}

func refValidName(s string) bool {
	if s == "" || !refPrintable(s, maxName*4) || utf8.RuneCountInString(s) > maxName {
		return false
	}
	words := strings.Split(s, " ")
	if len(words) > maxWords {
		return false
	}
	for _, w := range words {
		if !refValidNameWord(w) {
			return false
		}
	}
	return true
}

func refValidNameWord(w string) bool {
	rs := []rune(w)
	if len(rs) == 0 {
		return false // a double, leading or trailing space
	}
	letters := 0
	for i, r := range rs {
		prevLetter := i > 0 && refIsNameLetter(rs[i-1])
		nextLetter := i+1 < len(rs) && refIsNameLetter(rs[i+1])
		switch {
		case refIsNameLetter(r):
			if unicode.Is(unicode.Mn, r) && !prevLetter {
				return false
			}
			letters++
		case r == '-':
			if !prevLetter || !nextLetter {
				return false
			}
		case r == '.':
			if !prevLetter {
				return false
			}
		case r == '\'' || r == '’':
			if !prevLetter && !nextLetter {
				return false
			}
		default:
			return false
		}
	}
	return letters > 0
}

func refIsNameLetter(r rune) bool { return unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) }

func refValidPhone(s string) bool {
	if !refPrintable(s, 32) {
		return false
	}
	body, international := strings.CutPrefix(s, "+")
	digits, ok := refPhoneDigits(body)
	if !ok {
		return false
	}
	n := len(digits)
	switch {
	case international:
		return n >= 8 && n <= 15 && digits[0] != '0'
	case n == 10 && digits[0] == '0':
		return true
	case (n == 8 || n == 11) && (strings.HasPrefix(digits, "0800") || strings.HasPrefix(digits, "090")):
		return true
	case (n == 5 || n == 6) && strings.HasPrefix(digits, "14"):
		return true
	}
	return false
}

func refPhoneDigits(body string) (string, bool) {
	var digits []byte
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
			if (i == 0 && c != '(') || i == len(body)-1 {
				return "", false
			}
		default:
			return "", false
		}
	}
	return string(digits), true
}

func refValidEmail(s string) bool {
	if s == "" || len(s) > maxEmail || !refPrintable(s, maxEmail) {
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
