package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/store"
)

// countIn adds n registrations to the figures of March 2025 in muni, as the
// matcher's commits would have.
func countIn(t *testing.T, e *env, muni string, n int) {
	t.Helper()
	y := pseudonym.Pseudonym{KeyID: 9, Sum: [32]byte{byte(len(muni)), byte(n)}}
	err := e.store.Update(context.Background(), []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		for range n {
			tx.Count(figures.Registrations, figures.Coords{"2025-03", muni, "ggd", "involvement", figures.NoSignalCode})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	countIn(t, e, "GM0014", 14)
	countIn(t, e, "GM1966", 13)

	r := e.do(byToken(municipality), "GET", "/v1/stats?year=2025&by=month", nil)
	if r.status != 200 {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	var got struct {
		Year         int    `json:"year"`
		Municipality string `json:"municipality"`
		Figures      struct {
			Measure   string            `json:"measure"`
			Slice     map[string]string `json:"slice"`
			RowTotals []map[string]any  `json:"row_totals"`
			Total     any               `json:"total"`
		} `json:"figures"`
		Median any `json:"median_days_to_coordinator"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Year != 2025 || got.Municipality != "GM0014" || got.Figures.Slice["municipality"] != "GM0014" ||
		got.Figures.Measure != "registrations" || got.Figures.Total != 14.0 || got.Median != "<10" {
		t.Fatalf("stats of GM0014: %s", r.body)
	}
	for _, row := range got.Figures.RowTotals {
		if want := map[bool]any{true: 14.0, false: 0.0}[row["month"] == "2025-03"]; row["count"] != want {
			t.Fatalf("row %v, want count %v", row, want)
		}
	}
	hogelandAnswer := e.do(byToken(hogeland), "GET", "/v1/stats?year=2025", nil)
	if !strings.Contains(string(hogelandAnswer.body), `"total":13`) {
		t.Fatalf("Het Hogeland's own figures: %s", hogelandAnswer.body)
	}

	csv := e.do(byToken(municipality), "GET", "/v1/stats?year=2025&by=month&format=csv", nil)
	if csv.status != 200 || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(string(csv.body), "month,registrations\n2025-01,0\n") || !strings.HasSuffix(string(csv.body), "total,14\n") {
		t.Fatalf("CSV: %d %s %q", csv.status, csv.header.Get("Content-Type"), csv.body)
	}
	accept := e.do(byToken(municipality), "GET", "/v1/stats?year=2025", nil, "Accept", "text/csv")
	if string(accept.body) != "registrations\n14\n" {
		t.Fatalf("Accept: text/csv: %q", accept.body)
	}

	thisYear := time.Now().Year()
	for _, tc := range []struct {
		who         as
		query       string
		status      int
		code, field string
	}{
		{byToken(school), "year=2025", 403, httpapi.CodeForbidden, ""},
		{byCert(wij), "year=2025", 403, httpapi.CodeForbidden, ""},
		{byToken(municipality), "year=2025&municipality=GM1966", 403, httpapi.CodeForbidden, ""},
		{byToken(municipality), fmt.Sprintf("year=%d", thisYear), 404, httpapi.CodeFiguresNotPublished, "year"},
		{byToken(municipality), "", 400, httpapi.CodeInvalidParameter, "year"},
		{byToken(municipality), "year=1999", 400, httpapi.CodeInvalidParameter, "year"},
		{byToken(municipality), "year=2025&by=municipality", 400, httpapi.CodeInvalidParameter, "by"},
		{byToken(municipality), "year=2025&by=bsn", 400, httpapi.CodeInvalidParameter, "by"},
		{byToken(municipality), "year=2025&by=month,kind,signal", 400, httpapi.CodeInvalidParameter, "by"},
		{byToken(municipality), "year=2025&measure=youths", 400, httpapi.CodeInvalidParameter, "measure"},
		{byToken(municipality), "year=2025&format=xml", 400, httpapi.CodeInvalidParameter, "format"},
	} {
		r := e.do(tc.who, "GET", "/v1/stats?"+tc.query, nil)
		p := r.problem
		if r.status != tc.status || p.Code != tc.code || p.Field != tc.field {
			t.Errorf("%s: %d %s (field %q), want %d %s (field %q)", tc.query, r.status, p.Code, p.Field, tc.status, tc.code, tc.field)
		}
	}
}
