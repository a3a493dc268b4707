package identity

import (
	"strconv"
	"unicode"
	"unicode/utf8"
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
//
// Quotes reads s once and allocates nothing, whatever its length.
func Quotes(s string, bsn BSN, bd BirthDate) bool {
	if bsn.IsZero() && bd.IsZero() {
		return false
	}
	var q quoter
	if !bsn.IsZero() {
		for i, c := range bsn.masked {
			q.bsn[i] = c ^ bsnMask[i]
		}
	}
	if !bd.IsZero() {
		y, mo, d := bd.RevealDate().Date()
		q.y, q.m, q.d = y, int(mo), d
		q.date = true
		// The date's digits as YYYYMMDD, DDMMYYYY and DDMMYY.
		b := appendTwo(appendTwo(strconv.AppendInt(q.ymd[:0], int64(y), 10), int(mo)), d)
		q.nymd = len(b)
		b = strconv.AppendInt(appendTwo(appendTwo(q.dmy[:0], d), int(mo)), int64(y), 10)
		q.ndmy = len(b)
		b = appendTwo(appendTwo(appendTwo(q.dmyy[:0], d), int(mo)), y%100)
		q.ndmyy = len(b)
	}
	q.numOK, q.wordOK = true, true
	found := q.scan(s, !bsn.IsZero())
	clear(q.bsn[:])
	return found
}

// appendTwo appends the last two decimal digits of v.
func appendTwo(b []byte, v int) []byte { return append(b, byte('0'+v/10%10), byte('0'+v%10)) }

// quoter holds what Quotes looks for, and the state of its one pass over
// the text, all in fixed-size arrays.
type quoter struct {
	bsn [9]byte // the BSN's digits, if looked for

	// The birth date, if looked for (date): its parts, and its digits in
	// the three orders.
	date              bool
	y, m, d           int
	ymd, dmy, dmyy    [24]byte
	nymd, ndmy, ndmyy int

	// digits ends with the last ASCII digits of the text read so far,
	// enough for the longest of the digit strings above.
	digits [64]byte
	nd     int

	// The current run of digits (a number, if all ASCII and within an
	// int) or letters (a month name, if it is one).
	run    byte // 0, 'n' (digits) or 'l' (letters)
	num    int
	numOK  bool    // all ASCII digits, no overflow
	word   [9]byte // the letters, lower case, while ASCII and at most 9
	nw     int
	wordOK bool
	toks   [3]int  // the last three numbers or month names
	kinds  [3]byte // 'n' or 'm' for each of toks
	ntoks  int
}

// scan reads s and reports whether it quotes what q looks for (the BSN if
// withBSN).
func (q *quoter) scan(s string, withBSN bool) bool {
	for i := 0; i < len(s); {
		r, w := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s[i:])
		}
		i += w
		if '0' <= r && r <= '9' {
			if q.digit(byte(r), withBSN) {
				return true
			}
		}
		if !q.date {
			continue
		}
		// The tokens are those of the text in lower case (an invalid byte
		// counts as U+FFFD, as strings.ToLower makes it): runs of letters
		// and runs of digits.
		var lr rune
		var class byte
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			lr = r
		case 'A' <= r && r <= 'Z':
			lr = r + 'a' - 'A'
		case r < utf8.RuneSelf:
			lr = r
		default:
			lr = unicode.ToLower(r)
		}
		switch {
		case '0' <= lr && lr <= '9':
			class = 'n'
		case 'a' <= lr && lr <= 'z':
			class = 'l'
		case lr < utf8.RuneSelf:
			class = 0
		case unicode.IsDigit(lr):
			class = 'n'
		case unicode.IsLetter(lr):
			class = 'l'
		}
		if class != q.run && q.endRun() {
			return true
		}
		q.run = class
		switch class {
		case 'n':
			if q.numOK {
				if v := int(lr - '0'); lr > '9' || lr < '0' || q.num > (maxInt-v)/10 {
					q.numOK = false
				} else {
					q.num = q.num*10 + v
				}
			}
		case 'l':
			if q.wordOK {
				if lr >= utf8.RuneSelf || q.nw == len(q.word) {
					q.wordOK = false
				} else {
					q.word[q.nw] = byte(lr)
					q.nw++
				}
			}
		}
	}
	return q.date && q.endRun()
}

const maxInt = int(^uint(0) >> 1)

// digit takes the next ASCII digit c of the text and reports whether the
// digits so far end with the BSN's (if withBSN) or the birth date's.
func (q *quoter) digit(c byte, withBSN bool) bool {
	if q.nd == len(q.digits) {
		q.nd = copy(q.digits[:], q.digits[len(q.digits)/2:])
	}
	q.digits[q.nd] = c
	q.nd++
	if withBSN && q.endsWith(q.bsn[:]) {
		return true
	}
	return q.date && (q.endsWith(q.ymd[:q.nymd]) || q.endsWith(q.dmy[:q.ndmy]) || q.endsWith(q.dmyy[:q.ndmyy]))
}

func (q *quoter) endsWith(p []byte) bool {
	return q.nd >= len(p) && string(q.digits[q.nd-len(p):q.nd]) == string(p)
}

// endRun ends the current run of digits or letters, takes it as a token
// if it is a number or a month name, and reports whether the last three
// tokens give the birth date. It starts a new run.
func (q *quoter) endRun() bool {
	var tok int
	var kind byte
	switch {
	case q.run == 'n' && q.numOK:
		tok, kind = q.num, 'n'
	case q.run == 'l' && q.wordOK:
		if mn := monthNumber(q.word[:q.nw]); mn != 0 {
			tok, kind = mn, 'm'
		}
	}
	q.run, q.num, q.numOK, q.nw, q.wordOK = 0, 0, true, 0, true
	if kind == 0 {
		return false
	}
	q.toks[0], q.toks[1], q.toks[2] = q.toks[1], q.toks[2], tok
	q.kinds[0], q.kinds[1], q.kinds[2] = q.kinds[1], q.kinds[2], kind
	if q.ntoks++; q.ntoks < 3 {
		return false
	}
	year := func(v int) bool { return v == q.y || v == q.y%100 }
	a, b, c := q.toks[0], q.toks[1], q.toks[2]
	switch {
	case a == q.d && b == q.m && year(c) && q.kinds[0] == 'n' && q.kinds[2] == 'n': // 17-5-2014, 17 mei 2014
		return true
	case a == q.y && b == q.m && c == q.d && q.kinds[0] == 'n' && q.kinds[2] == 'n': // 2014-5-17
		return true
	case a == q.m && b == q.d && year(c) && q.kinds[1] == 'n' && q.kinds[2] == 'n': // May 17 2014, 5/17/2014
		return true
	}
	return false
}

// monthNumber is the number of the month w names, lower case, in Dutch or
// English, in full or by a usual abbreviation; 0 if it names none. (A
// switch: no hashing for the words of a text, most of them no month.)
func monthNumber(w []byte) int {
	if len(w) < 3 {
		return 0
	}
	switch string(w) {
	case "januari", "jan", "january":
		return 1
	case "februari", "feb", "february", "febr":
		return 2
	case "maart", "mrt", "march", "mar", "mrch":
		return 3
	case "april", "apr":
		return 4
	case "mei", "may":
		return 5
	case "juni", "jun", "june":
		return 6
	case "juli", "jul", "july":
		return 7
	case "augustus", "aug", "august":
		return 8
	case "september", "sep", "sept":
		return 9
	case "oktober", "okt", "october", "oct":
		return 10
	case "november", "nov":
		return 11
	case "december", "dec":
		return 12
	}
	return 0
}
