package target

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/vindex-nl/vindex/identity"
)

// prefixes is the number of eight-digit BSN prefixes 10000000…99999999.
const prefixes = 90_000_000

// MaxYouths is the largest population a workload can draw from. About one
// prefix in eleven has no valid check digit, so a little over 80 million
// distinct valid BSNs exist in the range the generator uses.
const MaxYouths = 80_000_000

// Youths is a seeded population of distinct youths with valid BSNs. Youth i
// is the i-th prefix, in a seeded permutation of all eight-digit prefixes,
// whose eleven-check digit is not 10; the same seed gives the same youths in
// the same order. It is not safe for concurrent use while it grows; Grow it
// first, then read it from any number of goroutines.
type Youths struct {
	a, b   uint64 // permutation k -> (a·k + b) mod prefixes; gcd(a, prefixes) = 1
	k      uint64 // next permutation index to try
	prefix []uint32
}

// multipliers are divisible by neither 2, 3 nor 5, so each is coprime to
// 90,000,000 = 2⁷·3²·5⁷ and k -> a·k + b (mod 90,000,000) is a permutation.
var multipliers = []uint64{48_271, 69_623, 1_000_003, 7_368_787, 15_485_863, 32_452_843}

// NewYouths returns the population for seed.
func NewYouths(seed uint64) *Youths {
	r := rand.New(rand.NewPCG(seed, 0x76696e646578)) // "vindex"
	return &Youths{a: multipliers[r.IntN(len(multipliers))], b: r.Uint64N(prefixes)}
}

// Len is the number of youths made so far.
func (y *Youths) Len() int { return len(y.prefix) }

// Grow makes youths until there are at least n.
func (y *Youths) Grow(n int) {
	if n > MaxYouths {
		panic("target: population larger than MaxYouths")
	}
	if cap(y.prefix) < n {
		y.prefix = append(make([]uint32, 0, n), y.prefix...)
	}
	for len(y.prefix) < n {
		p := (y.a*y.k + y.b) % prefixes
		y.k++
		if _, ok := checkDigit(uint32(p) + 10_000_000); ok {
			y.prefix = append(y.prefix, uint32(p)+10_000_000)
		}
	}
}

// BSN returns youth i's BSN (i < Len).
func (y *Youths) BSN(i int) identity.BSN {
	p := y.prefix[i]
	d, _ := checkDigit(p)
	var buf [9]byte
	strconv.AppendUint(buf[:0], uint64(p), 10)
	buf[8] = '0' + byte(d)
	b, err := identity.ParseBSN(string(buf[:]))
	if err != nil {
		panic("target: generated BSN fails the eleven-check") // a bug in checkDigit
	}
	return b
}

// Digits returns youth i's BSN as nine digits, for a request body.
func (y *Youths) Digits(i int) string { return y.BSN(i).RevealDigits() }

// BirthDate returns youth i's birth date: between 4 and 17 years before
// 2026-01-01, spread over the days of the year.
func (y *Youths) BirthDate(i int) identity.BirthDate {
	p := uint64(y.prefix[i])
	t := time.Date(2009+int(p%14), time.January, 1+int(p/14%365), 0, 0, 0, 0, time.UTC)
	b, err := identity.NewBirthDate(t.Year(), t.Month(), t.Day())
	if err != nil {
		panic("target: generated birth date: " + err.Error())
	}
	return b
}

// checkDigit returns the ninth digit that makes prefix (eight digits) pass
// the eleven-check 9·d1 + 8·d2 + … + 2·d8 − 1·d9 ≡ 0 (mod 11), and false if
// that digit would be 10.
func checkDigit(prefix uint32) (int, bool) {
	sum := 0
	for w := 2; w <= 9; w++ {
		sum += w * int(prefix%10)
		prefix /= 10
	}
	d := sum % 11
	return d, d < 10
}
