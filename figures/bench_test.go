package figures

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkNewRelease builds the default release of a region for a year: 12 months,
// 30 municipalities, 8 institution types, 2 kinds, 10 signal codes, 20,000 registrations
// (and as many of the other measures, scaled down), most cells small.
func BenchmarkNewRelease(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var counts Counts
	for _, m := range Measures() {
		n := 20000
		if m != Registrations {
			n = 3000
		}
		for range n {
			c := Coords{
				fmt.Sprintf("2026-%02d", 1+rng.IntN(12)),
				fmt.Sprintf("GM%04d", 1+rng.IntN(30)),
				fmt.Sprintf("type%d", 1+rng.IntN(8)),
				[]string{"signal", "involvement"}[rng.IntN(2)],
				fmt.Sprintf("S%02d", 1+rng.IntN(10)),
			}
			if err := counts.Add(m, c, 1); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := NewRelease(&counts, Config{})
		if err != nil {
			b.Fatal(err)
		}
		hidden := 0
		for _, mr := range r.measures {
			hidden += len(mr.suppressed)
		}
		b.ReportMetric(float64(hidden), "hidden")
	}
}
