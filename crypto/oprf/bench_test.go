package oprf

import (
	"fmt"
	"testing"

	r255 "github.com/gtank/ristretto255"

	"github.com/vindex-nl/vindex/identity"
)

// BenchmarkEvaluate is the key holder's cost of one request: the
// evaluation of a batch and its proof. ns/element is the cost per youth.
func BenchmarkEvaluate(b *testing.B) {
	key := GenerateKey()
	for _, n := range []int{1, 64} {
		bsns := make([]identity.BSN, n)
		for i := range bsns {
			bsns[i] = testBSNs(b, "111222333")[0]
		}
		_, blinded, err := Blind(bsns...)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := Evaluate(key, blinded); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/element")
		})
	}
}

// BenchmarkClient is the client's cost per BSN: Blind (the input, the hash
// to the group, the blind) and Finish (the proof's check, the unblinding).
// The key holder's answer is computed once, outside the loop, for fixed
// blinds; only drawing the random blinds (64 random bytes each) is left out
// of the loop.
func BenchmarkClient(b *testing.B) {
	key := GenerateKey()
	for _, n := range []int{1, 64} {
		bsns := make([]identity.BSN, n)
		blinds := make([]*r255.Scalar, n)
		for i := range bsns {
			bsns[i] = testBSNs(b, "111222333")[0]
			blinds[i] = testScalar(fmt.Sprint("bench ", i))
		}
		blindAll := func() (*State, []Element) {
			points := make([]*r255.Element, n)
			for i, bsn := range bsns {
				in := YouthInput(bsn).b
				points[i] = hashToGroup(modeVOPRF, in)
				clear(in)
			}
			st, blinded, err := blindPoints(points, blinds)
			if err != nil {
				b.Fatal(err)
			}
			return st, blinded
		}
		_, blinded := blindAll()
		evaluated, proof, err := Evaluate(key, blinded)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				st, _ := blindAll()
				if _, err := Finish(st, evaluated, proof, key.Public()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/bsn")
		})
	}
}
