package matcher_test

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/benchcpu"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// Benchmarks run on a real Pebble store on disk with synced writes: every
// registration counted is durable when Register returns.

func benchEnv(b *testing.B) *env {
	b.Helper()
	e := newEnv(b)
	b.Cleanup(func() { e.store.Close() })
	return e
}

// precomputed BSNs, so the benchmark measures the matcher, not the test's
// BSN generator.
func bsns(b *testing.B, n int) []identity.BSN {
	out := make([]identity.BSN, n)
	for i := range out {
		out[i] = bsnFor(b, i)
	}
	return out
}

// youthOf is m.YouthByBSN(bsn): the benchmarks make the Youth inside the
// timed loop, as a caller does for every request. It may run on any
// goroutine: an error is reported, and the zero Youth then fails the verb.
func youthOf(tb testing.TB, m *matcher.Matcher, bsn identity.BSN) matcher.Youth {
	y, err := m.YouthByBSN(bsn)
	if err != nil {
		tb.Error(err)
	}
	return y
}

func reportRate(b *testing.B, unit string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}

// BenchmarkRegister: one caller, each registration a new youth.
func BenchmarkRegister(b *testing.B) {
	e := benchEnv(b)
	ids := bsns(b, b.N)
	r := e.involvement(b, 0)
	actor := matcher.Actor{Institution: wij}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Youth = youthOf(b, e.m, ids[i])
		if _, err := e.m.Register(ctx, actor, r); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, "regs/s")
}

// BenchmarkRegisterParallel: 64 concurrent callers, each registration a new
// youth; concurrent callers share fsyncs.
func BenchmarkRegisterParallel(b *testing.B) {
	benchParallel(b, 64, false, "")
}

// BenchmarkRegisterParallelClientRef is BenchmarkRegisterParallel with a
// client reference on every registration, sealed in the youth's update.
func BenchmarkRegisterParallelClientRef(b *testing.B) {
	benchParallel(b, 64, false, "DOSSIER-2026-000123")
}

// BenchmarkRegisterParallelMatch: 64 concurrent callers; every youth is
// reported by two institutions, so half the registrations make a match and
// assign a coordinator.
func BenchmarkRegisterParallelMatch(b *testing.B) {
	benchParallel(b, 64, true, "")
}

func benchParallel(b *testing.B, callers int, match bool, ref string) {
	e := benchEnv(b)
	ids := bsns(b, b.N)
	var next atomic.Int64
	b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	cpu := benchcpu.Start()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := e.involvement(b, 0)
		r.ClientRef = ref
		for pb.Next() {
			i := int(next.Add(1) - 1)
			inst := wij
			if match {
				r.Youth = youthOf(b, e.m, ids[i/2])
				if i%2 == 1 {
					inst = ggd
				}
			} else {
				r.Youth = youthOf(b, e.m, ids[i])
			}
			if _, err := e.m.Register(ctx, matcher.Actor{Institution: inst}, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, "regs/s")
	cpu.Report(b)
}

// BenchmarkLookupParallel: 64 concurrent callers look up youths they are
// registered for, among 20,000 registered youths.
func BenchmarkLookupParallel(b *testing.B) {
	e := benchEnv(b)
	const youths = 20000
	ids := bsns(b, youths)
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.involvement(b, 0)
			for i := w; i < youths; i += 64 {
				r.Youth = youthOf(b, e.m, ids[i])
				e.register(b, wij, r)
			}
		}()
	}
	wg.Wait()
	actor := matcher.Actor{Institution: wij}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	cpu := benchcpu.Start()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)) % youths
			if _, err := e.m.Lookup(ctx, actor, youthOf(b, e.m, ids[i])); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, "lookups/s")
	cpu.Report(b)
}

// BenchmarkMatchAfterRotation: b.N youths reported by a school under the
// old key; after a rotation, 64 callers report every youth again for WIJ
// under the new primary key. Each report computes two pseudonyms, finds the
// old record, makes the match and moves the record to the new key: the
// rate is the migration rate under load. BenchmarkMatchWithoutRotation is
// the same work with no rotation, for the ratio.
func BenchmarkMatchAfterRotation(b *testing.B)   { benchMatchExisting(b, true) }
func BenchmarkMatchWithoutRotation(b *testing.B) { benchMatchExisting(b, false) }

func benchMatchExisting(b *testing.B, rotate bool) {
	h1, err := keys.Create()
	if err != nil {
		b.Fatal(err)
	}
	ps1, err := pseudonym.New(h1)
	if err != nil {
		b.Fatal(err)
	}
	e := newEnvWith(b, ps1, b.TempDir(), quiet())
	b.Cleanup(func() { e.store.Close() })
	ids := bsns(b, b.N)
	parallel := func(m *matcher.Matcher, inst string, r matcher.Registration) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				r := r
				for {
					i := int(next.Add(1) - 1)
					if i >= len(ids) {
						return
					}
					r.Youth = youthOf(b, m, ids[i])
					if _, err := m.Register(ctx, matcher.Actor{Institution: inst}, r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	parallel(e.m, school, e.signal(b, 0))
	ps2 := ps1
	if rotate {
		h2, _, err := keys.Rotate(h1)
		if err != nil {
			b.Fatal(err)
		}
		if ps2, err = pseudonym.New(h2); err != nil {
			b.Fatal(err)
		}
	}
	m2, err := matcher.New(matcher.Config{Store: e.store, Pseudonymiser: ps2, Covenant: exampleCovenant(b), Clock: e.clock.Now, Location: time.UTC})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	parallel(m2, wij, e.involvement(b, 0))
	b.StopTimer()
	reportRate(b, "regs/s")
	if rotate {
		if live := e.store.LiveByKey(); live[ps1.PrimaryKeyID()] != 0 {
			b.Fatalf("%d live registrations left under the old key", live[ps1.PrimaryKeyID()])
		}
	}
}

// BenchmarkExpireAt23: the expiry run on the first day of a month destroys
// everything of the youths who turn 23 in it (Jeugdwet art. 7.1.4.5): 2,000
// youths, each with two live registrations and one archived. One op is one
// run over all of them; ns/op over 2,000 is the cost a youth. (Nationally
// some 15,000 youths a month turn 23, all due on the month's first day.)
func BenchmarkExpireAt23(b *testing.B) {
	const youths = 2000
	for b.Loop() {
		b.StopTimer()
		e := benchEnv(b)
		born := birth(b, "2004-01-10") // 23 in January 2027
		for n := range youths {
			s, r, w := e.signal(b, n), e.involvement(b, n), e.involvement(b, n)
			s.BirthDate, r.BirthDate, w.BirthDate = born, born, born
			e.register(b, school, s)
			res := e.register(b, ggd, r)
			if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, res.ID, time.Time{}, matcher.EndRiskGone); err != nil {
				b.Fatal(err)
			}
			e.register(b, wij, w)
		}
		e.clock.Set(time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC))
		b.StartTimer()
		st, err := e.m.ExpireDue(ctx)
		b.StopTimer()
		if err != nil || st.Ended != 2*youths || st.Purged != 3*youths {
			b.Fatalf("%+v %v", st, err)
		}
		e.store.Close()
		b.StartTimer()
	}
}

// BenchmarkRegisterFamily: registrations with two parents (two extra
// pseudonyms each under every key, the relation keys locked, the family
// index read and written) side by side with the same registrations
// without; 64 concurrent callers, each registration a new youth, and with
// parents every two youths are siblings reported by two institutions, so
// half the registrations make a family match.
func BenchmarkRegisterFamily(b *testing.B) {
	for _, parents := range []int{0, 2} {
		b.Run("parents="+strconv.Itoa(parents), func(b *testing.B) {
			e := benchEnv(b)
			ids := bsns(b, b.N)
			fams := make([][]identity.BSN, b.N/2+1)
			for i := range fams {
				for p := range parents {
					fams[i] = append(fams[i], bsnFor(b, 2_000_000+2*i+p))
				}
			}
			var next atomic.Int64
			b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := e.involvement(b, 0)
				for pb.Next() {
					i := int(next.Add(1) - 1)
					inst := wij
					if i%2 == 1 {
						inst = ggd
					}
					r.Youth = youthOf(b, e.m, ids[i])
					r.Parents = fams[i/2]
					if _, err := e.m.Register(ctx, matcher.Actor{Institution: inst}, r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b, "regs/s")
		})
	}
}

// BenchmarkRegisterFamilyBlind is BenchmarkRegisterFamily in a blind
// deployment: the youths' and the parents' elements are made (by a key
// holder's key, as client systems would) before the clock starts, so
// that it measures the index: per registration one layer over the
// youth's element and, with parents, one over each parent's, and their
// elements sealed for the registration.
func BenchmarkRegisterFamilyBlind(b *testing.B) {
	key := oprf.GenerateKey()
	for _, parents := range []int{0, 2} {
		b.Run("parents="+strconv.Itoa(parents), func(b *testing.B) {
			e := benchEnv(b)
			m := blindWith(b, e, e.ps, testkeys.Sealer(b), matcher.Layer{})
			ins := make([]oprf.Input, b.N)
			for i := range ins {
				ins[i] = oprf.YouthInput(bsnFor(b, i))
			}
			youths := testkeys.InputElements(b, ins, key)
			var fams [][]oprf.Element
			if parents > 0 {
				pins := make([]oprf.Input, 0, parents*(b.N/2+1))
				for i := range b.N/2 + 1 {
					for p := range parents {
						pins = append(pins, oprf.ParentInput(bsnFor(b, 2_000_000+2*i+p)))
					}
				}
				els := testkeys.InputElements(b, pins, key)
				for i := range b.N/2 + 1 {
					fams = append(fams, els[parents*i:parents*(i+1)])
				}
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
					y, err := m.YouthByElement(youths[i])
					if err != nil {
						b.Error(err)
						return
					}
					r.Youth = y
					if parents > 0 {
						r.ParentElements = fams[i/2]
					}
					if _, err := m.Register(ctx, matcher.Actor{Institution: inst}, r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b, "regs/s")
		})
	}
}

// BenchmarkRegisterLoadMatch is BenchmarkRegisterParallelMatch in a bulk
// load (pebblestore.Store.Load, as vindex import makes it): each youth's
// two reports by one of two writers per CPU, one after the other; the
// load spills between youths when its memory is full, and its Finish
// (the merge into tables and their ingestion, when the registrations are
// durable) is timed too.
func BenchmarkRegisterLoadMatch(b *testing.B) {
	e := benchEnv(b)
	ids := bsns(b, b.N/2+1)
	l, err := e.store.Load(pebblestore.LoadOptions{Memory: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	youths := make(chan int, 64)
	var inflight, wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			r := e.involvement(b, 0)
			for y := range youths {
				r.Youth = youthOf(b, e.m, ids[y])
				for i, inst := range []string{wij, ggd} {
					if 2*y+i >= b.N {
						break
					}
					if _, err := e.m.Register(ctx, matcher.Actor{Institution: inst}, r); err != nil {
						b.Error(err)
					}
				}
				inflight.Done()
			}
		})
	}
	for y := 0; 2*y < b.N; y++ {
		if l.Due() {
			inflight.Wait()
			if err := l.Spill(); err != nil {
				b.Fatal(err)
			}
		}
		inflight.Add(1)
		youths <- y
	}
	close(youths)
	wg.Wait()
	if _, err := l.Finish(ctx); err != nil {
		b.Fatal(err)
	}
	reportRate(b, "regs/s")
}
