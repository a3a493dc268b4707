package figures

import (
	"cmp"
	"slices"
)

// A certificate proves that a suppressed cell p cannot be worked out from the release: adding
// sign to p's corner and alternating signs to the other corners of a hypercube over the
// dimensions dims (anchor and alt giving the two values in each, anchor the value of every
// other dimension) gives another non-negative population with the same published numbers.
type certificate struct {
	dims   table
	anchor Coords
	alt    Coords
	sign   int
}

// corners calls f with each corner of the hypercube and the change there.
func (c certificate) corners(f func(at Coords, delta int)) {
	ks := c.dims.dims()
	for s := range 1 << len(ks) {
		at, delta := c.anchor, c.sign
		for i, d := range ks {
			if s&(1<<i) != 0 {
				at[d] = c.alt[d]
				delta = -delta
			}
		}
		f(at, delta)
	}
}

// maxAlternatives and maxAnchors bound the search for a certificate: the second values tried
// per dimension, and the raw cells tried as anchor.
const (
	maxAlternatives = 3
	maxAnchors      = 16
)

type builder struct {
	r     *Release
	mr    *measureRelease
	under map[cellKey][]Coords // the non-zero raw cells under each non-zero published cell
}

func newBuilder(r *Release, mr *measureRelease) *builder {
	mr.values = make(map[cellKey]int)
	mr.suppressed = make(map[cellKey]bool)
	mr.certs = make(map[cellKey]certificate)
	b := &builder{r: r, mr: mr, under: make(map[cellKey][]Coords)}
	fine := make([]Coords, 0, len(mr.fine))
	for c := range mr.fine {
		fine = append(fine, c)
	}
	slices.SortFunc(fine, compareCoords)
	for _, c := range fine {
		for _, t := range r.tables {
			k := cellKey{t, t.project(c)}
			mr.values[k] += mr.fine[c]
			b.under[k] = append(b.under[k], c)
		}
	}
	return b
}

func compareCoords(a, b Coords) int { return slices.Compare(a[:], b[:]) }

func compareKeys(a, b cellKey) int {
	return cmp.Or(cmp.Compare(a.t, b.t), compareCoords(a.c, b.c))
}

// suppress hides every cell from 1 to threshold−1 and then, cell by cell, as many more as
// each hidden cell's cheapest certificate needs.
func (b *builder) suppress() {
	var work []cellKey
	for k, v := range b.mr.values {
		if v < b.r.threshold {
			work = append(work, k)
		}
	}
	slices.SortFunc(work, compareKeys)
	for _, k := range work {
		b.mr.suppressed[k] = true
	}
	for len(work) > 0 {
		p := work[0]
		work = work[1:]
		cert, fresh := b.certify(p)
		b.mr.certs[p] = cert
		for _, k := range fresh {
			b.mr.suppressed[k] = true
			work = append(work, k)
		}
	}
}

// certify finds the certificate for p that needs the fewest new suppressions (then the
// smallest sum of their counts), and gives those cells. A hypercube over p's dimensions is
// tried first; a single raw cell (every published cell containing it suppressed) always works.
func (b *builder) certify(p cellKey) (certificate, []cellKey) {
	sign := -1
	if b.mr.values[p] == 0 {
		sign = 1
	}
	var k table
	for _, d := range p.t.dims() {
		if len(b.r.domains[d]) > 1 {
			k |= 1 << d
		}
	}
	var best certificate
	var bestFresh []cellKey
	bestCost := [2]int{-1, 0}
	consider := func(c certificate) {
		fresh, ok := b.check(c, bestCost[0])
		if !ok {
			return
		}
		cost := [2]int{len(fresh), 0}
		for _, f := range fresh {
			cost[1] += b.mr.values[f]
		}
		if bestCost[0] < 0 || slices.Compare(cost[:], bestCost[:]) < 0 {
			best, bestFresh, bestCost = c, fresh, cost
		}
	}
	for _, kk := range []table{k, 0} {
		b.search(p, kk, sign, consider)
		if bestCost[0] >= 0 {
			break
		}
	}
	return best, bestFresh
}

// search calls consider with candidate certificates for p over the dimensions k.
func (b *builder) search(p cellKey, k table, sign int, consider func(certificate)) {
	ks := k.dims()
	alts := make([][]string, len(ks))
	for i, d := range ks {
		alts[i] = b.alternatives(p, d)
	}
	idx := make([]int, len(ks))
	for {
		c := certificate{dims: k, sign: sign}
		for i, d := range ks {
			c.alt[d] = alts[i][idx[i]]
		}
		for _, a := range b.anchors(p, c) {
			c.anchor = a
			consider(c)
		}
		i := 0
		for ; i < len(ks); i++ {
			if idx[i]++; idx[i] < len(alts[i]) {
				break
			}
			idx[i] = 0
		}
		if i == len(ks) {
			return
		}
	}
}

// alternatives gives the second values tried in dimension d for p: those whose cell in p's
// table is already suppressed first, then the smallest.
func (b *builder) alternatives(p cellKey, d Dim) []string {
	type alt struct {
		v   string
		key [2]int // 0 when already suppressed, else 1; then the count
	}
	var alts []alt
	for _, v := range b.r.domains[d] {
		if v == p.c[d] {
			continue
		}
		q := p
		q.c[d] = v
		a := alt{v, [2]int{1, b.mr.values[q]}}
		if b.mr.suppressed[q] {
			a.key[0] = 0
		}
		alts = append(alts, a)
	}
	slices.SortStableFunc(alts, func(x, y alt) int { return slices.Compare(x.key[:], y.key[:]) })
	vs := make([]string, 0, maxAlternatives)
	for _, a := range alts[:min(len(alts), maxAlternatives)] {
		vs = append(vs, a.v)
	}
	return vs
}

// anchors gives the anchors tried for c: raw cells with a count under the corner that must
// lose one (p's own when p decreases), moved back to p's values in c's dimensions.
func (b *builder) anchors(p cellKey, c certificate) []Coords {
	ref := p
	if c.sign > 0 {
		ks := c.dims.dims()
		if len(ks) == 0 { // nothing decreases: any raw cell in p will do
			a := p.c
			for d := range NumDims {
				if !p.t.has(d) {
					a[d] = b.r.domains[d][0]
				}
			}
			return []Coords{a}
		}
		ref.c[ks[0]] = c.alt[ks[0]]
	}
	cells := b.under[ref]
	out := make([]Coords, 0, min(len(cells), maxAnchors))
	for _, e := range cells[:min(len(cells), maxAnchors)] {
		for _, d := range c.dims.dims() {
			e[d] = p.c[d]
		}
		out = append(out, e)
	}
	return out
}

// check says whether c is a certificate once the cells it gives are suppressed too: every
// corner that decreases has a count, and every published cell holding a corner is hidden. It
// gives up (false) once more than limit cells would be new, when limit is not negative.
func (b *builder) check(c certificate, limit int) ([]cellKey, bool) {
	ok := true
	var fresh []cellKey
	c.corners(func(at Coords, delta int) {
		if !ok {
			return
		}
		if delta < 0 && b.mr.fine[at] < 1 {
			ok = false
			return
		}
		for _, t := range b.r.tables {
			if !t.contains(c.dims) {
				continue
			}
			k := cellKey{t, t.project(at)}
			if !b.mr.suppressed[k] && !slices.Contains(fresh, k) {
				fresh = append(fresh, k)
			}
		}
		if limit >= 0 && len(fresh) > limit {
			ok = false
		}
	})
	slices.SortFunc(fresh, compareKeys)
	return fresh, ok
}
