package baseline_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/bench"
	"github.com/vindex-nl/vindex/bench/baseline"
	"github.com/vindex-nl/vindex/bench/target"
	"github.com/vindex-nl/vindex/examples"
	"github.com/vindex-nl/vindex/internal/pgtest"
	"github.com/vindex-nl/vindex/rules"
)

// TestCopyImport: a generated import file, with refreshes and invalid rows,
// and hand-made youths (one reported once, a third and fourth institution, refreshes between
// the matches that change the contact the later matches name, the GGD
// coordinating for a four-year-old, a youth whose municipality changes),
// loaded by CopyImport gives the tables that ImportRows gives registering
// row by row, up to IDs, timestamps and seq numbers; so does a second
// file imported row by row on top of each. CopyImport refuses tables that
// hold data.
func TestCopyImport(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx := context.Background()
	cov, err := rules.Load(bytes.NewReader(examples.CovenantGroningen), "covenant-groningen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := bench.NewPseudonymiser()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	open := func(name string) *baseline.SQL {
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		s, err := baseline.OpenPostgres(strings.Replace(dsn, "/postgres?", "/"+name+"?", 1), 4, ps, cov)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	rows, bulk := open("byrow"), open("bycopy")

	var file bytes.Buffer
	shape := bench.ImportFile{Rows: 4000, Seed: 11, Refresh: 0.15, Invalid: 0.05}
	if err := bench.WriteImportCSV(&file, shape); err != nil {
		t.Fatal(err)
	}
	file.WriteString(handRows(t, 999))
	want, err := rows.ImportRows(ctx, bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := bulk.CopyImport(ctx, bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := shape.Counts()
	if want.Rows != int64(shape.Rows)+15 || want.Rejected != int64(counts.Invalid)+2 || want.Youths != int64(counts.Youths)+4 ||
		want.Matches != int64(counts.Youths)+6 || want.Refreshed != int64(counts.Refreshes)+3 {
		t.Fatalf("row by row: %+v; the file: %+v", want, counts)
	}
	want.Elapsed, got.Elapsed = 0, 0
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CopyImport: %+v\nImportRows: %+v", got, want)
	}
	compare(t, rows, bulk)

	if _, err := bulk.CopyImport(ctx, strings.NewReader(bench.ImportHeader+"\n")); !errors.Is(err, baseline.ErrNotEmpty) {
		t.Fatalf("CopyImport into tables with data: %v", err)
	}
	// The indexes and the outbox's sequence are back: a further import row
	// by row of other youths registers, matches and appends events alike
	// on both.
	more := bench.ImportHeader + "\n" + handRows(t, 1000)
	for _, s := range []*baseline.SQL{rows, bulk} {
		if _, err := s.ImportRows(ctx, strings.NewReader(more)); err != nil {
			t.Fatal(err)
		}
	}
	compare(t, rows, bulk)
	var indexes string
	if err := bulk.DB().QueryRowContext(ctx, `SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'`).Scan(&indexes); err != nil ||
		indexes != "outbox_pkey,outbox_recipient,registrations_live,registrations_pkey,youths_pkey" {
		t.Fatalf("indexes after CopyImport: %s %v", indexes, err)
	}
}

// handRows are rows of four youths of the population of seed, beside the
// generated file's, and two rows to reject.
func handRows(t *testing.T, seed uint64) string {
	t.Helper()
	pop := target.NewYouths(seed)
	pop.Grow(4)
	a, b, c, d := pop.Digits(0), pop.Digits(1), pop.Digits(2), pop.Digits(3)
	rows := []string{
		// a, four years old: the GGD coordinates, and stays when WIJ comes.
		"school-example-lyceum," + a + ",2022-06-01,GM0014,signal,S01,M. Bakker,050-1111111,",
		// b: WIJ refreshes before and after the school matches, and between
		// Accare's and the police's reports.
		"wij-groningen," + b + ",2012-03-03,GM0014,involvement,,A. Jansen,050-2000001,",
		"ggd-groningen," + a + ",2022-06-01,GM0014,involvement,,G. de Vries,,g.devries@ggd.example",
		"wij-groningen," + b + ",2012-03-03,GM0014,involvement,,A. Jansen,050-2000002,a.jansen@wij.example",
		"school-example-lyceum," + b + ",2012-03-03,GM0014,signal,S01,M. Bakker,050-1111111,",
		// c: Accare in the city, then Halt from another municipality.
		"accare-groningen," + c + ",2010-10-10,GM0014,involvement,,B. Smit,050-3000000,",
		"wij-groningen," + b + ",2012-03-03,GM0014,involvement,,A. Jansen,050-2000003,",
		"accare-groningen," + b + ",2012-03-03,GM0014,involvement,,B. Smit,050-3000000,",
		"halt-noord-nederland," + c + ",2010-10-10,GM0047,involvement,,H. Visser,050-4000000,",
		"wij-groningen," + b + ",2012-03-03,GM0014,involvement,,A. Jansen,050-2000004,",
		"wij-groningen," + a + ",2022-06-01,GM0014,involvement,,A. Jansen,050-2222222,",
		"politie-noord-nederland," + b + ",2012-03-03,GM0014,signal,S01,P. Bos,0900-8844,",
		// d: one report, no match.
		"school-example-lyceum," + d + ",2015-01-31,GM0014,signal,S01,M. Bakker,,m.bakker@lyceum.example",
		// Rejected: a school registering involvement; too few fields.
		"school-example-lyceum," + c + ",2010-10-10,GM0014,involvement,,M. Bakker,050-1111111,",
		"wij-groningen," + c,
	}
	return strings.Join(rows, "\n") + "\n"
}

// compare fails t unless a's and b's tables hold the same, with each
// registration named by its youth and institution, timestamps by their
// order, events in the order of their seq numbers and their payloads as
// JSON values; the payloads are the same bytes too (no name holds a
// character that Go's JSON escapes and PostgreSQL's does not).
func compare(t *testing.T, a, b *baseline.SQL) {
	t.Helper()
	queries := []string{
		`SELECT encode(youth, 'hex'), coordinator, rule, matched, age, municipality FROM youths ORDER BY youth`,
		`SELECT encode(youth, 'hex'), institution, kind, municipality, contact_name, contact_phone, contact_email, ends_on, ended_at IS NULL,
			updated_at > created_at, rank() OVER (PARTITION BY youth ORDER BY created_at)
			FROM registrations ORDER BY youth, institution`,
		`SELECT o.recipient, o.type, encode(r.youth, 'hex'), r.institution, dense_rank() OVER (ORDER BY o.at), convert_from(o.payload, 'UTF8')
			FROM outbox o JOIN registrations r ON r.id = o.registration ORDER BY o.seq`,
	}
	for _, q := range queries {
		x, y := dump(t, a.DB(), q, false), dump(t, b.DB(), q, false)
		if len(x) == 0 {
			t.Fatalf("nothing from %s", q)
		}
		if len(x) != len(y) {
			t.Fatalf("%d rows by row, %d by COPY: %s", len(x), len(y), q)
		}
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("row %d of %.60s…:\nby row:  %s\nby COPY: %s", i, q, x[i], y[i])
			}
		}
	}
	q := `SELECT convert_from(payload, 'UTF8') FROM outbox ORDER BY seq`
	if x, y := dump(t, a.DB(), q, true), dump(t, b.DB(), q, true); !reflect.DeepEqual(x, y) {
		t.Fatal("the payloads are other bytes")
	}
}

// dump returns the rows of q as strings, a JSON column (unless raw) as Go
// writes it (keys sorted, no spaces).
func dump(t *testing.T, db *sql.DB, q string, raw bool) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, v := range vals {
			if s, ok := v.(string); ok && !raw && strings.HasPrefix(s, "{") {
				var j any
				if err := json.Unmarshal([]byte(s), &j); err != nil {
					t.Fatal(err)
				}
				n, _ := json.Marshal(j)
				v = string(n)
			}
			fmt.Fprintf(&b, "%v|", v)
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
