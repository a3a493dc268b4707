package client_test

import (
	"testing"

	"github.com/vindex-nl/vindex/client"
)

// BenchmarkBlinderOverHTTPS: a client system's cost per BSN, with the key
// holder in process over TLS on the same machine (its evaluation
// included): one BSN per call, and 64.
func BenchmarkBlinderOverHTTPS(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(map[int]string{1: "single", 64: "batch64"}[n], func(b *testing.B) {
			kh := newEvaluator(b, "t")
			in := bsns(b, n)
			bl := client.Blinder{Holders: []client.KeyHolder{kh.holder("t")}}
			b.ResetTimer()
			for b.Loop() {
				if _, err := bl.Elements(ctx, in...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/BSN")
		})
	}
}
