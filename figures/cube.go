package figures

import (
	"errors"
	"fmt"
	"slices"
)

// Errors.
var (
	// ErrInvalid reports a count, coordinate, configuration or query that cannot be used.
	ErrInvalid = errors.New("figures: invalid")
	// ErrNotPublished reports a query that needs a table the release does not publish.
	ErrNotPublished = errors.New("figures: table not published")
)

// Dim is one dimension of the cube.
type Dim int

// The five dimensions, in the order of [Coords].
const (
	Month           Dim = iota // "2026-01"
	Municipality               // CBS municipality code, "GM0363"
	InstitutionType            // covenant institution type, "school"
	Kind                       // "signal" or "involvement"
	Signal                     // signal code
	NumDims                    // the number of dimensions
)

var dimNames = [NumDims]string{"month", "municipality", "institution_type", "kind", "signal"}

// String gives the dimension's name as used in JSON and CSV.
func (d Dim) String() string {
	if d < 0 || d >= NumDims {
		return fmt.Sprintf("dim(%d)", int(d))
	}
	return dimNames[d]
}

// Coords is a cell of the full cube: one value per dimension, indexed by [Dim]. In a table
// that sums a dimension, that dimension's value is the empty string.
type Coords [NumDims]string

// Measure names what is counted.
type Measure string

// The measures.
const (
	Registrations          Measure = "registrations"
	Matches                Measure = "matches"
	CoordinatorAssignments Measure = "coordinator_assignments"
	Closures               Measure = "closures"
	RemovalsWrong          Measure = "removals_wrong"
	RemovalsObjection      Measure = "removals_objection"
	// AgreementsOverdue counts agreements of plans that were still open
	// the day after their due day, each once, in the cell of the
	// responsible institution's registration.
	AgreementsOverdue Measure = "agreements_overdue"
)

// Measures lists every measure, in a fixed order.
func Measures() []Measure {
	return []Measure{Registrations, Matches, CoordinatorAssignments, Closures, RemovalsWrong, RemovalsObjection, AgreementsOverdue}
}

// Counts is the raw input of a release: a count per measure and cell of the full cube. The zero
// value is empty and ready to use. It is not safe for concurrent use.
type Counts struct {
	m         map[Measure]map[Coords]int
	durations map[Coords]map[int]int // days from match to coordinator: a histogram per cell
}

// Add adds n to the count of measure m in cell c. Every coordinate must be non-empty, and n
// must not make the count negative.
func (c *Counts) Add(m Measure, at Coords, n int) error {
	if !slices.Contains(Measures(), m) {
		return fmt.Errorf("%w: unknown measure %q", ErrInvalid, m)
	}
	for d, v := range at {
		if v == "" {
			return fmt.Errorf("%w: empty %s", ErrInvalid, Dim(d))
		}
	}
	if c.m == nil {
		c.m = make(map[Measure]map[Coords]int)
	}
	cells := c.m[m]
	if cells == nil {
		cells = make(map[Coords]int)
		c.m[m] = cells
	}
	v := cells[at] + n
	switch {
	case v < 0:
		return fmt.Errorf("%w: negative count", ErrInvalid)
	case v == 0:
		delete(cells, at)
	default:
		cells[at] = v
	}
	return nil
}

// Get gives the raw count of measure m in cell c.
func (c *Counts) Get(m Measure, at Coords) int { return c.m[m][at] }

// table is a set of dimensions as a bit mask: the dimensions a table breaks down by; the
// others are summed.
type table uint8

const fullTable = table(1<<NumDims - 1)

func tableOf(dims ...Dim) table {
	var t table
	for _, d := range dims {
		t |= 1 << d
	}
	return t
}

func (t table) has(d Dim) bool        { return t&(1<<d) != 0 }
func (t table) contains(u table) bool { return t&u == u }

func (t table) dims() []Dim {
	var ds []Dim
	for d := range NumDims {
		if t.has(d) {
			ds = append(ds, d)
		}
	}
	return ds
}

// project gives the coordinates of c in table t: the summed dimensions emptied.
func (t table) project(c Coords) Coords {
	for d := range NumDims {
		if !t.has(d) {
			c[d] = ""
		}
	}
	return c
}

// cellKey is one cell of one table.
type cellKey struct {
	t table
	c Coords
}
