package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/vindex-nl/vindex/figures"
)

// Management figures: aggregate counters that the matcher adds to in the
// same atomic commit as the change they count (a registration, a match, a
// coordinator assignment, a closure, a removal), so that a counter never
// disagrees with what was committed: an update that fails or is refused
// counts nothing. A counter is keyed by a measure and a cell of the
// figures cube (package figures): month, municipality, institution type,
// kind and signal code, every one a covenant code or a date, never an
// identity. A counter holds a number and nothing else: no pseudonym,
// registration, institution or time is kept with it, and nothing about
// one youth can be read back from the counters that the counts do not
// say. Counters are never deleted (a youth's destruction leaves them as
// they are: they name no one).

// NoSignalCode is the signal-code coordinate of a cell that is not about a
// signal (an involvement registration has no code).
const NoSignalCode = figures.NoSignalCode

// MaxFigureField is the longest coordinate of a counter's cell, in bytes.
const MaxFigureField = 64

// FigureCounter is what a [Tx] adds to the management figures' counters,
// in its own commit. A cell that [CheckFigureCell] refuses fails the
// update (ErrInvalid).
type FigureCounter interface {
	// Count adds one to the counter of measure m in cell at.
	Count(m figures.Measure, at figures.Coords)
	// CountDuration adds one to the match→coordinator histogram of cell
	// at, in the bucket of days whole days. Add it with every count of
	// figures.CoordinatorAssignments, in the same cell.
	CountDuration(at figures.Coords, days int)
}

// FigureReader reads the counters. It is optional: a backend that
// implements it serves vindex stats and GET /v1/stats.
type FigureReader interface {
	// Figures returns every non-zero counter of the months from through
	// to ("2026-01" … "2026-12", inclusive), as committed: a counter of
	// an update whose Update has returned is in it, and no update is in
	// it by half.
	Figures(ctx context.Context, from, to string) (FigureCounts, error)
}

// FigureCounts is what [FigureReader.Figures] returns: plain counts.
type FigureCounts struct {
	Counts    []FigureCount
	Durations []FigureDuration
}

// FigureCount is one counter: measure Measure in cell At counted N times.
type FigureCount struct {
	Measure figures.Measure
	At      figures.Coords
	N       int64
}

// FigureDuration is one bucket of a cell's match→coordinator histogram:
// N assignments came Days whole days after their match.
type FigureDuration struct {
	At   figures.Coords
	Days int
	N    int64
}

// Cube gives the counts as a figures.Counts, the input of a release.
func (fc FigureCounts) Cube() (*figures.Counts, error) {
	var c figures.Counts
	for _, n := range fc.Counts {
		if err := c.Add(n.Measure, n.At, int(n.N)); err != nil {
			return nil, fmt.Errorf("store: figures: %w", err)
		}
	}
	for _, d := range fc.Durations {
		for range d.N {
			if err := c.AddDuration(d.At, d.Days); err != nil {
				return nil, fmt.Errorf("store: figures: %w", err)
			}
		}
	}
	return &c, nil
}

// CheckFigureMonth reports whether month has the form "2006-01".
func CheckFigureMonth(month string) error {
	if len(month) != 7 || month[4] != '-' {
		return fmt.Errorf("%w: figures month %q, want YYYY-MM", ErrInvalid, month)
	}
	for i, c := range []byte(month) {
		if i != 4 && (c < '0' || c > '9') {
			return fmt.Errorf("%w: figures month %q, want YYYY-MM", ErrInvalid, month)
		}
	}
	if mo := month[5:]; mo < "01" || mo > "12" {
		return fmt.Errorf("%w: figures month %q, want YYYY-MM", ErrInvalid, month)
	}
	return nil
}

// CheckFigureCell returns an error wrapping ErrInvalid if a counter of m in
// cell at cannot be kept: an unknown measure, a month not of the form
// "2006-01", or a coordinate that is empty or over MaxFigureField bytes.
// An empty m checks the cell alone (a duration's).
func CheckFigureCell(m figures.Measure, at figures.Coords) error {
	if m != "" && !slices.Contains(figures.Measures(), m) {
		return fmt.Errorf("%w: figures measure %q", ErrInvalid, m)
	}
	if err := CheckFigureMonth(at[figures.Month]); err != nil {
		return err
	}
	for d, v := range at {
		if v == "" || len(v) > MaxFigureField {
			return fmt.Errorf("%w: figures %s of %d bytes", ErrInvalid, figures.Dim(d), len(v))
		}
	}
	return nil
}

// LoadFigures gives a function that reads fr's counters of the months from
// through to as figures.Counts: the Load of a figures.ReleasesConfig.
func LoadFigures(fr FigureReader) func(ctx context.Context, from, to string) (*figures.Counts, error) {
	return func(ctx context.Context, from, to string) (*figures.Counts, error) {
		fc, err := fr.Figures(ctx, from, to)
		if err != nil {
			return nil, err
		}
		return fc.Cube()
	}
}
