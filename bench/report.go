package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/vindex-nl/vindex/bench/target"
)

// Report is the results of one or more targets on the same workload.
type Report struct {
	Date    time.Time `json:"date"`
	Machine Machine   `json:"machine"`
	Results []*Result `json:"results"`
	// Ratios compare the first target (vindex) with each other one.
	Ratios []Ratio `json:"ratios,omitempty"`
	// Consistent reports whether every target that finished without
	// errors counted the same new registrations and new matches, which
	// the workload's seeded operations determine (ingest, rereport and
	// bulk; mixed depends on timing through its ends). Absent when it
	// was not checked.
	Consistent *bool `json:"consistent,omitempty"`
	// Notes are remarks a reader needs: a consistency failure, errors.
	Notes []string `json:"notes,omitempty"`
}

// Ratio compares target A with target B on the same workload.
type Ratio struct {
	A string `json:"a"`
	B string `json:"b"`
	// Throughput is A's operations per second over B's.
	Throughput float64 `json:"throughput"`
	// P99 is B's 99th percentile latency over A's: above 1, A is faster.
	P99 float64 `json:"p99"`
}

// NewReport puts results of the same workload side by side; the first is
// the one the others are compared with.
func NewReport(results ...*Result) *Report {
	r := &Report{Date: time.Now().UTC(), Machine: ThisMachine(), Results: results}
	if len(results) == 0 {
		return r
	}
	a := results[0]
	for _, b := range results[1:] {
		ratio := Ratio{A: a.Target, B: b.Target}
		if b.OpsRate > 0 {
			ratio.Throughput = a.OpsRate / b.OpsRate
		}
		if a.Latency.P99 > 0 {
			ratio.P99 = b.Latency.P99 / a.Latency.P99
		}
		r.Ratios = append(r.Ratios, ratio)
	}
	for _, x := range results {
		if n := x.Failed(); n > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: %d operations failed (%s)", x.Target, n, errorList(x.Errors)))
		}
		if n := trendNote(x); n != "" {
			r.Notes = append(r.Notes, n)
		}
	}
	if w := a.Config.Workload; w != Mixed && w != HotYouth && len(results) > 1 {
		ok, compared := true, false
		for _, b := range results[1:] {
			if a.Failed() > 0 || b.Failed() > 0 || a.Config != b.Config {
				continue
			}
			compared = true
			if a.Outcomes[NewMatch.String()] != b.Outcomes[NewMatch.String()] ||
				a.Outcomes[Registered.String()] != b.Outcomes[Registered.String()] {
				ok = false
				r.Notes = append(r.Notes, fmt.Sprintf("%s and %s disagree: %d/%d new registrations, %d/%d new matches",
					a.Target, b.Target, a.Outcomes[Registered.String()], b.Outcomes[Registered.String()],
					a.Outcomes[NewMatch.String()], b.Outcomes[NewMatch.String()]))
			}
		}
		if compared {
			r.Consistent = &ok
		}
	}
	return r
}

func errorList(m map[string]int64) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s: %d", k, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// The files Write makes.
const (
	ReportJSON      = "report.json"
	ReportMarkdown  = "report.md"
	PlotThroughput  = "throughput.svg"
	PlotPercentiles = "latency-percentiles.svg"
	PlotHistogram   = "latency-histogram.svg"
)

// Write writes the report into dir (made if missing): report.json,
// report.md and the three plots.
func (r *Report) Write(dir string) error {
	if len(r.Results) == 0 {
		return errors.New("bench: empty report")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ReportJSON), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ReportMarkdown), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	for name, p := range map[string]func() (*plot.Plot, error){
		PlotThroughput: r.throughputPlot, PlotPercentiles: r.percentilePlot, PlotHistogram: r.histogramPlot,
	} {
		pl, err := p()
		if err != nil {
			return fmt.Errorf("bench: %s: %w", name, err)
		}
		if err := pl.Save(18*vg.Centimeter, 11*vg.Centimeter, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("bench: %s: %w", name, err)
		}
	}
	return nil
}

// Markdown renders the report as a page a person can read.
func (r *Report) Markdown() string {
	var b strings.Builder
	c := r.Results[0].Config
	fmt.Fprintf(&b, "# vindex bench: %s\n\n", c.Workload)
	m := r.Machine
	commit := m.Commit
	if commit == "" {
		commit = "unknown"
	} else if m.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(&b, "%s · commit %s · %s/%s, %d CPUs (%s), %d MiB · %s\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), commit, m.OS, m.Arch, m.CPUs, orUnknown(m.CPUModel), m.MemoryMiB, m.Go)
	b.WriteString(describe(c))
	b.WriteString("| target | ops/s | registrations/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | new matches | errors | elapsed s |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, x := range r.Results {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %d | %.1f |\n",
			x.Target, x.OpsRate, x.RegsRate, x.Latency.P50, x.Latency.P90, x.Latency.P99, x.Latency.P999, x.Latency.Max,
			x.Outcomes[NewMatch.String()], x.Failed(), x.Elapsed)
	}
	if len(r.Ratios) > 0 {
		b.WriteString("\n| ratio | throughput | p99 latency (B/A) |\n| --- | ---: | ---: |\n")
		for _, x := range r.Ratios {
			fmt.Fprintf(&b, "| %s / %s | %.2f× | %.2f× |\n", x.A, x.B, x.Throughput, x.P99)
		}
	}
	if t := trendTable(r.Results); t != "" {
		b.WriteString("\n" + t)
	}
	b.WriteString("\nOutcomes per target:\n\n")
	for _, x := range r.Results {
		var parts []string
		for i := range target.NumOutcomes {
			if n := x.Outcomes[Outcome(i).String()]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", Outcome(i), n))
			}
		}
		fmt.Fprintf(&b, "- %s: %s", x.Target, strings.Join(parts, ", "))
		if x.PeakRSS > 0 {
			fmt.Fprintf(&b, "; peak RSS of the process so far %d MiB", x.PeakRSS>>20)
		}
		b.WriteString("\n")
	}
	for _, x := range r.Results {
		if o := x.Oracle; o != nil {
			fmt.Fprintf(&b, "\n%s\n", o.line(x.Target))
		}
		if h := x.Hot; h != nil {
			fmt.Fprintf(&b, "\n%s\n", h.lines(x.Target, x.Config))
		}
	}
	for _, x := range r.Results {
		if len(x.Abuse) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nMisbehaving clients beside the workload on %s (the valid operations above failed %d times):\n\n", x.Target, x.Failed())
		b.WriteString("| abuse | clients | attempts | refused as expected | cut off by the server | unexpected | served (mean time) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, a := range x.Abuse {
			served := ""
			if a.Served > 0 {
				served = fmt.Sprintf("%d (%.2f ms)", a.Served, a.MeanSeconds*1e3)
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %s |\n", a.Kind, a.Clients, a.Attempts, a.Refused, a.CutOff, a.Unexpected, served)
		}
	}
	if r.Consistent != nil {
		if *r.Consistent {
			b.WriteString("\nAll targets counted the same new registrations and new matches.\n")
		} else {
			b.WriteString("\n**The targets disagree on the counts of new registrations or matches.**\n")
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n- %s", n)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n![throughput over time](%s)\n\n![latency by percentile](%s)\n\n![latency histogram](%s)\n",
		PlotThroughput, PlotPercentiles, PlotHistogram)
	return b.String()
}

// describe is the report's sentence on the workload c.
func describe(c Config) string {
	loop := fmt.Sprintf("closed loop, %d callers", c.Concurrency)
	if c.Rate > 0 {
		loop = fmt.Sprintf("open loop at %.0f ops/s, %d callers, latency from the scheduled time", c.Rate, c.Concurrency)
	}
	if c.Workload == HotYouth {
		return fmt.Sprintf("Workload **hotyouth**, seed %d: %s registers a youth, %s registers and ends the same youth %d times, one cycle after another; "+
			"then normal traffic, the mixed workload's operations (%d youths, Zipf s=%.2f, mix register:lookup:end %d:%d:%d, %s), "+
			"runs %s alone and %s beside %.0f lookups a second of the hot youth by %s, involved with neither (open loop, latency from the scheduled time). "+
			"The table's figures are the normal traffic's over both phases.\n\n",
			c.Seed, HotVictim, HotAttacker, c.Hot.Ended, c.Youths, c.Zipf, c.Mix.Register, c.Mix.Lookup, c.Mix.End, loop,
			c.Hot.Phase, c.Hot.Phase, c.Hot.Rate, HotAsker)
	}
	s := fmt.Sprintf("Workload **%s**: %d operations, seed %d, %s", c.Workload, c.Ops, c.Seed, loop)
	switch c.Workload {
	case Rereport:
		s += fmt.Sprintf(", %d youths, Zipf s=%.2f", c.Youths, c.Zipf)
	case Mixed:
		s += fmt.Sprintf(", %d youths, Zipf s=%.2f, mix register:lookup:end %d:%d:%d", c.Youths, c.Zipf, c.Mix.Register, c.Mix.Lookup, c.Mix.End)
	case Oracle:
		s += fmt.Sprintf(" for the setup; %d youths registered by %s, then lookups by %s one at a time", c.Youths, OracleReporter, OracleAsker)
	}
	return s + ".\n\n"
}

func orUnknown(s string) string {
	if s == "" {
		return "model unknown"
	}
	return s
}

func (r *Report) lines(p *plot.Plot, xy func(*Result) plotter.XYs) error {
	var vs []any
	for _, x := range r.Results {
		pts := xy(x)
		if len(pts) == 0 {
			continue
		}
		vs = append(vs, x.Target, pts)
	}
	if len(vs) == 0 {
		return nil
	}
	return plotutil.AddLinePoints(p, vs...)
}

func (r *Report) throughputPlot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Throughput over time (" + string(r.Results[0].Config.Workload) + ")"
	p.X.Label.Text = "seconds since start"
	p.Y.Label.Text = "operations per second"
	p.Y.Min = 0
	p.Legend.Top = true
	return p, r.lines(p, func(x *Result) plotter.XYs {
		var pts plotter.XYs
		for _, s := range x.Series {
			pts = append(pts, plotter.XY{X: s.At, Y: s.Rate})
		}
		return pts
	})
}

// nines maps a percentile to its number of nines (90 → 1, 99 → 2, …), so
// that the tail is spread out.
func nines(q float64) float64 { return -math.Log10(1 - math.Min(q, 99.9999)/100) }

func (r *Report) percentilePlot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Latency by percentile"
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency, ms (log)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var ticks []plot.Tick
	for _, q := range []float64{0, 90, 99, 99.9, 99.99, 99.999} {
		ticks = append(ticks, plot.Tick{Value: nines(q), Label: strconvFloat(q)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Legend.Top = true
	p.Legend.Left = true
	return p, r.lines(p, func(x *Result) plotter.XYs {
		var pts plotter.XYs
		for _, s := range x.Spectrum {
			pts = append(pts, plotter.XY{X: nines(s.Percentile), Y: math.Max(s.Latency, 0.001)})
		}
		return pts
	})
}

func strconvFloat(q float64) string { return strings.TrimSuffix(fmt.Sprintf("%g", q), ".0") }

func (r *Report) histogramPlot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Latency histogram (log-spaced bins)"
	p.X.Label.Text = "latency, ms (log)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Label.Text = "share of operations, %"
	p.Y.Min = 0
	p.Legend.Top = true
	return p, r.lines(p, func(x *Result) plotter.XYs {
		var total int64
		for _, b := range x.Buckets {
			total += b.Count
		}
		var pts plotter.XYs
		for _, b := range x.Buckets {
			pts = append(pts, plotter.XY{X: math.Sqrt(b.From * b.To), Y: 100 * float64(b.Count) / float64(max(total, 1))})
		}
		return pts
	})
}
