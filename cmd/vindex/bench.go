package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/vindex-nl/vindex/bench"
	"github.com/vindex-nl/vindex/bench/baseline"
	"github.com/vindex-nl/vindex/rules"
)

const benchUsage = `Usage: vindex bench [flags]

Drives a seeded workload against vindex and, side by side on the same
operations, against the SQL baselines, then writes a report folder:
report.json (every figure and the machine), report.md (tables) and SVG plots
(throughput over time, latency by percentile, latency histogram).

Workloads (--workload):
  ingest     every operation registers a new youth: no matches
  rereport   repeat reports of --youths known youths, Zipf-skewed (--zipf),
             by six institutions: matches happen
  mixed      registrations, lookups and ends in the --mix register:lookup:end
  bulk       each youth registered by two institutions, as fast as possible
  oracle     an institution involved with none of them looks up --youths
             registered and as many unknown youths, interleaved, one at a
             time: the Mann-Whitney z and AUC of their latencies tell whether
             timing gives away who is registered (--ops default 4000)
  hotyouth   an attacker's run: one institution registers a youth, another
             registers and ends the same youth --hot-ended times; then the
             mixed workload (--ops sizes its population) runs --hot-phase
             alone and --hot-phase beside --hot-rate lookups a second of
             that youth by a third institution: the report gives the normal
             traffic's rate in each phase and their ratio (target >= 0.9),
             the hot lookups' latency, and how many events the victim holds
             about the youth (in process and https; the tokens of all three
             institutions are needed)

Targets (--targets, run one after another in the order given; the first is
the one the others are compared with):
  vindex     vindex in this process: the matcher on a Pebble store in --dir,
             a fresh keyset in memory
  https      a running vindex server at --url over HTTPS, with the tokens of
             --tokens (lines "institution token", as in the dev-tokens.txt
             that serve --dev writes) and --cacert
  sqlite     the SQLite baseline in --dir (WAL, synchronous=FULL)
  postgres   the PostgreSQL baseline at --postgres (its tables are emptied
             first); scripts/bench starts a server for it

With --abuse and the https target, misbehaving clients run beside the
workload: oversize bodies, invalid BSNs, slowloris headers, idle
connections and unauthenticated scrapes of /metrics (scrape=N a second, of
--metrics-url); the report counts how each was answered or cut off, and
whether the valid operations were hurt.

With --rate the load is open-loop (operations scheduled at that rate, latency
measured from the scheduled time); without, each of --concurrency callers
sends its next operation when the last is answered. A progress bar is drawn
on standard error when it is a terminal.

Import files: --write-import FILE writes an import file for vindex import
(and for --import) and exits: --ops rows in the shape of the bulk workload
(each youth reported by the school and WIJ, one match each), seeded by
--seed, with --import-refresh and --import-invalid fractions of rows that
refresh a registration or must be rejected. --import FILE --targets postgres
loads such a file into the PostgreSQL baseline by COPY (its tables are
emptied first) and prints the rows imported and rejected and the rate.

Examples:
  vindex bench --workload rereport --ops 200000 --targets vindex,sqlite
  vindex bench --write-import regs.csv --ops 1000000
  vindex bench --import regs.csv --targets postgres --postgres DSN
  scripts/bench            (all workloads, all baselines, PostgreSQL included)

Flags:
`

// benchOptions are the bench command's flags.
type benchOptions struct {
	c                                bench.Config
	workload, targets, mix, dir, out string
	covFile, url, tokens, cacert, pg string
	progress                         bool
	cpuprof, abuse, metricsURL       string
	writeImport, importFile          string
	importFileShape                  bench.ImportFile
}

func benchCmd(args []string, stdout, stderr io.Writer) error {
	o, err := parseBenchArgs(args, stderr)
	if err != nil {
		return err
	}
	if o.writeImport != "" {
		return writeImportFile(stdout, o)
	}
	if o.importFile != "" {
		return copyImportFile(stdout, o)
	}
	names, cov, err := o.check()
	if err != nil {
		return err
	}
	work, cleanup, err := benchWorkDir(o.dir)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile, err := startCPUProfile(o.cpuprof)
	if err != nil {
		return err
	}
	defer stopProfile()
	var results []*bench.Result
	for _, n := range names {
		r, err := runTarget(ctx, stderr, o, n, work, cov)
		if r != nil {
			results = append(results, r)
		}
		if err != nil {
			if len(results) > 0 {
				_ = bench.NewReport(results...).Write(o.out)
			}
			return err
		}
	}
	return writeBenchReport(stdout, o.out, results)
}

// parseBenchArgs reads the bench command's flags.
func parseBenchArgs(args []string, stderr io.Writer) (*benchOptions, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &benchOptions{}
	c := &o.c
	fs.StringVar(&o.workload, "workload", "rereport", "ingest, rereport, mixed, bulk, oracle or hotyouth")
	fs.StringVar(&o.targets, "targets", "vindex", "comma-separated: vindex, https, sqlite, postgres")
	fs.StringVar(&o.mix, "mix", "70:25:5", "mixed and hotyouth workloads: register:lookup:end parts")
	fs.StringVar(&o.dir, "dir", "", "where the stores are made (default: a new temporary directory, removed afterwards)")
	fs.StringVar(&o.out, "out", "bench-report", "the report `folder`")
	fs.StringVar(&o.covFile, "covenant", "", "covenant `file` (default: the example covenant the workloads are made for)")
	fs.StringVar(&o.url, "url", "", "https target: the server's base URL")
	fs.StringVar(&o.tokens, "tokens", "", "https target: `file` of \"institution token\" lines")
	fs.StringVar(&o.cacert, "cacert", "", "https target: CA certificate `file` (PEM) for the server's certificate")
	fs.StringVar(&o.pg, "postgres", os.Getenv("VINDEX_BENCH_POSTGRES"), "postgres target: connection string (env VINDEX_BENCH_POSTGRES)")
	fs.BoolVar(&o.progress, "progress", isTerminal(os.Stderr), "draw a progress bar on standard error")
	fs.StringVar(&o.cpuprof, "cpuprofile", "", "write a CPU profile of the run to `file` (go tool pprof)")
	fs.StringVar(&o.abuse, "abuse", "", "https target: misbehaving clients beside the workload, counted in the report, e.g. oversize=2,invalid=8,slowloris=50,idle=200,scrape=20")
	fs.StringVar(&o.metricsURL, "metrics-url", "", "with --abuse scrape=N: the `URL` to scrape, e.g. http://127.0.0.1:9464/metrics; empty: --url + /metrics (which vindex never serves)")
	fs.IntVar(&c.Ops, "ops", 100_000, "operations to run (bulk: registrations; oracle: lookups, default 4000)")
	fs.IntVar(&c.Youths, "youths", 0, "rereport, mixed and hotyouth: the population (default ops/4)")
	fs.Float64Var(&c.Zipf, "zipf", 1.1, "rereport, mixed and hotyouth: Zipf skew s > 1 of the draw of youths")
	fs.IntVar(&c.Hot.Ended, "hot-ended", bench.HotEnded, "hotyouth: times the attacker registers and ends the hot youth before the measurement")
	fs.DurationVar(&c.Hot.Phase, "hot-phase", bench.HotPhase, "hotyouth: length of each measured phase, normal traffic alone and beside the hot lookups (they take turns in three segments each, after a warm-up of a sixth of it)")
	fs.Float64Var(&c.Hot.Rate, "hot-rate", bench.HotRate, "hotyouth: lookups a second of the hot youth by an uninvolved institution in the phase beside them")
	fs.IntVar(&c.Concurrency, "concurrency", 64, "concurrent callers (and connections)")
	fs.Float64Var(&c.Rate, "rate", 0, "open loop: operations per second (0: closed loop)")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the workload's operations")
	fs.StringVar(&o.writeImport, "write-import", "", "write an import `file` of --ops rows (seeded by --seed) and exit")
	fs.Float64Var(&o.importFileShape.Refresh, "import-refresh", 0, "--write-import: fraction of rows that refresh a registration")
	fs.Float64Var(&o.importFileShape.Invalid, "import-invalid", 0, "--write-import: fraction of rows that must be rejected")
	fs.StringVar(&o.importFile, "import", "", "load the import `file` into the postgres target by COPY and print the figures")
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, benchUsage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, flagError{cmd: "bench", err: err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["ops"] && o.workload == string(bench.Oracle) {
		c.Ops = bench.OracleOps
	}
	if o.workload != string(bench.HotYouth) {
		if set["hot-ended"] || set["hot-phase"] || set["hot-rate"] {
			return nil, errors.New("bench: --hot-ended, --hot-phase and --hot-rate are for --workload hotyouth")
		}
		c.Hot = bench.Hot{}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vindex bench: unexpected argument %q\n", fs.Arg(0))
		return nil, errUsage
	}
	return o, nil
}

// writeImportFile writes the import file of --write-import.
func writeImportFile(stdout io.Writer, o *benchOptions) (err error) {
	shape := o.importFileShape
	shape.Rows, shape.Seed = o.c.Ops, o.c.Seed
	counts, err := shape.Counts()
	if err != nil {
		return err
	}
	f, err := os.Create(o.writeImport)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if err := bench.WriteImportCSV(f, shape); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d rows, %d youths (%d registrations, one match each), %d refreshes, %d invalid rows\n",
		o.writeImport, shape.Rows, counts.Youths, counts.Registrations, counts.Refreshes, counts.Invalid)
	return nil
}

// copyImportFile loads the file of --import into the postgres target by
// COPY and prints what it did.
func copyImportFile(stdout io.Writer, o *benchOptions) error {
	if o.targets != "postgres" || o.pg == "" {
		return errors.New("bench: --import loads into the postgres baseline: give --targets postgres and --postgres (or VINDEX_BENCH_POSTGRES)")
	}
	cov, err := benchCovenant(o.covFile)
	if err != nil {
		return err
	}
	f, err := os.Open(o.importFile)
	if err != nil {
		return err
	}
	defer f.Close()
	t, err := openTarget("postgres", "", 1, cov, "", "", "", o.pg)
	if err != nil {
		return err
	}
	defer t.Close()
	st, err := t.(*baseline.SQL).CopyImport(context.Background(), f)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "postgres: COPY import of %s: %d rows in %v (%.0f rows/s): imported %d (%d registrations, %d refreshes, %d matches, %d youths), rejected %d\n",
		o.importFile, st.Rows, st.Elapsed.Round(time.Millisecond), float64(st.Rows)/st.Elapsed.Seconds(),
		st.Imported, st.Registrations, st.Refreshed, st.Matches, st.Youths, st.Rejected)
	reasons := slices.Sorted(maps.Keys(st.Reasons))
	for _, r := range reasons {
		fmt.Fprintf(stdout, "  rejected %d: %s\n", st.Reasons[r], r)
	}
	return nil
}

// check completes the bench configuration from the flags (workload, mix,
// abuse) and checks the targets; it returns their names and the covenant.
func (o *benchOptions) check() ([]string, *rules.Covenant, error) {
	var err error
	o.c.Workload = bench.Workload(o.workload)
	if o.c.Workload == bench.Mixed || o.c.Workload == bench.HotYouth {
		if o.c.Mix, err = bench.ParseMix(o.mix); err != nil {
			return nil, nil, err
		}
	}
	if o.c.Abuse, err = bench.ParseAbuse(o.abuse); err != nil {
		return nil, nil, err
	}
	if o.metricsURL != "" && o.c.Abuse.Scrape == 0 {
		return nil, nil, errors.New("bench: --metrics-url is what --abuse scrape=N scrapes; give both")
	}
	o.c.Abuse.MetricsURL = o.metricsURL
	if o.c.Abuse != (bench.Abuse{}) && o.targets != "https" {
		return nil, nil, errors.New("bench: --abuse needs --targets https (a server to abuse)")
	}
	cov, err := benchCovenant(o.covFile)
	if err != nil {
		return nil, nil, err
	}
	names := strings.Split(o.targets, ",")
	for _, n := range names {
		switch n {
		case "vindex", "sqlite", "postgres":
		case "https":
			if o.url == "" || o.tokens == "" {
				return nil, nil, errors.New("bench: the https target needs --url and --tokens")
			}
		default:
			return nil, nil, fmt.Errorf("bench: unknown target %q (want vindex, https, sqlite or postgres)", n)
		}
		if n == "postgres" && o.pg == "" {
			return nil, nil, errors.New("bench: the postgres target needs --postgres or VINDEX_BENCH_POSTGRES (scripts/bench starts a server)")
		}
	}
	return names, cov, nil
}

// benchWorkDir returns dir, or if it is empty a new temporary directory
// that cleanup removes.
func benchWorkDir(dir string) (work string, cleanup func(), err error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	work, err = os.MkdirTemp("", "vindex-bench-")
	if err != nil {
		return "", nil, err
	}
	return work, func() { os.RemoveAll(work) }, nil
}

// startCPUProfile profiles the CPU into file, if given, until stop.
func startCPUProfile(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// runTarget runs the workload against target n, with a new store under
// work, and returns its result (nil if there is none).
func runTarget(ctx context.Context, stderr io.Writer, o *benchOptions, n, work string, cov *rules.Covenant) (*bench.Result, error) {
	c := o.c
	t, err := openTarget(n, work, c.Concurrency, cov, o.url, o.tokens, o.cacert, o.pg)
	if err != nil {
		return nil, err
	}
	var bar *mpb.Progress
	var report bench.Progress
	if h := c.Hot; c.Workload == bench.HotYouth {
		fmt.Fprintf(stderr, "vindex bench: %s, hotyouth: %d register-and-end cycles of the hot youth, then normal traffic %s alone and %s beside %.0f lookups/s of it, in turns\n",
			t.Name(), h.Ended, h.Phase, h.Phase, h.Rate)
	} else {
		fmt.Fprintf(stderr, "vindex bench: %s, %s, %d operations\n", t.Name(), c.Workload, c.Ops)
	}
	if o.progress && c.Workload != bench.HotYouth { // its phases are timed: no count to show
		bar, report = progressBar(stderr, t.Name(), int64(c.Ops))
	}
	r, err := bench.Run(ctx, t, c, report)
	if bar != nil {
		bar.Wait()
	}
	if cerr := t.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if r != nil {
		fmt.Fprintf(stderr, "vindex bench: %s: %.0f ops/s, p99 %.2f ms, %d failed\n", r.Target, r.OpsRate, r.Latency.P99, r.Failed())
		if o := r.Oracle; o != nil {
			fmt.Fprintf(stderr, "vindex bench: %s: oracle z = %.2f, AUC = %.3f\n", r.Target, o.Z, o.AUC)
		}
		if h := r.Hot; h != nil {
			fmt.Fprintf(stderr, "vindex bench: %s: hot youth prepared in %.1f s; normal traffic %.0f ops/s alone, %.0f beside the hot lookups (ratio %.3f); the victim holds %d events about it\n",
				r.Target, h.PrepareSeconds, h.Without, h.With, h.Ratio, h.VictimEvents)
		}
	}
	return r, err
}

// writeBenchReport writes the report of results to the folder out and its
// tables to stdout; it fails if the targets disagree on the outcomes.
func writeBenchReport(stdout io.Writer, out string, results []*bench.Result) error {
	rep := bench.NewReport(results...)
	if err := rep.Write(out); err != nil {
		return err
	}
	fmt.Fprint(stdout, rep.Markdown())
	fmt.Fprintf(stdout, "\nreport written to %s\n", out)
	if rep.Consistent != nil && !*rep.Consistent {
		return errors.New("bench: the targets disagree on the outcomes (see the report)")
	}
	return nil
}

func benchCovenant(file string) (*rules.Covenant, error) {
	return covenantOf(config{Covenant: file, Dev: true})
}

// openTarget opens target n with a new store under work.
func openTarget(n, work string, conns int, cov *rules.Covenant, url, tokenFile, cacert, pg string) (bench.Target, error) {
	switch n {
	case "vindex":
		d, err := os.MkdirTemp(work, "vindex-")
		if err != nil {
			return nil, err
		}
		return bench.OpenInProcess(d, cov)
	case "https":
		toks, err := readTokens(tokenFile)
		if err != nil {
			return nil, err
		}
		var pool *x509.CertPool
		if cacert != "" {
			pem, err := os.ReadFile(cacert)
			if err != nil {
				return nil, err
			}
			pool = x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("bench: %s holds no PEM certificate", cacert)
			}
		}
		return bench.NewHTTPS(bench.HTTPSConfig{URL: url, Tokens: toks, RootCAs: pool, Connections: conns})
	}
	// The baselines compute pseudonyms as vindex does, under a fresh
	// keyset of their own.
	ps, err := bench.NewPseudonymiser()
	if err != nil {
		return nil, err
	}
	if n == "sqlite" {
		d, err := os.MkdirTemp(work, "sqlite-")
		if err != nil {
			return nil, err
		}
		return baseline.OpenSQLite(filepath.Join(d, "baseline.db"), conns, ps, cov)
	}
	s, err := baseline.OpenPostgres(pg, conns, ps, cov)
	if err != nil {
		return nil, err
	}
	if err := s.Reset(context.Background()); err != nil {
		s.Close()
		return nil, fmt.Errorf("bench: emptying the postgres baseline: %w", err)
	}
	return s, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws a bar for one target's run.
func progressBar(w io.Writer, name string, total int64) (*mpb.Progress, bench.Progress) {
	p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
	bar := p.AddBar(total,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersNoUnit("%d / %d", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.AverageSpeed(0, " %.0f ops/s", decor.WCSyncSpace),
			decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)),
	)
	return p, func(done int64) {
		bar.SetCurrent(done)
		if done >= total {
			bar.SetTotal(-1, true)
		}
	}
}
