package bench

import (
	"math/rand/v2"

	"github.com/vindex-nl/vindex/bench/target"
)

// generator makes a workload's operations in their seeded order. It is
// used by one goroutine.
type generator struct {
	c    Config
	r    *rand.Rand
	zipf *rand.Zipf
	// registered holds recently registered (institution, youth) pairs
	// that the mixed workload may end; lag is how many operations old a
	// pair must be before it is ended, so that its registration has most
	// likely been answered.
	registered []pair
	lag        int
}

type pair struct {
	at    int // operation index
	inst  string
	youth int
}

func newGenerator(c Config) *generator {
	r := rand.New(rand.NewPCG(c.Seed, uint64(len(c.Workload))))
	g := &generator{c: c, r: r, lag: 4 * c.Concurrency}
	if c.Workload == Rereport || c.Workload == Mixed {
		g.zipf = rand.NewZipf(r, c.Zipf, 1, uint64(c.Youths-1))
	}
	return g
}

func (g *generator) institution() string {
	return target.Institutions[g.r.IntN(len(target.Institutions))]
}

func (g *generator) next(i int) op {
	switch g.c.Workload {
	case Ingest:
		return op{kind: opRegister, inst: g.institution(), youth: i}
	case Bulk:
		inst := "wij-groningen"
		if i%2 == 1 {
			inst = "school-example-lyceum"
		}
		return op{kind: opRegister, inst: inst, youth: i / 2}
	case Rereport:
		return op{kind: opRegister, inst: g.institution(), youth: int(g.zipf.Uint64())}
	}
	m := g.c.Mix
	n := g.r.IntN(m.Register + m.Lookup + m.End)
	switch {
	case n >= m.Register+m.Lookup:
		if o, ok := g.end(i); ok {
			return o
		}
	case n >= m.Register:
		return op{kind: opLookup, inst: g.institution(), youth: int(g.zipf.Uint64())}
	}
	o := op{kind: opRegister, inst: g.institution(), youth: int(g.zipf.Uint64())}
	g.registered = append(g.registered, pair{at: i, inst: o.inst, youth: o.youth})
	if len(g.registered) > 8192 {
		g.registered = append(g.registered[:0], g.registered[4096:]...)
	}
	return o
}

// end picks a registered pair old enough to end, and forgets it; false if
// there is none (the operation becomes a registration).
func (g *generator) end(i int) (op, bool) {
	old := 0
	for old < len(g.registered) && g.registered[old].at <= i-g.lag {
		old++
	}
	if old == 0 {
		return op{}, false
	}
	k := g.r.IntN(old)
	p := g.registered[k]
	g.registered = append(g.registered[:k], g.registered[k+1:]...)
	return op{kind: opEnd, inst: p.inst, youth: p.youth}, true
}
