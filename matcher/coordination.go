package matcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// The coordinator's acceptance and hand-over, and escalation.
//
// A coordinator the rules assign (first, or anew) has the covenant's term
// in working days (rules.Coordination) to accept ([Matcher.Accept]) or
// decline ([Matcher.Decline], with a [DeclineReason]). The term's end is
// kept on the case (store.Case.AcceptDue) and the youth's wake time is
// set no later than it, so a lapse is seen at the wake-up also when
// nobody reports the youth, and after a restart. A decline, or a lapsed
// term, excludes the institution from the case's decisions
// (rules.Case.Excluded) and assigns the next eligible institution by the
// rules, in the same atomic write as the events that tell every involved
// institution: once, whatever fails or restarts.
//
// A coordinator may hand the case over ([Matcher.Handover]) to another
// actively involved institution that may coordinate; that institution
// accepts ([Matcher.AcceptHandover]: it becomes coordinator under the rule
// rules.RuleHandover, which later decisions keep unless a rule with the
// final say applies) or declines ([Matcher.DeclineHandover]).
//
// The coordinator escalates along the covenant's ladder
// ([Matcher.Escalate]); each step's deadline is counted on the Dutch
// working-day calendar from the moment the step before it was taken, and
// an overdue step raises one escalation-due event to the coordinator and
// the step's addressees, in the write that marks it raised. The alderman's
// decision (a step taken by the municipality) names the coordinator with
// the final say (rules.RuleEscalationDecision).
//
// When the coordinator's registration ends, its acceptance and a pending
// hand-over go with it; the next coordinator has a term of its own. An
// institution not involved with the youth gets ErrNotInvolved from every
// one of these verbs, as for a youth nobody registered.

// DeclineReason says why a coordinator declined a case or an institution
// a hand-over: one of a fixed list of stable codes, never free text.
type DeclineReason string

// The reasons for a decline.
const (
	// DeclineNoCapacity: the institution has no capacity to coordinate.
	DeclineNoCapacity DeclineReason = "no_capacity"
	// DeclineNoCareRelation: the institution provides the youth no care
	// that coordination can build on.
	DeclineNoCareRelation DeclineReason = "no_care_relation"
	// DeclineBetterPlaced: another involved institution is better placed.
	DeclineBetterPlaced DeclineReason = "better_placed_elsewhere"
	// DeclineOther: another reason.
	DeclineOther DeclineReason = "other"
)

// DeclineReasons lists the reasons, in the order the API documents them.
func DeclineReasons() []DeclineReason {
	return []DeclineReason{DeclineNoCapacity, DeclineNoCareRelation, DeclineBetterPlaced, DeclineOther}
}

// ParseDeclineReason returns the reason with code s.
func ParseDeclineReason(s string) (DeclineReason, error) {
	if r := DeclineReason(s); slices.Contains(DeclineReasons(), r) {
		return r, nil
	}
	return "", fieldErr("reason", ErrDeclineReason)
}

// Errors of the coordination verbs.
var (
	// ErrNotCoordinating: the actor is involved, but the case's
	// coordinator is another institution (or it has none). It wraps
	// ErrNotCoordinator.
	ErrNotCoordinating = fmt.Errorf("%w: your institution is not the case's coordinator", ErrNotCoordinator)
	// ErrNotEligible: the institution named is not an actively involved
	// care provider that may coordinate this case.
	ErrNotEligible = errors.New("matcher: that institution is not an actively involved care provider that may coordinate this case")
	// ErrNoHandover: no hand-over of the case is offered to the actor.
	ErrNoHandover = errors.New("matcher: no hand-over of this case is offered to your institution")
	// ErrAlreadyAccepted: the coordinator accepted the case already; it
	// may hand it over, not decline it.
	ErrAlreadyAccepted = errors.New("matcher: your institution accepted this case already; hand it over instead")
	// ErrDeclineReason: a reason that is not one of DeclineReasons.
	ErrDeclineReason = errors.New("matcher: reason must be no_capacity, no_care_relation, better_placed_elsewhere or other")
	// ErrEscalationStep: a step the covenant's ladder does not have.
	ErrEscalationStep = errors.New("matcher: the covenant's escalation ladder has no such step")
	// ErrEscalationOrder: the step is not the one that follows the
	// case's current step (or the first, to start an escalation).
	ErrEscalationOrder = errors.New("matcher: that escalation step does not follow the case's current step")
	// ErrDecision: a deciding step without the coordinator it names, or
	// another step with one.
	ErrDecision = errors.New("matcher: the alderman's decision names the coordinator; no other step does")
)

// calendar is the covenant's working-day calendar in the matcher's zone.
func (m *Matcher) calendar() rules.Calendar {
	c := m.cov.Calendar()
	c.Loc = m.loc
	return c
}

// gaveUp is a coordinator that declined the case or let its term lapse in
// this update: the event that tells everyone, once the next one is known.
type gaveUp struct {
	institution string
	typ         store.EventType
	reason      string
}

// exclude keeps institution out of the case's decisions, and makes the
// case coordinator-less: finish decides anew.
func (y *youth) exclude(institution string, typ store.EventType, reason string) {
	k := &y.kase
	if !slices.Contains(k.Excluded, institution) {
		k.Excluded = append(k.Excluded, institution)
	}
	k.Coordinator, k.Rule, k.AcceptDue, k.AcceptedAt = "", "", time.Time{}, time.Time{}
	y.gaveUp = &gaveUp{institution: institution, typ: typ, reason: reason}
}

// lapse excludes a coordinator whose term to accept has passed.
func (y *youth) lapse() {
	k := &y.kase
	if k.Coordinator == "" || k.AcceptDue.IsZero() || y.now.Before(k.AcceptDue) || y.liveOf(k.Coordinator) == nil {
		return
	}
	y.exclude(k.Coordinator, store.EventAcceptLapsed, "")
}

// coordinate keeps the coordination state in step with the coordinator
// redecide left: a new coordinator's term to accept (none after a
// hand-over or the alderman's decision, which are accepted by their
// making), nothing of a coordinator gone, and the events of one that gave
// up.
func (y *youth) coordinate() {
	k := &y.kase
	k.Excluded = slices.DeleteFunc(k.Excluded, func(x string) bool { return y.liveOf(x) == nil })
	if k.HandoverTo != "" && (k.Coordinator != y.prevCoordinator || k.Coordinator == "" || y.liveOf(k.HandoverTo) == nil) {
		k.HandoverTo, k.HandoverAt = "", time.Time{}
	}
	switch {
	case k.Coordinator == "":
		k.AcceptDue, k.AcceptedAt, k.Escalation = time.Time{}, time.Time{}, nil
	case y.reassigned() && (k.Rule == rules.RuleHandover || k.Rule == rules.RuleEscalationDecision):
		k.AcceptDue, k.AcceptedAt = time.Time{}, y.now
	case y.reassigned():
		k.AcceptDue, k.AcceptedAt = y.m.cov.AcceptDeadline(y.now, y.m.calendar()), time.Time{}
	}
	if g := y.gaveUp; g != nil {
		for _, r := range y.live {
			y.emit(store.Event{Type: g.typ, Recipient: r.Institution, Registration: r.ID, Subject: g.institution,
				Reason: g.reason, Coordinator: k.Coordinator, Rule: k.Rule})
		}
	}
}

// escalationDue raises the overdue next step of the case's escalation,
// once: the step is marked in the write that sends the events.
func (y *youth) escalationDue() {
	k := &y.kase
	if len(k.Escalation) == 0 || k.Coordinator == "" {
		return
	}
	last := &k.Escalation[len(k.Escalation)-1]
	if last.Due.IsZero() || last.Overdue || y.now.Before(last.Due) {
		return
	}
	last.Overdue = true
	ladder := y.m.cov.Escalation
	i := y.m.cov.EscalationStepNamed(last.Step)
	if i < 0 || i+1 >= len(ladder) {
		return // the covenant's ladder changed: nothing follows
	}
	next := ladder[i+1]
	for _, to := range y.addressees(rules.AddresseeCoordinator, next.Addressee) {
		y.emit(store.Event{Type: store.EventEscalationDue, Recipient: to.institution, Registration: to.registration,
			Subject: k.Coordinator, Reason: next.Name, Coordinator: k.Coordinator, Rule: k.Rule,
			Others: y.coordinatorParty(to.institution)})
	}
}

// coordinatorParty names the coordinator as an involved party to a
// recipient that is not involved (a municipality), so it knows whom to
// reach; nil for an involved recipient, which knows.
func (y *youth) coordinatorParty(recipient string) []store.Party {
	if y.liveOf(recipient) != nil {
		return nil
	}
	r := y.liveOf(y.kase.Coordinator)
	if r == nil {
		return nil
	}
	return []store.Party{{Registration: r.ID, Institution: r.Institution, Kind: r.Kind, Contact: r.Contact, Since: r.CreatedAt}}
}

// recipient is an event's addressee: an institution and its own
// registration (zero for a municipality, which has none).
type recipient struct {
	institution  string
	registration store.ID
}

// addressees returns the institutions the given addressees stand for,
// each once: the coordinator, every live institution, the municipalities
// that serve one of the youth's live registrations.
func (y *youth) addressees(as ...rules.Addressee) []recipient {
	var out []recipient
	add := func(inst string, id store.ID) {
		if !slices.ContainsFunc(out, func(r recipient) bool { return r.institution == inst }) {
			out = append(out, recipient{inst, id})
		}
	}
	for _, a := range as {
		switch a {
		case rules.AddresseeCoordinator:
			if r := y.liveOf(y.kase.Coordinator); r != nil {
				add(r.Institution, r.ID)
			}
		case rules.AddresseeInvolved:
			for _, r := range y.live {
				add(r.Institution, r.ID)
			}
		case rules.AddresseeMunicipality:
			for _, inst := range y.m.cov.Institutions {
				if inst.Type == rules.TypeMunicipality && slices.ContainsFunc(y.live, func(r store.Registration) bool { return inst.Serves(r.Municipality) }) {
					add(inst.ID, store.ID{})
				}
			}
		}
	}
	return out
}

// coordinationWakes passes to earlier the end of the coordinator's term
// to accept and the due time of the escalation's next step, if either is
// pending.
func (y *youth) coordinationWakes(earlier func(time.Time)) {
	k := &y.kase
	if k.Coordinator == "" {
		return
	}
	if !k.AcceptDue.IsZero() {
		earlier(k.AcceptDue)
	}
	if n := len(k.Escalation); n > 0 && !k.Escalation[n-1].Due.IsZero() && !k.Escalation[n-1].Overdue {
		earlier(k.Escalation[n-1].Due)
	}
}

// coordinatorVerb runs a verb by youth of an institution involved with
// it: c gets the youth if the actor has a live registration, else the
// verb answers ErrNotInvolved, the answer for a youth nobody registered.
func (m *Matcher) coordinatorVerb(ctx context.Context, actor Actor, who Youth, verb store.AuditVerb, name string, c change) (err error) {
	a := m.audit(actor, verb, who, ID{})
	defer a.done(ctx, &err)
	if _, err := m.institution(actor); err != nil {
		return err
	}
	// Involvement is read as a lookup reads it (the same work for a youth
	// nobody registered), so an uninvolved caller's answer takes no
	// longer for a youth that is known.
	involved, err := m.liveMatch(ctx, who, func(r store.Registration) bool { return r.Institution == actor.Institution })
	if err == nil && !involved {
		err = ErrNotInvolved
	}
	if err == nil {
		err = m.updateByYouth(ctx, who, m.clock(), a.stage(func(y *youth) error {
			if y.liveOf(actor.Institution) == nil {
				return ErrNotInvolved
			}
			return c(y)
		}))
	}
	m.log.LogAttrs(ctx, slog.LevelInfo, name, slog.String("institution", actor.Institution), slog.String("outcome", outcome(err)))
	return err
}

// mustCoordinate returns ErrNotCoordinating unless institution is the
// case's coordinator, with its term to accept, if any, not passed: a
// coordinator whose term has passed is no longer one, although the case's
// wake-up (vindex serve runs them every minute) may not have assigned the
// next yet; it cannot accept, decline or hand over in that minute.
func (y *youth) mustCoordinate(institution string) error {
	k := &y.kase
	if k.Coordinator != institution || !k.AcceptDue.IsZero() && !y.now.Before(k.AcceptDue) {
		return ErrNotCoordinating
	}
	return nil
}

// CaseCoordination is a case's coordination state as Lookup shows it to
// the institutions involved: whether the coordinator accepted (or by when
// it must), a hand-over offered, and the escalation's steps (the plan is
// View.Plan). Only that-information: who, which step, which days.
type CaseCoordination struct {
	// Accepted: the coordinator accepted the case (or took it over by a
	// hand-over or the alderman's decision). AcceptBy is, while it has
	// not, the first instant its term to accept is over (zero for a
	// coordinator assigned before terms were kept).
	Accepted bool
	AcceptBy time.Time
	// HandoverTo is the institution the coordinator offered the case to,
	// while it has not answered; "" if none.
	HandoverTo string
	// Escalation lists the current escalation's steps, in order.
	Escalation []store.EscalationStep
}

// coordinationOf is the view of k's coordination state.
func coordinationOf(k store.Case) *CaseCoordination {
	return &CaseCoordination{Accepted: !k.AcceptedAt.IsZero(), AcceptBy: k.AcceptDue, HandoverTo: k.HandoverTo,
		Escalation: slices.Clone(k.Escalation)}
}
