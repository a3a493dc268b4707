package bench_test

import (
	"math"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/bench"
)

// MannWhitney against examples worked by hand.
func TestMannWhitneyByHand(t *testing.T) {
	for _, c := range []struct {
		name      string
		a, b      []float64
		u, z, auc float64
	}{
		// Sorted: 1b 2b 3a 5a 5a 5b; the three 5s share rank (4+5+6)/3 = 5.
		// a's ranks 3+5+5 = 13, U = 13 − 3·4/2 = 7 (pairwise: 3 beats 1 and
		// 2; each 5 beats 1 and 2 and ties 5: 2 + 2.5 + 2.5). Ties Σ(t³−t) =
		// 24, σ² = 3·3/12 · (7 − 24/30) = 4.65, z = (7 − 4.5)/√4.65.
		{"ties", []float64{3, 5, 5}, []float64{1, 5, 2}, 7, 2.5 / math.Sqrt(4.65), 7.0 / 9},
		// Every a above every b: U = 6, σ² = 2·3/12 · 6 = 3, z = 3/√3.
		{"apart", []float64{4, 5}, []float64{1, 2, 3}, 6, math.Sqrt(3), 1},
		// The other way round: U = 0, z = −√3, AUC 0.
		{"below", []float64{1, 2, 3}, []float64{4, 5}, 0, -math.Sqrt(3), 0},
		// All equal: U is half of the pairs, z 0 (no spread at all).
		{"equal", []float64{2, 2}, []float64{2, 2}, 2, 0, 0.5},
	} {
		u, z, auc := bench.MannWhitney(c.a, c.b)
		if math.Abs(u-c.u) > 1e-9 || math.Abs(z-c.z) > 1e-9 || math.Abs(auc-c.auc) > 1e-9 {
			t.Errorf("%s: U, z, AUC = %v, %v, %v; want %v, %v, %v", c.name, u, z, auc, c.u, c.z, c.auc)
		}
	}
}

// The oracle workload, in process: it registers its known youths, looks up
// both classes (half each) as an uninvolved institution, and reports z and
// AUC. Not a timing test: it checks the counts and that the figures are in
// the report.
func TestOracleWorkload(t *testing.T) {
	r := mustRun(t, inProcess(t), bench.Config{Workload: bench.Oracle, Ops: 200, Concurrency: 4, Seed: 3})
	o := r.Oracle
	if o == nil {
		t.Fatal("no oracle figures")
	}
	if o.Registered != 100 || o.Unknown != 100 {
		t.Errorf("lookups: %d registered, %d unknown; want 100 each", o.Registered, o.Unknown)
	}
	if r.Outcomes[bench.NotInvolved.String()] != 200 || r.Outcomes[bench.Registered.String()] != 100 || r.Ops != 200 {
		t.Errorf("outcomes %v, ops %d; want 100 registered, 200 not involved, 200 ops", r.Outcomes, r.Ops)
	}
	if o.AUC < 0 || o.AUC > 1 || math.IsNaN(o.Z) || o.RegisteredMedian <= 0 || o.UnknownMedian <= 0 {
		t.Errorf("figures %+v", *o)
	}
	md := bench.NewReport(r).Markdown()
	if !strings.Contains(md, "Mann-Whitney z = ") || !strings.Contains(md, "AUC = ") {
		t.Errorf("report.md has no oracle line:\n%s", md)
	}
}
