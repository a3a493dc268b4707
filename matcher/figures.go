package matcher

import (
	"slices"
	"time"

	"github.com/vindex-nl/vindex/figures"
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
func (y *youth) matchedSince() time.Time {
	live := slices.Clone(y.live)
	slices.SortFunc(live, func(a, b store.Registration) int { return a.CreatedAt.Compare(b.CreatedAt) })
	var seen []string
	for _, r := range live {
		if !slices.Contains(seen, r.Institution) {
			if seen = append(seen, r.Institution); len(seen) == 2 {
				return r.CreatedAt
			}
		}
	}
	return y.now
}
