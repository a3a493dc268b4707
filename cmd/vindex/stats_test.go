package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// statsData makes a data directory whose store holds the figures of 2025
// the matcher's commits would have left: registrations in GM0014 in
// January (40) and February (3), in GM1966 in January (25); one match and
// coordinator assignment (after 2 days) in GM0014 in January.
func statsData(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	st, err := pebblestore.Open(filepath.Join(data, "store"), &pebblestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cell := func(month, muni string) figures.Coords {
		return figures.Coords{month, muni, "wij-team", "involvement", figures.NoSignalCode}
	}
	y := pseudonym.Pseudonym{KeyID: 1}
	err = st.Update(context.Background(), []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		for _, c := range []struct {
			month, muni string
			n           int
		}{{"2025-01", "GM0014", 40}, {"2025-02", "GM0014", 3}, {"2025-01", "GM1966", 25}} {
			for range c.n {
				tx.Count(figures.Registrations, cell(c.month, c.muni))
			}
		}
		tx.Count(figures.Matches, cell("2025-01", "GM0014"))
		tx.Count(figures.CoordinatorAssignments, cell("2025-01", "GM0014"))
		tx.CountDuration(cell("2025-01", "GM0014"), 2)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// runStats runs vindex stats over data with the example covenant.
func runStats(t *testing.T, data string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	args = append([]string{"stats", "--data", data, "--covenant", "../../examples/covenant-groningen.yaml"}, args...)
	err := vindex(args, &out, io.Discard)
	return out.String(), err
}

func TestStatsCSV(t *testing.T) {
	data := statsData(t)
	out, err := runStats(t, data, "--year", "2025", "--by", "month", "--format", "csv", "--municipality", "GM0014")
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]string{"2025-01": "40", "2025-02": "3", "total": "43"}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 14 || lines[0] != "month,registrations" || lines[13][:6] != "total," {
		t.Fatalf("CSV: want a header, 12 months and the total:\n%s", out)
	}
	for _, line := range lines[1:] {
		row, v, _ := strings.Cut(line, ",")
		want := raw[row]
		if want == "" {
			want = "0"
		}
		// A published figure is the count; a count under 10 is never
		// published; any figure may be hidden to protect one.
		if v != want && v != "<10" || v == want && want == "3" {
			t.Errorf("%s: %s, want %s or <10 (the count 3 always <10)", row, v, want)
		}
	}
}

func TestStatsJSON(t *testing.T) {
	data := statsData(t)
	out, err := runStats(t, data, "--year", "2025", "--by", "municipality")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Year    int `json:"year"`
		Figures struct {
			Measure   string           `json:"measure"`
			Rows      string           `json:"rows"`
			RowTotals []map[string]any `json:"row_totals"`
			Total     any              `json:"total"`
		} `json:"figures"`
		Median any `json:"median_days_to_coordinator"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if got.Year != 2025 || got.Figures.Measure != "registrations" || got.Figures.Rows != "municipality" ||
		len(got.Figures.RowTotals) != 5 || got.Median != "<10" || got.Figures.Total != 68.0 && got.Figures.Total != "<10" {
		t.Fatalf("JSON:\n%s", out)
	}
	for _, row := range got.Figures.RowTotals {
		want := map[string]any{"GM0014": 43.0, "GM1966": 25.0}[row["municipality"].(string)]
		if want == nil {
			want = 0.0
		}
		if row["count"] != want && row["count"] != "<10" {
			t.Fatalf("row %v, want count %v or <10", row, want)
		}
	}
}

func TestStatsSVG(t *testing.T) {
	data := statsData(t)
	svg := filepath.Join(t.TempDir(), "chart.svg")
	if _, err := runStats(t, data, "--year", "2025", "--municipality", "GM0014", "--svg", svg); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	var root struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal(b, &root); err != nil || root.XMLName.Local != "svg" {
		t.Fatalf("not an SVG document (%v): %.200s", err, b)
	}
	// The text is drawn glyph by glyph in gonum's SVG; the title and the
	// suppressed month's mark are there as text elements.
	for _, want := range []string{"registrations per month, 2025, GM0014", "&lt;10"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the chart lacks %q", want)
		}
	}
}

func TestStatsRefuses(t *testing.T) {
	data := statsData(t)
	if _, err := runStats(t, data, "--year", "2999"); err == nil || !strings.Contains(err.Error(), "published once the year has closed") {
		t.Fatalf("a year not closed: %v", err)
	}
	for _, args := range [][]string{
		{}, {"--year", "25"}, {"--year", "2025", "--by", "bsn"}, {"--year", "2025", "--format", "xml"},
	} {
		var fe flagError
		if _, err := runStats(t, data, args...); !errors.As(err, &fe) {
			t.Errorf("stats %v: %v, want a flag error", args, err)
		}
	}
	if _, err := runStats(t, data, "--year", "2025", "--by", "month,kind,signal"); err == nil {
		t.Fatal("three breakdown dimensions accepted")
	}
	if _, err := runStats(t, data, "--help"); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
}
