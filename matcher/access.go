package matcher

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// AgeBand is a youth's age band, counted by month: it says whom the
// youth's rights and the duty to inform address (see store.AgeBand).
type AgeBand = store.AgeBand

// The age bands.
const (
	AgeUnder12 = store.AgeUnder12 // the parents
	Age12To15  = store.Age12To15  // the parents and the youth
	Age16Up    = store.Age16Up    // the youth
)

// ArchiveReason says why an archived registration ended.
type ArchiveReason = store.EndReason

// Why an archived registration ended.
const (
	ArchivedRiskGone = store.EndedByInstitution // its institution: the risk is gone
	ArchivedOther    = store.EndedOther         // its institution, for another reason
	ArchivedClosed   = store.EndedByClose       // the coordinator closed the case
	ArchivedExpired  = store.EndedByExpiry      // its term ran out
	ArchivedDeath    = store.EndedByDeath       // the youth died
)

// Access is what SubjectAccess answers: every registration the index holds
// about one youth, live and archived, for the municipality that answers a
// request for access by the youth or its parents (AVG art. 15).
type Access struct {
	// Now is when the answer was made.
	Now time.Time
	// Age is the youth's age in completed years today, from the birth date
	// the request stated (never stored), and Band whom the answer is
	// addressed to by that age.
	Age  int
	Band AgeBand
	// Registrations are the youth's registrations, live and archived, in
	// the order they were made (CreatedAt, then ID).
	Registrations []AccessEntry
	// Accesses are the calls the audit log holds that named the youth
	// (see ExtractAudit): who looked the youth up, reported, closed, asked for
	// access…, when and how it ended, refusals included, in the order they
	// were answered. This call's own is not among them: its entry is
	// written once it has answered. The newest MaxAccesses at most;
	// AccessesCut reports that there are older ones.
	Accesses    []Accessed
	AccessesCut bool
}

// AccessEntry is one registration as subject access shows it: which
// institution, what kind, since when and where it stands. Never the
// professional's contact or the institution's client reference.
type AccessEntry struct {
	ID          ID
	Institution string
	// Name and Type are the institution's in the covenant; "" if the
	// covenant no longer lists it.
	Name, Type string
	Kind       Kind
	// SignalCode is a signal's covenant code, SignalLabel what the
	// covenant says it stands for ("" if it no longer lists the code).
	SignalCode, SignalLabel string
	Urgent                  bool
	// Since is when the institution first reported the youth (CreatedAt).
	Since time.Time
	// EndsOn is the day the registration ends on its own (live ones).
	EndsOn time.Time
	// Live reports whether the registration is active today. One that is
	// not is archived: it never matches again and is destroyed on PurgeOn
	// (or at the youth's 23rd birthday if that comes first).
	Live bool
	// EndedAt and EndReason say when and why an archived registration
	// ended (EndReason's String is its name in the API: "ended",
	// "ended-other", "case-closed", "expired", …); zero while live.
	// A live record whose end day has come, which the next expiry run
	// archives, reads as expired on its end day.
	EndedAt   time.Time
	EndReason ArchiveReason
	// PurgeOn is the day from which an archived registration is destroyed;
	// zero while live, and for one the expiry run has yet to archive.
	PurgeOn time.Time
	// Inform is what the institution recorded of its duty to inform the
	// parents or the youth: whom and when, or why not; zero if nothing.
	Inform Inform
	// Family is what the registration records of the youth's family
	// (see Registration.Parents): a relation's type and since when, never
	// the parent or the address, which the index keeps only as
	// pseudonyms. A live registration's only: an ended one keeps none.
	Family []FamilyRelation
}

// FamilyRelation is one family relation a registration records, as
// subject access shows it: "parent" (a parent or guardian, as in the
// population register) or "address" (the home address), and since when.
type FamilyRelation struct {
	Type  string
	Since time.Time
}

// SubjectAccess lists every registration of a youth, live and archived, for
// a municipality that answers the youth's or its parents' request for
// access: an institution of type gemeente (rules.TypeMunicipality) that
// serves the municipality of one of the youth's registrations, live or
// archived. It lists too who accessed the youth, as the audit log holds it
// (Access.Accesses). born is the birth date the request states: the answer's age
// band is taken from it, today, and, while the youth's case holds a
// birth-date check value (see [Matcher.Register]), it must agree with it.
//
// Any other institution gets ErrForbidden, whatever the youth, before
// anything is read. A municipality that serves none of the youth's
// registrations, one that asks about a youth nobody registered, and one
// whose birth date disagrees with the check value all get ErrNotInvolved,
// the answer of an uninvolved lookup: it learns nothing about who is
// registered where. Each reads the youth's records in one view, as a lookup
// does, the same way whether or not the youth is stored; the history is
// read whole, as only this verb and a death must. The log line names the
// municipality, the count and the outcome; never the youth.
func (m *Matcher) SubjectAccess(ctx context.Context, actor Actor, who Youth, born identity.BirthDate) (Access, error) {
	call := m.audit(actor, store.AuditSubjectAccess, who, ID{})
	a, err := m.subjectAccess(ctx, actor, who, born)
	if call.done(ctx, &err) {
		a = Access{}
	}
	m.log.LogAttrs(ctx, slog.LevelInfo, "subject access", slog.String("institution", actor.Institution),
		slog.Int("registrations", len(a.Registrations)), slog.String("outcome", outcome(err)))
	return a, err
}

func (m *Matcher) subjectAccess(ctx context.Context, actor Actor, who Youth, born identity.BirthDate) (Access, error) {
	inst, err := m.institution(actor)
	if err != nil {
		return Access{}, err
	}
	if inst.Type != rules.TypeMunicipality {
		return Access{}, ErrForbidden
	}
	if who.IsZero() {
		return Access{}, fieldErr("youth", ErrMissingYouth)
	}
	now := m.clock()
	today := m.today(now)
	age, err := m.accessAge(born, today)
	if err != nil {
		return Access{}, err
	}
	check, err := m.birthCheck(who, born)
	if err != nil {
		return Access{}, err
	}
	a := Access{Now: now, Age: age, Band: store.AgeBandOf(age)}
	err = m.store.View(ctx, who.set.All, func(rd store.Reader) error {
		regs := append(rd.Registrations(), rd.History()...)
		kase, _ := rd.Case()
		if !servesOne(inst, regs) || !birthFits(check, kase.BirthCheck, true) {
			return ErrNotInvolved
		}
		if m.blind {
			// No birth date: the age from the birth month the
			// registrations keep (their destroy day is the first of the
			// month of the 23rd birthday).
			a.Age = blindAge(regs, today)
			a.Band = store.AgeBandOf(a.Age)
		}
		slices.SortFunc(regs, func(x, y store.Registration) int {
			if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
				return c
			}
			return bytes.Compare(x.ID[:], y.ID[:])
		})
		a.Registrations = make([]AccessEntry, 0, len(regs))
		for _, r := range regs {
			a.Registrations = append(a.Registrations, m.accessEntry(r, today))
		}
		return nil
	})
	if err != nil {
		return Access{}, err
	}
	if a.Accesses, a.AccessesCut, err = m.accesses(ctx, who); err != nil {
		return Access{}, err
	}
	return a, nil
}

// accessEntry is r as subject access shows it on today.
func (m *Matcher) accessEntry(r store.Registration, today time.Time) AccessEntry {
	e := AccessEntry{
		ID: r.ID, Institution: r.Institution, Kind: r.Kind, SignalCode: r.SignalCode, Urgent: r.Urgent,
		Since: r.CreatedAt, EndsOn: r.EndsOn, EndedAt: r.EndedAt, PurgeOn: r.PurgeOn,
		Inform: Inform{Who: r.Inform.Who, On: r.Inform.On, Not: r.Inform.Not},
	}
	if inst, ok := m.cov.Institution(r.Institution); ok {
		e.Name, e.Type = inst.Name, inst.Type
	}
	for _, rel := range r.Relations {
		e.Family = append(e.Family, FamilyRelation{Type: rel.Type.String(), Since: rel.Since})
	}
	if sc, ok := m.cov.SignalCode(r.SignalCode); ok && r.SignalCode != "" {
		e.SignalLabel = sc.Label
	}
	switch {
	case !r.IsLive():
		e.EndReason = r.EndReason
	case !r.EndsOn.IsZero() && !today.Before(r.EndsOn):
		// Past its end day; the next expiry run archives it.
		e.EndedAt, e.EndReason = r.EndsOn, ArchivedExpired
	default:
		e.Live = true
	}
	return e
}

// accessAge is the age a subject-access request's birth date gives today;
// a blind matcher takes no birth date (the age then comes from the
// registrations: blindAge).
func (m *Matcher) accessAge(born identity.BirthDate, today time.Time) (int, error) {
	switch {
	case m.blind && !born.IsZero():
		return 0, fieldErr("birth_date", ErrBirthDateNotAccepted)
	case m.blind:
		return 0, nil
	case born.IsZero():
		return 0, fieldErr("birth_date", ErrMissingBirthDate)
	}
	age := born.AgeOn(today)
	if age < 0 {
		return 0, fieldErr("birth_date", ErrNotAYouth)
	}
	return age, nil
}

// blindAge is a youth's age today, counted by month, from the destroy day
// its registrations keep (the first day of the month in which it turns 23).
func blindAge(regs []store.Registration, today time.Time) int {
	for _, r := range regs {
		if !r.DestroyOn.IsZero() {
			return ageByMonth(r.DestroyOn.AddDate(-legalEndAge, 0, 0), today)
		}
	}
	return 0
}
