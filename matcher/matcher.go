// Package matcher is the core of vindex: institutions report that they are
// involved with a youth, and when two or more are, each learns who else is
// and one of them is assigned as coordinator by the covenant's rules.
//
// A [Matcher] has a few verbs: [Matcher.Register], [Matcher.End],
// [Matcher.Lookup], [Matcher.CloseCase], [Matcher.Remove],
// [Matcher.RecordDeath] and [Matcher.ExpireDue]. Each acts for an [Actor],
// the authenticated institution, and each change to a youth is one atomic,
// durable write of the store: the registration, the match, the coordinator
// and the outbox events it causes are committed together or not at all.
//
// # What is kept, and what is never logged
//
// The BSN and the birth date live only on the call stack of the verb that
// receives them. The store gets the youth's pseudonyms (see crypto/pseudonym),
// the age in completed years, and the day each registration ends on its own
// (the earliest of its own end date, the covenant's maximum duration, and
// the day the youth reaches the end age: Jeugdwet art. 7.1.4.5). Log lines
// carry the verb, the institution, the registration ID and the outcome, never
// a BSN, a birth date, a pseudonym or a professional's contact. Errors never
// quote a BSN or a birth date.
//
// # Client references
//
// An institution may give its registration its own reference for the youth
// ([Registration.ClientRef]: a dossier number, opaque to vindex), so that its
// professionals know which client a notification means. The store holds it
// only sealed by [Config.ClientRefs] (see crypto/clientref), bound to the
// registration and the institution; it is returned only to that institution
// ([Result], [View], [Matcher.Events], [Matcher.ClientRef]), never to the
// others involved, never logged, and never part of a stored idempotency
// result. A reference that contains the youth's BSN or birth date is
// refused.
//
// # No oracle
//
// An institution learns about others only for a youth it is itself actively
// registered for. [Matcher.Lookup] for a youth the caller is not registered
// for returns [ErrNotInvolved], whether or not anyone else is; operations on a
// registration identifier that is not the caller's return [ErrNotFound], the
// same as for an identifier that does not exist.
//
// # Coordinator
//
// The coordinator is decided by rules.Decide when a youth first has a match,
// and is kept while its registration is live: a later report does not take
// the case away from a working coordinator, except by a rule the covenant
// gives the final say (doorzettingsmacht, e.g. Bureau Jeugdzorg for its
// child-protection clients). It is decided again when the coordinator's
// registration ends or is removed.
package matcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// Pseudonymiser computes a youth's pseudonyms under every enabled key,
// primary first. *pseudonym.Pseudonymiser is one.
type Pseudonymiser interface {
	Youth(bsn identity.BSN) (pseudonym.Set, error)
}

var _ Pseudonymiser = (*pseudonym.Pseudonymiser)(nil)

// RefSealer seals an institution's client reference for one of its
// registrations and opens it again. *clientref.Sealer is one.
type RefSealer interface {
	Seal(ref, institution string, id ID) ([]byte, error)
	Open(sealed []byte, institution string, id ID) (string, error)
}

var _ RefSealer = (*clientref.Sealer)(nil)

// Config configures a Matcher. Store, Pseudonymiser and Covenant are
// required; the rest have documented defaults.
type Config struct {
	// Store keeps the registrations, cases and outbox.
	Store store.Store
	// Pseudonymiser turns a BSN into the youth's pseudonyms.
	Pseudonymiser Pseudonymiser
	// Covenant lists the institutions and the coordinator rules and
	// limits. The matcher does not change it.
	Covenant *rules.Covenant
	// ClientRefs seals the institutions' client references. If nil, a
	// registration with a client reference is refused with
	// ErrClientRefUnsupported.
	ClientRefs RefSealer
	// Clock returns the current time. If nil, time.Now.
	Clock func() time.Time
	// Location is the time zone in which "today" is taken for dates. If
	// nil, Europe/Amsterdam (UTC if the zone database is missing).
	Location *time.Location
	// IdempotencyWindow is how long a report's idempotency key keeps
	// answering retries with the first result; ExpireDue forgets older
	// ones. If zero, 30 days.
	IdempotencyWindow time.Duration
	// Logger receives one line per verb (never an identity): register,
	// lookup and end at Debug level (the service's access log covers them),
	// the rarer close, remove, death and expiry at Info. If nil, log lines
	// are discarded.
	Logger *slog.Logger
}

// Validate reports what is missing from c.
func (c *Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("matcher: Config.Store is required"))
	}
	if c.Pseudonymiser == nil {
		errs = append(errs, errors.New("matcher: Config.Pseudonymiser is required"))
	}
	if c.Covenant == nil {
		errs = append(errs, errors.New("matcher: Config.Covenant is required"))
	}
	return errors.Join(errs...)
}

// Matcher is the matching core. It is safe for concurrent use.
type Matcher struct {
	store      store.Store
	ps         Pseudonymiser
	refs       RefSealer
	cov        *rules.Covenant
	clock      func() time.Time
	loc        *time.Location
	log        *slog.Logger
	limits     limits
	idemWindow time.Duration
}

type limits struct {
	maxYears  int
	endAge    int
	retention int // days
}

// The law's limits (Jeugdwet art. 7.1.4.5) and the default retention.
const (
	LegalMaxYears        = 2
	LegalEndAge          = 23
	DefaultRetentionDays = 5 * 365
	// DefaultIdempotencyWindow is how long idempotency keys are kept.
	DefaultIdempotencyWindow = 30 * 24 * time.Hour
)

// New returns a Matcher for c.
func New(c Config) (*Matcher, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := &Matcher{store: c.Store, ps: c.Pseudonymiser, refs: c.ClientRefs, cov: c.Covenant, clock: c.Clock, loc: c.Location, log: c.Logger}
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.loc == nil {
		loc, err := time.LoadLocation("Europe/Amsterdam")
		if err != nil {
			loc = time.UTC
		}
		m.loc = loc
	}
	m.idemWindow = c.IdempotencyWindow
	if m.idemWindow <= 0 {
		m.idemWindow = DefaultIdempotencyWindow
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	l := c.Covenant.Limits
	m.limits = limits{maxYears: l.MaxYears, endAge: l.EndAge, retention: l.RetentionDays}
	// A covenant may be stricter than the law, never looser.
	if m.limits.maxYears <= 0 || m.limits.maxYears > LegalMaxYears {
		m.limits.maxYears = LegalMaxYears
	}
	if m.limits.endAge <= 0 || m.limits.endAge > LegalEndAge {
		m.limits.endAge = LegalEndAge
	}
	if m.limits.retention <= 0 {
		m.limits.retention = DefaultRetentionDays
	}
	return m, nil
}

// Actor is the authenticated institution a verb acts for.
type Actor struct {
	// Institution is the covenant's institution ID.
	Institution string
}

// Kind says what a registration is.
type Kind = store.Kind

// Kinds of registration.
const (
	Signal      = store.KindSignal
	Involvement = store.KindInvolvement
)

// Contact is how to reach a professional.
type Contact = store.Contact

// ID identifies a registration.
type ID = store.ID

// Registration is one report by the actor's institution about one youth.
type Registration struct {
	BSN          identity.BSN
	BirthDate    identity.BirthDate
	Municipality identity.Municipality
	Kind         Kind
	// SignalCode is the covenant's signal code: required for a signal,
	// empty for an involvement registration.
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
	IdempotencyKey string
	// ClientRef, if set, is the institution's own reference for the youth
	// (its dossier or client number, opaque to vindex): stored sealed,
	// returned only to this institution and quoted in its notifications.
	// A refresh without one keeps the reference on file. It must not hold
	// the youth's BSN or birth date.
	ClientRef string
}

// Party is another institution involved with the youth, as a result names it.
type Party struct {
	Institution string
	// Name is the institution's name from the covenant.
	Name    string
	Kind    Kind
	Contact Contact
	Since   time.Time
}

// Coordinator names the coordinating institution and the rule that chose it.
type Coordinator struct {
	Institution string
	Rule        string
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

// View is what Lookup answers: the involvement view of a youth.
type View struct {
	ID            ID
	Matched       bool
	Involved      []Party
	Coordinator   Coordinator
	NoCoordinator string
	// ClientRef is the caller's own reference on its registration ("" if
	// none). Other institutions' references are never shown.
	ClientRef string
}

// Errors. Input errors are wrapped in a *FieldError that names the field.
var (
	ErrUnknownInstitution   = errors.New("matcher: unknown institution")
	ErrMissingBSN           = errors.New("matcher: BSN is required")
	ErrMissingBirthDate     = errors.New("matcher: birth date is required")
	ErrNotAYouth            = errors.New("matcher: the youth's age is outside the index's range")
	ErrMunicipality         = errors.New("matcher: municipality is not part of the covenant")
	ErrKind                 = errors.New("matcher: kind must be signal or involvement")
	ErrKindNotAllowed       = errors.New("matcher: this institution may only signal")
	ErrSignalCode           = errors.New("matcher: a signal needs a signal code; an involvement has none")
	ErrSector               = errors.New("matcher: unknown sector")
	ErrContact              = errors.New("matcher: contact needs a name and a phone number or e-mail address")
	ErrEndsOn               = errors.New("matcher: end date must not be in the past")
	ErrIdempotencyKey       = errors.New("matcher: idempotency key must be 1 to 128 printable characters")
	ErrIdempotencyReuse     = errors.New("matcher: idempotency key was used for another youth")
	ErrRemoveReason         = errors.New("matcher: unknown removal reason")
	ErrClientRef            = errors.New("matcher: client reference must be 1 to 64 characters of A-Z, a-z, 0-9 and - . _ / : #, with at least one digit")
	ErrClientRefIdentity    = errors.New("matcher: client reference must not contain the youth's BSN or birth date")
	ErrClientRefUnsupported = errors.New("matcher: client references are not configured")

	ErrNotInvolved    = errors.New("matcher: not involved")
	ErrNotFound       = errors.New("matcher: registration not found")
	ErrNotCoordinator = errors.New("matcher: only the coordinator may do this")
	ErrForbidden      = errors.New("matcher: this institution may not do this")
	ErrEndDate        = errors.New("matcher: end date is before the registration was made")
)

// FieldError is an input error about one field of a request.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() + " (" + e.Field + ")" }

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error { return &FieldError{Field: field, Err: err} }

// today returns the civil date (00:00 UTC) of t in the matcher's zone.
func (m *Matcher) today(t time.Time) time.Time {
	y, mo, d := t.In(m.loc).Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

func civil(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

func (m *Matcher) institution(actor Actor) (rules.Institution, error) {
	inst, ok := m.cov.Institution(actor.Institution)
	if !ok {
		return rules.Institution{}, ErrUnknownInstitution
	}
	return inst, nil
}

const (
	maxText           = 200
	maxIdempotencyKey = 128
)

func printable(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

func (m *Matcher) validate(inst rules.Institution, r *Registration, today time.Time) (age int, err error) {
	if r.BSN.IsZero() {
		return 0, fieldErr("bsn", ErrMissingBSN)
	}
	if r.BirthDate.IsZero() {
		return 0, fieldErr("birth_date", ErrMissingBirthDate)
	}
	age = r.BirthDate.AgeOn(today)
	if age < 0 || !today.Before(r.BirthDate.Birthday(m.limits.endAge)) {
		return 0, fieldErr("birth_date", ErrNotAYouth)
	}
	if _, err := identity.ParseMunicipality(string(r.Municipality)); err != nil {
		return 0, fieldErr("municipality", ErrMunicipality)
	}
	if len(m.cov.Municipalities) > 0 && !slices.Contains(m.cov.Municipalities, string(r.Municipality)) {
		return 0, fieldErr("municipality", ErrMunicipality)
	}
	switch r.Kind {
	case Signal:
		if r.SignalCode == "" || !printable(r.SignalCode, 32) {
			return 0, fieldErr("code", ErrSignalCode)
		}
	case Involvement:
		if r.SignalCode != "" {
			return 0, fieldErr("code", ErrSignalCode)
		}
		if !inst.MayCoordinate {
			return 0, fieldErr("kind", ErrKindNotAllowed)
		}
	default:
		return 0, fieldErr("kind", ErrKind)
	}
	switch r.Sector {
	case "", rules.SectorChildProtection, rules.SectorYouthProbation:
	default:
		return 0, fieldErr("sector", ErrSector)
	}
	c := r.Contact
	if c.Name == "" || (c.Phone == "" && c.Email == "") ||
		!printable(c.Name, maxText) || !printable(c.Phone, maxText) || !printable(c.Email, maxText) {
		return 0, fieldErr("contact", ErrContact)
	}
	if !r.EndsOn.IsZero() && civil(r.EndsOn).Before(today) {
		return 0, fieldErr("ends_on", ErrEndsOn)
	}
	if r.IdempotencyKey != "" && !printable(r.IdempotencyKey, maxIdempotencyKey) {
		return 0, fieldErr("idempotency_key", ErrIdempotencyKey)
	}
	if r.ClientRef != "" {
		switch {
		case m.refs == nil:
			return 0, fieldErr("client_ref", ErrClientRefUnsupported)
		case !clientref.Valid(r.ClientRef):
			return 0, fieldErr("client_ref", ErrClientRef)
		case quotesIdentity(r.ClientRef, r.BSN, r.BirthDate):
			return 0, fieldErr("client_ref", ErrClientRefIdentity)
		}
	}
	return age, nil
}

// quotesIdentity reports whether the digits of ref, taken together, contain
// the youth's BSN or its birth date as YYYYMMDD, DDMMYYYY or DDMMYY: a
// reference is quoted in mail, and must not carry the identity vindex keeps
// out of everything else.
func quotesIdentity(ref string, bsn identity.BSN, bd identity.BirthDate) bool {
	var buf [clientref.MaxLen]byte
	digits := buf[:0]
	for i := 0; i < len(ref); i++ {
		if c := ref[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) < 6 {
		return false
	}
	var bb [9]byte
	if bytes.Contains(digits, append(bb[:0], bsn.RevealDigits()...)) {
		return true
	}
	y, mo, d := bd.RevealDate().Date()
	two := func(dst []byte, v int) []byte { return append(dst, byte('0'+v/10%10), byte('0'+v%10)) }
	var f [3][8]byte
	for _, date := range [][]byte{
		two(two(two(two(f[0][:0], y/100), y%100), int(mo)), d), // YYYYMMDD
		two(two(two(two(f[1][:0], d), int(mo)), y/100), y%100), // DDMMYYYY
		two(two(two(f[2][:0], d), int(mo)), y%100),             // DDMMYY
	} {
		if bytes.Contains(digits, date) {
			return true
		}
	}
	return false
}

// endsOn is the day a registration made (or refreshed) on day ends by itself.
func (m *Matcher) endsOn(day time.Time, own time.Time, bd identity.BirthDate) time.Time {
	end := day.AddDate(m.limits.maxYears, 0, 0)
	if adult := bd.Birthday(m.limits.endAge); adult.Before(end) {
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
// wrapping one of the Err* sentinels; nothing is written on any error.
func (m *Matcher) Register(ctx context.Context, actor Actor, r Registration) (Result, error) {
	inst, err := m.institution(actor)
	if err != nil {
		return Result{}, err
	}
	now := m.clock()
	today := m.today(now)
	age, err := m.validate(inst, &r, today)
	if err != nil {
		return Result{}, err
	}
	set, err := m.ps.Youth(r.BSN)
	if err != nil {
		return Result{}, fmt.Errorf("matcher: pseudonym: %w", err)
	}
	endsOn := m.endsOn(today, r.EndsOn, r.BirthDate)

	var res Result
	err = m.store.Update(ctx, set.All, func(tx store.Tx) error {
		res = Result{}
		if r.IdempotencyKey != "" {
			if rec, ok := tx.Idempotency(actor.Institution, r.IdempotencyKey); ok {
				if !slices.Contains(set.All, rec.Youth) {
					return fieldErr("idempotency_key", ErrIdempotencyReuse)
				}
				if err := json.Unmarshal(rec.Result, &res); err != nil {
					return fmt.Errorf("matcher: stored result: %w", err)
				}
				res.Replayed = true
				for _, reg := range tx.Registrations() {
					if reg.ID == rec.Registration {
						res.ClientRef = m.openRef(ctx, actor.Institution, reg)
					}
				}
				return nil
			}
		}
		y := m.begin(tx, set.Primary, now, today)

		own := y.liveOf(actor.Institution)
		var reg store.Registration
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
				Youth:       set.Primary,
				Institution: actor.Institution,
				Kind:        r.Kind,
				SignalCode:  r.SignalCode,
				Urgent:      r.Urgent,
				Sector:      string(r.Sector),
				CreatedAt:   now,
			}
		}
		reg.Municipality = string(r.Municipality)
		reg.Contact = r.Contact
		reg.UpdatedAt = now
		reg.EndsOn = endsOn
		// A new reference replaces the one on file; a refresh without one
		// keeps it, sealed anew (under the primary key, if it was rotated).
		res.ClientRef = r.ClientRef
		if res.ClientRef == "" && reg.ClientRef != nil {
			res.ClientRef = m.openRef(ctx, actor.Institution, reg)
		}
		if res.ClientRef != "" {
			sealed, err := m.refs.Seal(res.ClientRef, actor.Institution, reg.ID)
			if err != nil {
				return fmt.Errorf("matcher: %w", err)
			}
			reg.ClientRef = sealed
		}
		y.put(reg)

		y.kase.Age = age
		y.kase.Municipality = string(r.Municipality)
		after := y.distinctLive()
		switch {
		case own != nil:
			// A refresh makes no new match.
		case after >= 2:
			y.announceMatch(reg)
		default:
			y.emit(store.Event{Type: store.EventNoMatch, Recipient: actor.Institution, Registration: reg.ID, Urgent: reg.Urgent})
		}
		y.finish()

		res.ID = reg.ID
		res.Matched = y.kase.Matched
		res.Involved = m.parties(y.live, actor.Institution)
		res.Coordinator = Coordinator{Institution: y.kase.Coordinator, Rule: y.kase.Rule}
		res.NoCoordinator = y.noCoordinator
		if r.IdempotencyKey != "" {
			b, err := json.Marshal(res)
			if err != nil {
				return fmt.Errorf("matcher: %w", err)
			}
			tx.PutIdempotency(actor.Institution, r.IdempotencyKey, store.Idempotency{
				Registration: reg.ID, Youth: set.Primary, CreatedAt: now, Result: b,
			})
		}
		return nil
	})
	if err != nil {
		m.debug(ctx, "register", slog.String("institution", actor.Institution), slog.String("outcome", outcome(err)))
		return Result{}, err
	}
	m.debug(ctx, "register",
		slog.String("institution", actor.Institution), slog.String("registration", res.ID.String()),
		slog.Bool("matched", res.Matched), slog.Bool("refreshed", res.Refreshed), slog.Bool("replayed", res.Replayed))
	return res, nil
}

// openRef opens the client reference sealed on reg for institution; "" if
// there is none, or if it does not open (a key removed from the reference
// keyset), which is logged with the registration's ID only.
func (m *Matcher) openRef(ctx context.Context, institution string, reg store.Registration) string {
	if reg.ClientRef == nil || m.refs == nil {
		return ""
	}
	ref, err := m.refs.Open(reg.ClientRef, institution, reg.ID)
	if err != nil {
		m.log.WarnContext(ctx, "client reference does not open", slog.String("registration", reg.ID.String()), slog.String("error", err.Error()))
		return ""
	}
	return ref
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var fe *FieldError
	switch {
	case errors.As(err, &fe):
		return "invalid " + fe.Field
	case errors.Is(err, ErrNotInvolved), errors.Is(err, ErrNotFound):
		return "not involved"
	case errors.Is(err, ErrNotCoordinator), errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "error"
}

// debug logs one line at debug level.
func (m *Matcher) debug(ctx context.Context, msg string, attrs ...slog.Attr) {
	m.log.LogAttrs(ctx, slog.LevelDebug, msg, attrs...)
}

// parties returns the live registrations of institutions other than self.
func (m *Matcher) parties(live []store.Registration, self string) []Party {
	var out []Party
	for _, r := range live {
		if r.Institution == self {
			continue
		}
		out = append(out, Party{Institution: r.Institution, Name: m.cov.InstitutionName(r.Institution), Kind: r.Kind, Contact: r.Contact, Since: r.CreatedAt})
	}
	return out
}

// Lookup answers the involvement view of a youth for an institution that is
// actively registered for it, and ErrNotInvolved for anyone else, whether or
// not the youth is known.
func (m *Matcher) Lookup(ctx context.Context, actor Actor, bsn identity.BSN) (View, error) {
	if _, err := m.institution(actor); err != nil {
		return View{}, err
	}
	if bsn.IsZero() {
		return View{}, fieldErr("bsn", ErrMissingBSN)
	}
	set, err := m.ps.Youth(bsn)
	if err != nil {
		return View{}, fmt.Errorf("matcher: pseudonym: %w", err)
	}
	today := m.today(m.clock())
	var v View
	err = m.store.View(ctx, set.All, func(rd store.Reader) error {
		live := liveOn(rd.Registrations(), today)
		own := -1
		for i, r := range live {
			if r.Institution == actor.Institution {
				own = i
			}
		}
		if own < 0 {
			return ErrNotInvolved
		}
		kase, _ := rd.Case()
		v = View{
			ID:          live[own].ID,
			Matched:     distinct(live) >= 2,
			Involved:    m.parties(live, actor.Institution),
			Coordinator: Coordinator{Institution: kase.Coordinator, Rule: kase.Rule},
			ClientRef:   m.openRef(ctx, actor.Institution, live[own]),
		}
		if v.Coordinator.Institution != "" && !slices.ContainsFunc(live, func(r store.Registration) bool { return r.Institution == v.Coordinator.Institution }) {
			// The coordinator's registration has reached its end day and
			// the expiry run has not handled it yet.
			v.Coordinator = Coordinator{}
		}
		return nil
	})
	if m.log.Enabled(ctx, slog.LevelDebug) {
		m.debug(ctx, "lookup", slog.String("institution", actor.Institution), slog.String("outcome", outcome(err)))
	}
	return v, err
}

// liveOn filters regs in place (the caller owns the slice) to the
// registrations live on today.
func liveOn(regs []store.Registration, today time.Time) []store.Registration {
	out := regs[:0]
	for _, r := range regs {
		if r.IsLive() && (r.EndsOn.IsZero() || today.Before(r.EndsOn)) {
			out = append(out, r)
		}
	}
	return out
}

func distinct(live []store.Registration) int {
	var seen []string
	for _, r := range live {
		if !slices.Contains(seen, r.Institution) {
			seen = append(seen, r.Institution)
		}
	}
	return len(seen)
}

// End ends the actor's own registration id. If on is a later day, the
// registration ends on that day instead (it becomes its end day); if on is
// zero or today or earlier, it ends now. Ending an ended registration is not
// an error. A registration that is not the actor's gives ErrNotFound.
func (m *Matcher) End(ctx context.Context, actor Actor, id ID, on time.Time) error {
	if _, err := m.institution(actor); err != nil {
		return err
	}
	now := m.clock()
	today := m.today(now)
	err := m.store.UpdateByID(ctx, id, func(tx store.Tx) error {
		y := m.beginByID(tx, now, today)
		reg := y.byID(id)
		if reg == nil || reg.Institution != actor.Institution {
			return ErrNotFound
		}
		if !reg.IsLive() {
			return nil
		}
		if !on.IsZero() {
			if civil(on).Before(civil(reg.CreatedAt)) {
				return fieldErr("on", ErrEndDate)
			}
			if today.Before(civil(on)) {
				r := *reg
				if civil(on).Before(r.EndsOn) {
					r.EndsOn = civil(on)
				}
				y.put(r)
				y.finish()
				return nil
			}
		}
		y.end(*reg, store.EndedByInstitution)
		y.finish()
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		err = ErrNotFound
	}
	m.debug(ctx, "end", slog.String("institution", actor.Institution), slog.String("registration", id.String()), slog.String("outcome", outcome(err)))
	return err
}

// CloseCase ends every registration of the youth's case. Only the case's
// coordinator may close it; an institution not involved gets ErrNotInvolved.
func (m *Matcher) CloseCase(ctx context.Context, actor Actor, bsn identity.BSN) error {
	if _, err := m.institution(actor); err != nil {
		return err
	}
	if bsn.IsZero() {
		return fieldErr("bsn", ErrMissingBSN)
	}
	set, err := m.ps.Youth(bsn)
	if err != nil {
		return fmt.Errorf("matcher: pseudonym: %w", err)
	}
	now := m.clock()
	err = m.store.Update(ctx, set.All, func(tx store.Tx) error {
		y := m.begin(tx, set.Primary, now, m.today(now))
		if y.liveOf(actor.Institution) == nil {
			return ErrNotInvolved
		}
		if y.kase.Coordinator != actor.Institution {
			return ErrNotCoordinator
		}
		for _, r := range slices.Clone(y.live) {
			y.end(r, store.EndedByClose)
		}
		y.kase.Matched, y.kase.Coordinator, y.kase.Rule, y.kase.DecidedAt = false, "", "", now
		y.finish()
		return nil
	})
	m.log.LogAttrs(ctx, slog.LevelInfo, "close-case", slog.String("institution", actor.Institution), slog.String("outcome", outcome(err)))
	return err
}

// RemoveReason says why a registration is removed.
type RemoveReason int

const (
	// RemoveWrong: the coordinator removes a registration that is clearly
	// wrong.
	RemoveWrong RemoveReason = 1
	// RemoveObjection: the municipality removes a registration after an
	// upheld objection (bezwaar).
	RemoveObjection RemoveReason = 2
)

// String names the reason.
func (r RemoveReason) String() string {
	switch r {
	case RemoveWrong:
		return "wrong"
	case RemoveObjection:
		return "objection"
	}
	return "unknown"
}

// Remove deletes a registration outright (a hard delete) and leaves an audit
// event in the outbox for the remover and for the registration's
// institution. The coordinator of the youth's case may remove a wrong
// registration; a municipality (an institution of type gemeente serving the
// registration's municipality) may remove one after an upheld objection.
func (m *Matcher) Remove(ctx context.Context, actor Actor, id ID, reason RemoveReason) error {
	inst, err := m.institution(actor)
	if err != nil {
		return err
	}
	if reason != RemoveWrong && reason != RemoveObjection {
		return fieldErr("reason", ErrRemoveReason)
	}
	now := m.clock()
	today := m.today(now)
	err = m.store.UpdateByID(ctx, id, func(tx store.Tx) error {
		y := m.beginByID(tx, now, today)
		reg := y.byID(id)
		if reg == nil {
			return ErrNotFound
		}
		switch reason {
		case RemoveWrong:
			if y.liveOf(actor.Institution) == nil {
				return ErrNotFound
			}
			if y.kase.Coordinator != actor.Institution {
				return ErrNotCoordinator
			}
		case RemoveObjection:
			if inst.Type != rules.TypeMunicipality ||
				(len(inst.Municipalities) > 0 && !slices.Contains(inst.Municipalities, reg.Municipality)) {
				return ErrForbidden
			}
		}
		removed := *reg
		y.remove(removed)
		y.emit(store.Event{Type: store.EventRemoved, Recipient: actor.Institution, Subject: removed.Institution, Reason: reason.String()})
		if removed.Institution != actor.Institution {
			y.emit(store.Event{Type: store.EventRemoved, Recipient: removed.Institution, Registration: removed.ID, Subject: actor.Institution, Reason: reason.String()})
		}
		for _, r := range y.live {
			if r.Institution != actor.Institution && r.Institution != removed.Institution {
				y.emit(store.Event{Type: store.EventRemoved, Recipient: r.Institution, Registration: r.ID, Subject: removed.Institution, Reason: reason.String()})
			}
		}
		y.finish()
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		err = ErrNotFound
	}
	m.log.LogAttrs(ctx, slog.LevelInfo, "remove", slog.String("institution", actor.Institution), slog.String("reason", reason.String()), slog.String("outcome", outcome(err)))
	return err
}

// RecordDeath ends every registration of a youth who has died (Jeugdwet art.
// 7.1.4.5: as soon as possible after the death). Only a municipality may
// record it. A youth nobody is registered for is not an error.
func (m *Matcher) RecordDeath(ctx context.Context, actor Actor, bsn identity.BSN) error {
	inst, err := m.institution(actor)
	if err != nil {
		return err
	}
	if inst.Type != rules.TypeMunicipality {
		return ErrForbidden
	}
	if bsn.IsZero() {
		return fieldErr("bsn", ErrMissingBSN)
	}
	set, err := m.ps.Youth(bsn)
	if err != nil {
		return fmt.Errorf("matcher: pseudonym: %w", err)
	}
	now := m.clock()
	err = m.store.Update(ctx, set.All, func(tx store.Tx) error {
		y := m.begin(tx, set.Primary, now, m.today(now))
		for _, r := range slices.Clone(y.live) {
			y.end(r, store.EndedByDeath)
		}
		y.kase.Matched, y.kase.Coordinator, y.kase.Rule = false, "", ""
		y.finish()
		return nil
	})
	m.log.LogAttrs(ctx, slog.LevelInfo, "death", slog.String("institution", actor.Institution), slog.String("outcome", outcome(err)))
	return err
}

// ExpireStats counts what ExpireDue did.
type ExpireStats struct {
	Ended  int
	Purged int
	// Idempotency counts the idempotency records forgotten.
	Idempotency int
}

// ExpireDue ends every live registration whose end day has come (its own end
// date, the maximum duration, or the youth's end age) and purges every ended
// registration whose retention period is over, and forgets idempotency keys
// older than the idempotency window. Run it at least daily; it is
// safe to run concurrently with everything else and to run again after an
// interruption.
func (m *Matcher) ExpireDue(ctx context.Context) (ExpireStats, error) {
	var st ExpireStats
	const batch = 256
	for {
		now := m.clock()
		today := m.today(now)
		due, err := m.store.Due(ctx, today, batch)
		if err != nil {
			return st, err
		}
		progress := 0
		for _, d := range due {
			err := m.store.UpdateByID(ctx, d.ID, func(tx store.Tx) error {
				y := m.beginByID(tx, now, today)
				// begin has already ended what is due today.
				st.Ended += len(y.endedNow)
				progress += len(y.endedNow)
				if reg := y.byID(d.ID); reg != nil && !reg.IsLive() && !y.endedNow[reg.ID] &&
					!reg.PurgeOn.IsZero() && !today.Before(reg.PurgeOn) {
					y.purge(*reg)
					st.Purged++
					progress++
				}
				y.finish()
				return nil
			})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return st, err
			}
		}
		if len(due) < batch || progress == 0 {
			break
		}
	}
	before := m.clock().Add(-m.idemWindow)
	for {
		n, err := m.store.PurgeIdempotency(ctx, before, 1024)
		st.Idempotency += n
		if err != nil {
			return st, err
		}
		if n < 1024 {
			m.log.LogAttrs(ctx, slog.LevelInfo, "expire", slog.Int("ended", st.Ended), slog.Int("purged", st.Purged), slog.Int("idempotency", st.Idempotency))
			return st, nil
		}
	}
}

// Event is an outbox event as its recipient institution reads it.
type Event struct {
	store.Event
	// ClientRef is the recipient's own reference on the registration the
	// event is about ("" if none, or if that registration was removed).
	ClientRef string
}

// MaxEvents is the most events one call of Matcher.Events returns.
const MaxEvents = 1000

// Events returns up to limit of the actor's own outbox events with a
// sequence number greater than after, in sequence order: a client system
// polls with the last sequence number it has handled. A limit outside 1 to
// MaxEvents is taken as MaxEvents. An institution only ever reads events
// addressed to itself.
func (m *Matcher) Events(ctx context.Context, actor Actor, after uint64, limit int) ([]Event, error) {
	if _, err := m.institution(actor); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxEvents {
		limit = MaxEvents
	}
	evs, err := m.store.Events(ctx, actor.Institution, after, limit)
	if err != nil {
		return nil, fmt.Errorf("matcher: events: %w", err)
	}
	out := make([]Event, len(evs))
	refs := map[ID]string{}
	for i, e := range evs {
		out[i].Event = e
		if m.refs == nil {
			continue
		}
		ref, ok := refs[e.Registration]
		if !ok {
			ref, err = m.ClientRef(ctx, actor, e.Registration)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			refs[e.Registration] = ref
		}
		out[i].ClientRef = ref
	}
	return out, nil
}

// ClientRef returns the actor's own reference on its registration id ("" if
// it has none). A registration of another institution, or one that does not
// exist, is ErrNotFound.
func (m *Matcher) ClientRef(ctx context.Context, actor Actor, id ID) (string, error) {
	reg, err := m.store.Registration(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && reg.Institution != actor.Institution:
		return "", ErrNotFound
	case err != nil:
		return "", fmt.Errorf("matcher: %w", err)
	}
	return m.openRef(ctx, actor.Institution, reg), nil
}
