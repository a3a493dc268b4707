// Package testbsn makes valid test BSNs: distinct numbers that pass the
// eleven-check, in ranges chosen per test suite.
package testbsn

import (
	"fmt"
	"strconv"
)

// For returns a valid BSN for n (0 ≤ n < 10,000,000), distinct for distinct
// n within one base: eight digits base+n and the ninth that passes the
// eleven-check; where that ninth digit would be 10, base+50,000,000+n is
// used instead. base is a multiple of 10,000,000 below 50,000,000.
func For(base, n int) string {
	for _, lead := range []int{base, base + 50000000} {
		d := fmt.Sprintf("%08d", lead+n)
		sum := 0
		for i := range 8 {
			sum += (9 - i) * int(d[i]-'0')
		}
		if last := sum % 11; last < 10 {
			return d + strconv.Itoa(last)
		}
	}
	// Unreachable: moving the lead digit by 5 changes the sum by 45 ≡ 1
	// (mod 11), so both cannot give 10.
	panic("testbsn: no BSN")
}
