package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/rules"
)

func TestLimiterBuckets(t *testing.T) {
	cov, err := rules.Load(strings.NewReader(`name: x
rate_limits:
  reports: {per_second: 4, burst: 2}
institutions:
  - {id: a, name: A, type: ggd, may_coordinate: true}
  - {id: b, name: B, type: school}
rules: [{name: r, assign: {any: true}}]
signal_codes: [{code: S01, label: Zorg}]
`), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimiter(cov)
	if len(l.buckets) != 2*len(rules.RateClasses()) {
		t.Fatalf("%d buckets for 2 institutions", len(l.buckets))
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 2 {
		if d := l.wait("a", rules.RateReports, t0); d != 0 {
			t.Fatalf("call %d of a burst of 2: wait %v", i+1, d)
		}
	}
	// A refused call takes no token: the wait does not grow.
	for range 3 {
		if d := l.wait("a", rules.RateReports, t0); d != 250*time.Millisecond {
			t.Fatalf("third call at 4/s: wait %v, want 250ms", d)
		}
	}
	if d := l.wait("b", rules.RateReports, t0); d != 0 {
		t.Fatalf("another institution: wait %v", d)
	}
	if d := l.wait("a", rules.RateLookups, t0); d != 0 {
		t.Fatalf("another class: wait %v", d)
	}
	if d := l.wait("a", rules.RateReports, t0.Add(250*time.Millisecond)); d != 0 {
		t.Fatalf("after the wait: wait %v", d)
	}
	if d := l.wait("nobody", rules.RateReports, t0); d != 0 || len(l.buckets) != 8 {
		t.Fatalf("an institution outside the covenant: wait %v, %d buckets", d, len(l.buckets))
	}
	for d, want := range map[time.Duration]int{time.Millisecond: 1, 250 * time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 90 * time.Second: 90} {
		if got := retryAfter(d); got != want {
			t.Errorf("retryAfter(%v) = %d, want %d", d, got, want)
		}
	}
}

// TestReportRateRatio: an institution reporting at its usual rate has a
// ratio near 1, from the first minutes after start-up on; one that
// suddenly reports 100 times as fast (a stolen token enumerating BSNs) has
// one far above 10 within a minute.
func TestReportRateRatio(t *testing.T) {
	m := NewMetrics()
	t0 := m.start
	now := t0
	for ; now.Before(t0.Add(2 * time.Minute)); now = now.Add(10 * time.Second) {
		m.reported("a", now)
	}
	if r := m.reportRates(now)["a"]; r.ratio < 0.5 || r.ratio > 2 {
		t.Fatalf("steady 1 per 10 s, two minutes after start: ratio %.2f (%+v)", r.ratio, r)
	}
	for ; now.Before(t0.Add(2 * time.Hour)); now = now.Add(10 * time.Second) {
		m.reported("a", now)
	}
	r := m.reportRates(now)["a"]
	if r.ratio < 0.7 || r.ratio > 1.4 || r.short < 0.07 || r.short > 0.13 || r.long < 0.09 || r.long > 0.11 {
		t.Fatalf("steady 1 per 10 s for two hours: %+v", r)
	}
	for end := now.Add(time.Minute); now.Before(end); now = now.Add(100 * time.Millisecond) {
		m.reported("a", now)
	}
	if r := m.reportRates(now)["a"]; r.ratio < 10 || r.short < 5 {
		t.Fatalf("10/s for a minute after 0.1/s for two hours: %+v", r)
	}
	if _, ok := m.reportRates(now)["b"]; ok {
		t.Fatal("an institution that never reported has a rate")
	}
	// A quiet hour later the burst has faded from the short average.
	if r := m.reportRates(now.Add(time.Hour))["a"]; r.ratio > 0.1 {
		t.Fatalf("an hour of quiet after the burst: %+v", r)
	}
}
