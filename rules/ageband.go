package rules

import "fmt"

// AgeBand says whom the law addresses about a youth of a given age: who
// may ask the municipality for access, correction or objection, and whom a
// professional informs of a registration. Under 12 that is the parents (or
// whoever has parental authority), from 12 to 15 both the parents and the
// youth, and from 16 the youth alone (the age bands of the WGBO, art. 7:450
// and 7:465 BW, which the regional indexes' rights follow).
type AgeBand int

// The bands.
const (
	// BandParents: the youth is under 12.
	BandParents AgeBand = 1
	// BandParentsAndYouth: the youth is 12 to 15.
	BandParentsAndYouth AgeBand = 2
	// BandYouth: the youth is 16 or older.
	BandYouth AgeBand = 3
)

// AgeBandOf returns the band of a youth aged age in completed years. A
// negative age (a birth date still to come) counts as under 12.
func AgeBandOf(age int) AgeBand {
	switch {
	case age < 12:
		return BandParents
	case age < 16:
		return BandParentsAndYouth
	}
	return BandYouth
}

// String returns "parents", "both" or "youth".
func (b AgeBand) String() string {
	switch b {
	case BandParents:
		return "parents"
	case BandParentsAndYouth:
		return "both"
	case BandYouth:
		return "youth"
	}
	return fmt.Sprintf("age-band(%d)", int(b))
}
