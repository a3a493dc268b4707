package identity

import (
	"bytes"
	"strconv"
	"strings"
	"unicode"
)

// Quotes reports whether the free text s quotes the youth's BSN bsn (if
// not zero) or birth date bd (if not zero) in a usual notation: the digits
// of s taken together contain the BSN, or the date as YYYYMMDD, DDMMYYYY or
// DDMMYY (so "2014-05-17", "17.05.2014" and "170514" are caught), or three
// numbers or month names in a row make the date day-month-year,
// year-month-day or month-day-year, with or without leading zeros, the
// year in two or four digits ("17-5-2014", "17 mei 2014", "May 17, 2014").
// Month names are Dutch or English, in full or abbreviated.
//
// It is the one rule for "this text identifies the youth": the matcher
// refuses a report's client reference, contact and idempotency key by it,
// and in a blind deployment, where the index never has the BSN or the
// birth date, the client system does (package client).
func Quotes(s string, bsn BSN, bd BirthDate) bool {
	var digits []byte
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if !bsn.IsZero() && bytes.Contains(digits, []byte(bsn.RevealDigits())) {
		return true
	}
	if bd.IsZero() {
		return false
	}
	y, mo, d := bd.RevealDate().Date()
	two := func(v int) string { return string([]byte{byte('0' + v/10%10), byte('0' + v%10)}) }
	for _, date := range []string{
		strconv.Itoa(y) + two(int(mo)) + two(d),
		two(d) + two(int(mo)) + strconv.Itoa(y),
		two(d) + two(int(mo)) + two(y%100),
	} {
		if bytes.Contains(digits, []byte(date)) {
			return true
		}
	}
	return quotesDate(s, y, int(mo), d)
}

// monthNames are the Dutch and English month names and their usual
// abbreviations, lower case, by month number.
var monthNames = map[string]int{
	"januari": 1, "jan": 1, "january": 1,
	"februari": 2, "feb": 2, "february": 2, "febr": 2,
	"maart": 3, "mrt": 3, "march": 3, "mar": 3, "mrch": 3,
	"april": 4, "apr": 4,
	"mei": 5, "may": 5,
	"juni": 6, "jun": 6, "june": 6,
	"juli": 7, "jul": 7, "july": 7,
	"augustus": 8, "aug": 8, "august": 8,
	"september": 9, "sep": 9, "sept": 9,
	"oktober": 10, "okt": 10, "october": 10, "oct": 10,
	"november": 11, "nov": 11,
	"december": 12, "dec": 12,
}

// quotesDate reports whether three tokens in a row of s (numbers, or month
// names for the month) give the date y-m-d in one of the usual orders.
func quotesDate(s string, y, m, d int) bool {
	var toks []int // numbers; a month name is its number
	var kinds []byte
	for _, f := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		// A field may mix digits and letters ("17mei2014"): split it.
		for _, part := range splitDigitsLetters(f) {
			if n, err := strconv.Atoi(part); err == nil {
				toks, kinds = append(toks, n), append(kinds, 'n')
			} else if mn, ok := monthNames[part]; ok {
				toks, kinds = append(toks, mn), append(kinds, 'm')
			}
		}
	}
	year := func(v int) bool { return v == y || v == y%100 }
	for i := 0; i+2 < len(toks); i++ {
		a, b, c := toks[i], toks[i+1], toks[i+2]
		switch {
		case a == d && b == m && year(c) && kinds[i] == 'n' && kinds[i+2] == 'n': // 17-5-2014, 17 mei 2014
			return true
		case a == y && b == m && c == d && kinds[i] == 'n' && kinds[i+2] == 'n': // 2014-5-17
			return true
		case a == m && b == d && year(c) && kinds[i+1] == 'n' && kinds[i+2] == 'n': // May 17 2014, 5/17/2014
			return true
		}
	}
	return false
}

// splitDigitsLetters splits "17mei2014" into "17", "mei", "2014".
func splitDigitsLetters(f string) []string {
	var out []string
	start, prevDigit := 0, false
	for i, r := range f {
		digit := unicode.IsDigit(r)
		if i > start && digit != prevDigit {
			out = append(out, f[start:i])
			start = i
		}
		prevDigit = digit
	}
	return append(out, f[start:])
}
