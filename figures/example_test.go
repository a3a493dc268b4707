package figures_test

import (
	"fmt"
	"os"

	"github.com/vindex-nl/vindex/figures"
)

func Example() {
	var counts figures.Counts
	add := func(muni, kind string, n int) {
		at := figures.Coords{"2026-01", muni, "school", kind, "S01"}
		if err := counts.Add(figures.Registrations, at, n); err != nil {
			panic(err)
		}
	}
	add("GM0001", "signal", 40)
	add("GM0001", "involvement", 25)
	// Under 10: hidden, and so are GM0003's cells, the smallest that keep the 3 from being
	// worked out of the row and column totals.
	add("GM0002", "signal", 3)
	add("GM0002", "involvement", 30)
	add("GM0003", "signal", 18)
	add("GM0003", "involvement", 22)

	release, err := figures.NewRelease(&counts, figures.Config{Domains: map[figures.Dim][]string{
		figures.Month:           {"2026-01"},
		figures.Municipality:    {"GM0001", "GM0002", "GM0003"},
		figures.InstitutionType: {"school"},
		figures.Kind:            {"involvement", "signal"},
		figures.Signal:          {"S01"},
	}})
	if err != nil {
		panic(err)
	}
	res, err := release.Query(figures.Query{
		Measure: figures.Registrations,
		By:      []figures.Dim{figures.Municipality, figures.Kind},
	})
	if err != nil {
		panic(err)
	}
	if err := res.WriteCSV(os.Stdout); err != nil {
		panic(err)
	}
	fmt.Println(res.Cells[1][1].Suppressed)
	// Output:
	// municipality,involvement,signal,total
	// GM0001,25,40,65
	// GM0002,<10,<10,33
	// GM0003,<10,<10,40
	// total,77,61,138
	// true
}
