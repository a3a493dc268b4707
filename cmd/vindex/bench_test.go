package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/bench"
	"github.com/vindex-nl/vindex/internal/pgtest"
)

func readReport(t *testing.T, dir string) bench.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, bench.ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var r bench.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{bench.ReportMarkdown, bench.PlotThroughput, bench.PlotPercentiles, bench.PlotHistogram} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("report file %s: %v", f, err)
		}
	}
	return r
}

// vindex bench in-process against the SQLite baseline: a report with both,
// the ratio, and the same outcomes.
func TestBenchCommand(t *testing.T) {
	dir := t.TempDir()
	out := runCLI(t, dir, "bench", "--workload", "bulk", "--ops", "2000", "--concurrency", "8",
		"--targets", "vindex,sqlite", "--out", "rep")
	if !strings.Contains(out, "| vindex |") || !strings.Contains(out, "vindex / sqlite") {
		t.Errorf("stdout lacks the table:\n%s", out)
	}
	r := readReport(t, filepath.Join(dir, "rep"))
	if len(r.Results) != 2 || r.Consistent == nil || !*r.Consistent {
		t.Fatalf("report: %d results, consistent %v, notes %v", len(r.Results), r.Consistent, r.Notes)
	}
	for _, x := range r.Results {
		if x.Outcomes["new_match"] != 1000 || x.Failed() != 0 {
			t.Errorf("%s: outcomes %v, errors %v", x.Target, x.Outcomes, x.Errors)
		}
	}
	if len(r.Ratios) != 1 || r.Ratios[0].Throughput <= 0 {
		t.Errorf("ratios %+v", r.Ratios)
	}
}

// vindex bench against a running server over HTTPS with the dev tokens.
func TestBenchOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0")
	runCLI(t, dir, "bench", "--workload", "mixed", "--ops", "1500", "--concurrency", "16", "--targets", "https",
		"--url", "https://"+p.addr, "--tokens", "vindex-data/dev-tokens.txt", "--cacert", "vindex-data/dev-tls.crt", "--out", "rep")
	r := readReport(t, filepath.Join(dir, "rep"))
	x := r.Results[0]
	if x.Target != "vindex-https" || x.Failed() != 0 || x.Outcomes["new_match"] == 0 || x.Outcomes["viewed"] == 0 || x.Outcomes["ended"] == 0 {
		t.Fatalf("https run: target %s, outcomes %v, errors %v", x.Target, x.Outcomes, x.Errors)
	}
	p.stop(t)
}

// The oracle workload in process (its default size: 2,000 lookups of each
// class) and over HTTPS: z and AUC in report.json and a line in report.md.
// Not a timing test: the figures are only checked to be there.
func TestBenchOracle(t *testing.T) {
	dir := t.TempDir()
	out := runCLI(t, dir, "bench", "--workload", "oracle", "--targets", "vindex", "--out", "rep")
	if !strings.Contains(out, "Timing oracle on vindex") || !strings.Contains(out, "Mann-Whitney z = ") {
		t.Errorf("stdout lacks the oracle line:\n%s", out)
	}
	r := readReport(t, filepath.Join(dir, "rep"))
	if o := r.Results[0].Oracle; o == nil || o.Registered != 2000 || o.Unknown != 2000 || o.AUC <= 0 || o.AUC >= 1 {
		t.Fatalf("oracle figures %+v", o)
	}
	p := start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0")
	runCLI(t, dir, "bench", "--workload", "oracle", "--ops", "400", "--concurrency", "8", "--targets", "https",
		"--url", "https://"+p.addr, "--tokens", "vindex-data/dev-tokens.txt", "--cacert", "vindex-data/dev-tls.crt", "--out", "rep2")
	x := readReport(t, filepath.Join(dir, "rep2")).Results[0]
	if x.Oracle == nil || x.Oracle.Registered != 200 || x.Oracle.Unknown != 200 || x.Failed() != 0 || x.Outcomes["not_involved"] != 400 {
		t.Fatalf("https oracle run: figures %+v, outcomes %v, errors %v", x.Oracle, x.Outcomes, x.Errors)
	}
	p.stop(t)
}

// The hotyouth workload over HTTPS, small: the attacker's cycles, both
// phases of normal traffic, the hot lookups, and the victim's events read
// through GET /v1/events. Not a timing test.
func TestBenchHotYouthOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0")
	out := runCLI(t, dir, "bench", "--workload", "hotyouth", "--hot-ended", "200", "--hot-phase", "1s", "--ops", "2000",
		"--concurrency", "8", "--targets", "https", "--url", "https://"+p.addr, "--tokens", "vindex-data/dev-tokens.txt",
		"--cacert", "vindex-data/dev-tls.crt", "--out", "rep")
	if !strings.Contains(out, "Hot youth on vindex-https") {
		t.Errorf("stdout lacks the hot-youth line:\n%s", out)
	}
	x := readReport(t, filepath.Join(dir, "rep")).Results[0]
	h := x.Hot
	if h == nil || h.Ended != 200 || h.Without <= 0 || h.With <= 0 || h.Lookups == 0 || len(h.LookupErrors) != 0 ||
		h.VictimEvents < 1 || h.VictimEventTypes["match"] < 1 || x.Failed() != 0 {
		t.Fatalf("https hot youth: figures %+v, errors %v", h, x.Errors)
	}
	p.stop(t)
}

func TestBenchCommandErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--workload", "nope"}, "unknown workload"},
		{[]string{"--targets", "oracle"}, "unknown target"},
		{[]string{"--targets", "https"}, "needs --url and --tokens"},
		{[]string{"--targets", "postgres", "--postgres", ""}, "needs --postgres"},
		{[]string{"--workload", "mixed", "--mix", "1:2"}, "register:lookup:end"},
		{[]string{"--abuse", "idle=3"}, "needs --targets https"},
		{[]string{"--targets", "https", "--abuse", "flood=3"}, "the kinds are"},
		{[]string{"--workload", "mixed", "--hot-ended", "5"}, "are for --workload hotyouth"},
		{[]string{"--workload", "hotyouth", "--hot-rate", "-1"}, "must be ≥ 0"},
	} {
		cmd := exec.Command(binary, append([]string{"bench", "--ops", "10"}, tc.args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "VINDEX_BENCH_POSTGRES=")
		b, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(b), tc.want) {
			t.Errorf("bench %v: %v, %s; want an error with %q", tc.args, err, b, tc.want)
		}
	}
	b, _ := exec.Command(binary, "bench", "--help").CombinedOutput()
	for _, w := range []string{"ingest", "rereport", "mixed", "bulk", "hotyouth", "--hot-ended", "--rate", "sqlite", "postgres", "scripts/bench", "--write-import", "--import FILE"} {
		if !strings.Contains(string(b), w) {
			t.Errorf("bench --help does not mention %s", w)
		}
	}
}

// Misbehaving clients beside a workload over HTTPS: each kind is answered
// with its problem or cut off by the server, and the valid operations all
// succeed. The run lasts 7 s, past the server's 5 s header timeout, so the
// slowloris and idle connections are cut off. Scrapes of /metrics on the
// API's port find nothing there; on the metrics listener they are served
// and timed.
func TestBenchAbuseOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0")
	runCLI(t, dir, "bench", "--workload", "rereport", "--ops", "3500", "--rate", "500", "--targets", "https",
		"--url", "https://"+p.addr, "--tokens", "vindex-data/dev-tokens.txt", "--cacert", "vindex-data/dev-tls.crt",
		"--abuse", "oversize=1,invalid=2,slowloris=4,idle=8,scrape=10", "--out", "rep")
	r := readReport(t, filepath.Join(dir, "rep"))
	x := r.Results[0]
	if x.Failed() != 0 || x.Ops != 3500 {
		t.Fatalf("valid traffic: %d ops, errors %v (%v); the server's warnings:\n%s", x.Ops, x.Errors, x.ErrorExamples, warnings(p.stderr.String()))
	}
	got := map[string]bench.AbuseResult{}
	for _, a := range x.Abuse {
		got[a.Kind] = a
		if a.Unexpected != 0 {
			t.Errorf("%s: %d unexpected answers: %v", a.Kind, a.Unexpected, a.Answers)
		}
	}
	if a := got["invalid_bsn"]; a.Refused < 100 {
		t.Errorf("invalid BSNs: %+v", a)
	}
	if a := got["oversize"]; a.Refused+a.CutOff < 10 {
		t.Errorf("oversize bodies: %+v", a)
	}
	for _, k := range []string{"slowloris", "idle"} {
		if a := got[k]; a.CutOff < int64(a.Clients) {
			t.Errorf("%s: %d of %d connections cut off", k, a.CutOff, a.Clients)
		}
	}
	if a := got["scrape"]; a.Refused < 50 || a.Served != 0 {
		t.Errorf("scrapes of the API's /metrics: %+v", a)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "rep", bench.ReportMarkdown))
	if !strings.Contains(string(md), "| slowloris |") {
		t.Error("report.md has no abuse table")
	}

	runCLI(t, dir, "bench", "--workload", "ingest", "--ops", "500", "--rate", "500", "--targets", "https",
		"--url", "https://"+p.addr, "--tokens", "vindex-data/dev-tokens.txt", "--cacert", "vindex-data/dev-tls.crt",
		"--abuse", "scrape=20", "--metrics-url", "http://"+p.metrics+"/metrics", "--out", "rep2")
	x = readReport(t, filepath.Join(dir, "rep2")).Results[0]
	if len(x.Abuse) != 1 || x.Abuse[0].Served < 10 || x.Abuse[0].MeanSeconds <= 0 || x.Failed() != 0 {
		t.Errorf("scrapes of the metrics listener: %+v, %d failed", x.Abuse, x.Failed())
	}
	p.stop(t)
}

// warnings are the lines of a server's log above info level, for a failing
// test's message.
func warnings(log string) string {
	var b strings.Builder
	for line := range strings.Lines(log) {
		if !strings.Contains(line, `"level":"INFO"`) && !strings.Contains(line, `"level":"DEBUG"`) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// bench --write-import writes an import file that vindex import takes (its
// valid rows all imported, one match per youth, the invalid ones rejected)
// and that bench --import loads into the PostgreSQL baseline by COPY with
// the same figures; the same seed writes the same file.
func TestBenchImportFile(t *testing.T) {
	dir := t.TempDir()
	gen := []string{"bench", "--ops", "2000", "--seed", "4", "--import-refresh", "0.1", "--import-invalid", "0.02"}
	out := runCLI(t, dir, append(gen, "--write-import", "regs.csv")...)
	if !strings.Contains(out, "2000 rows, 880 youths (1760 registrations, one match each), 200 refreshes, 40 invalid rows") {
		t.Fatalf("bench --write-import:\n%s", out)
	}
	runCLI(t, dir, append(gen, "--write-import", "again.csv")...)
	a, _ := os.ReadFile(filepath.Join(dir, "regs.csv"))
	b, _ := os.ReadFile(filepath.Join(dir, "again.csv"))
	if len(a) == 0 || string(a) != string(b) {
		t.Fatal("the same seed wrote another file")
	}

	p := start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	p.stop(t)
	c := exec.Command(binary, "import", "regs.csv", "--dev", "--data", "d")
	c.Dir = dir
	res, _ := c.CombinedOutput()
	if c.ProcessState.ExitCode() != 1 || !strings.Contains(string(res), "imported 1960 registrations (880 made a match)") ||
		!strings.Contains(string(res), "rejected 40 rows") {
		t.Fatalf("vindex import of the file: exit %d\n%s", c.ProcessState.ExitCode(), res)
	}

	dsn := pgtest.Start(t)
	out = runCLI(t, dir, "bench", "--import", "regs.csv", "--targets", "postgres", "--postgres", dsn)
	if !strings.Contains(out, "2000 rows") || !strings.Contains(out, "imported 1960 (1760 registrations, 200 refreshes, 880 matches, 880 youths), rejected 40") {
		t.Fatalf("bench --import:\n%s", out)
	}
}
