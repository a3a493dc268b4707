package baseline

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/bench/target"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// ImportStats is what an import of a CSV file did.
type ImportStats struct {
	// Rows is the number of rows after the header.
	Rows int64
	// Imported rows were applied: each made a registration or refreshed
	// one. Rejected rows were not; Reasons counts them by reason (which
	// never quotes the row).
	Imported, Rejected int64
	Reasons            map[string]int64
	// Registrations is the number of new registrations, Refreshed the
	// rows that refreshed one (Imported = Registrations + Refreshed), and
	// Matches the new registrations that found another institution.
	Registrations, Refreshed, Matches int64
	// Youths is the number of youths the import made.
	Youths int64
	// Elapsed is the time from the first row read to the commit.
	Elapsed time.Duration
}

func (st *ImportStats) reject(reason string) {
	st.Rejected++
	if st.Reasons == nil {
		st.Reasons = map[string]int64{}
	}
	st.Reasons[reason]++
}

// ErrImport reports an import file that cannot be read (not a row that is
// wrong: that is rejected and counted).
var ErrImport = errors.New("baseline: import")

// importColumns are the columns of vindex import's CSV files that the
// baselines read; urgent, sector and client_ref are allowed and ignored
// (the baselines keep none of them), the blind deployment's columns are
// refused.
var importColumns = []string{"institution", "bsn", "birth_date", "municipality", "kind", "code",
	"contact_name", "contact_phone", "contact_email", "ends_on", "urgent", "sector", "client_ref"}

// importReader reads vindex import's CSV files as the baselines store
// them.
type importReader struct {
	r    *csv.Reader
	col  map[string]int
	cov  *rules.Covenant
	s    *SQL
	now  time.Time
	line int64 // of the row read last; the header is line 1
}

func (s *SQL) newImportReader(r io.Reader, now time.Time) (*importReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: no header row: %v", ErrImport, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !slices.Contains(importColumns, h) {
			return nil, fmt.Errorf("%w: column %d is not one of %s", ErrImport, i+1, strings.Join(importColumns, ", "))
		}
		col[h] = i
	}
	for _, need := range importColumns[:5] {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%w: column %q is missing", ErrImport, need)
		}
	}
	return &importReader{r: cr, col: col, cov: s.cov, s: s, now: now, line: 1}, nil
}

// next reads the next row: the youth's key and the report, or the reason
// the row is rejected (reason != ""). At the end it returns io.EOF; a file
// that is not CSV, an error.
func (ir *importReader) next() (youth []byte, r report, reason string, err error) {
	rec, err := ir.r.Read()
	if err == io.EOF {
		return nil, report{}, "", io.EOF
	}
	ir.line++
	var pe *csv.ParseError
	switch {
	case err == nil:
	case errors.As(err, &pe) && pe.Err == csv.ErrFieldCount:
		return nil, report{}, "fields: not as many as the header's", nil
	default:
		return nil, report{}, "", fmt.Errorf("%w: line %d: not CSV", ErrImport, ir.line)
	}
	field := func(name string) string {
		if i, ok := ir.col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	r.inst = field("institution")
	inst, ok := ir.cov.Institution(r.inst)
	if !ok {
		return nil, r, "institution: unknown", nil
	}
	bsn, err := identity.ParseBSN(field("bsn"))
	if err != nil {
		return nil, r, "bsn: not nine digits that pass the eleven-check", nil
	}
	bd, err := identity.ParseBirthDate(field("birth_date"))
	if err != nil {
		return nil, r, "birth_date: not a date YYYY-MM-DD", nil
	}
	if r.age = bd.AgeOn(ir.now); r.age < 0 {
		return nil, r, "birth_date: in the future", nil
	}
	m, err := identity.ParseMunicipality(field("municipality"))
	if err != nil {
		return nil, r, "municipality: not a CBS code GMnnnn", nil
	}
	r.municipality = string(m)
	switch r.kind = field("kind"); r.kind {
	case "signal":
		if _, ok := ir.cov.SignalCode(field("code")); !ok {
			return nil, r, "code: a signal needs one of the covenant's signal codes", nil
		}
	case "involvement":
		if rules.SignalOnly(inst.Type) {
			return nil, r, "kind: the institution may only signal", nil
		}
	default:
		return nil, r, "kind: signal or involvement", nil
	}
	r.contact = store.Contact{Name: field("contact_name"), Phone: field("contact_phone"), Email: field("contact_email")}
	if r.contact.Name == "" || r.contact.Phone == "" && r.contact.Email == "" {
		return nil, r, "contact: a name and a phone number or an e-mail address", nil
	}
	r.endsOn = legalEnd(bd, ir.now)
	if e := field("ends_on"); e != "" {
		t, err := time.Parse(time.DateOnly, e)
		if err != nil {
			return nil, r, "ends_on: not a date YYYY-MM-DD", nil
		}
		r.endsOn = min(r.endsOn, day(t))
	}
	if r.endsOn < day(ir.now) {
		return nil, r, "ends_on: in the past, or the youth is past the legal age limit", nil
	}
	if youth, err = ir.s.youthKey(bsn); err != nil {
		return nil, r, "", err
	}
	return youth, r, "", nil
}

// nextValid returns the next row that is not rejected, counting in st
// every row read and the reason of each rejected; io.EOF at the end.
func (ir *importReader) nextValid(st *ImportStats) ([]byte, report, error) {
	for {
		youth, r, reason, err := ir.next()
		if err != nil {
			return nil, report{}, err
		}
		st.Rows++
		if reason == "" {
			return youth, r, nil
		}
		st.reject(reason)
	}
}

// ImportRows imports a CSV file in the form vindex import reads (its
// columns institution, bsn, birth_date, municipality, kind, code and
// contact_*; ends_on too) one row after another, each as Register stores a
// report: one transaction per row, with the row's kind, municipality and
// contact. It is the reference CopyImport is held to. A row that is wrong
// (an unknown institution, a BSN failing the eleven-check, a signal
// without one of the covenant's codes, …) is rejected and counted; the
// baseline checks what it needs, not each of vindex's checks (the strict
// forms of a phone number or an e-mail address, say).
func (s *SQL) ImportRows(ctx context.Context, r io.Reader) (ImportStats, error) {
	start := time.Now()
	var st ImportStats
	ir, err := s.newImportReader(r, start)
	if err != nil {
		return st, err
	}
	var before int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM youths`).Scan(&before); err != nil {
		return st, err
	}
	for {
		youth, rep, err := ir.nextValid(&st)
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, err
		}
		out, _, err := s.register(ctx, youth, rep, time.Now())
		if err != nil {
			return st, err
		}
		st.Imported++
		switch out {
		case target.NewMatch:
			st.Matches++
			st.Registrations++
		case target.Refreshed:
			st.Refreshed++
		default:
			st.Registrations++
		}
	}
	var after int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM youths`).Scan(&after); err != nil {
		return st, err
	}
	st.Youths = after - before
	st.Elapsed = time.Since(start)
	return st, nil
}
