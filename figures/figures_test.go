package figures

import (
	"bytes"
	"errors"
	"flag"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// smallRegion is a fixed population: two months, three municipalities, two kinds.
func smallRegion(t *testing.T) *Counts {
	t.Helper()
	var c Counts
	add := func(month, muni, kind string, n int) {
		if err := c.Add(Registrations, Coords{month, muni, "school", kind, "S01"}, n); err != nil {
			t.Fatal(err)
		}
	}
	add("2026-01", "GM0001", "signal", 40)
	add("2026-01", "GM0001", "involvement", 25)
	add("2026-01", "GM0002", "signal", 3)
	add("2026-01", "GM0002", "involvement", 30)
	add("2026-01", "GM0003", "signal", 18)
	add("2026-01", "GM0003", "involvement", 22)
	add("2026-02", "GM0001", "signal", 35)
	add("2026-02", "GM0001", "involvement", 28)
	add("2026-02", "GM0002", "signal", 12)
	add("2026-02", "GM0002", "involvement", 27)
	add("2026-02", "GM0003", "signal", 16)
	add("2026-02", "GM0003", "involvement", 20)
	return &c
}

func TestQueryGolden(t *testing.T) {
	r, err := NewRelease(smallRegion(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]Query{
		"region_municipality_by_kind": {Measure: Registrations, By: []Dim{Municipality, Kind}},
		"gm0002_month_by_kind":        {Measure: Registrations, Slice: map[Dim]string{Municipality: "GM0002"}, By: []Dim{Month, Kind}},
		"gm0002_by_month":             {Measure: Registrations, Slice: map[Dim]string{Municipality: "GM0002"}, By: []Dim{Month}},
		"gm0002_total":                {Measure: Registrations, Slice: map[Dim]string{Municipality: "GM0002"}},
	} {
		res, err := r.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var js, cs bytes.Buffer
		if err := res.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		if err := res.WriteCSV(&cs); err != nil {
			t.Fatal(err)
		}
		golden(t, name+".json", js.Bytes())
		golden(t, name+".csv", cs.Bytes())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

// TestSmallCellHidden: the 3 signals of GM0002 in January are hidden, and so is enough else
// that the 3 cannot be worked out from GM0002's row or January's column of any table.
func TestSmallCellHidden(t *testing.T) {
	r, err := NewRelease(smallRegion(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Query(Query{Measure: Registrations, Slice: map[Dim]string{Municipality: "GM0002"}, By: []Dim{Month, Kind}})
	if err != nil {
		t.Fatal(err)
	}
	hidden := 0
	for _, row := range res.Cells {
		for _, v := range row {
			if v.Suppressed {
				hidden++
				if v.Count != 0 {
					t.Errorf("a suppressed value holds its count %d", v.Count)
				}
			}
		}
	}
	if hidden < 2 {
		t.Errorf("%d hidden cells in GM0002's month × kind, want at least 2 (the 3 and a complement)", hidden)
	}
}

func TestQueryErrors(t *testing.T) {
	r, err := NewRelease(smallRegion(t), Config{Tables: [][]Dim{{}, {Month}, {Municipality}, {Month, Municipality}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		q    Query
		want error
	}{
		"unknown measure":   {Query{Measure: "visits"}, ErrInvalid},
		"unknown value":     {Query{Measure: Registrations, Slice: map[Dim]string{Municipality: "GM9999"}}, ErrInvalid},
		"dimension twice":   {Query{Measure: Registrations, Slice: map[Dim]string{Month: "2026-01"}, By: []Dim{Month}}, ErrInvalid},
		"three breakdowns":  {Query{Measure: Registrations, By: []Dim{Month, Kind, Signal}}, ErrInvalid},
		"table not in list": {Query{Measure: Registrations, By: []Dim{Kind}}, ErrNotPublished},
	} {
		if _, err := r.Query(tc.q); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for name, cfg := range map[string]Config{
		"threshold 1":       {Threshold: 1},
		"total not listed":  {Tables: [][]Dim{{}, {Month, Kind}, {Month}}},
		"unknown dimension": {Tables: [][]Dim{{}, {Dim(9)}}},
	} {
		if err := cfg.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
}

func TestDomains(t *testing.T) {
	declared := map[Dim][]string{Municipality: {"GM0001", "GM0002", "GM0003", "GM0004"}}
	r, err := NewRelease(smallRegion(t), Config{Domains: declared})
	must(t, err)
	res, err := r.Query(Query{Measure: Registrations, By: []Dim{Municipality}})
	must(t, err)
	if len(res.Rows) != 4 || res.Rows[3] != "GM0004" || res.RowTotals[3] != (Value{}) {
		t.Errorf("a declared municipality without counts: rows %v, totals %v; want a row GM0004 of 0", res.Rows, res.RowTotals)
	}
	declared[Municipality] = []string{"GM0001", "GM0002"}
	if _, err := NewRelease(smallRegion(t), Config{Domains: declared}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a count under an undeclared municipality: %v, want ErrInvalid", err)
	}
}

func TestCountsAdd(t *testing.T) {
	var c Counts
	at := Coords{"2026-01", "GM0001", "school", "signal", "S01"}
	if err := c.Add(Matches, Coords{"2026-01"}, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty coordinate: %v", err)
	}
	if err := c.Add("visits", at, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown measure: %v", err)
	}
	if err := c.Add(Matches, at, -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative: %v", err)
	}
	if err := c.Add(Matches, at, 2); err != nil || c.Get(Matches, at) != 2 {
		t.Errorf("add: %v, count %d", err, c.Get(Matches, at))
	}
}

func TestMedian(t *testing.T) {
	var c Counts
	group := func(muni string, days ...int) {
		at := Coords{"2026-01", muni, "youth_care", "signal", "S01"}
		for _, d := range days {
			must(t, c.Add(CoordinatorAssignments, at, 1))
			must(t, c.AddDuration(at, d))
		}
	}
	group("GM0001", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) // 11: the lower median is the 6th, 5 days
	group("GM0002", 30, 31, 32, 33)                   // 4: too small
	group("GM0003", 20, 20, 20, 20, 20, 20, 20, 20, 20, 20)
	r, err := NewRelease(&c, Config{})
	must(t, err)
	for name, tc := range map[string]struct {
		slice map[Dim]string
		want  Median
	}{
		"large group": {map[Dim]string{Municipality: "GM0001"}, Median{Days: 5}},
		"small group": {map[Dim]string{Municipality: "GM0002"}, Median{Suppressed: true}},
		// GM0003's count of 10 is the complement hiding GM0002's 4 in the region's total;
		// its median would say that the hidden count is at least 10.
		"hidden complement": {map[Dim]string{Municipality: "GM0003"}, Median{Suppressed: true}},
		// 25 assignments, the lower median the 13th smallest: 20 days.
		"region": {nil, Median{Days: 20}},
	} {
		got, err := r.Median(tc.slice)
		must(t, err)
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", name, got, tc.want)
		}
	}
	if _, err := r.Median(map[Dim]string{Municipality: "GM9999"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown municipality: %v", err)
	}
	if err := c.AddDuration(Coords{"2026-01", "GM0001", "youth_care", "signal", "S01"}, -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative duration: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeterministic: the same counts give the same release, whatever the maps' order, so a
// release rebuilt from the same final counts publishes the same figures.
func TestDeterministic(t *testing.T) {
	for seed := range uint64(10) {
		counts, domains := randomCounts(rand.New(rand.NewPCG(seed, 7)))
		a, err := NewRelease(counts, Config{Domains: domains})
		must(t, err)
		b, err := NewRelease(counts, Config{Domains: domains})
		must(t, err)
		for _, m := range Measures() {
			if !maps.Equal(a.measures[m].suppressed, b.measures[m].suppressed) {
				t.Fatalf("seed %d %s: two builds hide different cells", seed, m)
			}
		}
	}
	r, err := NewRelease(smallRegion(t), Config{Tables: [][]Dim{{}, {Month}}})
	must(t, err)
	if got := r.Tables(); len(got) != 2 || len(got[0]) != 0 || got[1][0] != Month {
		t.Errorf("Tables() = %v", got)
	}
}
