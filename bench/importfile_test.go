package bench_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/bench"
	"github.com/vindex-nl/vindex/identity"
)

// TestWriteImportCSV: the file parses as CSV with the header, holds the
// rows, youths, refreshes and invalid rows its Counts says, each youth with
// one birth date and one report by each of the two institutions plus its
// refreshes, the invalid rows each wrong in one way; the rows of a youth
// are seldom adjacent; the same seed gives the same bytes.
func TestWriteImportCSV(t *testing.T) {
	cov := covenant(t)
	f := bench.ImportFile{Rows: 150_001, Seed: 7, Refresh: 0.1, Invalid: 0.05}
	want, err := f.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if want.Invalid != 7500 || want.Youths != 63_750 || want.Refreshes != 15_001 || want.Valid()+want.Invalid != f.Rows {
		t.Fatalf("counts %+v", want)
	}
	var buf bytes.Buffer
	if err := bench.WriteImportCSV(&buf, f); err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bytes.NewReader(buf.Bytes()))
	header, err := r.Read()
	if err != nil || strings.Join(header, ",") != bench.ImportHeader {
		t.Fatalf("header %q: %v", header, err)
	}
	type youth struct {
		born        string
		school, wij int
		refresh     int
	}
	youths := map[string]*youth{}
	rows, invalid, adjacent := 0, 0, 0
	last := ""
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows++
		inst, bsn, born, muni, kind, code, phone := rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[7]
		if bsn == last {
			adjacent++
		}
		last = bsn
		if _, err := identity.ParseBirthDate(born); err != nil || muni != "GM0014" || rec[6] == "" || rec[8] == "" {
			t.Fatalf("row %d: birth date, municipality or contact wrong", rows)
		}
		_, bsnErr := identity.ParseBSN(bsn)
		_, known := cov.Institution(inst)
		noCode := kind == "signal" && code == ""
		nWrong := 0
		for _, wrong := range []bool{bsnErr != nil, !known, noCode} {
			if wrong {
				nWrong++
			}
		}
		if nWrong > 1 {
			t.Fatalf("row %d is wrong in %d ways", rows, nWrong)
		}
		if nWrong == 1 {
			invalid++
			continue
		}
		y := youths[bsn]
		if y == nil {
			y = &youth{born: born}
			youths[bsn] = y
		}
		if y.born != born {
			t.Fatalf("a youth with two birth dates")
		}
		switch {
		case phone == "050-7654321":
			y.refresh++
		case inst == "school-example-lyceum" && kind == "signal" && code == "S01":
			y.school++
		case inst == "wij-groningen" && kind == "involvement" && code == "":
			y.wij++
		default:
			t.Fatalf("row %d: unexpected %s %s %s", rows, inst, kind, code)
		}
	}
	refreshes := 0
	for _, y := range youths {
		if y.school != 1 || y.wij != 1 {
			t.Fatalf("a youth reported %d times by the school, %d by WIJ", y.school, y.wij)
		}
		refreshes += y.refresh
	}
	if rows != f.Rows || invalid != want.Invalid || len(youths) != want.Youths || refreshes != want.Refreshes {
		t.Fatalf("%d rows, %d invalid, %d youths, %d refreshes; want %d, %+v", rows, invalid, len(youths), refreshes, f.Rows, want)
	}
	// Two of a youth's rows follow each other about once in 2·65536/2.
	if adjacent > rows/1000 {
		t.Fatalf("%d of %d rows follow a row of the same youth", adjacent, rows)
	}

	var again, other bytes.Buffer
	bench.WriteImportCSV(&again, f)
	f.Seed++
	bench.WriteImportCSV(&other, f)
	if !bytes.Equal(buf.Bytes(), again.Bytes()) || bytes.Equal(buf.Bytes(), other.Bytes()) {
		t.Fatal("the same seed gave other bytes, or another seed the same")
	}

	for _, bad := range []bench.ImportFile{{Rows: -1}, {Rows: 10, Refresh: 1}, {Rows: 10, Invalid: 0.6, Refresh: 0.5}, {Rows: 1, Refresh: 0.9}} {
		if err := bench.WriteImportCSV(io.Discard, bad); !errors.Is(err, bench.ErrImportFile) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	// Invalid rows alone: no youth, the rows all rejected.
	buf.Reset()
	if err := bench.WriteImportCSV(&buf, bench.ImportFile{Rows: 3, Invalid: 0.9}); err != nil || strings.Count(buf.String(), "\n") != 4 {
		t.Fatalf("three invalid rows: %v\n%s", err, buf.String())
	}
}
