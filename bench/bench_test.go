package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/bench"
	"github.com/vindex-nl/vindex/bench/baseline"
	"github.com/vindex-nl/vindex/bench/target"
	"github.com/vindex-nl/vindex/examples"
	"github.com/vindex-nl/vindex/internal/pgtest"
	"github.com/vindex-nl/vindex/rules"
)

var ctx = context.Background()

func covenant(t testing.TB) *rules.Covenant {
	t.Helper()
	c, err := rules.Load(bytes.NewReader(examples.CovenantGroningen), "covenant-groningen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mustRun runs c against tg, failing the test on an error.
func mustRun(t *testing.T, tg bench.Target, c bench.Config) *bench.Result {
	t.Helper()
	r, err := bench.Run(ctx, tg, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func inProcess(t testing.TB) *bench.InProcess {
	t.Helper()
	tg, err := bench.OpenInProcess(t.TempDir(), covenant(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func sqlite(t testing.TB) *baseline.SQL {
	t.Helper()
	ps, err := bench.NewPseudonymiser()
	if err != nil {
		t.Fatal(err)
	}
	s, err := baseline.OpenSQLite(filepath.Join(t.TempDir(), "b.db"), 16, ps, covenant(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Each workload on the real store: every operation answered, the outcomes
// add up, and the seeded operations give the counts the workload implies.
func TestWorkloadsInProcess(t *testing.T) {
	for _, tc := range []struct {
		w     bench.Workload
		check func(t *testing.T, r *bench.Result)
	}{
		{bench.Ingest, func(t *testing.T, r *bench.Result) {
			if r.Outcomes["registered"] != 2000 || r.Outcomes["new_match"] != 0 {
				t.Errorf("ingest: %v, want 2000 new youths, no match", r.Outcomes)
			}
		}},
		{bench.Bulk, func(t *testing.T, r *bench.Result) {
			if r.Outcomes["registered"] != 1000 || r.Outcomes["new_match"] != 1000 {
				t.Errorf("bulk: %v, want one match per youth", r.Outcomes)
			}
		}},
		{bench.Rereport, func(t *testing.T, r *bench.Result) {
			if r.Outcomes["new_match"] == 0 || r.Outcomes["refreshed"] == 0 {
				t.Errorf("rereport: %v, want matches and refreshes", r.Outcomes)
			}
		}},
		{bench.Mixed, func(t *testing.T, r *bench.Result) {
			for _, o := range []string{"new_match", "viewed", "not_involved", "ended"} {
				if r.Outcomes[o] == 0 {
					t.Errorf("mixed: no %s in %v", o, r.Outcomes)
				}
			}
		}},
	} {
		t.Run(string(tc.w), func(t *testing.T) {
			r := mustRun(t, inProcess(t), bench.Config{Workload: tc.w, Ops: 2000, Concurrency: 16, Seed: 3})
			if r.Failed() != 0 {
				t.Fatalf("errors: %v", r.Errors)
			}
			var sum int64
			for _, n := range r.Outcomes {
				sum += n
			}
			if sum != 2000 {
				t.Errorf("outcomes add up to %d, want 2000: %v", sum, r.Outcomes)
			}
			if r.OpsRate <= 0 || r.Latency.P50 <= 0 || r.Latency.P99 < r.Latency.P50 || r.Latency.Max < r.Latency.P999 {
				t.Errorf("figures: rate %.0f, latency %+v", r.OpsRate, r.Latency)
			}
			tc.check(t, r)
		})
	}
}

// The SQLite baseline gives the same outcomes as vindex on the same seeded
// operations: the same match semantics.
func TestBaselineAgreesWithVindex(t *testing.T) {
	c := bench.Config{Workload: bench.Rereport, Ops: 3000, Youths: 600, Concurrency: 8, Seed: 11}
	a := mustRun(t, inProcess(t), c)
	b := mustRun(t, sqlite(t), c)
	for _, o := range []string{"registered", "new_match", "refreshed"} {
		if a.Outcomes[o] != b.Outcomes[o] {
			t.Errorf("%s: vindex %d, sqlite %d", o, a.Outcomes[o], b.Outcomes[o])
		}
	}
	rep := bench.NewReport(a, b)
	if rep.Consistent == nil || !*rep.Consistent {
		t.Errorf("report not consistent: %v", rep.Notes)
	}
	if len(rep.Ratios) != 1 || rep.Ratios[0].Throughput <= 0 {
		t.Errorf("ratios: %+v", rep.Ratios)
	}
}

// A report with a disagreement says so.
func TestReportFlagsDisagreement(t *testing.T) {
	c := bench.Config{Workload: bench.Rereport, Ops: 500, Concurrency: 4, Seed: 1}
	a := mustRun(t, inProcess(t), c)
	b := *a
	b.Target = "other"
	b.Outcomes = map[string]int64{"registered": a.Outcomes["registered"], "new_match": a.Outcomes["new_match"] + 1}
	rep := bench.NewReport(a, &b)
	if rep.Consistent == nil || *rep.Consistent || len(rep.Notes) == 0 {
		t.Fatalf("disagreement not flagged: %v %v", rep.Consistent, rep.Notes)
	}
	if !strings.Contains(rep.Markdown(), "disagree") {
		t.Error("report.md does not say the targets disagree")
	}
}

// The report folder holds the JSON, the page and three SVG plots, and
// never a BSN or birth date of the youths the run used.
func TestReportFilesAndNoIdentity(t *testing.T) {
	c := bench.Config{Workload: bench.Mixed, Ops: 1500, Concurrency: 8, Seed: 5, Youths: 300}
	a := mustRun(t, inProcess(t), c)
	b := mustRun(t, sqlite(t), c)
	dir := t.TempDir()
	if err := bench.NewReport(a, b).Write(dir); err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	raw, err := os.ReadFile(filepath.Join(dir, bench.ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || rep.Results[0].Ops+rep.Results[0].Outcomes["skipped"] != 1500 || len(rep.Results[0].Series) == 0 ||
		len(rep.Results[0].Buckets) == 0 || rep.Machine.CPUs == 0 {
		t.Errorf("report.json incomplete: %d results, %d ops, %d samples, %d buckets, machine %+v", len(rep.Results),
			rep.Results[0].Ops, len(rep.Results[0].Series), len(rep.Results[0].Buckets), rep.Machine)
	}
	md, err := os.ReadFile(filepath.Join(dir, bench.ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| vindex |", "| sqlite |", "vindex / sqlite", bench.PlotThroughput} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	var all []byte
	for _, f := range []string{bench.ReportJSON, bench.ReportMarkdown, bench.PlotThroughput, bench.PlotPercentiles, bench.PlotHistogram} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".svg") && (!bytes.Contains(b, []byte("<svg")) || len(b) < 2000) {
			t.Errorf("%s is not a plot (%d bytes)", f, len(b))
		}
		all = append(all, b...)
	}
	pop := target.NewYouths(c.Seed)
	pop.Grow(c.Youths)
	for i := range c.Youths {
		if d := pop.Digits(i); bytes.Contains(all, []byte(d)) {
			t.Fatalf("the report holds youth %d's BSN", i)
		}
		if d := pop.BirthDate(i).RevealDate().Format("2006-01-02"); bytes.Contains(all, []byte(d)) {
			t.Fatalf("the report holds youth %d's birth date", i)
		}
	}
}

// slow answers every operation after a fixed delay, one at a time.
type slow struct {
	mu    sync.Mutex
	delay time.Duration
}

func (s *slow) Name() string { return "slow" }
func (s *slow) wait() (bench.Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	time.Sleep(s.delay)
	return bench.Registered, nil
}
func (s *slow) Register(context.Context, string, bench.Youth) (bench.Outcome, error) { return s.wait() }
func (s *slow) Lookup(context.Context, string, bench.Youth) (bench.Outcome, error)   { return s.wait() }
func (s *slow) End(context.Context, string, bench.Youth) (bench.Outcome, error)      { return s.wait() }
func (s *slow) Close() error                                                         { return nil }

// Open loop: a target that takes 5 ms per operation, one at a time, offered
// 400 operations/s falls behind; latency measured from the scheduled time
// shows the queue (the last operations wait about 100 × (5 − 2.5) ms), where
// a closed loop would report 5 ms.
func TestOpenLoopCountsQueueing(t *testing.T) {
	c := bench.Config{Workload: bench.Ingest, Ops: 100, Concurrency: 4, Rate: 400}
	r := mustRun(t, &slow{delay: 5 * time.Millisecond}, c)
	if r.Latency.Max < 150 {
		t.Errorf("open loop max latency %.1f ms, want the queue (≥ 150 ms)", r.Latency.Max)
	}
	closed := mustRun(t, &slow{delay: 5 * time.Millisecond}, bench.Config{Workload: bench.Ingest, Ops: 100, Concurrency: 1})
	if closed.Latency.Max > 100 {
		t.Errorf("closed loop max latency %.1f ms, want about 5", closed.Latency.Max)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []bench.Config{
		{},
		{Workload: "nonsense", Ops: 1},
		{Workload: bench.Ingest},
		{Workload: bench.Rereport, Ops: 10, Zipf: 0.5},
		{Workload: bench.Ingest, Ops: 10, Rate: -1},
	} {
		if _, err := bench.Run(ctx, &slow{}, c, nil); err == nil || !strings.HasPrefix(err.Error(), "bench: ") {
			t.Errorf("%+v: err = %v, want a bench: error", c, err)
		}
	}
	if _, err := bench.ParseMix("1:2"); err == nil {
		t.Error("ParseMix(1:2) accepted")
	}
	if m, err := bench.ParseMix("60:30:10"); err != nil || m != (bench.Mix{Register: 60, Lookup: 30, End: 10}) {
		t.Errorf("ParseMix(60:30:10) = %+v, %v", m, err)
	}
}

// The PostgreSQL baseline, on a real server, agrees with vindex too, and
// refuses a server that does not make commits durable.
func TestPostgresBaseline(t *testing.T) {
	dsn := pgtest.Start(t)
	ps, err := bench.NewPseudonymiser()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := baseline.OpenPostgres(dsn, 16, ps, covenant(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	c := bench.Config{Workload: bench.Mixed, Ops: 2000, Youths: 400, Concurrency: 16, Seed: 2}
	r := mustRun(t, pg, c)
	if r.Failed() != 0 || r.Outcomes["new_match"] == 0 || r.Outcomes["ended"] == 0 || r.Outcomes["not_involved"] == 0 {
		t.Fatalf("postgres mixed: outcomes %v, errors %v", r.Outcomes, r.Errors)
	}
	regs, events, err := pg.Count(ctx)
	if err != nil || regs == 0 || events < regs {
		t.Fatalf("postgres holds %d registrations, %d events: %v", regs, events, err)
	}
	if err := pg.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	c = bench.Config{Workload: bench.Rereport, Ops: 2000, Youths: 300, Concurrency: 16, Seed: 9}
	a := mustRun(t, inProcess(t), c)
	b := mustRun(t, pg, c)
	for _, o := range []string{"registered", "new_match", "refreshed"} {
		if a.Outcomes[o] != b.Outcomes[o] {
			t.Errorf("%s: vindex %d, postgres %d", o, a.Outcomes[o], b.Outcomes[o])
		}
	}
	if _, err := pg.DB().ExecContext(ctx, `ALTER SYSTEM SET synchronous_commit = off`); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.DB().ExecContext(ctx, `SELECT pg_reload_conf()`); err != nil {
		t.Fatal(err)
	}
	if s, err := baseline.OpenPostgres(dsn, 1, ps, covenant(t)); err == nil || !strings.Contains(err.Error(), "synchronous_commit") {
		if s != nil {
			s.Close()
		}
		t.Errorf("a server without durable commits was accepted: %v", err)
	}
}

func TestParseAbuse(t *testing.T) {
	a, err := bench.ParseAbuse("oversize=2, invalid=8,slowloris=50,idle=200,scrape=20")
	if err != nil || a != (bench.Abuse{Oversize: 2, Invalid: 8, Slowloris: 50, Idle: 200, Scrape: 20}) {
		t.Fatalf("ParseAbuse = %+v, %v", a, err)
	}
	if a, err := bench.ParseAbuse(""); err != nil || a != (bench.Abuse{}) {
		t.Fatalf("ParseAbuse(\"\") = %+v, %v", a, err)
	}
	for _, bad := range []string{"flood=1", "idle", "idle=-1", "idle=x", "idle=100000"} {
		if _, err := bench.ParseAbuse(bad); err == nil {
			t.Errorf("ParseAbuse(%q) accepted", bad)
		}
	}
	if _, err := bench.Run(ctx, inProcess(t), bench.Config{Workload: bench.Ingest, Ops: 10, Abuse: bench.Abuse{Idle: 1}}, nil); err == nil ||
		!strings.Contains(err.Error(), "needs a server target") {
		t.Errorf("abuse in process: %v", err)
	}
}
