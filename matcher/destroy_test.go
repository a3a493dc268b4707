package matcher_test

import (
	"testing"
	"time"

	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/matcher"
)

// TestDestroyedLeavesNoBytes: after a recorded death and a 23rd birthday,
// a compaction of the store (vindex serve runs one daily) and two openings
// of it (restarts), no file of the store holds the youths' pseudonyms or
// birth-date check values, archived registrations included: not in a
// table, not in a log, not in the manifest. (Before the restarts a log
// Pebble keeps for reuse, and the manifest, may: see SECURITY.md.) A youth
// that is still registered is found by the same scan (the positive
// control), before and after.
func TestDestroyedLeavesNoBytes(t *testing.T) {
	e := newEnv(t)
	const dead, aged, kept = 1, 2, 3
	for _, n := range []int{dead, aged, kept} {
		s, r, w := e.signal(t, n), e.involvement(t, n), e.involvement(t, n)
		if n == aged { // 23 in January 2027
			s.BirthDate, r.BirthDate, w.BirthDate = birth(t, "2004-01-10"), birth(t, "2004-01-10"), birth(t, "2004-01-10")
		}
		e.register(t, school, s)
		res := e.register(t, ggd, r)
		// An archived registration too.
		if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, res.ID, time.Time{}, matcher.EndRiskGone); err != nil {
			t.Fatal(err)
		}
		e.register(t, wij, w)
	}
	needles := func(ns ...int) canary.Needles {
		out := canary.Needles{}
		for _, n := range ns {
			set, err := e.ps.Youth(bsnFor(t, n))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range set.All {
				// The last 24 bytes: a table's keys share their first
				// bytes with the key before them.
				out.Bytes("pseudonym of youth "+string(rune('0'+n)), p.Sum[8:])
			}
			kase, _ := e.records(t, e.ps, n)
			out.Bytes("birth check of youth "+string(rune('0'+n)), kase.BirthCheck.Sum[8:])
		}
		return out
	}
	gone, control := needles(dead, aged), needles(kept)
	compactAndScan := func() (found, controls []string) {
		t.Helper()
		if err := e.store.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}
		// Opening the store again removes the logs it no longer needs,
		// and writes a new manifest; the second opening removes the one
		// before (see pebblestore.Store.Compact).
		for range 2 {
			e = newEnvWith(t, e.ps, e.dir, quiet())
			if err := e.store.Close(); err != nil {
				t.Fatal(err)
			}
		}
		found, err := gone.ScanDir(e.dir)
		if err != nil {
			t.Fatal(err)
		}
		controls, err = control.ScanDir(e.dir)
		if err != nil {
			t.Fatal(err)
		}
		e = newEnvWith(t, e.ps, e.dir, quiet())
		e.clock.Set(time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC))
		return found, controls
	}
	if found, controls := compactAndScan(); len(found) < 2 || len(controls) < 2 {
		t.Fatalf("before destruction, the scan does not see what is kept: it proves nothing (%q, %q)", found, controls)
	}

	if err := e.m.RecordDeath(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, dead)); err != nil {
		t.Fatal(err)
	}
	if st, err := e.m.ExpireDue(ctx); err != nil || st.Purged < 3 {
		t.Fatalf("on the first day of the month of the 23rd birthday: %+v %v", st, err)
	}
	found, controls := compactAndScan()
	if len(found) > 0 {
		t.Errorf("destroyed, and still in the store's files:\n%q", found)
	}
	if len(controls) < 2 {
		t.Errorf("the youth still registered is not found: %q", controls)
	}
}
