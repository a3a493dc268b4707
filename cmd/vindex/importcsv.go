package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// importColumns are the columns of an import file; the first five are
// required, except that a blind deployment's file may have youth in place
// of bsn and born_in in place of birth_date (altColumns).
var importColumns = []string{"institution", "bsn", "birth_date", "municipality", "kind", "code", "urgent", "sector",
	"contact_name", "contact_phone", "contact_email", "ends_on", "client_ref", "youth", "born_in", "youth_key"}

// altColumns are the required columns that a blind deployment's file may
// have in place of bsn and birth_date, as its reports over the API do.
var altColumns = map[string]string{"bsn": "youth", "birth_date": "born_in"}

// importRow is one row of an import file, by column name.
type importRow struct {
	line   int
	fields map[string]string
}

// rejection is a row that is not imported: its line and why. The reason
// never quotes the row.
type rejection struct {
	line   int
	reason string
}

func (r *rejection) Error() string { return fmt.Sprintf("%d: %s", r.line, r.reason) }

// countingReader counts the bytes read through it, for the progress bar.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// csvRows reads an import file: UTF-8 CSV, a header row naming the
// columns (importColumns, in any order), then a registration per row.
type csvRows struct {
	file    string
	in      *countingReader
	r       *csv.Reader
	columns int            // in the header
	col     map[string]int // column name -> index
	line    int            // of the row read last
}

// columnName names an unknown header field h, the i-th, in an error: quoted
// if it has a column name's form, else by its position, so that a file
// without a header row, whose first row is data (a BSN, say), is never
// quoted.
func columnName(h string, i int) string {
	if len(h) == 0 || len(h) > 32 || strings.Trim(h, "abcdefghijklmnopqrstuvwxyz_") != "" {
		return strconv.Itoa(i + 1)
	}
	return strconv.Quote(h)
}

// readCSVHeader reads the header of the import file r, called file in
// errors, and checks its columns: each known, none twice, the required
// ones there.
func readCSVHeader(r io.Reader, file string) (*csvRows, error) {
	in := &countingReader{r: r}
	cr := csv.NewReader(in)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: no header row: %v", file, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !slices.Contains(importColumns, h) {
			return nil, fmt.Errorf("%s:1: unknown column %s (known: %s)", file, columnName(h, i), strings.Join(importColumns, ", "))
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("%s:1: column %q twice", file, h)
		}
		col[h] = i
	}
	for _, need := range importColumns[:5] {
		_, ok := col[need]
		alt, hasAlt := altColumns[need]
		_, altOK := col[alt]
		switch {
		case ok && altOK:
			return nil, fmt.Errorf("%s:1: columns %q and %q: one of the two", file, need, alt)
		case !ok && !altOK && hasAlt:
			return nil, fmt.Errorf("%s:1: column %q is missing (or %q%s)", file, need, alt, map[string]string{"youth": ", in a blind deployment"}[alt])
		case !ok && !altOK:
			return nil, fmt.Errorf("%s:1: column %q is missing", file, need)
		}
	}
	return &csvRows{file: file, in: in, r: cr, columns: len(header), col: col, line: 1}, nil
}

// next reads the next row, its fields trimmed. At the end of the file it
// returns io.EOF. A row with a number of fields other than the header's is
// returned as a *rejection, and the rows after it can still be read; a
// file that is not CSV, or that cannot be read, as an error naming the
// file and line, and nothing more can be read. Neither quotes a field.
func (c *csvRows) next() (importRow, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return importRow{}, io.EOF
	}
	c.line++
	var pe *csv.ParseError
	switch {
	case err == nil, errors.As(err, &pe) && pe.Err == csv.ErrFieldCount:
	case pe != nil:
		return importRow{}, fmt.Errorf("%s:%d: %v", c.file, pe.Line, pe.Err)
	default:
		return importRow{}, fmt.Errorf("%s:%d: %w", c.file, c.line, err)
	}
	if len(rec) != c.columns {
		return importRow{}, &rejection{c.line, fmt.Sprintf("%d fields, the header has %d", len(rec), c.columns)}
	}
	fields := make(map[string]string, len(c.col))
	for name, i := range c.col {
		fields[name] = strings.TrimSpace(rec[i])
	}
	return importRow{line: c.line, fields: fields}, nil
}

// bytesRead is how much of the file has been read.
func (c *csvRows) bytesRead() int64 { return c.in.n.Load() }
