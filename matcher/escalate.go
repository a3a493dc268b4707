package matcher

import (
	"context"
	"log/slog"
	"slices"

	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// Escalation is a step of the escalation ladder to take.
type Escalation struct {
	// Step names the covenant's step (rules.EscalationStep.Name).
	Step string
	// Coordinator is, for the alderman's decision (a step that decides),
	// the institution it names as coordinator; empty for any other step.
	Coordinator string
}

// Escalate takes a step of the covenant's escalation ladder for the
// youth's case, recorded with who took it and when, and tells the
// coordinator and the step's addressees. The first step starts an
// escalation (a new one once the last step was taken); any other must
// follow the case's current step (else ErrEscalationOrder). Its next
// step's deadline is counted on the working-day calendar; once it has
// passed, the coordinator and that step's addressees get one
// escalation-due event.
//
// The coordinator takes the steps, except those the covenant gives to
// the municipality: a municipality that serves the youth takes them, once
// the case has come that far; the deciding step (the alderman's
// decision) names the coordinator, an actively involved institution that
// may coordinate (else ErrNotEligible), which takes the case with the
// final say (rules.RuleEscalationDecision), whether or not it declined it
// before. An institution not involved, and a municipality whose step it
// is not, get ErrNotInvolved, as for a youth nobody registered.
func (m *Matcher) Escalate(ctx context.Context, actor Actor, who Youth, e Escalation) (err error) {
	a := m.audit(actor, store.AuditEscalate, who, ID{})
	defer a.done(ctx, &err)
	inst, err := m.institution(actor)
	if err != nil {
		return err
	}
	ladder := m.cov.Escalation
	i := m.cov.EscalationStepNamed(e.Step)
	switch {
	case i < 0:
		return fieldErr("step", ErrEscalationStep)
	case ladder[i].Decides != (e.Coordinator != ""):
		return fieldErr("coordinator", ErrDecision)
	}
	step := ladder[i]
	mine := func(r store.Registration) bool { return r.Institution == actor.Institution }
	if step.ByMunicipality {
		mine = func(r store.Registration) bool {
			return inst.Type == rules.TypeMunicipality && inst.Serves(r.Municipality)
		}
	}
	// Whether the actor may is read as a lookup reads it, the same work
	// for a youth nobody registered.
	involved, err := m.liveMatch(ctx, who, mine)
	if err == nil && !involved {
		err = ErrNotInvolved
	}
	if err == nil {
		err = m.updateByYouth(ctx, who, m.clock(), a.stage(func(y *youth) error {
			if !slices.ContainsFunc(y.live, mine) {
				return ErrNotInvolved
			}
			return y.escalate(actor.Institution, i, e.Coordinator)
		}))
	}
	m.log.LogAttrs(ctx, slog.LevelInfo, "escalate", slog.String("institution", actor.Institution),
		slog.String("step", step.Name), slog.String("outcome", outcome(err)))
	return err
}

// escalate takes step i of the ladder for by, if it follows the case's
// current step.
func (y *youth) escalate(by string, i int, decided string) error {
	k := &y.kase
	ladder := y.m.cov.Escalation
	step := ladder[i]
	current := -1
	if n := len(k.Escalation); n > 0 {
		current = y.m.cov.EscalationStepNamed(k.Escalation[n-1].Step)
	}
	next := rules.NextEscalationStep(ladder, current)
	switch {
	case step.ByMunicipality && (i != next || i == 0):
		// Not this municipality's step now: the same answer as for a
		// youth it does not know.
		return ErrNotInvolved
	case !step.ByMunicipality && k.Coordinator != by:
		return ErrNotCoordinating
	case i != next:
		return fieldErr("step", ErrEscalationOrder)
	}
	if decided != "" {
		c := y.rulesCase()
		c.Excluded = nil // the final say: whether it declined before or not
		if !rules.Eligible(c, y.m.cov, decided) {
			return fieldErr("coordinator", ErrNotEligible)
		}
		k.Excluded = slices.DeleteFunc(k.Excluded, func(x string) bool { return x == decided })
		k.Coordinator, k.Rule, k.DecidedAt = decided, rules.RuleEscalationDecision, y.now
	}
	if i == 0 {
		k.Escalation = nil
	}
	due, _ := rules.EscalationDue(ladder, i, y.now, y.m.calendar())
	k.Escalation = append(k.Escalation, store.EscalationStep{Step: step.Name, By: by, At: y.now, Due: due, Decided: decided})
	for _, to := range y.addressees(rules.AddresseeCoordinator, step.Addressee) {
		y.emit(store.Event{Type: store.EventEscalation, Recipient: to.institution, Registration: to.registration,
			Subject: by, Reason: step.Name, Coordinator: k.Coordinator, Rule: k.Rule, Others: y.coordinatorParty(to.institution)})
	}
	return nil
}
