// Package bench is vindex's load generator: it drives a seeded workload
// against a target — vindex in-process, a vindex server over HTTPS, or one of
// the SQL baselines in bench/baseline — and measures throughput over time and
// latency in an HDR histogram. WriteReport turns the results into a report
// folder: report.json, report.md and SVG plots.
//
// # Workloads
//
//   - ingest: every operation registers a new youth (valid BSNs, drawn with a
//     correct eleven-check); no matches.
//   - rereport: repeat reports of a population of known youths, drawn with a
//     Zipf skew, by institutions drawn uniformly, so matches happen.
//   - mixed: registrations (as rereport), lookups and ends in a configurable
//     mix.
//   - bulk: each youth is registered by two institutions, as fast as the
//     target takes them: one match per youth.
//   - oracle: one institution registers a set of youths; then another,
//     involved with none of them, looks up each registered youth and as many
//     never registered, interleaved at random, one at a time. Result.Oracle
//     tells whether the lookup's latency gives away which youths are
//     registered (Mann-Whitney z and AUC).
//   - hotyouth: the attack of one youth made expensive. One institution
//     (HotVictim) registers a youth; another (HotAttacker) registers and
//     ends the same youth Hot.Ended times, one cycle after another, so that
//     the target holds as much of the youth's history as it lets an
//     attacker build. Then the mixed workload's operations run over the
//     ordinary population, closed loop, after a warm-up for Hot.Phase alone
//     and Hot.Phase beside Hot.Rate lookups a second of the hot youth by a
//     third institution involved with neither (HotAsker), open loop; the
//     two phases take turns in three segments each, so that a drift of
//     the rate over the run falls on both alike.
//     Result.Hot gives the normal traffic's rate in each phase and their
//     ratio, the hot lookups' latency, and the events the victim holds
//     about the hot youth.
//
// The sequence of operations depends only on the workload, its size and the
// seed, never on timing: two targets given the same configuration get the
// same operations, so their counts of new registrations and new matches must
// agree (NewReport checks it). The hotyouth workload is the exception: its
// phases are timed, so how many of its operations run depends on the
// target's speed.
//
// # Closed and open loop
//
// With Rate zero, Concurrency callers each issue the next operation as soon
// as their last one is answered (closed loop); latency is the time of each
// call. With a Rate, operations are scheduled at fixed intervals whether or
// not earlier ones are answered (open loop), and latency is measured from the
// scheduled time, so a stalled target is charged for the operations that
// queued behind the stall (no coordinated omission).
//
// # Never logged
//
// The generator's BSNs are synthetic, but a report never holds one: results
// carry counts, rates and latencies only, and error counts are keyed by a
// stable code, never by a message.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/vindex-nl/vindex/bench/target"
	"github.com/vindex-nl/vindex/matcher"
)

// Workload names a kind of load.
type Workload string

// The workloads.
const (
	Ingest   Workload = "ingest"
	Rereport Workload = "rereport"
	Mixed    Workload = "mixed"
	Bulk     Workload = "bulk"
	Oracle   Workload = "oracle"
	HotYouth Workload = "hotyouth"
)

// Workloads lists the workloads in the order the documentation gives.
var Workloads = []Workload{Ingest, Rereport, Mixed, Bulk, Oracle, HotYouth}

// Mix is the share of each operation in the mixed workload, in parts.
type Mix struct {
	Register int `json:"register"`
	Lookup   int `json:"lookup"`
	End      int `json:"end"`
}

// DefaultMix is 70 % registrations, 25 % lookups and 5 % ends.
var DefaultMix = Mix{Register: 70, Lookup: 25, End: 5}

// ParseMix reads "register:lookup:end" parts, e.g. "70:25:5".
func ParseMix(s string) (Mix, error) {
	var m Mix
	if _, err := fmt.Sscanf(s, "%d:%d:%d", &m.Register, &m.Lookup, &m.End); err != nil || strings.Count(s, ":") != 2 {
		return Mix{}, fmt.Errorf("bench: mix %q: want register:lookup:end, e.g. 70:25:5", s)
	}
	if m.Register < 0 || m.Lookup < 0 || m.End < 0 || m.Register+m.Lookup+m.End == 0 {
		return Mix{}, fmt.Errorf("bench: mix %q: parts must be ≥ 0 and not all 0", s)
	}
	return m, nil
}

// Config is one run's workload and load shape.
type Config struct {
	Workload Workload `json:"workload"`
	// Ops is the number of operations (bulk: registrations, two per youth;
	// oracle: the lookups, half of them of registered youths; hotyouth:
	// none, its phases are timed, Ops only sizes the population).
	Ops int `json:"ops"`
	// Youths is the population rereport, mixed and hotyouth draw from; if
	// zero, Ops/4 (at least 1). Oracle registers Youths youths and looks up
	// as many unknown ones; if zero, Ops/2.
	Youths int `json:"youths,omitempty"`
	// Zipf is the skew s > 1 of the draw over the population; if zero, 1.1.
	Zipf float64 `json:"zipf,omitempty"`
	// Mix shapes the mixed workload (and hotyouth's normal traffic); if
	// zero, DefaultMix.
	Mix Mix `json:"mix,omitzero"`
	// Concurrency is the number of callers; if zero, 64. The oracle
	// workload's lookups are made one at a time whatever it is.
	Concurrency int `json:"concurrency"`
	// Rate, if set, is the open-loop arrival rate in operations per second.
	Rate float64 `json:"rate,omitempty"`
	// Seed makes the operations repeatable.
	Seed uint64 `json:"seed"`
	// Interval is the throughput sampling interval; if zero, one second.
	Interval time.Duration `json:"interval_ns"`
	// Abuse, against an HTTPS target, runs misbehaving clients beside the
	// workload; Result.Abuse counts what they got.
	Abuse Abuse `json:"abuse,omitzero"`
	// Hot shapes the hotyouth workload (its zero value: the defaults).
	Hot Hot `json:"hot,omitzero"`
}

// checkWorkload checks that c names a workload and that the hot settings
// are given only to hotyouth, and fills in their defaults.
func (c *Config) checkWorkload() error {
	switch c.Workload {
	case Ingest, Rereport, Mixed, Bulk, Oracle, HotYouth:
	case "":
		return errors.New("bench: no workload")
	default:
		return fmt.Errorf("bench: unknown workload %q (want ingest, rereport, mixed, bulk, oracle or hotyouth)", c.Workload)
	}
	if c.Workload == HotYouth {
		return c.Hot.defaults()
	}
	if c.Hot != (Hot{}) {
		return errors.New("bench: the hot settings are for the hotyouth workload")
	}
	return nil
}

func (c *Config) defaults() error {
	if err := c.checkWorkload(); err != nil {
		return err
	}
	if c.Ops <= 0 {
		return errors.New("bench: ops must be > 0")
	}
	if c.Youths == 0 && c.Workload == Oracle {
		c.Youths = max(1, c.Ops/2)
	}
	if c.Youths == 0 {
		c.Youths = max(1, c.Ops/4)
	}
	if c.Youths > target.MaxYouths || c.Ops > target.MaxYouths*2 && c.Workload != Rereport {
		return fmt.Errorf("bench: at most %d youths", target.MaxYouths)
	}
	if c.Workload == Oracle && (c.Ops < 2 || 2*c.Youths > target.MaxYouths) {
		return fmt.Errorf("bench: the oracle workload needs ops ≥ 2 and at most %d youths", target.MaxYouths/2)
	}
	if c.Workload == HotYouth && c.Youths == target.MaxYouths {
		return fmt.Errorf("bench: the hotyouth workload needs at most %d youths (its hot youth is one more)", target.MaxYouths-1)
	}
	if c.Zipf == 0 {
		c.Zipf = 1.1
	}
	if c.Zipf <= 1 {
		return errors.New("bench: zipf skew must be > 1")
	}
	if c.Mix == (Mix{}) {
		c.Mix = DefaultMix
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if c.Rate < 0 {
		return errors.New("bench: rate must be ≥ 0")
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	return nil
}

// Code is implemented by errors that carry a stable code (an HTTP problem
// code, say); the result counts errors by it.
type Code interface{ Code() string }

func errCode(err error) string {
	var c Code
	if errors.As(err, &c) {
		return c.Code()
	}
	var fe *matcher.FieldError
	if errors.As(err, &fe) {
		return "invalid_" + fe.Field
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	return "error"
}

// Sample is the throughput of one interval.
type Sample struct {
	// At is the end of the interval, in seconds since the start.
	At float64 `json:"at_s"`
	// Rate is operations completed in the interval per second.
	Rate float64 `json:"ops_per_s"`
	// Errors is the number of failed operations in the interval.
	Errors int64 `json:"errors"`
}

// Latency summarises the latency histogram, in milliseconds.
type Latency struct {
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

// Bucket is one bar of the latency histogram: Count operations took between
// From and To milliseconds.
type Bucket struct {
	From  float64 `json:"from_ms"`
	To    float64 `json:"to_ms"`
	Count int64   `json:"count"`
}

// Point is one point of the percentile spectrum.
type Point struct {
	Percentile float64 `json:"percentile"`
	Latency    float64 `json:"latency_ms"`
}

// Result is one run of one workload against one target.
type Result struct {
	Target   string  `json:"target"`
	Config   Config  `json:"config"`
	Elapsed  float64 `json:"elapsed_s"`
	Ops      int64   `json:"ops"`
	OpsRate  float64 `json:"ops_per_s"`
	Regs     int64   `json:"registrations"`
	RegsRate float64 `json:"registrations_per_s"`
	// Outcomes counts the answers by Outcome name.
	Outcomes map[string]int64 `json:"outcomes"`
	// Errors counts failed operations by code.
	Errors map[string]int64 `json:"errors,omitempty"`
	// ErrorExamples is the first error of each code in Errors, as it read
	// (never a BSN: the targets' errors do not quote one).
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
	Latency       Latency           `json:"latency"`
	Spectrum      []Point           `json:"spectrum"`
	Buckets       []Bucket          `json:"histogram"`
	Series        []Sample          `json:"series"`
	// Trend compares the throughput at the end of the run with that at its
	// start; nil if the run had fewer than two full intervals, or if its
	// workload is not one steady load (see Trend).
	Trend *Trend `json:"trend,omitempty"`
	// PeakRSS is the process's peak resident set size in bytes at the end
	// of the run (the whole process, all runs so far).
	PeakRSS int64 `json:"peak_rss_bytes,omitempty"`
	// Abuse counts what the misbehaving clients got, if there were any.
	Abuse []AbuseResult `json:"abuse,omitempty"`
	// Oracle is what the oracle workload found.
	Oracle *OracleResult `json:"oracle,omitempty"`
	// Hot is what the hotyouth workload found.
	Hot *HotResult `json:"hot,omitempty"`

	hist *hdrhistogram.Histogram
}

// Failed is the number of operations that ended in an error.
func (r *Result) Failed() int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

type op struct {
	kind  opKind
	inst  string
	youth int
	due   time.Time // open loop: when the operation was scheduled
}

type opKind uint8

const (
	opRegister opKind = iota
	opLookup
	opEnd
)

// Progress, if set on a run, is told the number of operations finished so
// far, about every 100 ms.
type Progress func(done int64)

// Run runs the workload c against t and returns its figures. It stops early,
// with the figures so far and ctx's error, if ctx ends.
func Run(ctx context.Context, t Target, c Config, progress Progress) (*Result, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	if c.Workload == Oracle {
		if c.Abuse != (Abuse{}) || c.Rate > 0 {
			return nil, errors.New("bench: the oracle workload runs alone and closed-loop (no abuse, no rate)")
		}
		return runOracle(ctx, t, c, progress)
	}
	if c.Workload == HotYouth {
		if c.Abuse != (Abuse{}) || c.Rate > 0 {
			return nil, errors.New("bench: the hotyouth workload runs its own traffic (no abuse, no rate)")
		}
		return runHotYouth(ctx, t, c, progress)
	}
	pop := population(c)
	stopAbuse, err := startAbuse(ctx, t, c.Abuse)
	if err != nil {
		return nil, err
	}
	ops := make(chan op, 4*c.Concurrency)
	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	start := time.Now()
	go generate(genCtx, c, ops, start)

	tl := newTally()
	callers := startCallers(ctx, t, c, pop, ops, tl)
	sampled := sampleThroughput(tl, callers, start, c.Interval, progress)
	callers.Wait()
	elapsed := time.Since(start)
	series := <-sampled
	abused := stopAbuse()

	r := tl.result(t.Name(), c, elapsed, series, abused)
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("bench: %s stopped: %w", t.Name(), err)
	}
	return r, nil
}

// population makes the youths c's workload draws from: one per operation
// for ingest, one per two registrations for bulk, c.Youths otherwise.
func population(c Config) *target.Youths {
	pop := target.NewYouths(c.Seed)
	switch c.Workload {
	case Ingest:
		pop.Grow(c.Ops)
	case Bulk:
		pop.Grow((c.Ops + 1) / 2)
	default:
		pop.Grow(c.Youths)
	}
	return pop
}

// tally is what a run's callers found: the counts of operations finished and
// failed so far, which the sampler reads while they work, and the latencies,
// outcomes and error codes, which each caller adds when it is done.
type tally struct {
	done, failed atomic.Int64

	mu       sync.Mutex
	hist     *hdrhistogram.Histogram
	outcomes [target.NumOutcomes]int64
	errs     map[string]int64
	// example is the first error of each code, as it read.
	example map[string]string
}

func newTally() *tally {
	return &tally{hist: newHist(), errs: map[string]int64{}, example: map[string]string{}}
}

// startCallers starts c.Concurrency callers on the operations from ops; the
// returned group is done when ops is closed and drained. The callers are the
// same in a closed and an open loop: only the schedule of ops differs.
func startCallers(ctx context.Context, t Target, c Config, pop *target.Youths, ops <-chan op, tl *tally) *sync.WaitGroup {
	endable := c.Workload == Mixed && c.Mix.End > 0
	var wg sync.WaitGroup
	for range c.Concurrency {
		wg.Go(func() { tl.call(ctx, t, pop, endable, ops) })
	}
	return &wg
}

// call is one caller: it runs the operations from ops until ops is closed,
// counting each in tl as it finishes, and then adds its latencies, outcomes
// and error codes to tl.
func (tl *tally) call(ctx context.Context, t Target, pop *target.Youths, endable bool, ops <-chan op) {
	h := newHist()
	var out [target.NumOutcomes]int64
	local, example := map[string]int64{}, map[string]string{}
	for o := range ops {
		began := time.Now()
		if !o.due.IsZero() {
			began = o.due // open loop: latency counts from the scheduled time
		}
		res, err := do(ctx, t, o, pop.Youth(o.youth, endable))
		if err != nil {
			code := errCode(err)
			local[code]++
			if _, ok := example[code]; !ok {
				example[code] = err.Error()
			}
			tl.failed.Add(1)
		} else {
			out[res]++
			if res != Skipped {
				_ = h.RecordValue(max(1, time.Since(began).Microseconds()))
			}
		}
		tl.done.Add(1)
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.hist.Merge(h)
	for i, n := range out {
		tl.outcomes[i] += n
	}
	for k, n := range local {
		tl.errs[k] += n
	}
	for k, e := range example {
		if _, ok := tl.example[k]; !ok {
			tl.example[k] = e
		}
	}
}

// do sends one operation to t.
func do(ctx context.Context, t Target, o op, y Youth) (Outcome, error) {
	switch o.kind {
	case opRegister:
		return t.Register(ctx, o.inst, y)
	case opLookup:
		return t.Lookup(ctx, o.inst, y)
	case opEnd:
		return t.End(ctx, o.inst, y)
	}
	return 0, nil
}

// sampleThroughput samples tl's counts every interval, and tells progress
// the operations done about every 100 ms, until the callers are done. The
// returned channel then gets the samples: a last one for a part interval
// with operations in it, and none for an interval after the last operation.
func sampleThroughput(tl *tally, callers *sync.WaitGroup, start time.Time, interval time.Duration, progress Progress) <-chan []Sample {
	sampled := make(chan []Sample, 1)
	finished := make(chan struct{})
	go func() { callers.Wait(); close(finished) }()
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		prog := time.NewTicker(100 * time.Millisecond)
		defer prog.Stop()
		tell := func() {
			if progress != nil {
				progress(tl.done.Load())
			}
		}
		s := sampler{tl: tl, start: start, last: start}
		for {
			select {
			case now := <-tick.C:
				s.sample(now)
			case <-prog.C:
				tell()
			case <-finished:
				if now := time.Now(); tl.done.Load() > s.lastDone && now.After(s.last) {
					s.sample(now)
				}
				tell()
				sampled <- s.series
				return
			}
		}
	}()
	return sampled
}

// sampler holds the throughput series and where its last sample ended.
type sampler struct {
	tl                   *tally
	start, last          time.Time
	lastDone, lastFailed int64
	series               []Sample
}

// sample records the interval since the last sample: operations that
// succeeded in it per second, and those that failed.
func (s *sampler) sample(now time.Time) {
	d, f := s.tl.done.Load(), s.tl.failed.Load()
	s.series = append(s.series, Sample{
		At:     now.Sub(s.start).Seconds(),
		Rate:   float64(d-s.lastDone-(f-s.lastFailed)) / now.Sub(s.last).Seconds(),
		Errors: f - s.lastFailed,
	})
	s.lastDone, s.lastFailed, s.last = d, f, now
}

// result builds the Result of a run of c against the target name from what
// its callers found, once they are all done.
func (tl *tally) result(name string, c Config, elapsed time.Duration, series []Sample, abused []AbuseResult) *Result {
	r := &Result{Target: name, Config: c, Elapsed: elapsed.Seconds(), Outcomes: map[string]int64{}, hist: tl.hist, Series: series, Abuse: abused}
	for i, n := range tl.outcomes {
		r.Outcomes[Outcome(i).String()] = n
		if Outcome(i) != Skipped {
			r.Ops += n
		}
	}
	if len(tl.errs) > 0 {
		r.Errors, r.ErrorExamples = tl.errs, tl.example
	}
	r.Regs = tl.outcomes[Registered] + tl.outcomes[NewMatch] + tl.outcomes[Refreshed]
	r.OpsRate = float64(r.Ops) / elapsed.Seconds()
	r.RegsRate = float64(r.Regs) / elapsed.Seconds()
	r.summarise()
	if hasTrend(c.Workload) {
		r.Trend = trendOf(series, c.Interval)
	}
	r.PeakRSS = peakRSS()
	return r
}

// newHist records 1 µs to 10 minutes with three significant digits.
func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)
}

func ms(us int64) float64 { return float64(us) / 1000 }

// latencyOf summarises h, which holds microseconds.
func latencyOf(h *hdrhistogram.Histogram) Latency {
	return Latency{
		Mean: h.Mean() / 1000,
		P50:  ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)),
		Max: ms(h.Max()),
	}
}

// summarise fills Latency, Spectrum and Buckets from the histogram.
func (r *Result) summarise() {
	h := r.hist
	if h.TotalCount() == 0 {
		return
	}
	r.Latency = latencyOf(h)
	for _, q := range []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100} {
		r.Spectrum = append(r.Spectrum, Point{Percentile: q, Latency: ms(h.ValueAtQuantile(q))})
	}
	// 48 bars, log-spaced from the fastest to the slowest operation, so
	// that the body and the tail both show.
	const bars = 48
	lo, hi := float64(max(h.Min(), 1)), float64(max(h.Max(), 2))
	step := math.Log(hi/lo) / bars
	counts := make([]int64, bars)
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		i := int(math.Log(float64(max(b.From, 1))/lo) / step)
		counts[min(max(i, 0), bars-1)] += b.Count
	}
	for i, n := range counts {
		r.Buckets = append(r.Buckets, Bucket{From: lo * math.Exp(step*float64(i)) / 1000, To: lo * math.Exp(step*float64(i+1)) / 1000, Count: n})
	}
}

// generate sends c's operations in their seeded order, and for an open loop
// at their scheduled times.
func generate(ctx context.Context, c Config, ops chan<- op, start time.Time) {
	defer close(ops)
	g := newGenerator(c)
	var interval time.Duration
	if c.Rate > 0 {
		interval = time.Duration(float64(time.Second) / c.Rate)
	}
	for i := 0; i < c.Ops; i++ {
		o := g.next(i)
		if interval > 0 {
			o.due = start.Add(time.Duration(i) * interval)
			if d := time.Until(o.due); d > time.Millisecond {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return
				}
			}
		}
		select {
		case ops <- o:
		case <-ctx.Done():
			return
		}
	}
}
