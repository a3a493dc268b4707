package letters

import (
	"errors"
	"fmt"
	"time"
)

// The addressees of Inform.To.
const (
	ToParents = "parents"
	ToBoth    = "both"
	ToYouth   = "youth"
)

// Inform is what an informing letter says.
type Inform struct {
	// To is whom the letter is addressed to: ToParents, ToBoth or ToYouth.
	To string
	// Institution is the registering institution's name.
	Institution string
	// SignalCode and SignalLabel: a signal's code and what it stands for
	// in the covenant; both empty for an involvement registration (the
	// institution provides care).
	SignalCode, SignalLabel string
	// Since is when the institution registered; EndsOn the day the
	// registration ends at the latest.
	Since, EndsOn time.Time
	// Municipality is the name of the municipality to ask for access and
	// to object to, and MunicipalityCode its CBS code: the letter names
	// the municipality by its code when it has no name.
	Municipality, MunicipalityCode string
	// Contact is the professional who registered, and how to reach them.
	ContactName, ContactPhone, ContactEmail string
	// Region names the reference index ("Verwijsindex Groningen").
	Region string
}

// ErrAddressee: Inform.To is not one of the addressees.
var ErrAddressee = errors.New("letters: unknown addressee")

func init() {
	for _, to := range []string{ToParents, ToBoth, ToYouth} {
		if informText.Lookup(to) == nil || informHTML.Lookup(to) == nil {
			panic("letters: the informing letter has no template for addressee " + to)
		}
	}
}

// Informing writes the informing letter d: the letter in which a
// professional tells the parents, the youth or both that its institution
// registered the youth in the reference index, why in the covenant's terms,
// for how long, and where to object (the duty to inform; whom by the
// youth's age band). One wording per addressee, a template each, named by
// it. An [Inform] has no field for a BSN, a birth date or a name: the
// professional adds the address, and the templates say "your child" or
// "you".
func Informing(d Inform) (Letter, error) {
	if d.To != ToParents && d.To != ToBoth && d.To != ToYouth {
		return Letter{}, fmt.Errorf("%w %q", ErrAddressee, d.To)
	}
	return render(informText, informHTML, d)
}
