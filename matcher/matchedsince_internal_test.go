package matcher

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// matchedSinceSorted is matchedSince as a sort: the live registrations in
// order of their reports, the report of the second institution met.
func matchedSinceSorted(y *youth) time.Time {
	live := slices.Clone(y.live)
	slices.SortStableFunc(live, func(a, b store.Registration) int { return a.CreatedAt.Compare(b.CreatedAt) })
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

// TestMatchedSince holds matchedSince, which neither copies nor sorts,
// to the sort it replaces, on youths of up to six live registrations of up
// to three institutions, their reports often at the same moment, some
// after now.
func TestMatchedSince(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	institutions := []string{"school", "ggd", "wij"}
	for n := range 20000 {
		y := &youth{now: now}
		for range n % 7 {
			y.live = append(y.live, store.Registration{
				Institution: institutions[rng.IntN(len(institutions))],
				// Some after now: a clock that stepped back.
				CreatedAt: now.Add(time.Duration(rng.IntN(5)-3) * time.Hour),
			})
		}
		if got, want := y.matchedSince(), matchedSinceSorted(y); !got.Equal(want) {
			t.Fatalf("live %v: matchedSince %v, the sort %v", y.live, got, want)
		}
	}
}
