package main

// vindex import in a blind deployment: rows name the youth by its element
// (a youth column) and give its birth month (born_in); or, with the key
// holders, a bsn column is turned into elements in batches and a
// birth_date column into the birth month, in this process, so that
// nothing but elements and birth months reaches the matcher.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	vclient "github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
)

// rowSource gives the rows of an import, in the order of the file, as
// csvRows.next does: io.EOF at the end, a *rejection for a row that is
// not imported, any other error for a file that cannot be read further.
type rowSource interface {
	next() (importRow, error)
}

// importSource checks the file's columns against the deployment's mode
// and the key-holder flags, and returns the rows the import reads:
// rows itself in an hmac deployment, in a blind one rows made blind
// (blindRows). Its errors name the file, the column and the flags.
func importSource(rows *csvRows, mode string, kf *holderFlags, stderr io.Writer) (rowSource, *vclient.Blinder, error) {
	_, bsnCol := rows.col["bsn"]
	_, youthCol := rows.col["youth"]
	_, keyCol := rows.col["youth_key"]
	if mode != modeBlind {
		switch {
		case youthCol || keyCol:
			col := map[bool]string{true: "youth", false: "youth_key"}[youthCol]
			return nil, nil, fmt.Errorf("%s:1: column %q: %w", rows.file, col, errNotBlind)
		case kf.given():
			return nil, nil, fmt.Errorf("--keyholder: %w", errNotBlind)
		}
		return rows, nil, nil
	}
	switch {
	case keyCol && !youthCol:
		return nil, nil, fmt.Errorf("%s:1: column \"youth_key\" names the keys that made a \"youth\" column's elements; the key holders' own are taken for a \"bsn\" column", rows.file)
	case bsnCol && !kf.given():
		return nil, nil, fmt.Errorf("%s:1: column \"bsn\": %w; or name the youths by a \"youth\" column of elements", rows.file, errBlindNeedsKeyholders)
	case youthCol && kf.given():
		return nil, nil, fmt.Errorf("%s:1: column \"youth\" holds elements already; the --keyholder flags are for a \"bsn\" column", rows.file)
	case youthCol:
		return &blindRows{rows: rows}, nil, nil
	}
	b, err := kf.blinder()
	if err != nil {
		return nil, nil, err
	}
	return &blindRows{rows: rows, b: b, stderr: stderr}, b, nil
}

// blindRows reads a blind deployment's import file: each row's birth date,
// if it has one, becomes its birth month (born_in); with a Blinder, the
// BSNs of the rows, up to oprf.MaxBatch distinct ones at a time, become
// their elements (youth) while the rows before them are imported. A row
// whose BSN or birth date does not parse is rejected as the API would
// reject it, quoting neither.
type blindRows struct {
	rows   *csvRows
	b      *vclient.Blinder // nil: the file has a youth column
	stderr io.Writer

	started bool
	batches chan chan []rowOrErr // in the order of the file
	done    chan struct{}
	cur     []rowOrErr

	blinded atomic.Int64 // BSNs turned into elements
	told    atomic.Bool  // that a key holder's rate limit is waited for
}

// rowOrErr is what next returns for one row.
type rowOrErr struct {
	row importRow
	err error
}

func (br *blindRows) next() (importRow, error) {
	if br.b == nil {
		row, err := br.rows.next()
		if err == nil {
			err = rejected(row, bornIn(row))
		}
		return row, err
	}
	if !br.started {
		br.started = true
		br.batches, br.done = make(chan chan []rowOrErr, inFlight), make(chan struct{})
		go br.blindAll(br.done)
	}
	for len(br.cur) == 0 {
		fut, ok := <-br.batches
		if !ok {
			return importRow{}, io.EOF
		}
		br.cur = <-fut
	}
	r := br.cur[0]
	br.cur = br.cur[1:]
	return r.row, r.err
}

// close stops the reading ahead and waits for it; the rows end. A second
// close does nothing.
func (br *blindRows) close() {
	if br.started && br.done != nil {
		close(br.done)
		br.done = nil
		for range br.batches {
		}
	}
}

// inFlight is how many batches blindRows has the key holders evaluate at
// once, beyond the one whose rows are being imported: while one batch
// travels, the next is blinded or unblinded.
const inFlight = 2

// blindAll reads the file, a batch at a time, until the file ends, cannot
// be read, or done is closed. Each batch goes to br.batches in the order of
// the file, as a channel that gets it once its BSNs are elements (or, if a
// key holder fails, an error that stops the import); inFlight of them are
// evaluated at once. It returns when they are done too.
func (br *blindRows) blindAll(done <-chan struct{}) {
	defer close(br.batches)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var evaluating sync.WaitGroup
	defer evaluating.Wait()
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
		}
		cancel()
	}()
	for end := false; !end; {
		var p pendingBatch
		p, end = br.readBatch()
		fut := make(chan []rowOrErr, 1)
		select {
		case br.batches <- fut:
		case <-done:
			return
		}
		evaluating.Go(func() { fut <- br.finish(ctx, p) })
	}
}

// pendingBatch is a batch of rows whose BSNs are not yet elements.
type pendingBatch struct {
	rows []rowOrErr
	bsns []identity.BSN
	at   [][]int // the rows of each BSN
}

// readBatch reads rows until the batch holds oprf.MaxBatch distinct BSNs,
// and reports whether the file ended (or cannot be read further: the
// batch's last item is then the error).
func (br *blindRows) readBatch() (p pendingBatch, end bool) {
	seen := map[string]int{} // a BSN's digits -> its index in p.bsns
	for len(p.bsns) < oprf.MaxBatch {
		row, err := br.rows.next()
		if errors.Is(err, io.EOF) {
			return p, true
		}
		var rj *rejection
		if err != nil && !errors.As(err, &rj) {
			p.rows = append(p.rows, rowOrErr{err: err})
			return p, true
		}
		if err == nil {
			err = bornIn(row)
		}
		var b identity.BSN
		if err == nil {
			b, err = bsnOf(row)
		}
		if err == nil {
			// A youth's rows in one batch are asked for once.
			i, ok := seen[b.RevealDigits()]
			if !ok {
				i = len(p.bsns)
				seen[b.RevealDigits()] = i
				p.bsns, p.at = append(p.bsns, b), append(p.at, nil)
			}
			p.at[i] = append(p.at[i], len(p.rows))
		}
		p.rows = append(p.rows, rowOrErr{row, rejected(row, err)})
	}
	return p, false
}

// finish turns p's BSNs into elements through the key holders and returns
// its rows, which name the youth by element and the key holders' keys
// (youth_key, as a client system sends it); if a key holder fails, only
// an error that stops the import.
func (br *blindRows) finish(ctx context.Context, p pendingBatch) []rowOrErr {
	if len(p.bsns) == 0 {
		return p.rows
	}
	ys, err := elements(ctx, br.b, p.bsns, br.stderr, &br.told)
	if err != nil {
		return []rowOrErr{{err: fmt.Errorf("%s: %w", br.rows.file, err)}}
	}
	layer := br.b.LayerID()
	for i, y := range ys {
		text, err := y.MarshalText()
		if err != nil {
			return []rowOrErr{{err: err}}
		}
		for _, r := range p.at[i] {
			f := p.rows[r].row.fields
			delete(f, "bsn")
			f["youth"], f["youth_key"] = string(text), layer
		}
	}
	br.blinded.Add(int64(len(ys)))
	return p.rows
}

// rejected is err, a row's *matcher.FieldError, as the *rejection of row;
// nil if err is.
func rejected(row importRow, err error) error {
	var rj *rejection
	if err == nil || errors.As(err, &rj) {
		return err
	}
	return &rejection{row.line, err.Error()}
}

// bornIn turns the row's birth date, if it has a birth_date column, into
// its birth month (born_in, YYYY-MM), what a blind index takes in its
// place; the day is dropped here. The error is a *matcher.FieldError, as
// the API's, and quotes nothing.
func bornIn(row importRow) error {
	f := row.fields
	s, ok := f["birth_date"]
	if !ok {
		return nil
	}
	delete(f, "birth_date")
	if s == "" {
		return &matcher.FieldError{Field: "birth_date", Err: matcher.ErrMissingBirthDate}
	}
	bd, err := identity.ParseBirthDate(s)
	if err != nil {
		return &matcher.FieldError{Field: "birth_date", Err: err}
	}
	f["born_in"] = bd.RevealDate().Format("2006-01")
	return nil
}

// bsnOf parses the row's BSN; its error is a *matcher.FieldError, as the
// API's, and quotes nothing.
func bsnOf(row importRow) (identity.BSN, error) {
	s := row.fields["bsn"]
	if s == "" {
		return identity.BSN{}, &matcher.FieldError{Field: "bsn", Err: matcher.ErrMissingBSN}
	}
	b, err := identity.ParseBSN(s)
	if err != nil {
		return identity.BSN{}, &matcher.FieldError{Field: "bsn", Err: err}
	}
	return b, nil
}
