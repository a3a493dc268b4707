package figures

import (
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"
)

// Config says how a release is built. The zero value is the documented default.
type Config struct {
	// Threshold is the smallest count shown: counts from 1 to Threshold−1 are suppressed.
	// Zero means 10; less than 2 is refused.
	Threshold int

	// Tables lists the tables the release publishes, each as the dimensions it breaks down by
	// (the others summed). The list must be closed under taking subsets, so that every total
	// of a published table is published too. Nil means every table over at most three
	// dimensions (26 tables, the grand total among them).
	Tables [][]Dim

	// Domains lists the values of each dimension: every month of the period, every
	// municipality and institution type of the covenant, both kinds, every signal code. A
	// dimension not listed takes the values that occur in the counts; then the rows of a
	// table tell which values occur at all, and a value that occurs once is shown to exist.
	// A count under a value not listed is refused.
	Domains map[Dim][]string
}

func (c Config) withDefaults() Config {
	if c.Threshold == 0 {
		c.Threshold = 10
	}
	if c.Tables == nil {
		for t := range fullTable + 1 {
			if bits.OnesCount8(uint8(t)) <= 3 {
				c.Tables = append(c.Tables, t.dims())
			}
		}
	}
	return c
}

// Validate says what is wrong with the configuration, after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Threshold < 2 {
		return fmt.Errorf("%w: threshold %d, want at least 2", ErrInvalid, c.Threshold)
	}
	set := make(map[table]bool)
	for _, ds := range c.Tables {
		for _, d := range ds {
			if d < 0 || d >= NumDims {
				return fmt.Errorf("%w: %s in a table", ErrInvalid, d)
			}
		}
		set[tableOf(ds...)] = true
	}
	for t := range set {
		for _, d := range t.dims() {
			if sub := t &^ (1 << d); !set[sub] {
				return fmt.Errorf("%w: table %s is listed but its total %s is not", ErrInvalid, t, sub)
			}
		}
	}
	return nil
}

func (t table) String() string {
	var names []string
	for _, d := range t.dims() {
		names = append(names, d.String())
	}
	return "(" + strings.Join(names, " × ") + ")"
}

// Release is one consistently suppressed set of tables, built once for a period; queries read
// it. It is immutable and safe for concurrent use.
type Release struct {
	threshold int
	tables    []table // sorted
	published map[table]bool
	domains   [NumDims][]string
	measures  map[Measure]*measureRelease
	durations map[Coords]map[int]int
}

type measureRelease struct {
	fine       map[Coords]int  // the raw counts, non-zero only
	values     map[cellKey]int // every non-zero cell of every table
	suppressed map[cellKey]bool
	certs      map[cellKey]certificate
}

// NewRelease builds and suppresses every table of cfg from counts. The domain of each
// dimension is the set of values that occur in counts, under any measure.
func NewRelease(counts *Counts, cfg Config) (*Release, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Release{
		threshold: cfg.Threshold,
		published: make(map[table]bool),
		measures:  make(map[Measure]*measureRelease),
	}
	for _, ds := range cfg.Tables {
		t := tableOf(ds...)
		if !r.published[t] {
			r.published[t] = true
			r.tables = append(r.tables, t)
		}
	}
	slices.Sort(r.tables)
	domains, err := domainsOf(counts, cfg.Domains)
	if err != nil {
		return nil, err
	}
	r.domains = domains
	r.durations = make(map[Coords]map[int]int, len(counts.durations))
	for c, h := range counts.durations {
		r.durations[c] = maps.Clone(h)
	}
	for _, m := range Measures() {
		mr := &measureRelease{fine: maps.Clone(counts.m[m])}
		r.measures[m] = mr
		b := newBuilder(r, mr)
		b.suppress()
	}
	return r, nil
}

// domainsOf gives each dimension's values: those declared, else those in counts.
func domainsOf(counts *Counts, declared map[Dim][]string) ([NumDims][]string, error) {
	var seen [NumDims]map[string]bool
	var out [NumDims][]string
	for d := range NumDims {
		seen[d] = make(map[string]bool)
		for _, v := range declared[d] {
			if v == "" {
				return out, fmt.Errorf("%w: empty value declared for %s", ErrInvalid, d)
			}
			if !seen[d][v] {
				seen[d][v] = true
				out[d] = append(out[d], v)
			}
		}
	}
	for _, cells := range counts.m {
		for c := range cells {
			for d, v := range c {
				if seen[d][v] {
					continue
				}
				if _, ok := declared[Dim(d)]; ok {
					return out, fmt.Errorf("%w: a count under %s %q, not declared", ErrInvalid, Dim(d), v)
				}
				seen[d][v] = true
				out[d] = append(out[d], v)
			}
		}
	}
	for d := range out {
		slices.Sort(out[d])
	}
	return out, nil
}

// Threshold gives the smallest count the release shows.
func (r *Release) Threshold() int { return r.threshold }

// Domain gives the values of dimension d in the release, sorted.
func (r *Release) Domain(d Dim) []string { return slices.Clone(r.domains[d]) }

// cell gives a published cell's count and whether it is suppressed.
func (r *Release) cell(m Measure, k cellKey) (int, bool) {
	mr := r.measures[m]
	return mr.values[k], mr.suppressed[k]
}

// Tables lists the release's tables, each as the dimensions it breaks down by.
func (r *Release) Tables() [][]Dim {
	out := make([][]Dim, 0, len(r.tables))
	for _, t := range r.tables {
		out = append(out, t.dims())
	}
	return out
}
