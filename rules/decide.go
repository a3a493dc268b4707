// Package rules holds a region's covenant (its institutions, coordinator
// rules, lifecycle limits and rate limits per institution) and the
// coordinator decision, as pure functions.
//
// # Purity
//
// [Decide] reads only its arguments: no clock, no I/O, no globals, no
// dependence on map iteration order. The same case gives the same decision
// whatever the order of its involvements, and every decision names the rule
// that fired, or says why no institution could be assigned.
//
// # How a decision is made
//
// Only care-providing institutions are eligible: an institution the
// covenant lets coordinate, that serves the youth's municipality, that
// has an involvement registration (not only a signal) in the case and
// that the case does not exclude (it declined, or let its term to accept
// lapse: Case.Excluded; a case whose every eligible institution is
// excluded has no coordinator, for ReasonExcluded). Signal-only
// institutions (school, police, childcare, attendance officers) are never
// assigned, whatever a rule says, and the conditions of rules look only at
// eligible institutions, so adding a signal never changes the decision.
//
// The rules are tried in order. The first rule whose conditions all hold and
// whose assignment selects at least one eligible institution fires; among
// the institutions it selects, the one registered earliest wins, ties broken
// by institution ID.
//
// Covenant files are YAML (see examples/covenant-groningen.yaml); [Load]
// reports every problem as "file:line: message". Scenario files in
// rules/testdata let a covenant author check decisions without Go.
package rules

import (
	"slices"
	"strings"
	"time"
)

// Kind is what an involvement is.
type Kind string

// Kinds.
const (
	KindSignal      Kind = "signal"
	KindInvolvement Kind = "involvement"
)

// Sector marks an involvement in a sector with its own rules.
type Sector string

// Sectors.
const (
	SectorChildProtection Sector = "child-protection"
	SectorYouthProbation  Sector = "youth-probation"
)

// Involvement is one institution's live registration in a case.
type Involvement struct {
	Institution  string
	Kind         Kind
	Sector       Sector
	RegisteredAt time.Time
}

// Case is what a decision is made on.
type Case struct {
	Involved []Involvement
	// Age is the youth's age in completed years, -1 if unknown.
	Age int
	// Municipality is the youth's CBS municipality code.
	Municipality string
	// Excluded are the institutions the case no longer assigns: each
	// declined to coordinate it, or let its term to accept lapse (see
	// Coordination). They are not eligible, whatever a rule says.
	Excluded []string
}

// Decision names the coordinator and the rule that assigned it, or says why
// there is none.
type Decision struct {
	Coordinator string
	Rule        string
	// FinalSay reports that the rule has the final say: its institution
	// takes over from a coordinator assigned earlier.
	FinalSay bool
	// Reason says why no institution was assigned; empty if one was.
	Reason string
}

// Reasons for no coordinator.
const (
	ReasonNoEligible = "no care-providing institution with an involvement registration is involved"
	ReasonNoRule     = "no rule of the covenant assigns one of the involved care providers"
)

// party is one institution's involvements in a case, merged.
type party struct {
	inst    Institution
	since   time.Time
	sectors []Sector
}

// Decide returns the coordinator for case c under covenant cov.
func Decide(c Case, cov *Covenant) Decision {
	eligible := eligibleParties(c, cov)
	if len(eligible) == 0 {
		if len(c.Excluded) > 0 && len(eligibleParties(Case{Involved: c.Involved, Age: c.Age, Municipality: c.Municipality}, cov)) > 0 {
			return Decision{Reason: ReasonExcluded}
		}
		return Decision{Reason: ReasonNoEligible}
	}
	for _, r := range cov.Rules {
		if !r.When.hold(c, eligible) {
			continue
		}
		for _, p := range eligible { // earliest first
			if r.Assign.selects(p) {
				return Decision{Coordinator: p.inst.ID, Rule: r.Name, FinalSay: r.FinalSay}
			}
		}
	}
	return Decision{Reason: ReasonNoRule}
}

// eligibleParties merges the involvements per institution and keeps the
// eligible ones, earliest first, ties by ID.
func eligibleParties(c Case, cov *Covenant) []party {
	var out []party
	for _, v := range c.Involved {
		if v.Kind != KindInvolvement {
			continue
		}
		inst, ok := cov.Institution(v.Institution)
		if !ok || !inst.MayCoordinate || SignalOnly(inst.Type) || !inst.Serves(c.Municipality) || slices.Contains(c.Excluded, v.Institution) {
			continue
		}
		i := slices.IndexFunc(out, func(p party) bool { return p.inst.ID == v.Institution })
		if i < 0 {
			out = append(out, party{inst: inst, since: v.RegisteredAt})
			i = len(out) - 1
		} else if v.RegisteredAt.Before(out[i].since) {
			out[i].since = v.RegisteredAt
		}
		if v.Sector != "" && !slices.Contains(out[i].sectors, v.Sector) {
			out[i].sectors = append(out[i].sectors, v.Sector)
		}
	}
	slices.SortFunc(out, func(a, b party) int {
		if c := a.since.Compare(b.since); c != 0 {
			return c
		}
		return strings.Compare(a.inst.ID, b.inst.ID)
	})
	return out
}

func (w Conditions) hold(c Case, eligible []party) bool {
	if len(w.Involves) > 0 && !slices.ContainsFunc(eligible, func(p party) bool { return slices.Contains(w.Involves, p.inst.Type) }) {
		return false
	}
	if len(w.Sector) > 0 && !slices.ContainsFunc(eligible, func(p party) bool { return overlaps(p.sectors, w.Sector) }) {
		return false
	}
	if w.AgeMin != nil && (c.Age < 0 || c.Age < *w.AgeMin) {
		return false
	}
	if w.AgeMax != nil && (c.Age < 0 || c.Age > *w.AgeMax) {
		return false
	}
	if len(w.Municipality) > 0 && !slices.Contains(w.Municipality, c.Municipality) {
		return false
	}
	return len(eligible) >= w.MinInvolved
}

func (a Assignment) selects(p party) bool {
	switch {
	case a.Type != "" && p.inst.Type != a.Type:
		return false
	case a.Institution != "" && p.inst.ID != a.Institution:
		return false
	case len(a.Sector) > 0 && !overlaps(p.sectors, a.Sector):
		return false
	}
	return true
}

func overlaps(a, b []Sector) bool {
	for _, s := range a {
		if slices.Contains(b, s) {
			return true
		}
	}
	return false
}
