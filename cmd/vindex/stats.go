package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
)

const statsUsage = `Usage: vindex stats --year YEAR [--measure M] [--by DIMS] [--municipality CODE]
                    [--format json|csv] [--svg FILE] [SETTINGS]

Prints the region's management figures of a closed calendar year: counts per
month, municipality, institution type, kind (signal or involvement) and
signal code of

  registrations            new registrations (not refreshes)
  matches                  registrations that gave a youth its second institution
  coordinator_assignments  coordinators assigned (with the median days from
                           the match, in the JSON)
  closures                 cases closed by their coordinator
  removals_wrong           registrations removed by the coordinator as wrong
  removals_objection       registrations removed after an upheld objection
  agreements_overdue       agreements of plans still open after their due day
                           (of the responsible institution)

The figures come from counters the index keeps in the same writes as the
changes they count; no registration is read. Every figure from 1 to 9 is
shown as "<10", and so are the figures that would let one be worked out from
the totals or from another query of the year (complementary suppression);
a 0 is shown. A year is published once it has closed (from 2 January of the
next year): its figures are the same release that GET /v1/stats answers
from, so the operator's and the municipalities' figures agree.

  --year YEAR           the calendar year (required)
  --measure M           one of the measures above (default registrations)
  --by DIMS             at most two of month, municipality, institution_type,
                        kind, signal, comma-separated: rows, then columns
                        (default: the year's total)
  --municipality CODE   only this municipality (a CBS code, GM0014)
  --format json|csv     the output on standard output (default json)
  --svg FILE            also write FILE, an SVG bar chart of the measure per
                        month (suppressed months marked "<10")

For example:

  vindex stats --config /etc/vindex.yaml --year 2025 --measure matches --by month,municipality --format csv

Run it while no server has the store open; it only reads. The same settings
as vindex serve apply (--data, --covenant, --config, --dev).
`

// statsFlags are vindex stats's own flags.
type statsFlags struct {
	year, measure, by, municipality, format, svg string
}

func statsCmd(args []string, stdout, stderr io.Writer) error {
	var sf statsFlags
	c, _, err := loadConfig("stats", statsUsage, args, func(fs *flag.FlagSet) {
		fs.StringVar(&sf.year, "year", "", "the calendar `year`, closed")
		fs.StringVar(&sf.measure, "measure", string(figures.Registrations), "the `measure`")
		fs.StringVar(&sf.by, "by", "", "at most two `dimensions`, comma-separated")
		fs.StringVar(&sf.municipality, "municipality", "", "only this municipality's `code`")
		fs.StringVar(&sf.format, "format", "json", "`json` or csv")
		fs.StringVar(&sf.svg, "svg", "", "also write an SVG chart per month to `file`")
	})
	if err != nil {
		return err
	}
	year, q, err := sf.query()
	if err != nil {
		return flagError{cmd: "stats", err: err}
	}
	if err := checkDataDir(c.Data); err != nil {
		return err
	}
	cov, err := covenantOf(c)
	if err != nil {
		return err
	}
	st, err := openStore(c, toolUse)
	if err != nil {
		return fmt.Errorf("the store is not available (is a server running?): %w", err)
	}
	defer st.Close()
	rs := matcher.NewReleases(st, cov, nil, identity.DefaultLocation())
	rel, err := rs.Year(context.Background(), year)
	if errors.Is(err, figures.ErrNotClosed) {
		return fmt.Errorf("stats: the figures of %d are published once the year has closed (the last closed year is %d)", year, rs.LastClosed())
	}
	if err != nil {
		return err
	}
	return writeStats(rel, year, q, sf, stdout)
}

// query checks the flags and makes the query they ask.
func (sf statsFlags) query() (int, figures.Query, error) {
	q := figures.Query{Measure: figures.Measure(sf.measure)}
	year, err := figures.ParseYear(sf.year)
	if err != nil {
		return 0, q, errors.New("--year must be a calendar year, 2000 or later")
	}
	if sf.by != "" {
		for name := range strings.SplitSeq(sf.by, ",") {
			d, err := figures.ParseDim(name)
			if err != nil {
				return 0, q, fmt.Errorf("--by: %q is not month, municipality, institution_type, kind or signal", name)
			}
			q.By = append(q.By, d)
		}
	}
	if sf.municipality != "" {
		q.Slice = map[figures.Dim]string{figures.Municipality: sf.municipality}
	}
	if sf.format != "json" && sf.format != "csv" {
		return 0, q, errors.New("--format must be json or csv")
	}
	return year, q, nil
}

// writeStats writes q's answer from rel in sf's format, and the chart if
// asked.
func writeStats(rel *figures.Release, year int, q figures.Query, sf statsFlags, stdout io.Writer) error {
	res, err := rel.Query(q)
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	if sf.svg != "" {
		if err := statsChart(rel, q, sf.svg); err != nil {
			return err
		}
	}
	if sf.format == "csv" {
		return res.WriteCSV(stdout)
	}
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		return err
	}
	med, err := rel.Median(q.Slice)
	if err != nil {
		return err
	}
	out := statsJSON{Year: year, Municipality: q.Slice[figures.Municipality], Figures: bytes.TrimSpace(buf.Bytes()), Median: med.Days}
	if med.Suppressed {
		out.Median = fmt.Sprintf("<%d", res.Threshold)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// statsJSON is vindex stats's JSON: GET /v1/stats's answer, for the
// region or one municipality.
type statsJSON struct {
	Year         int             `json:"year"`
	Municipality string          `json:"municipality,omitempty"`
	Figures      json.RawMessage `json:"figures"`
	// Median is the median days from match to coordinator over the
	// slice, or "<10".
	Median any `json:"median_days_to_coordinator"`
}

// statsChart writes an SVG bar chart of q's measure per month (in q's
// slice) to file: a suppressed month is a bar of 0 labelled "<10".
func statsChart(rel *figures.Release, q figures.Query, file string) error {
	res, err := rel.Query(figures.Query{Measure: q.Measure, Slice: q.Slice, By: []figures.Dim{figures.Month}})
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	values := make(plotter.Values, len(res.Rows))
	var labels []string
	var marks plotter.XYLabels
	for i, v := range res.RowTotals {
		values[i] = float64(v.Count)
		labels = append(labels, res.Rows[i][5:]) // the month's number
		if v.Suppressed {
			marks.XYs = append(marks.XYs, plotter.XY{X: float64(i), Y: 0})
			marks.Labels = append(marks.Labels, fmt.Sprintf("<%d", res.Threshold))
		}
	}
	p := plot.New()
	title := fmt.Sprintf("%s per month, %s", q.Measure, res.Rows[0][:4])
	if m := q.Slice[figures.Municipality]; m != "" {
		title += ", " + m
	}
	p.Title.Text = title
	p.X.Label.Text = "month"
	p.Y.Label.Text = string(q.Measure) + " (bars of suppressed months are 0, marked <" + fmt.Sprint(res.Threshold) + ")"
	p.Y.Min = 0
	bars, err := plotter.NewBarChart(values, vg.Points(16))
	if err != nil {
		return fmt.Errorf("stats: chart: %w", err)
	}
	p.Add(bars)
	p.NominalX(labels...)
	if len(marks.XYs) > 0 {
		l, err := plotter.NewLabels(marks)
		if err != nil {
			return fmt.Errorf("stats: chart: %w", err)
		}
		p.Add(l)
	}
	if err := p.Save(18*vg.Centimeter, 11*vg.Centimeter, file); err != nil {
		return fmt.Errorf("stats: chart: %w", err)
	}
	return nil
}
