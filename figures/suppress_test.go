package figures

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomCounts gives a seeded random population over small domains, with many small cells
// (so suppression has work to do) and some large ones, and the domains it is declared over
// (some values may have no count at all).
func randomCounts(rng *rand.Rand) (*Counts, map[Dim][]string) {
	sizes := [NumDims]int{2 + rng.IntN(3), 2 + rng.IntN(3), 1 + rng.IntN(3), 2, 1 + rng.IntN(3)}
	prefix := [NumDims]string{"2026-0", "GM000", "type", "kind", "S"}
	domains := make(map[Dim][]string)
	for d := range NumDims {
		for i := range sizes[d] {
			domains[d] = append(domains[d], fmt.Sprint(prefix[d], 1+i))
		}
	}
	var counts Counts
	measures := []Measure{Registrations, Matches, RemovalsObjection}
	for range 5 + rng.IntN(60) {
		var c Coords
		for d := range NumDims {
			c[d] = fmt.Sprint(prefix[d], 1+rng.IntN(sizes[d]))
		}
		n := 1 + rng.IntN(4)
		if rng.IntN(5) == 0 {
			n = 5 + rng.IntN(40)
		}
		if err := counts.Add(measures[rng.IntN(len(measures))], c, n); err != nil {
			panic(err)
		}
	}
	return &counts, domains
}

// fineCells gives every cell of the full cube over the release's domains.
func fineCells(r *Release) []Coords {
	out := []Coords{{}}
	for d := range NumDims {
		var next []Coords
		for _, c := range out {
			for _, v := range r.domains[d] {
				c[d] = v
				next = append(next, c)
			}
		}
		out = next
	}
	return out
}

// publishedCells gives every cell of every table of the release, zero cells included.
func publishedCells(r *Release) []cellKey {
	var out []cellKey
	seen := make(map[cellKey]bool)
	for _, c := range fineCells(r) {
		for _, t := range r.tables {
			k := cellKey{t, t.project(c)}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, compareKeys)
	return out
}

// upTo gives every table over at most n dimensions.
func upTo(n int) [][]Dim {
	var out [][]Dim
	for t := range fullTable + 1 {
		if len(t.dims()) <= n {
			out = append(out, t.dims())
		}
	}
	return out
}

// configs are the releases the property test builds in turn: the default (tables over at most
// three dimensions), a smaller one, and one publishing the full cube.
var configs = []Config{{}, {Tables: upTo(2)}, {Tables: upTo(5), Threshold: 5}}

func TestSuppressionProperty(t *testing.T) {
	iterations := 100
	if testing.Short() {
		iterations = 20
	}
	for seed := range uint64(iterations) {
		rng := rand.New(rand.NewPCG(seed, 16))
		counts, domains := randomCounts(rng)
		cfg := configs[seed%uint64(len(configs))]
		cfg.Domains = domains
		r, err := NewRelease(counts, cfg)
		if err != nil {
			t.Fatal(err)
		}
		cells := publishedCells(r)
		for _, m := range Measures() {
			checkRelease(t, seed, r, m, counts.m[m], cells)
			attack(t, seed, r, m, cells, nil)
			q1, q2 := randomQuery(rng, r, m), randomQuery(rng, r, m)
			attack(t, seed, r, m, cells, append(queryCells(t, r, q1), queryCells(t, r, q2)...))
		}
	}
}

// checkRelease asserts that every published cell is the brute-force recount, that every count
// from 1 to 9 is suppressed, and that every suppressed cell has a witness: a second
// non-negative population, built from its certificate and recounted by brute force, that
// publishes exactly the same numbers and differs in that cell.
func checkRelease(t *testing.T, seed uint64, r *Release, m Measure, x map[Coords]int, cells []cellKey) {
	t.Helper()
	mr := r.measures[m]
	counted := make(map[cellKey]int) // the brute-force recount of every table from x
	for c, v := range x {
		for tb := range fullTable + 1 {
			counted[cellKey{tb, tb.project(c)}] += v
		}
	}
	for _, k := range cells {
		n, hidden := r.cell(m, k)
		if want := counted[k]; n != want {
			t.Fatalf("seed %d %s: %s %v = %d, recount %d", seed, m, k.t, k.c, n, want)
		}
		if n >= 1 && n < r.threshold && !hidden {
			t.Fatalf("seed %d %s: %s %v = %d published", seed, m, k.t, k.c, n)
		}
	}
	for p := range mr.suppressed {
		cert, ok := mr.certs[p]
		if !ok {
			t.Fatalf("seed %d %s: %v suppressed without a certificate", seed, m, p)
		}
		// The witness differs from x only at the corners, so only cells holding a corner
		// can change: recount those, in every table.
		delta := make(map[cellKey]int)
		cert.corners(func(at Coords, d int) {
			if x[at]+d < 0 {
				t.Fatalf("seed %d %s: witness for %v negative at %v", seed, m, p, at)
			}
			for _, tb := range r.tables {
				delta[cellKey{tb, tb.project(at)}] += d
			}
		})
		if delta[p] != cert.sign || cert.sign*cert.sign != 1 {
			t.Fatalf("seed %d %s: witness for %v changes it by %d", seed, m, p, delta[p])
		}
		for k, d := range delta {
			if d != 0 && !mr.suppressed[k] {
				t.Fatalf("seed %d %s: witness for %v changes published %s %v", seed, m, p, k.t, k.c)
			}
		}
	}
}

func randomQuery(rng *rand.Rand, r *Release, m Measure) Query {
	t := r.tables[rng.IntN(len(r.tables))]
	ds := t.dims()
	rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	by := ds[:min(len(ds), rng.IntN(3))]
	q := Query{Measure: m, By: slices.Clone(by), Slice: make(map[Dim]string)}
	for _, d := range ds[len(by):] {
		q.Slice[d] = r.domains[d][rng.IntN(len(r.domains[d]))]
	}
	return q
}

// queryCells gives what a query publishes as constraints: each figure with the release cell
// it is, found again by brute force over the result's labels.
func queryCells(t *testing.T, r *Release, q Query) []published {
	t.Helper()
	res, err := r.Query(q)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	var base Coords
	var st table
	for d, v := range q.Slice {
		base[d], st = v, st|1<<d
	}
	out := []published{{cellKey{st, base}, res.Total}}
	if len(q.By) == 0 {
		return out
	}
	rd := q.By[0]
	for i, v := range res.Rows {
		c := base
		c[rd] = v
		out = append(out, published{cellKey{st | 1<<rd, c}, res.RowTotals[i]})
	}
	if len(q.By) == 1 {
		return out
	}
	cd := q.By[1]
	for j, w := range res.Cols {
		c := base
		c[cd] = w
		out = append(out, published{cellKey{st | 1<<cd, c}, res.ColTotals[j]})
		for i, v := range res.Rows {
			c[rd] = v
			out = append(out, published{cellKey{st | 1<<rd | 1<<cd, c}, res.Cells[i][j]})
		}
	}
	return out
}

type published struct {
	k cellKey
	v Value
}

// attack is an attacker who knows the raw cube's shape and the published figures (all of the
// release if figures is nil, else the figures of some queries), and bounds every unknown by
// propagating the equations "published cell = sum of its raw cells" and "hidden cell = sum of
// its raw cells" over non-negative integers until nothing changes. It fails the test when a
// suppressed cell is pinned to one value.
func attack(t *testing.T, seed uint64, r *Release, m Measure, cells []cellKey, figures []published) {
	t.Helper()
	if figures == nil {
		for _, k := range cells {
			n, hidden := r.cell(m, k)
			figures = append(figures, published{k, Value{Count: n, Suppressed: hidden}})
		}
	}
	lo, hi, vars := propagate(fineCells(r), figures)
	for _, f := range figures {
		if !f.v.Suppressed {
			continue
		}
		i := vars[f.k]
		if lo[i] >= hi[i] {
			t.Fatalf("seed %d %s: suppressed %s %v pinned to %d", seed, m, f.k.t, f.k.c, lo[i])
		}
	}
}

type equation struct {
	terms []int // variable indexes; the last has coefficient −1 when hidden, else all +1
	neg   bool
	sum   int
}

// propagate bounds raw cells (the first len(fine) variables) and hidden cells (one variable
// each, in vars) by interval propagation over the equations of the figures.
func propagate(fine []Coords, figures []published) (lo, hi []int, vars map[cellKey]int) {
	const inf = 1 << 40
	vars = make(map[cellKey]int)
	var eqs []equation
	for _, f := range figures {
		var e equation
		for i, c := range fine {
			if f.k.t.project(c) == f.k.c {
				e.terms = append(e.terms, i)
			}
		}
		if f.v.Suppressed {
			if _, ok := vars[f.k]; !ok {
				vars[f.k] = len(fine) + len(vars)
			}
			e.terms, e.neg = append(e.terms, vars[f.k]), true
		} else {
			e.sum = f.v.Count
		}
		eqs = append(eqs, e)
	}
	n := len(fine) + len(vars)
	lo, hi = make([]int, n), make([]int, n)
	for i := range hi {
		hi[i] = inf
	}
	for changed := true; changed; {
		changed = false
		for _, e := range eqs {
			changed = tighten(e, lo, hi) || changed
		}
	}
	return lo, hi, vars
}

// tighten applies one equation Σ a_i x_i = sum (a_i = ±1) to the bounds.
func tighten(e equation, lo, hi []int) bool {
	coef := func(j int) int {
		if e.neg && j == len(e.terms)-1 {
			return -1
		}
		return 1
	}
	minAll, maxAll := 0, 0
	for j, i := range e.terms {
		if coef(j) > 0 {
			minAll, maxAll = minAll+lo[i], maxAll+hi[i]
		} else {
			minAll, maxAll = minAll-hi[i], maxAll-lo[i]
		}
	}
	changed := false
	for j, i := range e.terms {
		a := coef(j)
		// a·x_i = sum − rest, rest ∈ [minRest, maxRest]
		var minRest, maxRest int
		if a > 0 {
			minRest, maxRest = minAll-lo[i], maxAll-hi[i]
		} else {
			minRest, maxRest = minAll+hi[i], maxAll+lo[i]
		}
		l, h := e.sum-maxRest, e.sum-minRest
		if a < 0 {
			l, h = -h, -l
		}
		if l > lo[i] && l <= hi[i] {
			lo[i], changed = l, true
		}
		if h < hi[i] && h >= lo[i] {
			hi[i], changed = h, true
		}
	}
	return changed
}

// TestAttackerPinsPrimaryOnly shows the attacker has teeth: with only the primary suppression
// (every count from 1 to 9 hidden, nothing else), it pins hidden cells in most populations.
func TestAttackerPinsPrimaryOnly(t *testing.T) {
	pinned, populations := 0, 0
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 16))
		counts, domains := randomCounts(rng)
		r, err := NewRelease(counts, Config{Domains: domains})
		if err != nil {
			t.Fatal(err)
		}
		var figures []published
		for _, k := range publishedCells(r) {
			n := r.measures[Registrations].values[k]
			figures = append(figures, published{k, Value{Count: n, Suppressed: n >= 1 && n < 10}})
		}
		lo, hi, vars := propagate(fineCells(r), figures)
		populations++
		for _, i := range vars {
			if lo[i] == hi[i] {
				pinned++
				break
			}
		}
	}
	if pinned < populations/2 {
		t.Fatalf("primary suppression alone was attacked in %d of %d populations, want most", pinned, populations)
	}
	t.Logf("primary suppression alone: a hidden cell pinned in %d of %d populations", pinned, populations)
}
