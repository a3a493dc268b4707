package bench

import (
	"strings"
	"testing"
	"time"
)

// series makes one-second samples of the rates given, and, if tail > 0, a
// last part interval of tail seconds at rate 1.
func series(tail float64, rates ...float64) []Sample {
	var s []Sample
	for i, r := range rates {
		s = append(s, Sample{At: float64(i+1) + 0.001*float64(i%3), Rate: r})
	}
	if tail > 0 {
		s = append(s, Sample{At: float64(len(rates)) + tail, Rate: 1})
	}
	return s
}

func TestTrendOfAFlatRun(t *testing.T) {
	tr := trendOf(series(0.3, 1000, 1100, 900, 1000, 1050, 950, 1000, 980, 1020, 1000, 990, 1010), time.Second)
	if tr == nil {
		t.Fatal("no trend")
	}
	// The part interval at the end (rate 1) is left out.
	want := Trend{Intervals: 12, First: 1000, Last: 1010, LastFirst: 1.01, FirstMedian: 1000, LastMedian: 1000, Window: 5, Ratio: 1}
	if *tr != want {
		t.Errorf("trend %+v, want %+v", *tr, want)
	}
	if tr.Declined() {
		t.Error("a flat run declined")
	}
}

// The mixed workload as it ran before ended registrations were kept apart:
// a quarter of its starting throughput at the end.
func TestTrendOfADecliningRun(t *testing.T) {
	tr := trendOf(series(0, 12376, 5847, 5855, 5002, 4399, 3707, 3060, 3337, 3560, 3274, 3666, 2796, 2929, 3215, 2469, 2435, 1912, 3394, 2567), time.Second)
	if tr.First != 12376 || tr.Last != 2567 || tr.FirstMedian != 5847 || tr.LastMedian != 2469 {
		t.Errorf("trend %+v", *tr)
	}
	if r := tr.Ratio; r < 0.42 || r > 0.43 {
		t.Errorf("ratio of medians %.3f, want 2469/5847", r)
	}
	if !tr.Declined() {
		t.Error("a run at 0.42× its start did not decline")
	}
	// A slow end whose last interval happens to be fast declined; a fast
	// first interval alone (a new store) or a slow last one alone is noise.
	if !trendOf(series(0, 1000, 1000, 1000, 1000, 1000, 1000, 500, 500, 500, 500, 1000), time.Second).Declined() {
		t.Error("last five intervals at a median of 0.5× not flagged")
	}
	for _, rates := range [][]float64{
		{18000, 8000, 8000, 8000, 8000, 8000, 8000, 8000, 8000, 8000, 8000},
		{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 600},
	} {
		tr := trendOf(series(0, rates...), time.Second)
		if tr.Declined() || tr.LastFirst >= MinTrendRatio {
			t.Errorf("%v: declined %v, last/first %.2f: want only the one interval below %.1f", rates, tr.Declined(), tr.LastFirst, MinTrendRatio)
		}
	}
}

func TestTrendOfAShortRun(t *testing.T) {
	if tr := trendOf(series(0.5, 1000), time.Second); tr != nil {
		t.Errorf("one full interval gave a trend: %+v", *tr)
	}
	if tr := trendOf(nil, time.Second); tr != nil {
		t.Errorf("no interval gave a trend: %+v", *tr)
	}
	// Three full intervals: medians of one interval each.
	tr := trendOf(series(0, 900, 1000, 800), time.Second)
	if tr.Window != 1 || tr.FirstMedian != 900 || tr.LastMedian != 800 {
		t.Errorf("trend %+v, want window 1, medians 900 and 800", *tr)
	}
	// Half-second sampling: a half-second interval is full.
	half := []Sample{{At: 0.5, Rate: 10}, {At: 1.0, Rate: 10}, {At: 1.5, Rate: 5}}
	if tr := trendOf(half, 500*time.Millisecond); tr == nil || tr.Intervals != 3 || tr.Last != 5 {
		t.Errorf("half-second intervals: %+v", tr)
	}
}

// The report prints each target's trend, and a note for one that slowed
// down.
func TestReportShowsTheTrend(t *testing.T) {
	c := Config{Workload: Mixed, Ops: 100, Concurrency: 1, Interval: time.Second, Mix: DefaultMix}
	slow := &Result{Target: "vindex", Config: c, Series: series(0, 2000, 2000, 2000, 1000, 1000, 1000)}
	flat := &Result{Target: "sqlite", Config: c, Series: series(0, 500, 500, 500, 500, 500, 500)}
	for _, x := range []*Result{slow, flat} {
		x.Trend = trendOf(x.Series, c.Interval)
	}
	rep := NewReport(slow, flat)
	md := rep.Markdown()
	for _, want := range []string{
		"| vindex | 2000 | 1000 | **0.50×** | 2000 (3) | 1000 (3) | **0.50×** |",
		"| sqlite | 500 | 500 | 1.00× | 500 (3) | 500 (3) | 1.00× |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	var notes []string
	for _, n := range rep.Notes {
		if strings.Contains(n, "slowed down") {
			notes = append(notes, n)
		}
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "vindex slowed down") {
		t.Errorf("notes %q, want one on vindex slowing down", rep.Notes)
	}
}

// A steady workload's result has a trend; the oracle's (a setup, then
// lookups one at a time) has none.
func TestTrendOnlyOfSteadyWorkloads(t *testing.T) {
	s := series(0, 1000, 1000, 500, 500)
	for w, want := range map[Workload]bool{Ingest: true, Rereport: true, Mixed: true, Bulk: true, Oracle: false, "phases": false} {
		r := newTally().result("x", Config{Workload: w, Interval: time.Second}, 4*time.Second, s, nil)
		if got := r.Trend != nil; got != want {
			t.Errorf("%s: trend %v, want %v", w, got, want)
		}
	}
}
