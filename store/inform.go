package store

import (
	"fmt"
	"time"
)

// The duty to inform (Jeugdwet): a professional who registers a youth tells
// the parents, the youth or both that it did, why and where to object,
// unless that would endanger the youth or others. Whom follows the youth's
// age band. A registration keeps the band of the youth's age at its
// institution's last report ([Registration.AgeBand]: three values, never the
// birth date) and what the institution recorded ([Registration.Inform]).

// AgeBand is a youth's age band, counted by month as every age the matcher
// keeps: it says who exercises the youth's rights and whom a professional
// informs.
type AgeBand uint8

// The bands. The values are stored: never renumber or reuse one.
const (
	// AgeBandUnknown: a registration made before bands were kept.
	AgeBandUnknown AgeBand = 0
	// AgeUnder12: the parents are informed and act for the youth.
	AgeUnder12 AgeBand = 1
	// Age12To15: the parents and the youth, both.
	Age12To15 AgeBand = 2
	// Age16Up: the youth.
	Age16Up AgeBand = 3
)

// AgeBandOf returns the band of a youth of age years; AgeBandUnknown for a
// negative age.
func AgeBandOf(age int) AgeBand {
	switch {
	case age < 0:
		return AgeBandUnknown
	case age < 12:
		return AgeUnder12
	case age < 16:
		return Age12To15
	}
	return Age16Up
}

// Whom returns whom a professional informs of a youth in band b: 0 for
// AgeBandUnknown.
func (b AgeBand) Whom() Whom {
	switch b {
	case AgeUnder12:
		return WhomParents
	case Age12To15:
		return WhomBoth
	case Age16Up:
		return WhomYouth
	}
	return 0
}

// String returns "under-12", "12-15" or "16-up".
func (b AgeBand) String() string {
	switch b {
	case AgeBandUnknown:
		return "unknown"
	case AgeUnder12:
		return "under-12"
	case Age12To15:
		return "12-15"
	case Age16Up:
		return "16-up"
	}
	return fmt.Sprintf("age-band(%d)", uint8(b))
}

// Whom says who was (or is to be) informed of a registration.
type Whom uint8

// The values are stored: never renumber or reuse one.
const (
	WhomParents Whom = 1
	WhomYouth   Whom = 2
	WhomBoth    Whom = 3
)

// String returns "parents", "youth" or "both".
func (w Whom) String() string {
	switch w {
	case WhomParents:
		return "parents"
	case WhomYouth:
		return "youth"
	case WhomBoth:
		return "both"
	}
	return fmt.Sprintf("whom(%d)", uint8(w))
}

// NotInformed says why an institution did not inform the parents or the
// youth of its registration.
type NotInformed uint8

// The values are stored: never renumber or reuse one.
const (
	// NotInformedDanger: informing would endanger the youth or others.
	NotInformedDanger NotInformed = 1
	// NotInformedUnreachable: the parents or the youth cannot be reached.
	NotInformedUnreachable NotInformed = 2
	// NotInformedLater: not yet; the institution is reminded (an
	// inform-due event) if it records nothing else in time.
	NotInformedLater NotInformed = 3
)

// String returns "danger", "not_reachable" or "later".
func (n NotInformed) String() string {
	switch n {
	case NotInformedDanger:
		return "danger"
	case NotInformedUnreachable:
		return "not_reachable"
	case NotInformedLater:
		return "later"
	}
	return fmt.Sprintf("not-informed(%d)", uint8(n))
}

// Inform is what a registration's institution recorded of its duty to
// inform: that it informed Who on the day On, or why it did not (Not);
// neither if it recorded nothing.
type Inform struct {
	// Who was informed; 0 if the institution did not inform.
	Who Whom
	// On is the civil day (00:00 UTC) on which Who was informed.
	On time.Time
	// Not is why the institution did not inform; 0 if it did, or recorded
	// nothing.
	Not NotInformed
	// Due is, while the record is NotInformedLater and its reminder has
	// not been sent, the civil day on which the institution is reminded;
	// zero otherwise.
	Due time.Time
	// Reminded: the reminder was sent. A registration is reminded at
	// most once, whatever is recorded afterwards.
	Reminded bool
}

// Recorded reports whether the institution recorded that it informed, or
// why it did not.
func (i Inform) Recorded() bool { return i.Who != 0 || i.Not != 0 }

// IsZero reports whether i holds nothing at all.
func (i Inform) IsZero() bool {
	return !i.Recorded() && i.On.IsZero() && i.Due.IsZero() && !i.Reminded
}
