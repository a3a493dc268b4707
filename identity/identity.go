// Package identity parses and validates the identifiers vindex receives: the
// citizen service number (BSN), the youth's birth date and the CBS
// municipality code.
//
// # Never printed
//
// A BSN and a birth date identify a youth. The types [BSN] and [BirthDate]
// therefore never print their value: String, GoString, every fmt verb
// (%v %s %d %q %x %+v %#v …), MarshalJSON, MarshalText and slog's LogValue
// all give a fixed redacted text, so a BSN cannot end up in a log line, an
// error message or a panic by accident. Errors from this package never quote
// their input either. The only ways to the clear value are the explicit,
// grep-able methods [BSN.RevealDigits] and [BirthDate.RevealDate], for the
// pseudonymiser and for date arithmetic; a review of vindex greps for them.
//
// In memory both are held masked, XORed with a random mask made when the
// process starts: a goroutine traceback, which prints a function's
// arguments as raw bytes and words, shows neither the BSN's digits nor the
// birth date. The mask is not a secret from the process itself; it keeps
// identities out of panic output and core-dump greps, not from a debugger.
//
// Civil dates throughout vindex are time.Time values at 00:00 UTC; which
// civil day it is now is taken in the Netherlands' time zone
// ([DefaultLocation]).
package identity

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// DefaultLocation returns the time zone in which vindex takes "today" and
// reads dates it is given when nothing else is configured: Europe/Amsterdam,
// or UTC if the system has no zone database.
func DefaultLocation() *time.Location { return defaultLocation() }

var defaultLocation = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		return time.UTC
	}
	return loc
})

// The masks over identities in memory (see the package documentation).
// Every byte of bsnMask has its high bit set, so a masked digit is never an
// ASCII digit; dateMask has its high bit set, so a masked date is never 0,
// the zero BirthDate.
var (
	bsnMask  [9]byte
	dateMask uint64
)

func init() {
	var b [17]byte
	rand.Read(b[:])
	for i := range bsnMask {
		bsnMask[i] = b[i] | 0x80
	}
	dateMask = binary.LittleEndian.Uint64(b[9:]) | 1<<63
}

// Errors. Each names what is wrong without quoting the input.
var (
	// ErrBSNFormat: not 9 digits (or 8, with the leading zero implied).
	ErrBSNFormat = errors.New("identity: BSN must be 9 digits")
	// ErrBSNChecksum: 9 digits that fail the eleven-check, or all zeros.
	ErrBSNChecksum = errors.New("identity: BSN fails the eleven-check")
	// ErrBirthDateFormat: not a real calendar date in the form YYYY-MM-DD.
	ErrBirthDateFormat = errors.New("identity: birth date must be a date in the form YYYY-MM-DD")
	// ErrBirthDateRange: a date before 1900-01-01.
	ErrBirthDateRange = errors.New("identity: birth date out of range")
	// ErrMunicipality: not a CBS municipality code (GM and 4 digits).
	ErrMunicipality = errors.New("identity: municipality code must be GM followed by 4 digits")
)

const redacted = "[redacted]"

// BSN is a valid citizen service number. The zero value is "no BSN". It
// never prints its digits (see the package documentation).
type BSN struct {
	masked [9]byte // digit i XOR bsnMask[i]
	valid  bool
}

// ParseBSN parses a BSN: 9 ASCII digits, or 8 with the leading zero
// implied, that pass the eleven-check (9·d1 + 8·d2 + … + 2·d8 − 1·d9 ≡ 0
// mod 11) and are not all zero. Surrounding white space is trimmed; nothing
// else is forgiven (no dots, dashes, inner spaces or other digits).
func ParseBSN(s string) (BSN, error) {
	s = strings.TrimSpace(s)
	var digits [9]byte
	switch len(s) {
	case 8:
		digits[0] = '0'
		copy(digits[1:], s)
	case 9:
		copy(digits[:], s)
	default:
		return BSN{}, ErrBSNFormat
	}
	sum, zero := 0, true
	for i, c := range digits {
		if c < '0' || c > '9' {
			return BSN{}, ErrBSNFormat
		}
		d := int(c - '0')
		if d != 0 {
			zero = false
		}
		if i == 8 {
			sum -= d
		} else {
			sum += (9 - i) * d
		}
	}
	if zero || sum%11 != 0 {
		return BSN{}, ErrBSNChecksum
	}
	b := BSN{valid: true}
	for i, c := range digits {
		b.masked[i] = c ^ bsnMask[i]
		digits[i] = 0
	}
	return b, nil
}

// IsZero reports whether b is the zero BSN.
func (b BSN) IsZero() bool { return !b.valid }

// RevealDigits returns the 9 digits. It exists for the pseudonymiser; every
// other use is a review finding.
func (b BSN) RevealDigits() string {
	if !b.valid {
		return ""
	}
	var d [9]byte
	for i, c := range b.masked {
		d[i] = c ^ bsnMask[i]
	}
	return string(d[:])
}

// String returns "BSN(redacted)".
func (b BSN) String() string { return "BSN(redacted)" }

// GoString returns "identity.BSN(redacted)".
func (b BSN) GoString() string { return "identity.BSN(redacted)" }

// Format prints "BSN(redacted)" for every verb and flag.
func (b BSN) Format(f fmt.State, _ rune) { f.Write([]byte("BSN(redacted)")) }

// LogValue redacts the BSN in structured logs.
func (b BSN) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[redacted]".
func (b BSN) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON returns "[redacted]" as a JSON string.
func (b BSN) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// UnmarshalText parses a BSN, so a decoded request is validated.
func (b *BSN) UnmarshalText(text []byte) error {
	v, err := ParseBSN(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// BirthDate is a youth's date of birth. The zero value is "no date". It
// never prints its value (see the package documentation).
type BirthDate struct {
	masked uint64 // days since 1900-01-01 XOR dateMask; 0 if none
}

func birthDate(t time.Time) BirthDate {
	days := uint64(t.Sub(earliest) / (24 * time.Hour))
	return BirthDate{masked: days ^ dateMask}
}

// t returns the date, 00:00 UTC; the zero time if none.
func (b BirthDate) t() time.Time {
	if b.masked == 0 {
		return time.Time{}
	}
	return earliest.AddDate(0, 0, int(b.masked^dateMask))
}

var earliest = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// ParseBirthDate parses a birth date in the form YYYY-MM-DD (a real calendar
// date from 1900-01-01 on). Surrounding white space is trimmed.
func ParseBirthDate(s string) (BirthDate, error) {
	s = strings.TrimSpace(s)
	if len(s) != 10 {
		return BirthDate{}, ErrBirthDateFormat
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return BirthDate{}, ErrBirthDateFormat
	}
	if t.Before(earliest) {
		return BirthDate{}, ErrBirthDateRange
	}
	return birthDate(t), nil
}

// NewBirthDate returns the birth date year-month-day, validated as
// ParseBirthDate does.
func NewBirthDate(year int, month time.Month, day int) (BirthDate, error) {
	t := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	if y, m, d := t.Date(); y != year || m != month || d != day {
		return BirthDate{}, ErrBirthDateFormat
	}
	if t.Before(earliest) {
		return BirthDate{}, ErrBirthDateRange
	}
	return birthDate(t), nil
}

// IsZero reports whether b is the zero birth date.
func (b BirthDate) IsZero() bool { return b.masked == 0 }

// AgeOn returns the age in completed years on the civil date of day (its
// year, month and day, whatever its zone); -1 if day is before the birth.
func (b BirthDate) AgeOn(day time.Time) int {
	y, m, d := day.Date()
	on := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if on.Before(b.t()) {
		return -1
	}
	age := y - b.t().Year()
	if on.Before(b.Birthday(age)) {
		age--
	}
	return age
}

// Birthday returns the civil date (00:00 UTC) on which the youth reaches
// age. For a youth born on 29 February, in a year without one the birthday
// is 28 February: the earlier day never keeps a registration past the age
// limit the law sets.
func (b BirthDate) Birthday(age int) time.Time {
	y, m, d := b.t().Date()
	t := time.Date(y+age, m, d, 0, 0, 0, 0, time.UTC)
	if m == time.February && d == 29 && t.Month() != time.February {
		t = time.Date(y+age, time.February, 28, 0, 0, 0, 0, time.UTC)
	}
	return t
}

// RevealDate returns the date. Every use outside date arithmetic is a
// review finding.
func (b BirthDate) RevealDate() time.Time { return b.t() }

// String returns "BirthDate(redacted)".
func (b BirthDate) String() string { return "BirthDate(redacted)" }

// GoString returns "identity.BirthDate(redacted)".
func (b BirthDate) GoString() string { return "identity.BirthDate(redacted)" }

// Format prints "BirthDate(redacted)" for every verb and flag.
func (b BirthDate) Format(f fmt.State, _ rune) { f.Write([]byte("BirthDate(redacted)")) }

// LogValue redacts the date in structured logs.
func (b BirthDate) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[redacted]".
func (b BirthDate) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON returns "[redacted]" as a JSON string.
func (b BirthDate) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// UnmarshalText parses a birth date, so a decoded request is validated.
func (b *BirthDate) UnmarshalText(text []byte) error {
	v, err := ParseBirthDate(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Municipality is a CBS municipality code such as GM0014 (Groningen).
type Municipality string

// ParseMunicipality parses a municipality code: "GM" (either case) and four
// digits, not 0000. Surrounding white space is trimmed; the result is upper
// case.
func ParseMunicipality(s string) (Municipality, error) {
	s = strings.TrimSpace(s)
	if len(s) != 6 || !strings.EqualFold(s[:2], "GM") || s[2:] == "0000" {
		return "", ErrMunicipality
	}
	for i := 2; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", ErrMunicipality
		}
	}
	return Municipality("GM" + s[2:]), nil
}

// String returns the code.
func (m Municipality) String() string { return string(m) }
