package figures_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/figures"
)

// yearCounts is a small population of 2025, in two municipalities.
func yearCounts(t *testing.T) *figures.Counts {
	t.Helper()
	var c figures.Counts
	for i, n := range []int{40, 3, 25, 12, 7, 30} {
		muni := []string{"GM0014", "GM0034"}[i%2]
		month := []string{"2025-01", "2025-02", "2025-03"}[i%3]
		if err := c.Add(figures.Registrations, figures.Coords{month, muni, "ggd", "involvement", figures.NoSignalCode}, n); err != nil {
			t.Fatal(err)
		}
	}
	return &c
}

func TestReleasesBuildOnceForAClosedYear(t *testing.T) {
	var loads atomic.Int32
	gate := make(chan struct{})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	rs, err := figures.NewReleases(figures.ReleasesConfig{
		Load: func(ctx context.Context, from, to string) (*figures.Counts, error) {
			loads.Add(1)
			if from != "2025-01" || to != "2025-12" {
				t.Errorf("Load(%s, %s), want 2025-01..2025-12", from, to)
			}
			<-gate
			return yearCounts(t), nil
		},
		Clock: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	// 1 January: 2025 has not closed yet (a day's grace).
	if _, err := rs.Year(t.Context(), 2025); !errors.Is(err, figures.ErrNotClosed) {
		t.Fatalf("Year(2025) on 1 January: %v, want ErrNotClosed", err)
	}
	if rs.LastClosed() != 2024 {
		t.Fatalf("LastClosed on 1 January 2026 = %d, want 2024", rs.LastClosed())
	}
	now = now.Add(24 * time.Hour)
	for _, y := range []int{2026, 1999} {
		if _, err := rs.Year(t.Context(), y); !errors.Is(err, figures.ErrNotClosed) {
			t.Fatalf("Year(%d): %v, want ErrNotClosed", y, err)
		}
	}
	// A request that gives up does not stop the build.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := rs.Year(ctx, 2025); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
	var wg sync.WaitGroup
	got := make([]*figures.Release, 8)
	for i := range got {
		wg.Go(func() {
			r, err := rs.Year(t.Context(), 2025)
			if err != nil {
				t.Error(err)
			}
			got[i] = r
		})
	}
	close(gate)
	wg.Wait()
	for _, r := range got {
		if r == nil || r != got[0] {
			t.Fatal("concurrent requests got different releases")
		}
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads for one year, want 1", n)
	}
}

func TestReleasesRetryAFailedBuild(t *testing.T) {
	fail := true
	rs, err := figures.NewReleases(figures.ReleasesConfig{
		Load: func(ctx context.Context, from, to string) (*figures.Counts, error) {
			if fail {
				return nil, errors.New("disk on fire")
			}
			return yearCounts(t), nil
		},
		Clock: func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Year(t.Context(), 2025); err == nil {
		t.Fatal("a failed load gave a release")
	}
	fail = false
	if _, err := rs.Year(t.Context(), 2025); err != nil {
		t.Fatalf("after the failure: %v", err)
	}
}

// TestReleaseIsDeterministic: the same counts give the same release, so a
// release rebuilt after a restart publishes what the first one did.
func TestReleaseIsDeterministic(t *testing.T) {
	build := func() *figures.Result {
		r, err := figures.NewRelease(yearCounts(t), figures.Config{Domains: figures.Domains(nil, figures.Months(2025), nil)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Query(figures.Query{Measure: figures.Registrations, By: []figures.Dim{figures.Month, figures.Municipality}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := build()
	for range 5 {
		if again := build(); !reflect.DeepEqual(first, again) {
			t.Fatalf("two builds differ:\n%+v\n%+v", first, again)
		}
	}
}

func TestParseYear(t *testing.T) {
	for _, s := range []string{"", "1999", "02025", "2025a", "+2025", "10000"} {
		if _, err := figures.ParseYear(s); !errors.Is(err, figures.ErrInvalid) {
			t.Errorf("ParseYear(%q): %v, want ErrInvalid", s, err)
		}
	}
	if y, err := figures.ParseYear("2025"); err != nil || y != 2025 {
		t.Fatalf("ParseYear(2025) = %d, %v", y, err)
	}
}

func TestDomainsFromCovenant(t *testing.T) {
	dec := &figures.Declared{Municipalities: []string{"GM0014", "GM1966"}, InstitutionTypes: []string{"school", "ggd"}, SignalCodes: []string{"S01", "S02"}}
	var c figures.Counts
	if err := c.Add(figures.Registrations, figures.Coords{"2025-01", "GM0014", "unknown", "signal", "S01"}, 3); err != nil {
		t.Fatal(err)
	}
	d := figures.Domains(dec, figures.Months(2025), &c)
	if !slices.Equal(d[figures.Municipality], dec.Municipalities) {
		t.Errorf("municipalities %v, want the declared %v", d[figures.Municipality], dec.Municipalities)
	}
	if !slices.Contains(d[figures.InstitutionType], "school") || !slices.Contains(d[figures.InstitutionType], "unknown") {
		t.Errorf("institution types %v: want the covenant's and the one counted", d[figures.InstitutionType])
	}
	if d[figures.Signal][0] != figures.NoSignalCode || len(d[figures.Signal]) != 3 {
		t.Errorf("signal codes %v", d[figures.Signal])
	}
	if len(d[figures.Month]) != 12 || !slices.Equal(d[figures.Kind], []string{"involvement", "signal"}) {
		t.Errorf("months %v, kinds %v", d[figures.Month], d[figures.Kind])
	}
}
