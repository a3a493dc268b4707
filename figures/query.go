package figures

import (
	"fmt"
	"slices"
)

// Query selects a slice of a release and breaks it down.
type Query struct {
	// Measure is what is counted.
	Measure Measure
	// Slice fixes dimensions to one value each ("municipality": "GM0363"). Dimensions neither
	// in Slice nor in By are summed over the whole release period and domain.
	Slice map[Dim]string
	// By lists the breakdown: none (the slice's total), one dimension (rows) or two (rows,
	// then columns).
	By []Dim
}

// Value is a published figure: a count, or suppressed. A suppressed Value never holds the
// count (Count is 0).
type Value struct {
	Count      int
	Suppressed bool
}

// Result is a query's table: cells, row and column totals and the grand total, every one of
// them a cell of the release.
type Result struct {
	Measure   Measure
	Threshold int
	Slice     map[Dim]string
	By        []Dim
	Rows      []string  // the values of By[0], if any
	Cols      []string  // the values of By[1], if any
	Cells     [][]Value // Cells[i][j] for Rows[i], Cols[j]; nil unless two dimensions
	RowTotals []Value   // per row; nil without a breakdown
	ColTotals []Value   // per column; nil unless two dimensions
	Total     Value
}

// Query answers q from the release. It fails with [ErrInvalid] for an unknown measure or
// value, a dimension used twice or more than two breakdown dimensions, and with
// [ErrNotPublished] when the table q needs (the slice's and breakdown's dimensions) is not in
// the release.
func (r *Release) Query(q Query) (*Result, error) {
	t, base, err := r.tableFor(q)
	if err != nil {
		return nil, err
	}
	res := &Result{Measure: q.Measure, Threshold: r.threshold, By: slices.Clone(q.By), Slice: make(map[Dim]string)}
	for d, v := range q.Slice {
		res.Slice[d] = v
	}
	st := t
	for _, d := range q.By {
		st &^= 1 << d
	}
	value := func(t table, c Coords) Value {
		n, hidden := r.cell(q.Measure, cellKey{t, t.project(c)})
		if hidden {
			return Value{Suppressed: true}
		}
		return Value{Count: n}
	}
	res.Total = value(st, base)
	if len(q.By) == 0 {
		return res, nil
	}
	rd := q.By[0]
	res.Rows = r.Domain(rd)
	for _, v := range res.Rows {
		c := base
		c[rd] = v
		res.RowTotals = append(res.RowTotals, value(st|1<<rd, c))
	}
	if len(q.By) == 1 {
		return res, nil
	}
	cd := q.By[1]
	res.Cols = r.Domain(cd)
	for _, w := range res.Cols {
		c := base
		c[cd] = w
		res.ColTotals = append(res.ColTotals, value(st|1<<cd, c))
	}
	for _, v := range res.Rows {
		row := make([]Value, 0, len(res.Cols))
		for _, w := range res.Cols {
			c := base
			c[rd], c[cd] = v, w
			row = append(row, value(t, c))
		}
		res.Cells = append(res.Cells, row)
	}
	return res, nil
}

// tableFor checks q and gives the table its cells are in and the slice's coordinates.
func (r *Release) tableFor(q Query) (table, Coords, error) {
	var t table
	var base Coords
	if _, ok := r.measures[q.Measure]; !ok {
		return t, base, fmt.Errorf("%w: unknown measure %q", ErrInvalid, q.Measure)
	}
	if len(q.By) > 2 {
		return t, base, fmt.Errorf("%w: %d breakdown dimensions, want at most 2", ErrInvalid, len(q.By))
	}
	for d, v := range q.Slice {
		if d < 0 || d >= NumDims || !slices.Contains(r.domains[d], v) {
			return t, base, fmt.Errorf("%w: %s %q not in the release", ErrInvalid, d, v)
		}
		t |= 1 << d
		base[d] = v
	}
	for _, d := range q.By {
		if d < 0 || d >= NumDims || t.has(d) {
			return t, base, fmt.Errorf("%w: breakdown by %s", ErrInvalid, d)
		}
		t |= 1 << d
	}
	if !r.published[t] {
		return t, base, fmt.Errorf("%w: %s", ErrNotPublished, t)
	}
	return t, base, nil
}
