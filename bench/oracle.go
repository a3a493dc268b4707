package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vindex-nl/vindex/bench/target"
)

// The oracle workload's institutions: OracleReporter registers the known
// youths; OracleAsker, involved with none of them, looks them up.
var (
	OracleReporter = target.Institutions[0]
	OracleAsker    = target.Institutions[1]
)

// OracleOps is the oracle workload's usual size: 2,000 lookups of each
// class.
const OracleOps = 4000

// OracleResult is what the oracle workload found: whether the time an uninvolved
// lookup takes tells a registered youth from an unknown one. Z and AUC
// compare the registered youths' latencies (sample 1) with the unknown
// youths' (sample 2): Z > 0 and AUC > 0.5 mean registered youths are
// slower.
type OracleResult struct {
	Registered int `json:"registered_lookups"`
	Unknown    int `json:"unknown_lookups"`
	// U is the Mann-Whitney U of the registered youths' latencies.
	U float64 `json:"mann_whitney_u"`
	// Z is U's normal approximation, with the tie correction.
	Z float64 `json:"mann_whitney_z"`
	// AUC is U/(n1·n2): the chance that a registered youth's lookup takes
	// longer than an unknown youth's (ties count half).
	AUC float64 `json:"auc"`
	// The median latencies of each class, in microseconds.
	RegisteredMedian float64 `json:"registered_median_us"`
	UnknownMedian    float64 `json:"unknown_median_us"`
}

// Holds reports whether the lookups tell the classes apart no better than
// chance at the workload's targets: |Z| < 3 and AUC within 0.5 ± 0.03.
func (o *OracleResult) Holds() bool { return math.Abs(o.Z) < 3 && math.Abs(o.AUC-0.5) <= 0.03 }

// MannWhitney returns the Mann-Whitney U of sample a against sample b (the
// pairs in which a's value is larger, ties counting half), its z in the
// normal approximation with the tie correction, and AUC = U/(len(a)·len(b)).
// Both samples must be non-empty.
func MannWhitney(a, b []float64) (u, z, auc float64) {
	type obs struct {
		v     float64
		fromA bool
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(x, y obs) int { return cmpFloat(x.v, y.v) })
	n1, n2, n := float64(len(a)), float64(len(b)), float64(len(all))
	var rankA, ties float64 // sum of a's ranks; Σ(t³−t) over tie groups
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		mid := float64(i+j+1) / 2 // ranks i+1 … j, averaged
		for k := i; k < j; k++ {
			if all[k].fromA {
				rankA += mid
			}
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	u = rankA - n1*(n1+1)/2
	sigma := math.Sqrt(n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1))))
	if sigma > 0 {
		z = (u - n1*n2/2) / sigma
	}
	return u, z, u / (n1 * n2)
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runOracle runs the oracle workload: OracleReporter registers c.Youths
// youths (c.Concurrency callers), then OracleAsker looks up c.Ops/2 of
// them and c.Ops/2 youths never registered, in a seeded random order, one
// at a time, so that no queueing blurs the latencies.
func runOracle(ctx context.Context, t Target, c Config, progress Progress) (*Result, error) {
	pop := target.NewYouths(c.Seed)
	pop.Grow(2 * c.Youths) // 0…Youths-1 registered, the rest unknown
	regs, err := oracleSetup(ctx, t, c, pop)
	if err != nil {
		return nil, err
	}
	n1 := c.Ops / 2
	classes := make([]bool, c.Ops) // true: a registered youth
	for i := range n1 {
		classes[i] = true
	}
	r := rand.New(rand.NewPCG(c.Seed, uint64(len(c.Workload))))
	r.Shuffle(len(classes), func(i, j int) { classes[i], classes[j] = classes[j], classes[i] })
	known, unknown := r.Perm(c.Youths), r.Perm(c.Youths)

	tl := newTally()
	tl.outcomes[Registered] = regs
	var lat [2][]float64 // [0] registered, [1] unknown, in µs
	var looker sync.WaitGroup
	start := time.Now()
	looker.Go(func() {
		h := newHist()
		var ki, ui int
		for _, reg := range classes {
			if ctx.Err() != nil {
				break
			}
			y, cls := unknown[ui%c.Youths]+c.Youths, 1
			if reg {
				y, cls = known[ki%c.Youths], 0
				ki++
			} else {
				ui++
			}
			began := time.Now()
			res, err := t.Lookup(ctx, OracleAsker, pop.Youth(y, false))
			d := time.Since(began)
			tl.mu.Lock()
			if err != nil {
				tl.errs[errCode(err)]++
				tl.failed.Add(1)
			} else {
				tl.outcomes[res]++
				lat[cls] = append(lat[cls], float64(d.Nanoseconds())/1e3)
				_ = h.RecordValue(max(1, d.Microseconds()))
			}
			tl.mu.Unlock()
			tl.done.Add(1)
		}
		tl.hist.Merge(h)
	})
	series := <-sampleThroughput(tl, &looker, start, c.Interval, progress)
	res := tl.result(t.Name(), c, time.Since(start), series, nil)
	res.Regs = 0 // the setup's registrations are not the measured operations
	res.Ops = tl.done.Load() - tl.failed.Load()
	res.OpsRate = float64(res.Ops) / res.Elapsed
	if len(lat[0]) > 0 && len(lat[1]) > 0 {
		o := &OracleResult{Registered: len(lat[0]), Unknown: len(lat[1]), RegisteredMedian: median(lat[0]), UnknownMedian: median(lat[1])}
		o.U, o.Z, o.AUC = MannWhitney(lat[0], lat[1])
		res.Oracle = o
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("bench: %s stopped: %w", t.Name(), err)
	}
	return res, nil
}

// oracleSetup registers youths 0…c.Youths-1 by OracleReporter, with
// c.Concurrency callers, and returns how many it registered.
func oracleSetup(ctx context.Context, t Target, c Config, pop *target.Youths) (int64, error) {
	var next, done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c.Concurrency)
	for range min(c.Concurrency, c.Youths) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < c.Youths && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if _, err := t.Register(ctx, OracleReporter, pop.Youth(i, false)); err != nil {
					errs <- fmt.Errorf("bench: oracle setup: registering youth %d: %w", i, err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return done.Load(), ctx.Err()
}

// line is the report's sentence on o, for the target name.
func (o *OracleResult) line(name string) string {
	verdict := "the timing does not tell them apart"
	if !o.Holds() {
		verdict = "**the timing tells them apart**"
	}
	return fmt.Sprintf("Timing oracle on %s: %d lookups of registered and %d of unknown youths by an uninvolved institution, "+
		"Mann-Whitney z = %.2f, AUC = %.3f (target |z| < 3, AUC 0.5 ± 0.03): %s; medians %.1f µs and %.1f µs.",
		name, o.Registered, o.Unknown, o.Z, o.AUC, verdict, o.RegisteredMedian, o.UnknownMedian)
}
