package matcher

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// Registration is one report by the actor's institution about one youth.
type Registration struct {
	// Youth is the youth the report is about (see Matcher.YouthByBSN).
	Youth Youth
	// BirthDate is the youth's, for its age and the day the registration
	// ends by itself, both taken from its month (see checkBirthDate), and
	// checked against the birth date of the youth's live registrations
	// (ErrBirthDateMismatch).
	BirthDate identity.BirthDate
	// BornIn stands for BirthDate in a blind deployment, whose client
	// systems keep the birth date to themselves: the first day (00:00
	// UTC) of the month the youth was born in, which is all the index
	// computes with. Give one of the two (ErrBornIn otherwise). A report
	// with BornIn has no birth-date check value.
	BornIn       time.Time
	Municipality identity.Municipality
	Kind         Kind
	// SignalCode is one of the covenant's signal codes (see
	// rules.Covenant.SignalCode): required for a signal, empty for an
	// involvement registration.
	SignalCode string
	Urgent     bool
	// Sector is set by an institution that acts for a child-protection or
	// youth-probation client; empty otherwise.
	Sector  rules.Sector
	Contact Contact
	// EndsOn, if set, is the day the registration ends by itself. The
	// legal limits apply whatever it says.
	EndsOn time.Time
	// IdempotencyKey, if set, makes a retry of the same report return the
	// first result instead of reporting again. Scoped to the institution.
	// The store keeps only a keyed hash of it (see idempotencyKeys).
	IdempotencyKey string
	// ClientRef, if set, is the institution's own reference for the youth
	// (its dossier or client number, opaque to vindex): stored sealed,
	// returned only to this institution and quoted in its notifications.
	// A refresh without one keeps the reference on file. It must not hold
	// the youth's BSN or birth date.
	ClientRef string
	// Inform, if set, records that the institution informed the parents
	// or the youth, or why not (see Inform and RecordInformed); whom must
	// fit the youth's age today (ErrInformMismatch). A refresh without one
	// keeps the record on file; a covenant with require_inform_record
	// refuses a registration that has none (ErrInformRecordRequired).
	Inform Inform
	// Parents are the youth's parents or guardians as registered in the
	// population register (BRP): none, one or two valid BSNs, each once,
	// none the youth's own (ErrParents, ErrParentIsYouth). They are kept
	// only as pseudonyms in a domain of their own, as relations of the
	// registration (see the family matches in the package
	// documentation); a report without parents keeps those on file.
	Parents []identity.BSN
	// Address is the youth's home address, if the covenant enables
	// address matching (ErrAddressNotEnabled otherwise); kept as Parents
	// are. An address on the covenant's exclusion list makes no
	// relation. A report without one keeps the one on file.
	Address *identity.Address
	// ParentElements are, in a blind deployment, the blind counterpart of
	// Parents: the elements of the youth's parents or guardians, which the
	// client system makes from their BSNs with the key holders
	// (crypto/oprf.ParentInput), under the same keys as the youth's
	// element; none, one or two, each once (ErrParentElements). A blind
	// deployment refuses Parents (ErrFamilyBlind) and one that is not
	// blind refuses these (ErrYouthNotAccepted).
	ParentElements []oprf.Element `json:"-"`
	// AddressElement is, in a blind deployment, the blind counterpart of
	// Address (crypto/oprf.AddressInput); zero for none.
	AddressElement oprf.Element `json:"-"`
}

// Result is what Register answers.
type Result struct {
	// ID is the reporting institution's registration for this youth.
	ID ID
	// Matched reports whether another institution is actively involved.
	Matched bool
	// Involved are the other institutions actively involved, earliest first.
	Involved []Party
	// Coordinator is the assigned coordinator, zero if none.
	Coordinator Coordinator
	// NoCoordinator says why no coordinator is assigned despite a match.
	NoCoordinator string
	// Refreshed reports that the institution was already registered and
	// its registration was refreshed (no new match was made).
	Refreshed bool
	// Replayed reports that this is the stored result of an earlier report
	// with the same idempotency key.
	Replayed bool
	// ClientRef is the institution's reference on its registration ("" if
	// none). It is never part of the stored idempotency result.
	ClientRef string `json:"-"`
}

const maxIdempotencyKey = 128

// validate checks a registration in the order of its fields and returns the
// youth's age today, or a *FieldError for the first field that is wrong.
func (m *Matcher) validate(inst rules.Institution, r *Registration, today time.Time) (age int, err error) {
	if r.Youth.IsZero() {
		return 0, fieldErr("youth", ErrMissingYouth)
	}
	if age, err = m.checkBirthDate(r, today); err != nil {
		return 0, err
	}
	if err := m.checkMunicipality(r.Municipality); err != nil {
		return 0, err
	}
	if err := m.checkKind(inst, r.Kind, r.SignalCode); err != nil {
		return 0, err
	}
	switch r.Sector {
	case "", rules.SectorChildProtection, rules.SectorYouthProbation:
	default:
		return 0, fieldErr("sector", ErrSector)
	}
	if err := checkContact(r.Contact, r); err != nil {
		return 0, err
	}
	if !r.EndsOn.IsZero() && civil(r.EndsOn).Before(today) {
		return 0, fieldErr("ends_on", ErrEndsOn)
	}
	if r.IdempotencyKey != "" && !printable(r.IdempotencyKey, maxIdempotencyKey) {
		return 0, fieldErr("idempotency_key", ErrIdempotencyKey)
	}
	if identity.Quotes(r.IdempotencyKey, r.Youth.bsn, r.BirthDate) {
		return 0, fieldErr("idempotency_key", ErrIdentifiesYouth)
	}
	if err := m.checkClientRef(r); err != nil {
		return 0, err
	}
	if err := m.checkFamily(r); err != nil {
		return 0, err
	}
	return age, nil
}

// checkMunicipality accepts a valid municipality code that is in the
// covenant's region, if the covenant names one.
func (m *Matcher) checkMunicipality(mu identity.Municipality) error {
	if _, err := identity.ParseMunicipality(string(mu)); err != nil {
		return fieldErr("municipality", ErrMunicipality)
	}
	if len(m.cov.Municipalities) > 0 && !slices.Contains(m.cov.Municipalities, string(mu)) {
		return fieldErr("municipality", ErrMunicipality)
	}
	return nil
}

// checkKind accepts a signal with one of the covenant's signal codes, or an
// involvement without one by an institution that may coordinate. A code
// that is not on the covenant's list is free text and is refused, whatever
// it says; a covenant without a list refuses every signal.
func (m *Matcher) checkKind(inst rules.Institution, kind Kind, code string) error {
	switch kind {
	case Signal:
		if code == "" {
			return fieldErr("code", ErrSignalCode)
		}
		if _, ok := m.cov.SignalCode(code); !ok {
			return fieldErr("code", ErrUnknownSignalCode)
		}
	case Involvement:
		if code != "" {
			return fieldErr("code", ErrSignalCode)
		}
		if !inst.MayCoordinate {
			return fieldErr("kind", ErrKindNotAllowed)
		}
	default:
		return fieldErr("kind", ErrKind)
	}
	return nil
}

// checkContact accepts a contact with a name and a phone number or an
// e-mail address, each of its form (validName, validPhone, validEmail) and
// none quoting the youth's BSN or birth date.
func checkContact(c Contact, r *Registration) error {
	return checkContactForms(c, r, validName, validPhone, validEmail)
}

// checkContactForms is checkContact with the given checks of the forms.
func checkContactForms(c Contact, r *Registration, name, phone, email func(string) bool) error {
	if c.Name == "" || (c.Phone == "" && c.Email == "") {
		return fieldErr("contact", ErrContact)
	}
	for _, f := range []struct {
		field, value string
		valid        func(string) bool
		err          error
	}{
		{"contact.name", c.Name, name, ErrContactName},
		{"contact.phone", c.Phone, phone, ErrContactPhone},
		{"contact.email", c.Email, email, ErrContactEmail},
	} {
		if f.value == "" {
			continue
		}
		if identity.Quotes(f.value, r.Youth.bsn, r.BirthDate) {
			return fieldErr(f.field, ErrIdentifiesYouth)
		}
		if !f.valid(f.value) {
			return fieldErr(f.field, f.err)
		}
	}
	return nil
}

// checkClientRef accepts no client reference, or one the matcher can seal
// that is well-formed and quotes neither the youth's BSN nor its birth date.
func (m *Matcher) checkClientRef(r *Registration) error {
	switch {
	case r.ClientRef == "":
		return nil
	case m.refs == nil:
		return fieldErr("client_ref", ErrClientRefUnsupported)
	case !clientref.Valid(r.ClientRef):
		return fieldErr("client_ref", ErrClientRef)
	case identity.Quotes(r.ClientRef, r.Youth.bsn, r.BirthDate):
		return fieldErr("client_ref", ErrClientRefIdentity)
	}
	return nil
}

// endsOn is the day a registration made (or refreshed) on day ends by itself:
// the earliest of its own end day, the maximum duration, and the first day
// of the month in which the youth reaches the end age (endAgeDay).
func (m *Matcher) endsOn(day time.Time, own time.Time, born time.Time) time.Time {
	end := day.AddDate(m.limits.maxYears, 0, 0)
	if adult := m.endAgeDay(born); adult.Before(end) {
		end = adult
	}
	if !own.IsZero() && civil(own).Before(end) {
		end = civil(own)
	}
	return end
}

// Register records that the actor's institution is involved with a youth,
// and answers whether there is a match, who else is involved and who
// coordinates. A second report by the same institution refreshes its
// registration and makes no new match. Input errors are *FieldError values
// wrapping one of the input errors; nothing is written on any error.
// Every call leaves an entry in the audit log (verb register, or refresh).
func (m *Matcher) Register(ctx context.Context, actor Actor, r Registration) (Result, error) {
	a := m.audit(actor, store.AuditRegister, r.Youth, ID{})
	res, err := m.register(ctx, actor, r, a)
	if a.e.Registration = res.ID; a.done(ctx, &err) {
		return Result{}, err
	}
	return res, nil
}

// register is Register, staging its audit entry a with the change.
func (m *Matcher) register(ctx context.Context, actor Actor, r Registration, a *call) (Result, error) {
	inst, err := m.institution(actor)
	if err != nil {
		return Result{}, err
	}
	now := m.clock()
	age, err := m.validate(inst, &r, m.today(now))
	if err != nil {
		return Result{}, err
	}
	if err := checkInform(r.Inform, store.AgeBandOf(age), m.today(now)); err != nil {
		return Result{}, err
	}
	check, err := m.birthCheck(r.Youth, r.BirthDate)
	if err != nil {
		return Result{}, fmt.Errorf("matcher: birth-date check: %w", err)
	}
	var idem pseudonym.Set
	if r.IdempotencyKey != "" {
		if idem, err = m.idempotencyKeys(actor.Institution, r.IdempotencyKey); err != nil {
			return Result{}, err
		}
	}
	fam, err := m.family(&r)
	if err != nil {
		return Result{}, err
	}
	var res Result
	err = m.updateFamily(ctx, r.Youth, fam.keys(), now, a.stage(func(y *youth) error {
		res = Result{}
		if err := y.checkBirth(check); err != nil {
			return err
		}
		if r.IdempotencyKey != "" {
			if err := m.replay(ctx, y, actor, r, idem, &res); err != nil {
				return err
			}
		}
		var prev store.Registration
		if own := y.liveOf(actor.Institution); own != nil {
			prev = *own
		}
		reg := m.report(ctx, y, actor, r, &res)
		if err := m.informReport(&reg, r.Inform, age, y.today); err != nil {
			return err
		}
		if res.ClientRef != "" {
			sealed, err := m.refs.Seal(res.ClientRef, actor.Institution, reg.ID)
			if err != nil {
				return fmt.Errorf("matcher: %w", err)
			}
			reg.ClientRef = sealed
		}
		sealed, err := m.sealElement(r.Youth, reg.ID)
		if err != nil {
			return err
		}
		reg.Element = sealed
		added, err := m.applyFamily(fam, &reg, now)
		if err != nil {
			return err
		}
		if res.Refreshed {
			y.put(reg)
		} else {
			y.add(reg) // made by report under a new ID
		}
		y.kase.Age = age
		y.kase.Municipality = string(r.Municipality)
		switch {
		case res.Refreshed:
			// A refresh makes no new match; the others learn that a
			// registration they were told had ended is back.
			if y.revived {
				y.announceReturn(reg)
			} else if newSignal(prev, r) {
				y.announceSignal(reg)
			}
		case y.distinctLive() >= 2:
			y.announceMatch(reg)
		default:
			y.emit(store.Event{Type: store.EventNoMatch, Recipient: actor.Institution, Registration: reg.ID, Urgent: reg.Urgent})
		}
		if !res.Refreshed {
			y.countReport(reg)
		}
		y.familyMatch(reg, added)
		y.finish()

		res.ID = reg.ID
		if a.e.Registration = reg.ID; res.Refreshed {
			a.e.Verb = store.AuditRefresh
		}
		res.Matched = y.kase.Matched
		res.Involved = m.parties(y.live, actor.Institution)
		res.Coordinator = Coordinator{Institution: y.kase.Coordinator, Rule: y.kase.Rule}
		res.NoCoordinator = y.noCoordinator
		if r.IdempotencyKey == "" {
			return nil
		}
		b, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("matcher: %w", err)
		}
		y.tx.PutIdempotency(idem.Primary, store.Idempotency{
			Registration: reg.ID, Youth: y.kase.Youth, CreatedAt: now, Result: b,
		})
		return nil
	}))
	if err != nil {
		m.debug(ctx, "register", slog.String("institution", actor.Institution), slog.String("outcome", outcome(err)))
		return Result{}, err
	}
	m.obs.Registered(r.Kind, registered(res))
	m.debug(ctx, "register",
		slog.String("institution", actor.Institution), slog.String("registration", res.ID.String()),
		slog.Bool("matched", res.Matched), slog.Bool("refreshed", res.Refreshed), slog.Bool("replayed", res.Replayed))
	return res, nil
}

// replay answers a retry of an earlier report with the same idempotency key
// (kept under one of its keyed hashes idem, see idempotencyKeys) by its
// stored result, and returns errNoWrite; nil if there was none, or if the
// registration it made is no longer live (ending and removal forget the
// record; one stored before they did is ignored, and replaced by this
// report's).
func (m *Matcher) replay(ctx context.Context, y *youth, actor Actor, r Registration, idem pseudonym.Set, res *Result) error {
	var rec store.Idempotency
	ok := false
	for _, k := range idem.All {
		if rec, ok = y.tx.Idempotency(k); ok {
			break
		}
	}
	if !ok {
		return nil
	}
	// The record names the youth by the pseudonym it had then; one whose
	// records have since moved (a blind deployment's re-keying) is known
	// by the registration the record names being among its own.
	reg := y.byID(rec.Registration)
	if !slices.Contains(r.Youth.set.All, rec.Youth) && reg == nil {
		return fieldErr("idempotency_key", ErrIdempotencyReuse)
	}
	if reg == nil || !reg.IsLive() {
		return nil
	}
	if err := json.Unmarshal(rec.Result, res); err != nil {
		return fmt.Errorf("matcher: stored result: %w", err)
	}
	res.Replayed = true
	res.ClientRef = m.openRef(ctx, actor.Institution, *reg)
	return errNoWrite
}

// report returns the actor's registration for the youth as r makes it: its
// live one refreshed (res.Refreshed), the one it ended itself within the
// refresh window revived (also res.Refreshed), or a new one. res.ClientRef is the
// reference it is to carry: r's, or on a refresh without one, the one on
// file.
func (m *Matcher) report(ctx context.Context, y *youth, actor Actor, r Registration, res *Result) store.Registration {
	var reg store.Registration
	own := y.liveOf(actor.Institution)
	if own == nil {
		own = y.revivable(actor.Institution)
		y.revived = own != nil
	}
	if own != nil {
		reg = *own
		res.Refreshed = true
		if r.Kind == Involvement {
			reg.Kind = Involvement
			reg.SignalCode = ""
		} else if reg.Kind == Signal {
			reg.SignalCode = r.SignalCode
		}
		reg.Urgent = r.Urgent
		if r.Sector != "" {
			reg.Sector = string(r.Sector)
		}
	} else {
		reg = store.Registration{
			ID:          store.NewID(),
			Youth:       y.kase.Youth,
			Institution: actor.Institution,
			Kind:        r.Kind,
			SignalCode:  r.SignalCode,
			Urgent:      r.Urgent,
			Sector:      string(r.Sector),
			CreatedAt:   y.now,
		}
	}
	reg.Municipality = string(r.Municipality)
	reg.Contact = r.Contact
	reg.UpdatedAt = y.now
	reg.EndsOn = m.endsOn(y.today, r.EndsOn, r.born())
	reg.DestroyOn = destroyDay(r.born())
	// A new reference replaces the one on file; a refresh without one
	// keeps it, sealed anew (under the primary key, if it was rotated).
	res.ClientRef = r.ClientRef
	if res.ClientRef == "" && reg.ClientRef != nil {
		res.ClientRef = m.openRef(ctx, actor.Institution, reg)
	}
	return reg
}

// newSignal reports whether r, a report by an institution whose live
// registration was prev, says something the other institutions involved
// should hear of: a signal with another code than the one prev, a signal,
// has on file, or urgency where prev had none. (An involvement
// registration keeps no code, so a signal from an institution that
// already provides care is news only when it is urgent.) A refresh that
// repeats what is on file says nothing new, so a client system that
// re-sends its reports tells no one.
func newSignal(prev store.Registration, r Registration) bool {
	return prev.Kind == Signal && r.Kind == Signal && r.SignalCode != prev.SignalCode || r.Urgent && !prev.Urgent
}

// announceSignal tells every other live institution that reg's
// institution, already involved, reported the youth anew (see
// store.EventSignal): urgent if the report was. The events pass the
// per-recipient hourly bound (boundEvents) like every other, so repeated
// reports cannot flood the others.
func (y *youth) announceSignal(reg store.Registration) {
	self := []store.Party{{Registration: reg.ID, Institution: reg.Institution, Kind: reg.Kind, Contact: reg.Contact, Since: reg.CreatedAt}}
	for _, r := range y.live {
		if r.Institution != reg.Institution {
			y.emit(store.Event{Type: store.EventSignal, Recipient: r.Institution, Registration: r.ID, Urgent: reg.Urgent,
				Others: self, Subject: reg.Institution})
		}
	}
}

// registered says what became of an accepted report.
func registered(res Result) Outcome {
	switch {
	case res.Replayed:
		return OutcomeReplayed
	case res.Refreshed:
		return OutcomeRefreshed
	}
	return OutcomeNew
}
