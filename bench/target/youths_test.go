package target

import (
	"strconv"
	"testing"

	"github.com/vindex-nl/vindex/identity"
)

// elevenCheck is the eleven-check written plainly, as the reference the
// generator is compared with.
func elevenCheck(s string) bool {
	if len(s) != 9 {
		return false
	}
	sum := 0
	for i := range 8 {
		sum += (9 - i) * int(s[i]-'0')
	}
	sum -= int(s[8] - '0')
	return sum%11 == 0
}

func TestYouthsValidDistinctRepeatable(t *testing.T) {
	const n = 200_000
	a, b, other := NewYouths(7), NewYouths(7), NewYouths(8)
	a.Grow(n)
	b.Grow(n / 2)
	b.Grow(n) // growing in steps gives the same youths
	other.Grow(1000)
	seen := make(map[string]int, n)
	same := 0
	for i := range n {
		d := a.Digits(i)
		if !elevenCheck(d) {
			t.Fatalf("youth %d: %s fails the eleven-check", i, d)
		}
		if _, err := identity.ParseBSN(d); err != nil {
			t.Fatalf("youth %d: ParseBSN: %v", i, err)
		}
		if j, dup := seen[d]; dup {
			t.Fatalf("youths %d and %d have the same BSN", j, i)
		}
		seen[d] = i
		if b.Digits(i) != d {
			t.Fatalf("youth %d differs between two populations of one seed", i)
		}
		if i < 1000 && other.Digits(i) == d {
			same++
		}
	}
	if same > 10 {
		t.Errorf("seeds 7 and 8 share %d of their first 1000 youths", same)
	}
}

func TestYouthsBirthDates(t *testing.T) {
	y := NewYouths(1)
	y.Grow(5000)
	years := map[int]bool{}
	for i := range 5000 {
		d := y.BirthDate(i).RevealDate()
		if d.Year() < 2009 || d.Year() > 2022 {
			t.Fatalf("youth %d born %s", i, d.Format("2006-01-02"))
		}
		years[d.Year()] = true
	}
	if len(years) < 10 {
		t.Errorf("birth years spread over %d years only", len(years))
	}
}

func TestCheckDigitMatchesReference(t *testing.T) {
	for p := uint32(10_000_000); p < 10_200_000; p++ {
		d, ok := checkDigit(p)
		s := strconv.Itoa(int(p))
		valid := 0
		for c := range 10 {
			if elevenCheck(s + strconv.Itoa(c)) {
				valid++
				if !ok || c != d {
					t.Fatalf("prefix %d: checkDigit = %d, %v; %d passes", p, d, ok, c)
				}
			}
		}
		if valid == 0 && ok {
			t.Fatalf("prefix %d: checkDigit = %d, but no digit passes", p, d)
		}
	}
}
