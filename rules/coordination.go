package rules

import (
	"slices"
	"time"
)

// The coordinator's acceptance and the escalation ladder (the Zorg voor
// Jeugd covenant's "escalatieprocedure"). A coordinator the rules assign
// accepts or declines within the covenant's term in working days
// (Coordination.AcceptWithinWorkingDays); one that declines or lets the
// term lapse is excluded from the case's decisions (Case.Excluded), and
// the next eligible institution is assigned. When the involved
// professionals cannot agree on a plan, the coordinator escalates along
// the covenant's ladder (Covenant.Escalation), each step due within a
// number of working days of the one before; the deadlines are counted on
// the Dutch working-day calendar (Calendar), purely, from the moment a
// step was taken.

// Built-in rule names: a decision made outside the covenant's rules is
// recorded under one of these, which a covenant's rules may not use.
const (
	// RuleHandover: the coordinator handed the case over to another
	// involved care provider, which accepted.
	RuleHandover = "hand-over"
	// RuleEscalationDecision: the alderman (the municipality) decided
	// who coordinates, at the end of an escalation: the final say.
	RuleEscalationDecision = "escalation-decision"
)

// ReasonExcluded is Decision.Reason when the only eligible institutions
// are those the case excludes: each declined to coordinate, or let its
// term to accept lapse.
const ReasonExcluded = "every eligible care provider declined to coordinate or let its term to accept lapse"

// Coordination is the covenant's coordination section.
type Coordination struct {
	// AcceptWithinWorkingDays is the term, in working days after the day
	// of the assignment, within which an assigned coordinator accepts or
	// declines (coordination.accept_within_working_days, 1 to 20; the Zorg
	// voor Jeugd covenant's two working days is the usual choice). Once it
	// has passed, the coordinator is excluded from the case and the next
	// eligible institution assigned. 0 (a covenant that sets none): no
	// term; a coordinator may accept or decline, and is never replaced for
	// not answering. A region opts in, so that client systems that do not
	// accept yet do not lose every coordinator two days after an upgrade.
	AcceptWithinWorkingDays int
}

// AcceptDeadline returns the first instant at which the term to accept of
// a coordinator assigned at assigned is over: Calendar.Deadline of
// assigned and the covenant's term; zero if the covenant sets no term.
func (c *Covenant) AcceptDeadline(assigned time.Time, cal Calendar) time.Time {
	n := c.Coordination.AcceptWithinWorkingDays
	if n <= 0 {
		return time.Time{}
	}
	return cal.Deadline(assigned, n)
}

// Addressee says to whom an escalation step is addressed.
type Addressee string

// Addressees.
const (
	// AddresseeCoordinator: the coordinating institution (its own
	// management).
	AddresseeCoordinator Addressee = "coordinator"
	// AddresseeInvolved: every institution actively involved (their
	// managements).
	AddresseeInvolved Addressee = "involved"
	// AddresseeMunicipality: the municipality that serves the youth (the
	// alderman for youth, "portefeuillehouder jeugd").
	AddresseeMunicipality Addressee = "municipality"
)

// EscalationStep is one step of the escalation ladder.
type EscalationStep struct {
	// Name names the step: 1 to 63 characters of a-z, 0-9 and -.
	Name string
	// WithinWorkingDays is the step's term: it is due within this many
	// working days after the day the step before it was taken (0: the
	// same day). The first step has none: the coordinator starts an
	// escalation when it must.
	WithinWorkingDays int
	// Addressee is to whom the step is addressed: told when it is taken,
	// and reminded (with the coordinator) when it is overdue.
	Addressee Addressee
	// ByMunicipality: the step is taken by the municipality that serves
	// the youth, not by the coordinator.
	ByMunicipality bool
	// Decides: the step is the alderman's decision, which names the
	// coordinator with the final say (RuleEscalationDecision). Only a
	// step taken by the municipality decides.
	Decides bool
	// Line is where the step is defined in the covenant file; 0 for the
	// default ladder.
	Line int
}

// DefaultEscalation returns the Zorg voor Jeugd ladder, the escalation of
// a covenant that gives none: the coordinator engages its own management
// (own-management); that management engages the managements of the
// involved institutions within two working days (involved-managements);
// if they do not agree, the problem goes to the alderman within two
// working days (alderman); the alderman's decision comes back within two
// working days (decision, taken by the municipality); the responsible
// director has it carried out the same day (carried-out).
func DefaultEscalation() []EscalationStep {
	return []EscalationStep{
		{Name: "own-management", Addressee: AddresseeCoordinator},
		{Name: "involved-managements", WithinWorkingDays: 2, Addressee: AddresseeInvolved},
		{Name: "alderman", WithinWorkingDays: 2, Addressee: AddresseeMunicipality},
		{Name: "decision", WithinWorkingDays: 2, Addressee: AddresseeCoordinator, ByMunicipality: true, Decides: true},
		{Name: "carried-out", WithinWorkingDays: 0, Addressee: AddresseeInvolved},
	}
}

// EscalationStepNamed returns the index of the covenant's escalation step
// name, or -1.
func (c *Covenant) EscalationStepNamed(name string) int {
	return slices.IndexFunc(c.Escalation, func(s EscalationStep) bool { return s.Name == name })
}

// NextEscalationStep returns the index of the step that may follow the
// step at index current in ladder (-1: no escalation yet, or the last
// one is over): the next one, or the first again once the last was
// taken.
func NextEscalationStep(ladder []EscalationStep, current int) int {
	if current < 0 || current+1 >= len(ladder) {
		return 0
	}
	return current + 1
}

// EscalationDue returns when the step after the one at index current,
// taken at taken, is overdue: the first instant after its term, by cal.
// ok is false when the step at current is the last (nothing follows) or
// out of range. Pure: it reads only its arguments.
func EscalationDue(ladder []EscalationStep, current int, taken time.Time, cal Calendar) (due time.Time, ok bool) {
	if current < 0 || current+1 >= len(ladder) {
		return time.Time{}, false
	}
	return cal.Deadline(taken, ladder[current+1].WithinWorkingDays), true
}

// Eligible reports whether institution may be assigned as coordinator in
// c under cov: it is a care provider the covenant lets coordinate, it
// serves the youth's municipality, it has an involvement registration in
// the case, and the case does not exclude it.
func Eligible(c Case, cov *Covenant, institution string) bool {
	return slices.ContainsFunc(eligibleParties(c, cov), func(p party) bool { return p.inst.ID == institution })
}

type rawCoordination struct {
	AcceptWithin *int `yaml:"accept_within_working_days"`
}

type rawEscalationStep struct {
	Step      string `yaml:"step"`
	Within    *int   `yaml:"within_working_days"`
	Addressee string `yaml:"addressee"`
	By        string `yaml:"by"`
	Decides   bool   `yaml:"decides"`
}

// maxTermWorkingDays bounds a term in working days (four weeks).
const maxTermWorkingDays = 20

// coordination sets the coordinator's term to accept.
func (b *builder) coordination(raw *rawCoordination) {
	b.c.Coordination = Coordination{}
	if raw == nil || raw.AcceptWithin == nil {
		return
	}
	if v := *raw.AcceptWithin; v < 1 || v > maxTermWorkingDays {
		line, ok := b.li.coordination["accept_within_working_days"]
		if !ok {
			line = b.li.coordination[""]
		}
		b.fail(line, "coordination.accept_within_working_days must be from 1 to %d", maxTermWorkingDays)
		return
	}
	b.c.Coordination.AcceptWithinWorkingDays = *raw.AcceptWithin
}

// escalation checks the escalation ladder and sets it, or the default
// ladder if the covenant gives none.
func (b *builder) escalation(raw []rawEscalationStep) {
	if len(raw) == 0 {
		if b.li.escalation > 0 {
			b.fail(b.li.escalation, "escalation lists no steps: leave it out for the default ladder (own-management, involved-managements, alderman, decision, carried-out)")
		}
		b.c.Escalation = DefaultEscalation()
		return
	}
	decides := 0
	for i, rs := range raw {
		field := func(f string) int { return lineOf(b.li.escalationSteps, b.li.escalationFields, i, f) }
		s := EscalationStep{Name: rs.Step, Addressee: Addressee(rs.Addressee), Decides: rs.Decides, Line: lineOf(b.li.escalationSteps, nil, i, "")}
		switch {
		case !idPattern.MatchString(rs.Step):
			b.fail(field("step"), "escalation step %q must be 1 to 63 characters of a-z, 0-9 and -", rs.Step)
		case b.c.EscalationStepNamed(rs.Step) >= 0:
			b.fail(field("step"), "escalation step %s defined twice", rs.Step)
		}
		switch {
		case i == 0 && rs.Within != nil:
			b.fail(field("within_working_days"), "escalation step %s: the first step has no term (the coordinator starts an escalation when it must)", rs.Step)
		case i > 0 && rs.Within == nil:
			b.fail(field("step"), "escalation step %s needs within_working_days: its term after the step before it (0: the same day)", rs.Step)
		case i > 0 && (*rs.Within < 0 || *rs.Within > maxTermWorkingDays):
			b.fail(field("within_working_days"), "escalation step %s: within_working_days must be from 0 to %d", rs.Step, maxTermWorkingDays)
		case i > 0:
			s.WithinWorkingDays = *rs.Within
		}
		switch s.Addressee {
		case AddresseeCoordinator, AddresseeInvolved, AddresseeMunicipality:
		default:
			b.fail(field("addressee"), "escalation step %s: addressee must be coordinator, involved or municipality", rs.Step)
		}
		switch rs.By {
		case "", "coordinator":
		case "municipality":
			s.ByMunicipality = true
		default:
			b.fail(field("by"), "escalation step %s: by must be coordinator (the default) or municipality", rs.Step)
		}
		switch {
		case i == 0 && s.ByMunicipality:
			b.fail(field("by"), "escalation step %s: the coordinator takes the first step", rs.Step)
		case rs.Decides && !s.ByMunicipality:
			b.fail(field("decides"), "escalation step %s: only a step taken by the municipality (by: municipality) decides", rs.Step)
		case rs.Decides:
			decides++
			if decides == 2 {
				b.fail(field("decides"), "escalation step %s: only one step decides", rs.Step)
			}
		}
		b.c.Escalation = append(b.c.Escalation, s)
	}
}
