package bench

import (
	"fmt"
	"strings"
	"time"
)

// TrendWindow is the number of sampling intervals at each end of a run whose
// median Trend compares.
const TrendWindow = 5

// MinTrendRatio is the least share of its starting throughput a run should
// keep at its end. The report prints a ratio below it in bold, and notes a
// run whose Trend.Ratio is below it: one interval alone (Trend.LastFirst)
// swings too much on a busy machine, and the first interval of a run on a
// new store is faster than any later one (nothing is flushed or compacted
// yet), so only the medians make the note.
const MinTrendRatio = 0.8

// Trend compares the throughput at the end of a run with that at its
// start, over its full sampling intervals (a last, shorter interval, which
// holds the drain of the last operations, is left out). A run whose
// operations cost the same all along keeps a ratio near 1; one whose
// operations grow dearer with what the run stored falls below. Only the
// workloads that are one steady load have one (ingest, rereport, mixed,
// bulk).
type Trend struct {
	// Intervals is the number of full intervals the run had.
	Intervals int `json:"intervals"`
	// First and Last are the operations per second of the first and the
	// last full interval.
	First float64 `json:"first_ops_per_s"`
	Last  float64 `json:"last_ops_per_s"`
	// LastFirst is Last / First (0 if First is 0).
	LastFirst float64 `json:"last_over_first"`
	// FirstMedian and LastMedian are the medians of the first and the last
	// TrendWindow full intervals (of half of them each if the run had
	// fewer than 2·TrendWindow): less noisy than one interval.
	FirstMedian float64 `json:"first_median_ops_per_s"`
	LastMedian  float64 `json:"last_median_ops_per_s"`
	// Window is the number of intervals each median is taken over.
	Window int `json:"window"`
	// Ratio is LastMedian / FirstMedian (0 if FirstMedian is 0).
	Ratio float64 `json:"ratio"`
}

// hasTrend reports whether w's runs are one steady load from start to end,
// whose throughput at the end can be compared with that at its start: not
// the oracle's lookups one at a time after a setup, nor a workload run in
// phases of different loads.
func hasTrend(w Workload) bool {
	switch w {
	case Ingest, Rereport, Mixed, Bulk:
		return true
	}
	return false
}

// trendOf computes the Trend of a series sampled every interval; nil if it
// has fewer than two full intervals.
func trendOf(series []Sample, interval time.Duration) *Trend {
	var full []float64
	prev := 0.0
	for _, s := range series {
		if s.At-prev >= 0.9*interval.Seconds() {
			full = append(full, s.Rate)
		}
		prev = s.At
	}
	if len(full) < 2 {
		return nil
	}
	w := min(TrendWindow, len(full)/2)
	t := &Trend{
		Intervals: len(full), First: full[0], Last: full[len(full)-1], Window: w,
		FirstMedian: median(full[:w]), LastMedian: median(full[len(full)-w:]),
	}
	t.LastFirst = ratio(t.Last, t.First)
	t.Ratio = ratio(t.LastMedian, t.FirstMedian)
	return t
}

// Declined reports whether the median throughput at the end of the run is
// below MinTrendRatio times that at its start.
func (t *Trend) Declined() bool { return t != nil && t.Ratio < MinTrendRatio }

// ratio is a / b, or 0 if b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// trendTable renders the trends of results as a Markdown table, or "" if
// none has one.
func trendTable(results []*Result) string {
	var b strings.Builder
	for _, x := range results {
		t := x.Trend
		if t == nil {
			continue
		}
		if b.Len() == 0 {
			fmt.Fprintf(&b, "Throughput at the start and the end of the run (ops/s of full %s intervals; a ratio below %.1f× in bold):\n\n", x.Config.Interval, MinTrendRatio)
			b.WriteString("| target | first | last | last / first | median of first | median of last | ratio of medians |\n")
			b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %s | %.0f (%d) | %.0f (%d) | %s |\n", x.Target, t.First, t.Last, flagRatio(t.LastFirst),
			t.FirstMedian, t.Window, t.LastMedian, t.Window, flagRatio(t.Ratio))
	}
	return b.String()
}

// flagRatio prints r, in bold if it is below MinTrendRatio.
func flagRatio(r float64) string {
	if r < MinTrendRatio {
		return fmt.Sprintf("**%.2f×**", r)
	}
	return fmt.Sprintf("%.2f×", r)
}

// trendNote is the report's note on a run that slowed down, or "".
func trendNote(x *Result) string {
	t := x.Trend
	if !t.Declined() {
		return ""
	}
	return fmt.Sprintf("%s slowed down over the run: its last interval ran at %.2f× its first (%.0f and %.0f ops/s), the median of its last %d at %.2f× that of its first %d (%.0f and %.0f ops/s)",
		x.Target, t.LastFirst, t.Last, t.First, t.Window, t.Ratio, t.Window, t.LastMedian, t.FirstMedian)
}
