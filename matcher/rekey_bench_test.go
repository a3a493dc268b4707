package matcher_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
)

// rekeyYouths is how many youths the re-keying benchmarks hold, each with
// two registrations (one ended).
const rekeyYouths = 4096

// BenchmarkRekeyIndexLayer re-keys a blind store of rekeyYouths youths
// to a new PRF key: one op is a whole walk; records/s counts the
// registrations moved.
func BenchmarkRekeyIndexLayer(b *testing.B) { benchRekey(b, false) }

// BenchmarkRekeyKeyholderLayer re-keys it by a key holder's ratio (one
// scalar multiplication per youth on top).
func BenchmarkRekeyKeyholderLayer(b *testing.B) { benchRekey(b, true) }

func benchRekey(b *testing.B, keyholderLayer bool) {
	e, h := newRotatableEnv(b)
	refs := testkeys.Sealer(b)
	m := blindWith(b, e, e.ps, refs, matcher.Layer{})
	// The blinded values are elements as good as any for the index: the
	// key holder's evaluation is not what is measured.
	bs := bsns(b, rekeyYouths)
	var els []oprf.Element
	for i := 0; i < len(bs); i += oprf.MaxBatch {
		_, blinded, err := oprf.Blind(bs[i:min(i+oprf.MaxBatch, len(bs))]...)
		if err != nil {
			b.Fatal(err)
		}
		els = append(els, blinded...)
	}
	for i, el := range els {
		y, err := m.YouthByElement(el)
		if err != nil {
			b.Fatal(err)
		}
		r := e.signal(b, i)
		r.Youth, r.BirthDate, r.BornIn = y, identity.BirthDate{}, time.Date(2014, 5, 1, 0, 0, 0, 0, time.UTC)
		res, err := m.Register(ctx, matcher.Actor{Institution: school}, r)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.End(ctx, matcher.Actor{Institution: school}, res.ID, time.Time{}, matcher.EndRiskGone); err != nil {
			b.Fatal(err)
		}
		r.Kind, r.SignalCode = matcher.Involvement, ""
		if _, err := m.Register(ctx, matcher.Actor{Institution: ggd}, r); err != nil {
			b.Fatal(err)
		}
	}
	ps := e.ps
	layer := matcher.Layer{}
	records := 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if keyholderLayer {
			from, to := oprf.GenerateKey(), oprf.GenerateKey()
			ratio, err := oprf.RatioOf(from, to)
			if err != nil {
				b.Fatal(err)
			}
			layer = matcher.Layer{Generation: layer.Generation + 1, Rotating: true, From: oprf.KeyID(from.Public()), To: oprf.KeyID(to.Public()), Ratio: ratio}
		} else {
			var err error
			if h, _, err = keys.Rotate(h); err != nil {
				b.Fatal(err)
			}
			if ps, err = pseudonym.New(h); err != nil {
				b.Fatal(err)
			}
		}
		m := blindWith(b, e, ps, refs, layer)
		b.StartTimer()
		var after pseudonym.Pseudonym
		for {
			p, err := m.Rekey(ctx, after, 512)
			if err != nil {
				b.Fatal(err)
			}
			records += p.Records
			if p.Stranded > 0 {
				b.Fatalf("%d stranded", p.Stranded)
			}
			if p.Next.IsZero() {
				break
			}
			after = p.Next
		}
		b.StopTimer()
		if keyholderLayer { // the rotation ends: the next one starts from here
			layer = matcher.Layer{Generation: layer.Generation}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRegisterParallelMatchBlind is BenchmarkRegisterParallelMatch in
// a blind deployment: the youth named by its element (made before the
// clock starts: the client's and the key holder's work is not the
// index's), its element sealed on each registration and, at the second
// report, the first registration's checked.
func BenchmarkRegisterParallelMatchBlind(b *testing.B) {
	e := benchEnv(b)
	m := blindWith(b, e, e.ps, testkeys.Sealer(b), matcher.Layer{})
	bs := bsns(b, (b.N+1)/2)
	var els []oprf.Element
	for i := 0; i < len(bs); i += oprf.MaxBatch {
		_, blinded, err := oprf.Blind(bs[i:min(i+oprf.MaxBatch, len(bs))]...)
		if err != nil {
			b.Fatal(err)
		}
		els = append(els, blinded...)
	}
	var next atomic.Int64
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := e.involvement(b, 0)
		r.BirthDate, r.BornIn = identity.BirthDate{}, time.Date(2014, 5, 1, 0, 0, 0, 0, time.UTC)
		for pb.Next() {
			i := int(next.Add(1) - 1)
			inst := wij
			if i%2 == 1 {
				inst = ggd
			}
			y, err := m.YouthByElement(els[i/2])
			if err != nil {
				b.Error(err)
				return
			}
			r.Youth = y
			if _, err := m.Register(ctx, matcher.Actor{Institution: inst}, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, "regs/s")
}
