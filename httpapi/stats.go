package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/matcher"
)

// StatsResponse is the JSON answer of GET /v1/stats: the figures of one
// municipality and year, as figures.Result.WriteJSON writes them, and the
// median time from match to coordinator.
type StatsResponse struct {
	Year         int    `json:"year"`
	Municipality string `json:"municipality"`
	// Figures is the table (see figures.Result.WriteJSON): every count a
	// number, or "<10" when suppressed.
	Figures json.RawMessage `json:"figures"`
	// MedianDaysToCoordinator is the median number of whole days from a
	// match to its coordinator over the municipality's year: a number, or
	// "<10" when suppressed.
	MedianDaysToCoordinator any `json:"median_days_to_coordinator"`
}

// statsQuery reads the query of GET /v1/stats; its errors are problems
// that name the parameter.
func statsQuery(r *http.Request) (matcher.FiguresQuery, bool, error) {
	v := r.URL.Query()
	bad := func(field, detail string) error {
		return problem(http.StatusBadRequest, CodeInvalidParameter, field, detail)
	}
	var q matcher.FiguresQuery
	var err error
	if q.Year, err = figures.ParseYear(v.Get("year")); err != nil {
		return q, false, bad("year", "year must be a calendar year, 2000 or later")
	}
	q.Municipality = v.Get("municipality")
	q.Measure = figures.Registrations
	if m := v.Get("measure"); m != "" {
		q.Measure = figures.Measure(m)
	}
	if by := v.Get("by"); by != "" {
		for name := range strings.SplitSeq(by, ",") {
			d, err := figures.ParseDim(name)
			if err != nil {
				return q, false, bad("by", "by lists at most two of month, institution_type, kind, signal, comma-separated")
			}
			q.By = append(q.By, d)
		}
	}
	csv := false
	switch v.Get("format") {
	case "json":
	case "csv":
		csv = true
	case "":
		csv = strings.Contains(r.Header.Get("Accept"), "text/csv")
	default:
		return q, false, bad("format", "format must be json or csv")
	}
	return q, csv, nil
}

// stats serves GET /v1/stats: a municipality's management figures of its
// own municipality (the matcher refuses any other caller), from the
// release of a closed year. JSON by default; CSV with format=csv or
// Accept: text/csv.
func (h *Handler) stats(r *http.Request, actor matcher.Actor) (any, int, error) {
	q, asCSV, err := statsQuery(r)
	if err != nil {
		return nil, 0, err
	}
	f, err := h.m.Figures(r.Context(), actor, q)
	if err != nil {
		return nil, 0, err
	}
	var buf bytes.Buffer
	if asCSV {
		if err := f.Result.WriteCSV(&buf); err != nil {
			return nil, 0, err
		}
		return document{contentType: "text/csv; charset=utf-8", body: buf.Bytes(), vary: "Accept"}, http.StatusOK, nil
	}
	if err := f.Result.WriteJSON(&buf); err != nil {
		return nil, 0, err
	}
	var median any = f.Median.Days
	if f.Median.Suppressed {
		median = "<" + strconv.Itoa(f.Result.Threshold)
	}
	return StatsResponse{Year: f.Year, Municipality: f.Municipality, Figures: bytes.TrimSpace(buf.Bytes()),
		MedianDaysToCoordinator: median}, http.StatusOK, nil
}
