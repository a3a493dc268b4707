package matcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// The duty to inform (Jeugdwet, and the regional indexes' pages on
// rights): a professional who registers a youth tells the parents
// (youth under 12), the parents and the youth (12 to 15) or the youth (16
// and over) that it did, why and where to object, unless informing would
// endanger the youth or others. The age is the youth's at the report,
// counted by month as every age the matcher keeps; a registration keeps
// only its band (store.AgeBand), never the birth date.
//
// A report ([Registration.Inform]) or a later [Matcher.RecordInformed]
// records that the institution informed them, or why not. A record of
// whom that does not fit the band is refused ([ErrInformMismatch]). A
// record "later" makes the matcher remind the institution once, by an
// inform-due event, when the covenant's inform_within_days have passed
// without another record: the day is kept on the registration and the
// youth's wake time (store.Case.WakeAt) is set no later than it, so the
// reminder is found after a restart too (SendHeld runs the youths whose
// time has come), and it is sent in the same atomic write that marks the
// registration reminded: once, whatever fails or restarts. A registration
// that ends first is not reminded. [Matcher.Letter] gives what an
// informing letter says.

// Whom says who was (or is to be) informed of a registration.
type Whom = store.Whom

// Whom an institution informed.
const (
	InformedParents = store.WhomParents
	InformedYouth   = store.WhomYouth
	InformedBoth    = store.WhomBoth
)

// NotInformed says why an institution did not inform.
type NotInformed = store.NotInformed

// Why an institution did not inform.
const (
	NotInformedDanger      = store.NotInformedDanger
	NotInformedUnreachable = store.NotInformedUnreachable
	NotInformedLater       = store.NotInformedLater
)

// Inform is what an institution records of its duty to inform: that it
// informed Who on the day On, or why it did not (Not). Exactly one of Who
// and Not is set; the zero value records nothing.
type Inform struct {
	Who Whom
	On  time.Time
	Not NotInformed
}

// IsZero reports whether i records nothing.
func (i Inform) IsZero() bool { return i.Who == 0 && i.Not == 0 && i.On.IsZero() }

// Input errors of the duty to inform; each comes wrapped in a *FieldError.
var (
	// ErrInform: neither or both of informed and not_informed.
	ErrInform = errors.New("matcher: record either informed (who and on) or not_informed (a reason)")
	// ErrInformWho: a who that is not parents, youth or both.
	ErrInformWho = errors.New("matcher: informed.who must be parents, youth or both")
	// ErrInformDate: informed without a day, or on a day after today.
	ErrInformDate = errors.New("matcher: informed.on must be the day they were informed, not after today")
	// ErrNotInformedReason: a reason that is not danger, not_reachable or
	// later.
	ErrNotInformedReason = errors.New("matcher: not_informed.reason must be danger, not_reachable or later")
	// ErrInformMismatch: whom the institution informed does not fit the
	// youth's age at the report.
	ErrInformMismatch = errors.New("matcher: whom you informed does not fit the youth's age at the report: the parents under 12, the parents and the youth from 12 to 15, the youth from 16")
	// ErrInformRecordRequired: the covenant requires a report to record
	// whether the institution informed, and it records neither.
	ErrInformRecordRequired = errors.New("matcher: the covenant requires a report to record that the parents or the youth were informed, or why not")
)

// ParseWhom returns the Whom named "parents", "youth" or "both" (as its
// String writes it).
func ParseWhom(s string) (Whom, error) {
	for _, w := range []Whom{InformedParents, InformedYouth, InformedBoth} {
		if w.String() == s {
			return w, nil
		}
	}
	return 0, fieldErr("informed.who", ErrInformWho)
}

// ParseNotInformed returns the reason named "danger", "not_reachable" or
// "later" (as its String writes it).
func ParseNotInformed(s string) (NotInformed, error) {
	for _, n := range []NotInformed{NotInformedDanger, NotInformedUnreachable, NotInformedLater} {
		if n.String() == s {
			return n, nil
		}
	}
	return 0, fieldErr("not_informed.reason", ErrNotInformedReason)
}

// checkInform accepts nothing, or one record that fits the youth's age
// band (any whom if the band is unknown).
func checkInform(i Inform, band store.AgeBand, today time.Time) error {
	switch {
	case i.IsZero():
		return nil
	case (i.Who != 0) == (i.Not != 0):
		return fieldErr("informed", ErrInform)
	case i.Not != 0:
		if i.Not < NotInformedDanger || i.Not > NotInformedLater {
			return fieldErr("not_informed.reason", ErrNotInformedReason)
		}
		if !i.On.IsZero() {
			return fieldErr("informed", ErrInform)
		}
		return nil
	case i.Who < InformedParents || i.Who > InformedBoth:
		return fieldErr("informed.who", ErrInformWho)
	case i.On.IsZero() || today.Before(civil(i.On)):
		return fieldErr("informed.on", ErrInformDate)
	case band != store.AgeBandUnknown && band.Whom() != i.Who:
		return fieldErr("informed.who", ErrInformMismatch)
	}
	return nil
}

// informDays is the covenant's inform_within_days, or its default.
func (m *Matcher) informDays() int {
	if d := m.cov.InformWithinDays; d > 0 {
		return d
	}
	return rules.DefaultInformWithinDays
}

// informReport gives a report's registration the age band of age and r's
// inform record, if it has one; without one it keeps the record on file,
// and a covenant that requires a record refuses a registration that has
// none.
func (m *Matcher) informReport(reg *store.Registration, i Inform, age int, today time.Time) error {
	reg.AgeBand = store.AgeBandOf(age)
	if !i.IsZero() {
		m.recordInform(reg, i, today)
		return nil
	}
	if m.cov.RequireInformRecord && !reg.Inform.Recorded() {
		return fieldErr("informed", ErrInformRecordRequired)
	}
	return nil
}

// recordInform puts i on reg. A record "later" on a live registration
// never reminded sets the reminder's day, inform_within_days from today,
// unless one is pending (it keeps its day); any other record cancels a
// pending reminder.
func (m *Matcher) recordInform(reg *store.Registration, i Inform, today time.Time) {
	rec := store.Inform{Who: i.Who, Not: i.Not, Reminded: reg.Inform.Reminded}
	if i.Who != 0 {
		rec.On = civil(i.On)
	}
	if i.Not == NotInformedLater && !rec.Reminded && reg.IsLive() {
		if rec.Due = reg.Inform.Due; rec.Due.IsZero() {
			rec.Due = today.AddDate(0, 0, m.informDays())
		}
	}
	reg.Inform = rec
}

// RecordInformed records on the actor's own registration id, live or
// archived, that its institution informed the parents or the youth, or why
// it did not (see Inform). A record of whom must fit the youth's age band
// at the report (ErrInformMismatch; a registration made before bands were
// kept is held to the youth's age at its last report). A registration that
// is not the actor's gives ErrNotFound.
func (m *Matcher) RecordInformed(ctx context.Context, actor Actor, id ID, i Inform) (err error) {
	a := m.audit(actor, store.AuditInform, Youth{}, id)
	defer a.done(ctx, &err)
	if _, err := m.institution(actor); err != nil {
		return err
	}
	if i.IsZero() {
		return fieldErr("informed", ErrInform)
	}
	err = m.updateByID(ctx, id, m.clock(), a.stage(func(y *youth) error {
		reg := y.byID(id)
		if reg == nil || reg.Institution != actor.Institution {
			return ErrNotFound
		}
		band := reg.AgeBand
		if band == store.AgeBandUnknown {
			band = store.AgeBandOf(y.kase.Age)
		}
		if err := checkInform(i, band, y.today); err != nil {
			return err
		}
		r := *reg
		m.recordInform(&r, i, y.today)
		y.put(r)
		return nil
	}))
	m.debug(ctx, "inform", slog.String("institution", actor.Institution), slog.String("registration", id.String()),
		slog.String("outcome", outcome(err)))
	return err
}

// remindInform sends the inform-due event of every live registration
// whose reminder day has come, and marks it reminded, in this same write.
func (y *youth) remindInform() {
	if !y.anyLive(y.informDue) {
		return // most updates: nothing to copy
	}
	for _, r := range slices.Clone(y.live) {
		if !y.informDue(&r) {
			continue
		}
		r.Inform.Due, r.Inform.Reminded = time.Time{}, true
		y.put(r)
		y.emit(store.Event{Type: store.EventInformDue, Recipient: r.Institution, Registration: r.ID})
	}
}

// informDue reports whether r's informing reminder is due and not sent.
func (y *youth) informDue(r *store.Registration) bool {
	d := r.Inform.Due
	return !d.IsZero() && !r.Inform.Reminded && !y.today.Before(d)
}

// informWakes passes to earlier, for each live registration with a
// reminder pending, the moment its day begins in the matcher's zone.
func (y *youth) informWakes(earlier func(time.Time)) {
	for _, r := range y.live {
		if d := r.Inform.Due; !d.IsZero() && !r.Inform.Reminded {
			earlier(time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, y.m.loc))
		}
	}
}

// Letter is what an informing letter says of one registration, for its
// institution to send to the parents or the youth: who registered, that it
// did so in the reference index, why in the covenant's terms, since when
// and until when at the latest, and the municipality to object to. It
// holds nothing that identifies the youth: no BSN, birth date or
// pseudonym.
type Letter struct {
	// Whom the letter is addressed to: by the youth's age band at the
	// report.
	Whom Whom
	// Institution is the registering institution's ID, and
	// InstitutionName its name in the covenant.
	Institution, InstitutionName string
	Kind                         Kind
	// SignalCode and SignalLabel: a signal's code and what it stands for
	// in the covenant; empty for an involvement.
	SignalCode, SignalLabel string
	// Since is when the institution first reported the youth; EndsOn the
	// day the registration ends at the latest.
	Since, EndsOn time.Time
	// Municipality is the CBS code of the youth's municipality on the
	// registration, and MunicipalityName the name of the covenant's
	// municipality that serves it ("" if the covenant has none).
	Municipality, MunicipalityName string
	// Contact is the professional who registered.
	Contact Contact
	// Covenant and Region name the covenant and its region.
	Covenant, Region string
}

// Letter returns what an informing letter says of the actor's own live
// registration id. Any other registration, ended ones included, gives
// ErrNotFound.
func (m *Matcher) Letter(ctx context.Context, actor Actor, id ID) (_ Letter, err error) {
	a := m.audit(actor, store.AuditLetter, Youth{}, id)
	defer a.done(ctx, &err)
	if _, err := m.institution(actor); err != nil {
		return Letter{}, err
	}
	today := m.today(m.clock())
	reg, err := m.store.Registration(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Letter{}, ErrNotFound
	case err != nil:
		return Letter{}, fmt.Errorf("matcher: letter: %w", err)
	case reg.Institution != actor.Institution || len(liveOn([]store.Registration{reg}, today)) == 0:
		return Letter{}, ErrNotFound
	}
	band := reg.AgeBand
	if band == store.AgeBandUnknown {
		// Made before bands were kept: the youth's age at its last
		// report, which a youth with a live registration has.
		err := m.store.View(ctx, []pseudonym.Pseudonym{reg.Youth}, func(rd store.Reader) error {
			kase, _ := rd.Case()
			band = store.AgeBandOf(kase.Age)
			return nil
		})
		if err != nil {
			return Letter{}, fmt.Errorf("matcher: letter: %w", err)
		}
	}
	l := Letter{
		Whom: band.Whom(), Institution: reg.Institution, InstitutionName: m.cov.InstitutionName(reg.Institution),
		Kind: reg.Kind, SignalCode: reg.SignalCode, Since: reg.CreatedAt, EndsOn: reg.EndsOn,
		Municipality: reg.Municipality, MunicipalityName: m.municipalityName(reg.Municipality),
		Contact: reg.Contact, Covenant: m.cov.Name, Region: m.cov.Region,
	}
	if l.Whom == 0 {
		// No age at all: not for a live registration, whose youth's case
		// has the age of its last report. Both is the widest address.
		l.Whom = InformedBoth
	}
	if sc, ok := m.cov.SignalCode(reg.SignalCode); ok && reg.SignalCode != "" {
		l.SignalLabel = sc.Label
	}
	m.debug(ctx, "letter", slog.String("institution", actor.Institution), slog.String("registration", id.String()))
	return l, nil
}

// municipalityName returns the name of the covenant's municipality that
// serves code, or "".
func (m *Matcher) municipalityName(code string) string {
	for _, inst := range m.cov.Institutions {
		if inst.Type == rules.TypeMunicipality && slices.Contains(inst.Municipalities, code) {
			return inst.Name
		}
	}
	return ""
}
