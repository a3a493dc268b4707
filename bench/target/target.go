// Package target is what the load generator (package bench) and the
// targets it drives share: the Target interface, the youths an operation
// carries, the outcomes a target answers, and the example covenant's
// institutions, municipality and contact the workloads report with. It sits
// below both, so that a target (bench/baseline, say) does not import the
// load generator.
package target

import (
	"context"
	"sync"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/store"
)

// Target is what a workload runs against. Its methods are called from many
// goroutines at once. End ends the institution's registration for the
// youth, which the target knows from its own answer to an earlier Register
// (Skipped if it has none).
type Target interface {
	Name() string
	Register(ctx context.Context, institution string, y Youth) (Outcome, error)
	Lookup(ctx context.Context, institution string, y Youth) (Outcome, error)
	End(ctx context.Context, institution string, y Youth) (Outcome, error)
	Close() error
}

// Outcome is what a target answered to one operation.
type Outcome uint8

// The outcomes.
const (
	// Registered: a new registration, no other institution involved.
	Registered Outcome = iota
	// NewMatch: a new registration that found another institution.
	NewMatch
	// Refreshed: the institution was registered already.
	Refreshed
	// Viewed: a lookup by an involved institution.
	Viewed
	// NotInvolved: a lookup by an institution not registered for the youth.
	NotInvolved
	// Ended: a registration ended.
	Ended
	// Skipped: an end whose registration the target had not acknowledged
	// yet (it was still in flight); nothing was sent.
	Skipped
	// NumOutcomes is the number of outcomes.
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{"registered", "new_match", "refreshed", "viewed", "not_involved", "ended", "skipped"}

func (o Outcome) String() string { return outcomeNames[o] }

// Youth is what an operation carries about its youth: the population index
// and how to get at the identity.
type Youth struct {
	Index int
	// Endable reports whether the workload may later end this youth's
	// registrations (mixed); targets remember registration IDs only then,
	// so that a long ingest does not hold millions of them.
	Endable bool
	pop     *Youths
}

// Youth returns youth i of the population (i < Len) for an operation.
func (y *Youths) Youth(i int, endable bool) Youth { return Youth{Index: i, Endable: endable, pop: y} }

// BSN returns the youth's BSN.
func (y Youth) BSN() identity.BSN { return y.pop.BSN(y.Index) }

// BirthDate returns the youth's birth date.
func (y Youth) BirthDate() identity.BirthDate { return y.pop.BirthDate(y.Index) }

// Institutions are the institutions of the example covenant that the
// workloads report as: care providers that may coordinate, and a school and
// the police that only signal.
var Institutions = []string{
	"wij-groningen", "ggd-groningen", "accare-groningen", "halt-noord-nederland",
	"school-example-lyceum", "politie-noord-nederland",
}

// SignalCode is the covenant signal code the workloads' signals carry.
const SignalCode = "S01"

// IsSignal reports whether institution may only signal under the example
// covenant (a school, the police): its reports are signals with SignalCode,
// the others' are involvement registrations.
func IsSignal(institution string) bool {
	return institution == "school-example-lyceum" || institution == "politie-noord-nederland"
}

// Municipality is where the workloads' youths live (Groningen, whose WIJ
// team coordinates under the example covenant).
const Municipality = "GM0014"

// Contact is the professional every workload registration names.
var Contact = store.Contact{Name: "A. Jansen", Phone: "050-1234567", Email: "a.jansen@example.org"}

// RegistrationIDs remembers each (institution, youth)'s registration ID, as
// a client system would, so that a target's End can name it. Safe for
// concurrent use.
type RegistrationIDs[ID any] struct{ m sync.Map }

type regKey struct {
	inst  string
	youth int
}

// Remember keeps id as inst's registration for y, if the workload may end
// it (Youth.Endable).
func (r *RegistrationIDs[ID]) Remember(inst string, y Youth, id ID) {
	if y.Endable {
		r.m.Store(regKey{inst, y.Index}, id)
	}
}

// Get returns inst's registration for y, and remembers it still; false if
// none is known.
func (r *RegistrationIDs[ID]) Get(inst string, y Youth) (ID, bool) {
	v, ok := r.m.Load(regKey{inst, y.Index})
	if !ok {
		var zero ID
		return zero, false
	}
	return v.(ID), true
}

// Take returns and forgets inst's registration for y; false if none is
// known (not yet answered, or ended already).
func (r *RegistrationIDs[ID]) Take(inst string, y Youth) (ID, bool) {
	v, ok := r.m.LoadAndDelete(regKey{inst, y.Index})
	if !ok {
		var zero ID
		return zero, false
	}
	return v.(ID), true
}
