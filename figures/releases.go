package figures

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// ErrNotClosed reports a period whose figures are not published (yet): a
// year that has not closed.
var ErrNotClosed = errors.New("figures: period not closed")

// NoSignalCode is the signal-code coordinate of a cell that is not about a
// signal (an involvement has no code).
const NoSignalCode = "-"

// FirstYear is the earliest year a release is built for.
const FirstYear = 2000

// Closing is how long after a year ends its release may be built: time for
// the commits dated in its last moments to land. Counts of a closed year
// never change again, so its release is built once.
const Closing = 24 * time.Hour

// ReleasesConfig configures [Releases]. Load is required; the rest have
// documented defaults.
type ReleasesConfig struct {
	// Load reads the counts of the months from through to ("2026-01",
	// "2026-12").
	Load func(ctx context.Context, from, to string) (*Counts, error)
	// Declared are the covenant's values of the dimensions (see Domains).
	// If nil, every dimension but the month takes the values in the
	// counts.
	Declared *Declared
	// Threshold is the release's (see Config). Zero means 10.
	Threshold int
	// Clock gives the time, to tell which years have closed. If nil,
	// time.Now.
	Clock func() time.Time
	// Location is the zone in which a year ends (the zone the counts'
	// months are taken in). If nil, UTC.
	Location *time.Location
}

// Releases publishes figures per calendar year: the release of a year is
// built once the year has closed (Closing after its end), on the first
// request for it, and kept for the life of the value; a year that has not
// closed has none (ErrNotClosed). One release per year, never one over
// another period, because releases of overlapping periods are not
// protected against each other (see Limits): every query of a year reads
// the same release, the months of a year are rows of its tables, and its
// totals are suppressed with them. A release is deterministic (the same
// counts give the same release), so one rebuilt after a restart from the
// unchanged counts of a closed year is the same release.
//
// A build takes seconds for a region's year, so it is never done per
// request: concurrent requests for a year wait for one build
// (single-flight), builds run one at a time, and a build continues when
// the request that started it is cancelled; a failed build is not kept,
// and the next request tries again. Releases is safe for concurrent use.
type Releases struct {
	c       ReleasesConfig
	mu      sync.Mutex
	years   map[int]*building
	buildMu sync.Mutex // one build at a time
}

type building struct {
	done chan struct{}
	r    *Release
	err  error
}

// NewReleases returns Releases for c.
func NewReleases(c ReleasesConfig) (*Releases, error) {
	if c.Load == nil {
		return nil, fmt.Errorf("%w: ReleasesConfig.Load is required", ErrInvalid)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if err := (Config{Threshold: c.Threshold}).Validate(); err != nil {
		return nil, err
	}
	return &Releases{c: c, years: make(map[int]*building)}, nil
}

// Closed reports whether year has closed: its release may be built.
func (rs *Releases) Closed(year int) bool {
	end := time.Date(year+1, 1, 1, 0, 0, 0, 0, rs.c.Location).Add(Closing)
	return year >= FirstYear && !rs.c.Clock().Before(end)
}

// LastClosed gives the latest year that has closed; FirstYear−1 if none
// has.
func (rs *Releases) LastClosed() int {
	y := rs.c.Clock().In(rs.c.Location).Year()
	for y >= FirstYear && !rs.Closed(y) {
		y--
	}
	return max(y, FirstYear-1)
}

// Year gives the release of year, building it if this is the first
// request. It fails with ErrNotClosed for a year that has not closed (or
// is before FirstYear), with ctx's error if ctx ends first, and with the
// build's error.
func (rs *Releases) Year(ctx context.Context, year int) (*Release, error) {
	if !rs.Closed(year) {
		return nil, fmt.Errorf("%w: %d", ErrNotClosed, year)
	}
	rs.mu.Lock()
	b := rs.years[year]
	if b == nil {
		b = &building{done: make(chan struct{})}
		rs.years[year] = b
		go rs.build(year, b)
	}
	rs.mu.Unlock()
	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.r, b.err
}

// build builds year's release into b, detached from any request; a
// failure is forgotten so that the next request builds again.
func (rs *Releases) build(year int, b *building) {
	defer close(b.done)
	rs.buildMu.Lock()
	defer rs.buildMu.Unlock()
	b.r, b.err = rs.Build(context.Background(), year)
	if b.err != nil {
		rs.mu.Lock()
		delete(rs.years, year)
		rs.mu.Unlock()
	}
}

// Build builds year's release now, without the cache and whether or not
// the year has closed: for a one-off command, which must itself publish
// only closed years.
func (rs *Releases) Build(ctx context.Context, year int) (*Release, error) {
	months := Months(year)
	counts, err := rs.c.Load(ctx, months[0], months[len(months)-1])
	if err != nil {
		return nil, fmt.Errorf("figures: loading %d: %w", year, err)
	}
	return NewRelease(counts, Config{Threshold: rs.c.Threshold, Domains: Domains(rs.c.Declared, months, counts)})
}

// ParseDim parses a dimension's name as Dim.String gives it ("month").
func ParseDim(s string) (Dim, error) {
	for d := range NumDims {
		if d.String() == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%w: dimension %q", ErrInvalid, s)
}

// Months lists the months of year, "2026-01" to "2026-12".
func Months(year int) []string {
	out := make([]string, 12)
	for i := range out {
		out[i] = fmt.Sprintf("%04d-%02d", year, i+1)
	}
	return out
}

// ParseYear parses a year of FirstYear or later.
func ParseYear(s string) (int, error) {
	y, err := strconv.Atoi(s)
	if err != nil || y < FirstYear || y > 9999 || strconv.Itoa(y) != s {
		return 0, fmt.Errorf("%w: year %q", ErrInvalid, s)
	}
	return y, nil
}

// Declared are the values a covenant declares for the dimensions.
type Declared struct {
	// Municipalities are the covenant's (none: those in the counts).
	Municipalities []string
	// InstitutionTypes are the types of the covenant's institutions.
	InstitutionTypes []string
	// SignalCodes are the covenant's signal codes (NoSignalCode is added).
	SignalCodes []string
}

// Domains declares the values of each dimension of a release of months:
// the months; the declared municipalities, institution types and signal
// codes with NoSignalCode; and both kinds. A value in counts that is not
// declared (an institution type or a municipality that has left the
// covenant, or "unknown") is added, so that its counts are kept: such a
// value is shown to occur. With nothing declared, only the months are.
func Domains(dec *Declared, months []string, counts *Counts) map[Dim][]string {
	d := map[Dim][]string{Month: slices.Clone(months)}
	if dec == nil {
		return d
	}
	d[Kind] = []string{"involvement", "signal"}
	d[Signal] = append([]string{NoSignalCode}, dec.SignalCodes...)
	d[InstitutionType] = slices.Clone(dec.InstitutionTypes)
	if len(dec.Municipalities) > 0 {
		d[Municipality] = slices.Clone(dec.Municipalities)
	}
	if counts == nil {
		return d
	}
	for _, cells := range counts.m {
		for c := range cells {
			for dim, v := range c {
				if vs, ok := d[Dim(dim)]; ok && Dim(dim) != Month && !slices.Contains(vs, v) {
					d[Dim(dim)] = append(vs, v)
				}
			}
		}
	}
	return d
}
