package figures

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// SuppressedMeans is what a suppressed figure means, for readers of the output.
const SuppressedMeans = "under the threshold, or hidden so that a figure under the threshold cannot be worked out"

// marker gives how a value is written: its count, or "<threshold" when suppressed.
func (res *Result) marker(v Value) string {
	if v.Suppressed {
		return "<" + strconv.Itoa(res.Threshold)
	}
	return strconv.Itoa(v.Count)
}

func (res *Result) jsonValue(v Value) any {
	if v.Suppressed {
		return res.marker(v)
	}
	return v.Count
}

type jsonResult struct {
	Measure         Measure           `json:"measure"`
	Threshold       int               `json:"threshold"`
	SuppressedMeans string            `json:"suppressed_means"`
	Slice           map[string]string `json:"slice"`
	Rows            string            `json:"rows,omitempty"`
	Columns         string            `json:"columns,omitempty"`
	Cells           []map[string]any  `json:"cells,omitempty"`
	RowTotals       []map[string]any  `json:"row_totals,omitempty"`
	ColumnTotals    []map[string]any  `json:"column_totals,omitempty"`
	Total           any               `json:"total"`
}

// WriteJSON writes the result as one JSON object: the measure, the threshold, the slice, the
// cells (one object per cell, with its row and column values and "count"), the row and column
// totals and the total. A suppressed count is the string "<10" (for the default threshold);
// every other count is a number.
func (res *Result) WriteJSON(w io.Writer) error {
	out := jsonResult{
		Measure:         res.Measure,
		Threshold:       res.Threshold,
		SuppressedMeans: SuppressedMeans,
		Slice:           make(map[string]string),
		Total:           res.jsonValue(res.Total),
	}
	for d, v := range res.Slice {
		out.Slice[d.String()] = v
	}
	if len(res.By) > 0 {
		out.Rows = res.By[0].String()
		for i, v := range res.Rows {
			out.RowTotals = append(out.RowTotals, map[string]any{out.Rows: v, "count": res.jsonValue(res.RowTotals[i])})
		}
	}
	if len(res.By) > 1 {
		out.Columns = res.By[1].String()
		for j, w := range res.Cols {
			out.ColumnTotals = append(out.ColumnTotals, map[string]any{out.Columns: w, "count": res.jsonValue(res.ColTotals[j])})
		}
		for i, v := range res.Rows {
			for j, w := range res.Cols {
				out.Cells = append(out.Cells, map[string]any{out.Rows: v, out.Columns: w, "count": res.jsonValue(res.Cells[i][j])})
			}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("figures: writing JSON: %w", err)
	}
	return nil
}

// WriteCSV writes the result as a table: a header of the row dimension's name and the column
// values (or the measure for a one-way table), one line per row ending in its total, and a
// last line "total" with the column totals and the grand total. A suppressed count is "<10"
// (for the default threshold). The slice is not in the CSV; name the file after it, or use
// WriteJSON.
func (res *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	var lines [][]string
	switch len(res.By) {
	case 0:
		lines = [][]string{{string(res.Measure)}, {res.marker(res.Total)}}
	case 1:
		lines = append(lines, []string{res.By[0].String(), string(res.Measure)})
		for i, v := range res.Rows {
			lines = append(lines, []string{v, res.marker(res.RowTotals[i])})
		}
		lines = append(lines, []string{"total", res.marker(res.Total)})
	default:
		lines = append(lines, append(append([]string{res.By[0].String()}, res.Cols...), "total"))
		for i, v := range res.Rows {
			line := []string{v}
			for _, c := range res.Cells[i] {
				line = append(line, res.marker(c))
			}
			lines = append(lines, append(line, res.marker(res.RowTotals[i])))
		}
		line := []string{"total"}
		for _, c := range res.ColTotals {
			line = append(line, res.marker(c))
		}
		lines = append(lines, append(line, res.marker(res.Total)))
	}
	if err := cw.WriteAll(lines); err != nil {
		return fmt.Errorf("figures: writing CSV: %w", err)
	}
	return nil
}
