package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/keyholdertest"
	"github.com/vindex-nl/vindex/internal/testbsn"
	"github.com/vindex-nl/vindex/keyholder"
)

// BenchmarkBlindingConcurrent: the cost of one BSN's element when callers
// blind one BSN each, with the key holder (package keyholder, its rate
// limit lifted) in process over TLS on the same machine: each call its own
// key-holder request (direct, Blinder.Elements) or the calls of the moment
// in shared batches (coalesced, as Client does), alone and with 4 and 16
// callers at once. BSNs/request is the mean batch.
func BenchmarkBlindingConcurrent(b *testing.B) {
	kh, key, token := keyholdertest.Handler(b, keyholder.Config{ElementsPerSecond: 1e9, Burst: 1 << 30}, "bench")
	var requests atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		kh.ServeHTTP(w, r)
	}))
	defer srv.Close()
	// Enough idle connections that direct callers do not shake hands anew.
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	hc := &http.Client{Transport: tr}
	bl := &Blinder{Holders: []KeyHolder{{URL: srv.URL, Token: token, PublicKey: key.Public(), HTTP: hc}}}
	bsn, err := identity.ParseBSN(testbsn.For(40000000, 1))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, callers := range []int{1, 4, 16} {
		for _, how := range []string{"direct", "coalesced"} {
			b.Run(how+"/callers="+strconv.Itoa(callers), func(b *testing.B) {
				co := newCoalescer(bl, maxInFlight)
				requests.Store(0)
				one := func() error {
					if how == "direct" {
						_, err := bl.Elements(ctx, bsn)
						return err
					}
					_, err := co.elements(ctx, oprf.YouthInput(bsn))
					return err
				}
				if callers == 1 {
					for b.Loop() {
						if err := one(); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := one(); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "BSNs/s")
				b.ReportMetric(float64(b.N)/float64(requests.Load()), "BSNs/request")
			})
		}
	}
}
