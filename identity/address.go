package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Errors of ParseAddress and ParseAddressLine. None quotes its input.
var (
	// ErrPostcode: not a Dutch postcode (4 digits, the first not 0, and
	// 2 letters; a space between them is allowed).
	ErrPostcode = errors.New("identity: postcode must be 4 digits and 2 letters, like 1234 AB")
	// ErrHouseNumber: not a whole number from 1 to 99999.
	ErrHouseNumber = errors.New("identity: house number must be a whole number from 1 to 99999")
	// ErrHouseAddition: more than 4 characters, or others than letters
	// and digits.
	ErrHouseAddition = errors.New("identity: house number addition must be 1 to 4 letters or digits")
	// ErrAddressLine: a line of an address file that is not postcode,
	// house number and an optional addition.
	ErrAddressLine = errors.New("identity: an address is a postcode, a house number and an optional addition, like 1234 AB 12 A")
)

// MaxHouseNumber is the highest house number an Address takes.
const MaxHouseNumber = 99999

// Address is a Dutch home address as the population register (BRP) keys
// it: postcode, house number and addition. The zero value is "no address".
// Like a BSN it identifies a household and never prints its value:
// String, GoString, every fmt verb, MarshalText, MarshalJSON and LogValue
// give a fixed redacted text. [Address.RevealKey] is the only way to its
// value, for the pseudonymiser.
type Address struct {
	key string // normalised "1234AB:12:A"; "" for none
}

// ParseAddress validates and normalises an address: the postcode with or
// without its space and in either case ("1234ab", "1234 AB"), the house
// number 1 to 99999, and the addition (may be empty) of at most 4 letters
// or digits, in either case, with surrounding white space and one leading
// "-" forgiven ("-a" is "A").
func ParseAddress(postcode string, number int, addition string) (Address, error) {
	pc, ok := normalisePostcode(postcode)
	if !ok {
		return Address{}, ErrPostcode
	}
	if number < 1 || number > MaxHouseNumber {
		return Address{}, ErrHouseNumber
	}
	add, ok := normaliseAddition(addition)
	if !ok {
		return Address{}, ErrHouseAddition
	}
	return Address{key: pc + ":" + strconv.Itoa(number) + ":" + add}, nil
}

// ParseAddressLine parses one address written on a line, as in the
// covenant's file of excluded addresses: the postcode (with or without its
// space), the house number and an optional addition, separated by white
// space ("1234 AB 12", "1234AB 12 a", "1234 ab 12-A").
func ParseAddressLine(s string) (Address, error) {
	f := strings.Fields(s)
	// The postcode may be written with its space: join "1234" "AB".
	if len(f) >= 2 && len(f[0]) == 4 && len(f[1]) == 2 && isLetters(f[1]) {
		f = append([]string{f[0] + f[1]}, f[2:]...)
	}
	if len(f) < 2 || len(f) > 3 {
		return Address{}, ErrAddressLine
	}
	if _, ok := normalisePostcode(f[0]); !ok {
		return Address{}, ErrPostcode
	}
	num, add := f[1], ""
	if i := strings.IndexByte(num, '-'); i > 0 {
		num, add = num[:i], num[i+1:]
		if len(f) == 3 {
			return Address{}, ErrAddressLine
		}
	}
	if len(f) == 3 {
		add = f[2]
	}
	n, err := strconv.Atoi(num)
	if err != nil || num[0] == '+' || num[0] == '-' {
		return Address{}, ErrHouseNumber
	}
	if add == "" && strings.HasSuffix(f[1], "-") {
		return Address{}, ErrHouseAddition
	}
	return ParseAddress(f[0], n, add)
}

func normalisePostcode(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) == 7 && s[4] == ' ' {
		s = s[:4] + s[5:]
	}
	if len(s) != 6 || s[0] == '0' {
		return "", false
	}
	for i := range 4 {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	if !isLetters(s[4:]) {
		return "", false
	}
	return strings.ToUpper(s), true
}

func normaliseAddition(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "-")
	if len(s) > 4 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "", false
		}
	}
	return strings.ToUpper(s), true
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

// IsZero reports whether a is the zero address.
func (a Address) IsZero() bool { return a.key == "" }

// RevealKey returns the normalised address as "1234AB:12:A" (the addition
// empty if there is none: "1234AB:12:"), the value the pseudonymiser
// hashes. Every other use is a review finding (see RevealParts).
func (a Address) RevealKey() string { return a.key }

// RevealParts returns the normalised postcode ("1234AB"), the house
// number and the addition ("" if none), for a client system to send the
// address to the index. Every other use is a review finding.
func (a Address) RevealParts() (postcode string, number int, addition string) {
	f := strings.SplitN(a.key, ":", 3)
	if len(f) != 3 {
		return "", 0, ""
	}
	n, _ := strconv.Atoi(f[1])
	return f[0], n, f[2]
}

const addressRedacted = "Address(redacted)"

// String returns "Address(redacted)".
func (a Address) String() string { return addressRedacted }

// GoString returns "identity.Address(redacted)".
func (a Address) GoString() string { return "identity." + addressRedacted }

// Format prints "Address(redacted)" for every verb and flag.
func (a Address) Format(f fmt.State, _ rune) { f.Write([]byte(addressRedacted)) }

// LogValue redacts the address in structured logs.
func (a Address) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[redacted]".
func (a Address) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON returns "[redacted]" as a JSON string.
func (a Address) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
