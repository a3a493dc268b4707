package bench

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/vindex-nl/vindex/bench/target"
)

// The hotyouth workload's institutions, none of which the normal traffic
// reports as: HotVictim registers the hot youth once, HotAttacker registers
// and ends it over and over, and HotAsker, involved with neither, looks it
// up beside the normal traffic. Each needs a token on an HTTPS target (the
// dev-tokens.txt of serve --dev holds one for every institution).
var (
	HotVictim   = "jbn-groningen"
	HotAttacker = "sociaal-team-midden-groningen"
	HotAsker    = "sociaal-team-hogeland"
)

// The hotyouth workload's defaults: the run of the review that found the
// attack (issue 14, finding 3).
const (
	HotEnded = 20_000
	HotPhase = 15 * time.Second
	HotRate  = 42
)

// Hot shapes the hotyouth workload. Zero fields take the defaults above.
type Hot struct {
	// Ended is how many times HotAttacker registers and then ends the hot
	// youth, one cycle after another, before the measurement; if zero,
	// HotEnded (20,000).
	Ended int `json:"ended,omitempty"`
	// Phase is the length of each of the two measured phases (each in
	// three segments, taking turns, after a warm-up of a sixth of it); if
	// zero, HotPhase (15 s).
	Phase time.Duration `json:"phase_ns,omitempty"`
	// Rate is HotAsker's lookups of the hot youth a second in the second
	// phase, open loop; if zero, HotRate (42).
	Rate float64 `json:"lookups_per_s,omitempty"`
}

func (h *Hot) defaults() error {
	if h.Ended < 0 || h.Phase < 0 || h.Rate < 0 || math.IsNaN(h.Rate) {
		return fmt.Errorf("bench: hotyouth: ended, phase and rate must be ≥ 0")
	}
	if h.Ended == 0 {
		h.Ended = HotEnded
	}
	if h.Phase == 0 {
		h.Phase = HotPhase
	}
	if h.Rate == 0 {
		h.Rate = HotRate
	}
	if h.Rate > 10_000 {
		return fmt.Errorf("bench: hotyouth: at most 10,000 lookups a second")
	}
	return nil
}

// HotResult is what the hotyouth workload found: what the preparation
// built, the normal traffic's rate without and beside the lookups of the
// hot youth, and how many events the attack sent the victim.
type HotResult struct {
	// Ended is the register-and-end cycles HotAttacker completed.
	// Prepare counts its registrations by outcome: new ones (registered,
	// new_match) add to the youth's history, refreshed ones do not.
	Ended   int64            `json:"ended"`
	Prepare map[string]int64 `json:"prepare_outcomes"`
	// PrepareErrors counts the failed calls of the preparation by code
	// (the attacker carries on after each).
	PrepareErrors  map[string]int64 `json:"prepare_errors,omitempty"`
	PrepareSeconds float64          `json:"prepare_s"`
	// Without and With are the normal traffic's successful operations a
	// second alone and beside the lookups of the hot youth, each over its
	// segments (the two take turns, after a warm-up); Ratio is With /
	// Without.
	Without float64 `json:"without_ops_per_s"`
	With    float64 `json:"with_ops_per_s"`
	Ratio   float64 `json:"ratio"`
	// Lookups is HotAsker's lookups of the hot youth answered; Latency is
	// theirs, from each one's scheduled time; LookupErrors counts the
	// failed ones by code ("not_sent": 256 were in flight already).
	Lookups      int64            `json:"lookups"`
	Latency      Latency          `json:"lookup_latency"`
	LookupErrors map[string]int64 `json:"lookup_errors,omitempty"`
	// VictimEvents is the outbox events HotVictim holds about its
	// registration for the hot youth at the end of the run, by type in
	// VictimEventTypes; -1 if the target cannot tell (a SQL baseline).
	VictimEvents     int64            `json:"victim_events"`
	VictimEventTypes map[string]int64 `json:"victim_event_types,omitempty"`
}

// Holds reports whether the normal traffic kept at least 90 % of its rate
// beside the lookups of the hot youth (the target).
func (h *HotResult) Holds() bool { return h.Ratio >= 0.9 }

// eventCounter is implemented by targets that can read an institution's
// outbox (vindex in process and over HTTPS).
type eventCounter interface {
	// eventsAbout counts inst's outbox events about its own registration
	// for y, by event type.
	eventsAbout(ctx context.Context, inst string, y Youth) (map[string]int64, error)
}

// runHotYouth runs the hotyouth workload: it prepares the hot youth (youth
// c.Youths, outside the normal traffic's population 0…c.Youths-1), then runs
// the mixed workload's operations, closed loop, for c.Hot.Phase alone and
// c.Hot.Phase beside HotAsker's lookups of the hot youth (in turns, see
// measure), and last reads
// HotVictim's events about it. The Result's figures other than Hot are the
// normal traffic's over both phases.
func runHotYouth(ctx context.Context, t Target, c Config, progress Progress) (*Result, error) {
	pop := target.NewYouths(c.Seed)
	pop.Grow(c.Youths + 1)
	hot := pop.Youth(c.Youths, true) // endable: the targets remember its registrations' IDs
	h := &HotResult{Prepare: map[string]int64{}, VictimEvents: -1}
	if err := h.prepare(ctx, t, c.Hot.Ended, hot); err != nil {
		return nil, err
	}
	r, err := h.measure(ctx, t, c, pop, hot, progress)
	r.Hot = h
	if err != nil {
		return r, err
	}
	if ec, ok := t.(eventCounter); ok {
		types, err := ec.eventsAbout(ctx, HotVictim, hot)
		if err != nil {
			return r, fmt.Errorf("bench: hotyouth: reading %s's events: %w", HotVictim, err)
		}
		h.VictimEvents, h.VictimEventTypes = 0, types
		for _, n := range types {
			h.VictimEvents += n
		}
	}
	return r, nil
}

// prepare registers the hot youth as HotVictim, then registers and ends it
// as HotAttacker n times, one call after another, as fast as the target
// answers. A failed call is counted and the attacker carries on (after a
// pause if it was rate limited); 100 failed cycles in a row end the run.
func (h *HotResult) prepare(ctx context.Context, t Target, n int, hot Youth) error {
	start := time.Now()
	defer func() { h.PrepareSeconds = time.Since(start).Seconds() }()
	if _, err := t.Register(ctx, HotVictim, hot); err != nil {
		return fmt.Errorf("bench: hotyouth: %s registering the hot youth: %w", HotVictim, err)
	}
	failed := 0
	for range n {
		err := h.cycle(ctx, t, hot)
		if err == nil {
			failed = 0
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("bench: hotyouth: preparation stopped: %w", ctx.Err())
		}
		code := errCode(err)
		if h.PrepareErrors == nil {
			h.PrepareErrors = map[string]int64{}
		}
		h.PrepareErrors[code]++
		if failed++; failed == 100 {
			return fmt.Errorf("bench: hotyouth: 100 register-and-end cycles failed in a row, the last: %w", err)
		}
		if code == "rate_limited" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// cycle registers the hot youth as HotAttacker and ends that registration.
func (h *HotResult) cycle(ctx context.Context, t Target, hot Youth) error {
	res, err := t.Register(ctx, HotAttacker, hot)
	if err != nil {
		return err
	}
	h.Prepare[res.String()]++
	res, err = t.End(ctx, HotAttacker, hot)
	if err != nil {
		return err
	}
	if res != Ended {
		return fmt.Errorf("bench: hotyouth: the attacker's end was %s", res)
	}
	h.Ended++
	return nil
}

// hotSegments is how many segments the two phases are measured in, taking
// turns (alone, beside, alone, …): a drift of the normal traffic's rate
// over the run (a new store is fast before its first flush) falls on both
// alike instead of on the second phase only.
const hotSegments = 6

// measure runs the normal traffic for a warm-up (not counted) and then for
// two phases' worth of segments taking turns, alone and beside the lookups
// of the hot youth, and fills h's rates and lookup figures.
func (h *HotResult) measure(ctx context.Context, t Target, c Config, pop *target.Youths, hot Youth, progress Progress) (*Result, error) {
	normal := c
	normal.Workload, normal.Ops = Mixed, math.MaxInt // the mixed operations, until stopped
	ops := make(chan op, 4*c.Concurrency)
	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	start := time.Now()
	go generate(genCtx, normal, ops, start)
	tl := newTally()
	callers := startCallers(ctx, t, normal, pop, ops, tl)
	sampled := sampleThroughput(tl, callers, start, c.Interval, progress)
	succeeded := func() int64 { return tl.done.Load() - tl.failed.Load() }

	var beside atomic.Bool
	lookups := startHotLookups(ctx, t, hot, c.Hot.Rate, beside.Load)
	err := sleep(ctx, c.Hot.Phase/hotSegments) // warm-up
	var done [2]int64
	var took [2]time.Duration
	for i := 0; i < hotSegments && err == nil; i++ {
		k := i % 2 // 0 alone, 1 beside
		beside.Store(k == 1)
		n0, t0 := succeeded(), time.Now()
		err = sleep(ctx, 2*c.Hot.Phase/hotSegments)
		done[k] += succeeded() - n0
		took[k] += time.Since(t0)
	}
	lookups.stop(h)
	stopGen()
	callers.Wait()
	elapsed := time.Since(start)
	r := tl.result(t.Name(), c, elapsed, <-sampled, nil)
	if err != nil {
		return r, fmt.Errorf("bench: %s stopped: %w", t.Name(), err)
	}
	h.Without = float64(done[0]) / took[0].Seconds()
	h.With = float64(done[1]) / took[1].Seconds()
	h.Ratio = ratio(h.With, h.Without)
	return r, nil
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hotLookups is HotAsker's lookups of the hot youth, open loop.
type hotLookups struct {
	quit     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	hist     *hdrhistogram.Histogram
	answered int64
	errs     map[string]int64
}

// startHotLookups starts rate lookups a second of y by HotAsker, each sent
// at its scheduled time whether or not the last was answered (at most 256
// in flight), its latency measured from that time; a time at which on
// reports false is skipped.
func startHotLookups(ctx context.Context, t Target, y Youth, rate float64, on func() bool) *hotLookups {
	l := &hotLookups{quit: make(chan struct{}), hist: newHist(), errs: map[string]int64{}}
	interval := time.Duration(float64(time.Second) / rate)
	inflight := make(chan struct{}, 256)
	start := time.Now()
	l.wg.Go(func() {
		for i := 0; ; i++ {
			due := start.Add(time.Duration(i) * interval)
			tm := time.NewTimer(time.Until(due))
			select {
			case <-l.quit:
				tm.Stop()
				return
			case <-ctx.Done():
				tm.Stop()
				return
			case <-tm.C:
			}
			if !on() {
				continue
			}
			select {
			case inflight <- struct{}{}:
			default:
				l.count(nil, "not_sent", 0)
				continue
			}
			l.wg.Go(func() {
				defer func() { <-inflight }()
				_, err := t.Lookup(ctx, HotAsker, y)
				l.count(err, "", time.Since(due))
			})
		}
	})
	return l
}

// count adds one lookup: answered after d, or failed with err (or code).
func (l *hotLookups) count(err error, code string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		l.errs[errCode(err)]++
	case code != "":
		l.errs[code]++
	default:
		l.answered++
		_ = l.hist.RecordValue(max(1, d.Microseconds()))
	}
}

// stop sends no more lookups, waits for those in flight and puts the
// figures into h.
func (l *hotLookups) stop(h *HotResult) {
	close(l.quit)
	l.wg.Wait()
	h.Lookups = l.answered
	if len(l.errs) > 0 {
		h.LookupErrors = l.errs
	}
	if l.hist.TotalCount() > 0 {
		h.Latency = latencyOf(l.hist)
	}
}

// lines are the report's sentences on h, for the target name.
func (h *HotResult) lines(name string, c Config) string {
	var b strings.Builder
	verdict := "within the target (≥ 0.9)"
	if !h.Holds() {
		verdict = "**below the target (≥ 0.9)**"
	}
	fmt.Fprintf(&b, "Hot youth on %s: %s registered and ended it %d times in %.1f s (%s); ", name, HotAttacker, h.Ended,
		h.PrepareSeconds, countList(h.Prepare))
	if len(h.PrepareErrors) > 0 {
		fmt.Fprintf(&b, "failed calls %s; ", countList(h.PrepareErrors))
	}
	fmt.Fprintf(&b, "normal traffic %.0f ops/s alone, %.0f ops/s beside %.0f lookups/s of the hot youth by %s: ratio %.3f, %s.",
		h.Without, h.With, c.Hot.Rate, HotAsker, h.Ratio, verdict)
	fmt.Fprintf(&b, " The hot lookups: %d answered, p50 %.2f ms, p99 %.2f ms, max %.2f ms", h.Lookups, h.Latency.P50, h.Latency.P99, h.Latency.Max)
	if len(h.LookupErrors) > 0 {
		fmt.Fprintf(&b, ", failed %s", countList(h.LookupErrors))
	}
	if h.VictimEvents < 0 {
		fmt.Fprintf(&b, ". %s's events: not read (the target has no outbox to read).", HotVictim)
	} else {
		fmt.Fprintf(&b, ". %s, the other institution on the youth, holds %d events about it (%s).", HotVictim, h.VictimEvents, countList(h.VictimEventTypes))
	}
	return b.String()
}

// countList renders counts as "a 3, b 1", by name.
func countList(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
