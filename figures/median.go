package figures

import (
	"fmt"
	"slices"
)

// AddDuration records one coordinator assignment in cell at that came days whole days after
// its match. Record exactly one duration with every count of [CoordinatorAssignments], in the
// same cell, so that a group's durations are as many as its published count.
func (c *Counts) AddDuration(at Coords, days int) error {
	if days < 0 {
		return fmt.Errorf("%w: negative duration", ErrInvalid)
	}
	for d, v := range at {
		if v == "" {
			return fmt.Errorf("%w: empty %s", ErrInvalid, Dim(d))
		}
	}
	if c.durations == nil {
		c.durations = make(map[Coords]map[int]int)
	}
	h := c.durations[at]
	if h == nil {
		h = make(map[int]int)
		c.durations[at] = h
	}
	h[days]++
	return nil
}

// Median is the published median time from match to coordinator of a group, in whole days.
type Median struct {
	Days       int  // the lower median; 0 when suppressed
	Suppressed bool // the group is too small, or its count is hidden
}

// Median gives the median time from match to coordinator over the slice (every other
// dimension summed). It is the lower median, a duration that occurred. It is suppressed unless
// the slice holds at least Threshold durations and the slice's count of coordinator
// assignments is published (not hidden) in the release, so a median never says that a hidden
// count is 10 or more. It fails like [Release.Query] for an unknown value or an unpublished
// table.
func (r *Release) Median(slice map[Dim]string) (Median, error) {
	res, err := r.Query(Query{Measure: CoordinatorAssignments, Slice: slice})
	if err != nil {
		return Median{}, err
	}
	if res.Total.Suppressed || res.Total.Count < r.threshold {
		return Median{Suppressed: true}, nil
	}
	var t table
	var at Coords
	for d, v := range slice {
		t, at[d] = t|1<<d, v
	}
	hist := make(map[int]int)
	n := 0
	for c, h := range r.durations {
		if t.project(c) != at {
			continue
		}
		for days, k := range h {
			hist[days] += k
			n += k
		}
	}
	if n < r.threshold {
		return Median{Suppressed: true}, nil
	}
	days := make([]int, 0, len(hist))
	for d := range hist {
		days = append(days, d)
	}
	slices.Sort(days)
	rank, seen := (n+1)/2, 0 // the lower median is the ⌈n/2⌉-th smallest
	for _, d := range days {
		if seen += hist[d]; seen >= rank {
			return Median{Days: d}, nil
		}
	}
	panic("unreachable")
}
