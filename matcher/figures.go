package matcher

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// Management figures: each verb counts what it changed in the store's
// aggregate counters (store.FigureCounter), in the same atomic write, so a
// refused or failed call counts nothing. Every count is in the cell of one
// registration (figures.Coords): the month of the change, in the
// matcher's zone (Config.Location, as "today" is taken for every date),
// and the registration's municipality, its institution's covenant type,
// its kind and its signal code (store.NoSignalCode for an involvement).
//
//   - registrations: a new registration (not a refresh, not a revived
//     one, not a replay), in its own cell;
//   - matches: a new registration that gives the youth its second
//     institution with a live registration, in that registration's cell;
//   - coordinator assignments: a coordinator assigned (first, or another
//     one), in the coordinator's registration's cell, with the days from
//     the match to the assignment: the match taken as when the second of
//     the institutions now live first reported (see matchedSince);
//   - closures: a case closed, in the closing coordinator's cell;
//   - removals wrong and removals objection: each registration removed
//     (Remove, Object), in its own cell.

// unknownCoord stands for a coordinate a registration does not give (an
// institution no longer in the covenant), so that its count is kept.
const unknownCoord = "unknown"

// cell is the figures cell of r for a change made today.
func (y *youth) cell(r store.Registration) figures.Coords {
	typ := unknownCoord
	if inst, ok := y.m.cov.Institution(r.Institution); ok && inst.Type != "" {
		typ = inst.Type
	}
	muni := r.Municipality
	if muni == "" {
		muni = unknownCoord
	}
	code := r.SignalCode
	if code == "" {
		code = store.NoSignalCode
	}
	return figures.Coords{y.today.Format("2006-01"), muni, typ, r.Kind.String(), code}
}

// count counts measure m in r's cell.
func (y *youth) count(m figures.Measure, r store.Registration) { y.tx.Count(m, y.cell(r)) }

// countReport counts a new registration reg, live now, and the match it
// made if it is the youth's second institution.
func (y *youth) countReport(reg store.Registration) {
	y.count(figures.Registrations, reg)
	if y.distinctLive() == 2 {
		y.count(figures.Matches, reg)
	}
}

// countAssignment counts the coordinator this update assigned, and the
// days since the match.
func (y *youth) countAssignment() {
	reg := y.liveOf(y.kase.Coordinator)
	if reg == nil {
		return
	}
	at := y.cell(*reg)
	y.tx.Count(figures.CoordinatorAssignments, at)
	days := int(y.today.Sub(y.m.today(y.matchedSince())) / (24 * time.Hour))
	y.tx.CountDuration(at, max(days, 0))
}

// matchedSince is when the youth's live registrations first made a match:
// the first report of the second of the institutions now live, in order
// of their first reports. (The case keeps no time of its match; a
// registration revived within the refresh window keeps its first report.)
//
// That is the earliest report of an institution other than the one that
// reported first (if two reported first at once, that same moment),
// found in two passes over the live registrations, without copying or
// sorting them.
func (y *youth) matchedSince() time.Time {
	first := -1
	for i := range y.live {
		if first < 0 || y.live[i].CreatedAt.Before(y.live[first].CreatedAt) {
			first = i
		}
	}
	since, found := y.now, false
	for i := range y.live {
		r := &y.live[i]
		if r.Institution != y.live[first].Institution && (!found || r.CreatedAt.Before(since)) {
			since, found = r.CreatedAt, true
		}
	}
	return since
}

// FiguresQuery asks for a municipality's management figures of one closed
// calendar year.
type FiguresQuery struct {
	// Year is the calendar year; it must have closed (figures.Releases).
	Year int
	// Municipality is the CBS code of the municipality; "" means the
	// caller's own, when it serves one.
	Municipality string
	// Measure is what is counted.
	Measure figures.Measure
	// By lists at most two dimensions to break down by (rows, then
	// columns); never the municipality, which is fixed.
	By []figures.Dim
}

// Figures is the answer to a FiguresQuery: the municipality's cells of the
// year's release, suppressed as the release suppresses them.
type Figures struct {
	Year         int
	Municipality string
	Result       *figures.Result
	// Median is the median number of days from match to coordinator
	// over the municipality's year, or suppressed (figures.Median).
	Median figures.Median
}

// Errors of Matcher.Figures.
var (
	// ErrFiguresUnavailable: the store keeps no figures (it implements
	// no store.FigureReader).
	ErrFiguresUnavailable = errors.New("matcher: the store keeps no management figures")
	// ErrFiguresNotPublished: the year has not closed, so its figures are
	// not published yet (figures.ErrNotClosed).
	ErrFiguresNotPublished = figures.ErrNotClosed
	// ErrFiguresQuery: an unknown measure, a breakdown the release does
	// not publish, or no municipality where the caller serves several.
	ErrFiguresQuery = errors.New("matcher: the figures cannot be broken down so")
)

// Figures answers a municipality's query of its own municipality's
// management figures, from the release of a closed calendar year (see
// figures.Releases: built once, on the first query of the year, and kept).
// Only a municipality may ask (ErrForbidden for any other institution),
// and only about a municipality it serves (ErrForbidden for another): it
// sees its own cells, never another municipality's, and every figure under
// the threshold is suppressed, with the cells that would give it away.
// Errors about the query are *FieldError values wrapping ErrFiguresQuery.
func (m *Matcher) Figures(ctx context.Context, actor Actor, q FiguresQuery) (Figures, error) {
	inst, err := m.institution(actor)
	if err != nil {
		return Figures{}, err
	}
	if inst.Type != rules.TypeMunicipality {
		return Figures{}, ErrForbidden
	}
	muni, err := m.ownMunicipality(inst, q.Municipality)
	if err != nil {
		return Figures{}, err
	}
	if !slices.Contains(figures.Measures(), q.Measure) {
		return Figures{}, fieldErr("measure", ErrFiguresQuery)
	}
	if slices.Contains(q.By, figures.Municipality) {
		return Figures{}, fieldErr("by", ErrFiguresQuery)
	}
	if m.releases == nil {
		return Figures{}, ErrFiguresUnavailable
	}
	rel, err := m.releases.Year(ctx, q.Year)
	if err != nil {
		return Figures{}, err
	}
	slice := map[figures.Dim]string{figures.Municipality: muni}
	res, err := rel.Query(figures.Query{Measure: q.Measure, Slice: slice, By: q.By})
	if errors.Is(err, figures.ErrInvalid) || errors.Is(err, figures.ErrNotPublished) {
		return Figures{}, fieldErr("by", ErrFiguresQuery)
	}
	if err != nil {
		return Figures{}, err
	}
	med, err := rel.Median(slice)
	if err != nil {
		return Figures{}, err
	}
	m.log.LogAttrs(ctx, slog.LevelInfo, "figures", slog.String("institution", actor.Institution),
		slog.Int("year", q.Year), slog.String("measure", string(q.Measure)))
	return Figures{Year: q.Year, Municipality: muni, Result: res, Median: med}, nil
}

// ownMunicipality is the municipality a query of inst is about: want, if
// inst serves it (ErrForbidden if not), or the one inst serves.
func (m *Matcher) ownMunicipality(inst rules.Institution, want string) (string, error) {
	served := inst.Municipalities
	if len(served) == 0 {
		served = m.cov.Municipalities
	}
	switch {
	case len(served) == 0:
		// A covenant that names no municipality cannot say which cells
		// are the caller's own: none are shown.
		return "", ErrForbidden
	case want == "" && len(served) == 1:
		return served[0], nil
	case want == "":
		return "", fieldErr("municipality", ErrFiguresQuery)
	case !slices.Contains(served, want):
		return "", ErrForbidden
	}
	return want, nil
}

// NewReleases gives the management figures of fr under the covenant, per
// closed year, with years and months taken in loc (nil: UTC) and now from
// clock (nil: time.Now): what Matcher.Figures answers from, for a tool
// that reads the store without a matcher (vindex stats).
func NewReleases(fr store.FigureReader, cov *rules.Covenant, clock func() time.Time, loc *time.Location) *figures.Releases {
	dec := &figures.Declared{Municipalities: cov.Municipalities}
	for _, inst := range cov.Institutions {
		if !slices.Contains(dec.InstitutionTypes, inst.Type) {
			dec.InstitutionTypes = append(dec.InstitutionTypes, inst.Type)
		}
	}
	for _, sc := range cov.SignalCodes {
		dec.SignalCodes = append(dec.SignalCodes, sc.Code)
	}
	rs, err := figures.NewReleases(figures.ReleasesConfig{Load: store.LoadFigures(fr), Declared: dec, Clock: clock, Location: loc})
	if err != nil {
		panic("matcher: figures releases: " + err.Error()) // the configuration above is valid
	}
	return rs
}
