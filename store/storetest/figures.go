package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/store"
)

// figureReader opens the store and returns it as a FigureReader, or skips
// the test for a backend that reads no figures.
func figureReader(t *testing.T, open Opener) (store.Store, store.FigureReader) {
	t.Helper()
	s := openStore(t, open)
	fr, ok := s.(store.FigureReader)
	if !ok {
		t.Skip("the backend reads no management figures")
	}
	return s, fr
}

// Cell returns a figures cell of month for the tests.
func Cell(month, municipality, kind string) figures.Coords {
	code := store.NoSignalCode
	if kind == "signal" {
		code = "S01"
	}
	return figures.Coords{month, municipality, "jeugdzorg", kind, code}
}

// FigureKey names a counter in FigureMap's maps: the measure (or
// "days=N" for a duration bucket) and the cell.
type FigureKey struct {
	What string
	At   figures.Coords
}

// FigureMap reads the counters of from..to as a map, for comparisons.
func FigureMap(t testing.TB, fr store.FigureReader, from, to string) map[FigureKey]int64 {
	t.Helper()
	fc, err := fr.Figures(ctx, from, to)
	if err != nil {
		t.Fatalf("Figures(%s, %s): %v", from, to, err)
	}
	out := map[FigureKey]int64{}
	for _, c := range fc.Counts {
		if c.N <= 0 {
			t.Fatalf("counter %v %v holds %d: want only positive counters", c.Measure, c.At, c.N)
		}
		out[FigureKey{string(c.Measure), c.At}] += c.N
	}
	for _, d := range fc.Durations {
		out[FigureKey{fmt.Sprintf("days=%d", d.Days), d.At}] += d.N
	}
	return out
}

func wantFigures(t *testing.T, what string, got, want map[FigureKey]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d counters %v, want %d %v", what, len(got), got, len(want), want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("%s: counter %v = %d, want %d (all: %v)", what, k, got[k], n, got)
		}
	}
}

// testFigures: counts added in an update are read back by month range,
// add up over updates, and survive a re-open; a failed update, a refused
// one and an invalid cell add nothing.
func testFigures(t *testing.T, open Opener) {
	s, fr := figureReader(t, open)
	y := Youth(1, 1)
	jan, feb := Cell("2026-01", "GM0014", "involvement"), Cell("2026-02", "GM0014", "signal")
	count := func(fn func(tx store.Tx)) error {
		return s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			tx.Put(Reg(y, "ggd", t0))
			fn(tx)
			return nil
		})
	}
	if err := count(func(tx store.Tx) {
		tx.Count(figures.Registrations, jan)
		tx.Count(figures.Registrations, jan)
		tx.Count(figures.Matches, jan)
		tx.Count(figures.CoordinatorAssignments, jan)
		tx.CountDuration(jan, 3)
		tx.Count(figures.Registrations, feb)
	}); err != nil {
		t.Fatal(err)
	}
	if err := count(func(tx store.Tx) {
		tx.Count(figures.Registrations, jan)
		tx.CountDuration(jan, 3)
		tx.CountDuration(jan, 0)
	}); err != nil {
		t.Fatal(err)
	}
	want := map[FigureKey]int64{
		{"registrations", jan}: 3, {"matches", jan}: 1, {"coordinator_assignments", jan}: 1,
		{"days=3", jan}: 2, {"days=0", jan}: 1, {"registrations", feb}: 1,
	}
	wantFigures(t, "after two updates", FigureMap(t, fr, "2026-01", "2026-12"), want)
	onlyJan := map[FigureKey]int64{}
	for k, n := range want {
		if k.At[figures.Month] == "2026-01" {
			onlyJan[k] = n
		}
	}
	wantFigures(t, "January only", FigureMap(t, fr, "2026-01", "2026-01"), onlyJan)
	wantFigures(t, "2025", FigureMap(t, fr, "2025-01", "2025-12"), nil)

	// A refused update, and one with an invalid cell, count nothing.
	boom := errors.New("refused")
	err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.Count(figures.Registrations, jan)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("refused update: %v", err)
	}
	bad := jan
	bad[figures.Month] = "2026-13"
	for _, fn := range []func(tx store.Tx){
		func(tx store.Tx) { tx.Count(figures.Registrations, jan); tx.Count(figures.Registrations, bad) },
		func(tx store.Tx) { tx.Count("youths", jan) },
		func(tx store.Tx) {
			tx.Count(figures.Registrations, figures.Coords{"2026-01", "GM0014", "", "signal", "S01"})
		},
		func(tx store.Tx) { tx.CountDuration(jan, -1) },
	} {
		if err := count(fn); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("update with an invalid count: %v, want ErrInvalid", err)
		}
	}
	if _, err := fr.Figures(ctx, "2026", "2026-12"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Figures with a malformed month: %v, want ErrInvalid", err)
	}
	wantFigures(t, "after refused updates", FigureMap(t, fr, "2026-01", "2026-12"), want)

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, open)
	defer s.Close()
	wantFigures(t, "after re-open", FigureMap(t, s.(store.FigureReader), "2026-01", "2026-12"), want)
}

// testFiguresConcurrent: many updates of different youths count in the
// same cells at once; no count is lost, before or after a re-open.
func testFiguresConcurrent(t *testing.T, open Opener) {
	s, fr := figureReader(t, open)
	const workers, each = 8, 25
	hot, cold := Cell("2026-03", "GM0014", "signal"), Cell("2026-03", "GM0034", "involvement")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				y := Youth(1, w*1000+i)
				err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
					tx.Put(Reg(y, "ggd", t0))
					tx.Count(figures.Registrations, hot)
					tx.CountDuration(hot, i%3)
					if w%2 == 0 {
						tx.Count(figures.Closures, cold)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := map[FigureKey]int64{
		{"registrations", hot}: workers * each,
		{"closures", cold}:     workers / 2 * each,
	}
	for i := range each {
		want[FigureKey{fmt.Sprintf("days=%d", i%3), hot}] += workers
	}
	wantFigures(t, "concurrent", FigureMap(t, fr, "2026-03", "2026-03"), want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, open)
	defer s.Close()
	wantFigures(t, "concurrent, after re-open", FigureMap(t, s.(store.FigureReader), "2026-01", "2026-12"), want)
}
