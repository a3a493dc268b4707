package matcher

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// ErrObjectionScope: an objection's scope that is neither all institutions
// nor one institution of the covenant.
var ErrObjectionScope = errors.New("matcher: the scope must be all institutions or one institution of the covenant")

// ObjectionScope says which of a youth's registrations an upheld objection
// covers: those of every institution ([AllInstitutions]) or those of one
// ([OneInstitution]). The zero value covers nothing and is refused
// (ErrObjectionScope), so that a forgotten scope never removes everything.
type ObjectionScope struct {
	all         bool
	institution string
}

// AllInstitutions is the scope of an objection to every registration of
// the youth.
func AllInstitutions() ObjectionScope { return ObjectionScope{all: true} }

// OneInstitution is the scope of an objection to the registrations of one
// institution (the covenant's ID).
func OneInstitution(id string) ObjectionScope { return ObjectionScope{institution: id} }

// String returns "all", "institution:ID", or "none" for the zero value.
func (s ObjectionScope) String() string {
	switch {
	case s.all:
		return "all"
	case s.institution != "":
		return "institution:" + s.institution
	}
	return "none"
}

func (s ObjectionScope) covers(r store.Registration) bool {
	return s.all || r.Institution == s.institution
}

// Objection is what [Matcher.Object] answers.
type Objection struct {
	// Removed is how many of the youth's registrations, live and
	// archived, the objection removed: 0 for a municipality that serves
	// none of them, for a youth nobody registered, for a birth date that
	// is not the youth's and for a youth with nothing in the scope (one
	// answer for all of these), and for a repeat of an objection already
	// carried out. The municipality that serves the youth learns the count
	// (and, from its audit events, the institutions), as subject access
	// shows it every registration; the HTTP API passes it on to nobody
	// (see httpapi: POST /v1/objections answers 204 whatever it is).
	Removed int
}

// Object carries out an upheld objection (verzet) to the registration of a
// youth, named by its Youth and its birth date: it removes, in one atomic
// write, every registration of the youth in scope, live and archived, with
// the idempotency records of the reports that made them (a retry of such a
// report is a new report) and the case's notes of them. Only a municipality
// may object; one that is not gets ErrForbidden, whatever the youth, before
// anything is read.
//
// Events: each removed registration is told as [Matcher.Remove] with
// RemoveObjection tells it: an audit event (removed, reason objection) to
// the municipality naming the registration's institution; a removed event
// (reason objection) to that institution naming the municipality, for an
// archived registration too; and, for a live one, a removed event to each
// other institution still live. If the coordinator's registration went, the
// coordinator is decided anew among those left, as after Remove. With scope
// all, nothing of the youth is left: no registration, no history, no case.
//
// No oracle: the objection is carried out only if the municipality serves
// the municipality of one of the youth's registrations, live or archived,
// and the birth date is the one the youth's live registrations were
// reported with (while it has one: see [ErrBirthDateMismatch]; a youth with
// archived registrations only has no value to hold it to). Any other
// municipality, a youth nobody registered and a birth date that does not
// fit all get the same answer as a youth with nothing in scope: the zero
// Objection and a nil error. Whether it may is read first from a view, as
// [Matcher.Lookup] reads (the same work whether or not the youth is
// stored), so a refusal costs no update and its time tells no more than
// its body. Records under a key no longer enabled are out of reach of the
// BSN and go by their own purge day.
//
// The log line names the municipality, the scope, the count and the
// outcome; never the youth.
func (m *Matcher) Object(ctx context.Context, actor Actor, who Youth, born identity.BirthDate, scope ObjectionScope) (_ Objection, err error) {
	a := m.audit(actor, store.AuditObjection, who, ID{})
	defer a.done(ctx, &err)
	inst, err := m.institution(actor)
	if err != nil {
		return Objection{}, err
	}
	if inst.Type != rules.TypeMunicipality {
		return Objection{}, ErrForbidden
	}
	var out Objection
	err = m.object(ctx, actor, inst, who, born, scope, a, &out)
	m.log.LogAttrs(ctx, slog.LevelInfo, "objection", slog.String("institution", actor.Institution),
		slog.String("scope", scope.String()), slog.Int("removed", out.Removed), slog.String("outcome", outcome(err)))
	return out, err
}

// object checks the request, then removes what the objection covers if
// inst may object for the youth, counting it in out.
func (m *Matcher) object(ctx context.Context, actor Actor, inst rules.Institution, who Youth, born identity.BirthDate, scope ObjectionScope, a *call, out *Objection) error {
	if err := m.checkScope(scope); err != nil {
		return err
	}
	if who.IsZero() {
		return fieldErr("youth", ErrMissingYouth)
	}
	switch {
	case m.blind && !born.IsZero():
		return fieldErr("birth_date", ErrBirthDateNotAccepted)
	case !m.blind && born.IsZero():
		// A blind deployment keeps no birth date to check one against.
		return fieldErr("birth_date", ErrMissingBirthDate)
	}
	check, err := m.birthCheck(who, born)
	if err != nil {
		return err
	}
	may, err := m.mayObject(ctx, who, inst, check)
	if err != nil || !may {
		return err
	}
	return m.updateByYouth(ctx, who, m.clock(), a.stage(func(y *youth) error {
		history := y.tx.History()
		if !birthFits(check, y.kase.BirthCheck, len(y.live) > 0) || !servesOne(inst, y.regs, history) {
			return errNoWrite // changed since the view: the same answer
		}
		var gone []store.Registration
		for _, r := range append(slices.Clone(y.regs), history...) {
			if scope.covers(r) && !slices.ContainsFunc(gone, func(g store.Registration) bool { return g.ID == r.ID }) {
				y.remove(r)
				gone = append(gone, r)
			}
		}
		if len(gone) == 0 {
			return errNoWrite
		}
		for _, r := range gone {
			y.count(figures.RemovalsObjection, r)
			y.tellRemoved(actor.Institution, r, RemoveObjection)
		}
		if scope.all {
			// Nothing of the youth is left, so neither is its case.
			y.kase = store.Case{Youth: y.kase.Youth, Age: -1}
		}
		out.Removed = len(gone)
		return nil
	}))
}

// checkScope refuses the zero scope and an institution the covenant does
// not list.
func (m *Matcher) checkScope(s ObjectionScope) error {
	switch {
	case s.all:
		return nil
	case s.institution == "":
		return fieldErr("scope", ErrObjectionScope)
	}
	if _, ok := m.cov.Institution(s.institution); !ok {
		return fieldErr("institution", ErrObjectionScope)
	}
	return nil
}

// mayObject reports whether inst may object for the youth: it serves the
// municipality of one of the youth's registrations, live or archived, and
// check fits the youth's birth-date check value. It reads as
// [Matcher.liveMatch] does (a view, the same work whether or not the
// youth is stored), and reads the history too.
func (m *Matcher) mayObject(ctx context.Context, who Youth, inst rules.Institution, check pseudonym.Set) (bool, error) {
	today := m.today(m.clock())
	may := false
	err := m.store.View(ctx, who.set.All, func(rd store.Reader) error {
		regs, history := rd.Registrations(), rd.History()
		kase, _ := rd.Case()
		live := len(liveOn(slices.Clone(regs), today)) > 0
		may = servesOne(inst, regs, history) && birthFits(check, kase.BirthCheck, live)
		return nil
	})
	return may, err
}

// servesOne reports whether inst serves the municipality of one of the
// registrations of the lists.
func servesOne(inst rules.Institution, lists ...[]store.Registration) bool {
	for _, regs := range lists {
		if slices.ContainsFunc(regs, func(r store.Registration) bool { return inst.Serves(r.Municipality) }) {
			return true
		}
	}
	return false
}
