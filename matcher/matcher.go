// Package matcher is the core of vindex: institutions report that they are
// involved with a youth, and when two or more are, each learns who else is
// and one of them is assigned as coordinator by the covenant's rules.
//
// A [Matcher] has a few verbs: [Matcher.Register], [Matcher.End],
// [Matcher.Lookup], [Matcher.CloseCase], [Matcher.Remove], [Matcher.Object],
// [Matcher.RecordDeath], [Matcher.SubjectAccess], [Matcher.RecordInformed],
// [Matcher.Letter], [Matcher.Events], [Matcher.ExpireDue] and
// [Matcher.Figures] (management figures, counted in the same writes). Each acts
// for an [Actor], the authenticated institution, and each change to a youth
// is one atomic, durable write of the store: the registration, the match,
// the coordinator and the outbox events it causes are committed together or
// not at all. [Config.Observer] learns what each change committed.
//
// # Identifying a youth
//
// The verbs never take an identity. They take a [Youth]: a reference that
// holds the youth's pseudonyms, made before the verb by the
// subject-identification seam. Today that is [Matcher.YouthByBSN], which
// pseudonymises a clear BSN server-side with [Config.Pseudonymiser]
// (HMAC-SHA256 under every enabled key: crypto/pseudonym). A deployment in
// which the index never receives a BSN (the client blinds it and a key
// holder evaluates it) adds a second constructor that makes a Youth from the
// element it receives instead; the verbs do not change.
//
// The birth date is not part of a Youth: it is a fact a report states, like
// the municipality, used for the youth's age and the day a registration ends
// by itself, so it stays in [Registration]. A report that cannot state it
// (the blind mode) states what the matcher derives from it instead: its
// month, and the check value.
//
// # What is kept, and what is never logged
//
// The clear BSN lives only in the Youth that YouthByBSN made of it, which
// never prints it, and is used there only to refuse a field that quotes it
// and to key the birth-date check value. The birth date lives only in the
// Registration that states it, and reaches the store only as its month: the
// store gets the youth's pseudonyms (see crypto/pseudonym), the age in years
// counted by month (a birthday counts from the first day of its month), the
// day each registration ends on its own (the earliest of its own end date,
// the covenant's maximum duration, and the first day of the month in which
// the youth reaches the end age: Jeugdwet art. 7.1.4.5), and a keyed hash of
// the BSN and the birth date, against which each later report's birth date
// is checked while the youth has a live registration (a mistyped BSN must
// not match another child: [ErrBirthDateMismatch]). Each registration keeps
// the youth's age band at its report (under 12, 12 to 15, 16 and over),
// which says whom its institution informs (see [Inform]). A signal's code is one
// of the covenant's list (rules.Covenant.SignalCode), never free text. A
// report's idempotency key is kept only as a keyed hash of the institution
// and the key, made by [Config.Pseudonymiser] in a domain of its own
// ("idempotency"), never the key itself. A parent's BSN and a home
// address live only in the Registration that states them (the types never
// print them) and reach the store only as pseudonyms (domains parent-bsn
// and home-address). Log lines carry the
// verb, the institution, the registration ID and the outcome, never a BSN, a
// birth date, a pseudonym or a professional's contact. Errors never quote a
// BSN or a birth date.
//
// # Client references
//
// An institution may give its registration its own reference for the youth
// ([Registration.ClientRef]: a dossier number, opaque to vindex), so that its
// professionals know which client a notification means. The store holds it
// only sealed by [Config.ClientRefs] (see crypto/clientref), bound to the
// registration and the institution; it is returned only to that institution
// ([Result], [View], [Event]), never to the others involved, never logged,
// and never part of a stored idempotency result. A reference that contains
// the youth's BSN or birth date is refused.
//
// # No oracle
//
// An institution learns about others only for a youth it is itself actively
// registered for, and then only which institutions they are, how to reach
// their professionals and since when: never their registration IDs or
// references. [Matcher.Lookup] for a youth the caller is not registered for
// returns [ErrNotInvolved], whether or not anyone else is; operations on a
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
//
// # Limits
//
// A registration lasts at most two years after its institution's last
// report of the youth (a refresh is a new report: its two years count from
// it, and the registration keeps the day of the first report as its
// since-date) and ends at the latest on the first day of the month in which
// the youth turns 23, so never after its 23rd birthday
// (Jeugdwet art. 7.1.4.5), and a youth is accepted only until then; a
// covenant may set shorter limits, never longer.
// An ended registration is kept in the archive for the covenant's retention
// period (five years if it sets none), then purged by [Matcher.ExpireDue].
//
// # Family matches
//
// A report may give the youth's parents ([Registration.Parents]) and, if
// the covenant enables it, the home address ([Registration.Address]).
// They are kept only as pseudonyms in domains of their own (never
// joinable with a youth's pseudonym of the same BSN), as relations of the
// registration that end with it. Children who share a relation and are
// registered by different institutions make a family match: those
// institutions get family-match events naming each other, never the other
// child; two different coordinators in one family get a
// family-coordination event each, once. Nothing about a family reaches an
// institution not registered for one of its children, and no answer
// ([Result], [View]) says anything about families. A report reads at most
// [FamilyLimit] registrations of a family. See family.go for the details.
//
// # No youth as an amplifier
//
// No verb's cost grows with a youth's ended registrations: the store keeps
// them apart from the live state, and only the verbs that must see an
// ended one read it, by its ID. A report within the refresh window
// (Config.RefreshWindow) after the institution ended its own registration
// revives that registration, so reporting and ending one youth over and
// over leaves no history; and each institution is told at most
// Config.EventsPerHour events about one youth in an hour, the rest in one
// summary event when the hour is over ([Matcher.SendHeld]).
package matcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// RefSealer seals an institution's client reference for one of its
// registrations (an ID, as its bytes) and opens it again.
// *clientref.Sealer is one.
type RefSealer interface {
	Seal(ref, institution string, id clientref.RegistrationID) ([]byte, error)
	Open(sealed []byte, institution string, id clientref.RegistrationID) (string, error)
}

var _ RefSealer = (*clientref.Sealer)(nil)

// Config configures a Matcher. Store, Pseudonymiser and Covenant are
// required; the rest have documented defaults.
type Config struct {
	// Store keeps the registrations, cases and outbox.
	Store store.Store
	// Pseudonymiser keys the youth references YouthByBSN makes.
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
	// nil, identity.DefaultLocation(): Europe/Amsterdam (UTC if the zone
	// database is missing).
	Location *time.Location
	// IdempotencyWindow is how long a report's idempotency key keeps
	// answering retries with the first result; ExpireDue forgets older
	// ones. If zero, 30 days.
	IdempotencyWindow time.Duration
	// RefreshWindow is how long after an institution ended its own
	// registration of a youth a new report of it revives that
	// registration (a refresh: the same ID and since-date, no new match,
	// no new history) instead of making a new one. If zero,
	// DefaultRefreshWindow (24 hours); negative: never.
	RefreshWindow time.Duration
	// EventsPerHour bounds the events about one youth that go to one
	// institution in an hour: the events beyond it are held back, and
	// when the hour is over the institution gets one summary event with
	// the youth's state at that moment (SendHeld sends it). An event that
	// tells an institution its own registration ended or was removed is
	// never held. If zero, DefaultEventsPerHour (10); negative: no bound.
	EventsPerHour int
	// Observer learns what each verb committed, for metrics. If nil,
	// nothing is told.
	Observer Observer
	// Blind makes a blind deployment: youths are named by their
	// blind-mode elements only (YouthByElement; YouthByBSN refuses with
	// ErrBSNNotAccepted) and reports give the birth month (BornIn), never
	// the birth date (ErrBirthDateNotAccepted). Without it, the default,
	// youths are named by BSN and YouthByElement refuses
	// (ErrYouthNotAccepted). A deployment's mode is fixed when its keys
	// are made: one mode's pseudonyms never match the other's.
	Blind bool
	// ExcludedAddressElements are, in a blind deployment whose covenant
	// enables address matching and excludes addresses, the elements of
	// those addresses (ReadExcludedElements); New refuses such a
	// deployment without them (ErrExcludedElements).
	ExcludedAddressElements *ExcludedElements
	// Layer is a blind deployment's generation of the key holders' keys
	// and, while one of them replaces its key, the rotation (see Layer).
	// The zero Layer: generation 0, no rotation.
	Layer Layer
	// Logger receives one line per verb (never an identity): register,
	// lookup and end at Debug level (the service's access log covers them),
	// the rarer close, remove, death, subject access and expiry at Info.
	// If nil, log lines are discarded.
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
	obs        Observer
	limits     limits
	idemWindow time.Duration

	refreshWindow time.Duration
	eventsPerHour int
	blind         bool
	layer         Layer
	previous      oprf.Ratio // the inverse of layer.Ratio while rotating
	elements      ElementSealer
	// releases publishes the management figures (nil: the store keeps
	// none).
	releases *figures.Releases
	// excluded are the pseudonyms of the covenant's excluded addresses,
	// under every enabled key (see family.go).
	excluded map[pseudonym.Pseudonym]bool
}

type limits struct {
	maxYears  int
	endAge    int
	retention int // days
}

// The law's limits (Jeugdwet art. 7.1.4.5) and the defaults.
const (
	legalMaxYears            = 2
	legalEndAge              = 23
	defaultRetentionDays     = 5 * 365
	defaultIdempotencyWindow = 30 * 24 * time.Hour
)

// New returns a Matcher for c.
func New(c Config) (*Matcher, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := &Matcher{store: c.Store, ps: c.Pseudonymiser, refs: c.ClientRefs, cov: c.Covenant, clock: c.Clock, loc: c.Location, log: c.Logger,
		blind: c.Blind, layer: c.Layer}
	if c.Blind {
		es, ok := c.ClientRefs.(ElementSealer)
		if !ok {
			return nil, ErrNoElementSealer
		}
		m.elements = es
		if err := c.Layer.validate(); err != nil {
			return nil, err
		}
		if c.Layer.Rotating {
			inv, err := c.Layer.Ratio.Inverse()
			if err != nil {
				return nil, fmt.Errorf("matcher: Config.Layer: %w", err)
			}
			m.previous = inv
		}
	}
	var err error
	if c.Blind {
		m.excluded, err = m.excludedElements(c.ExcludedAddressElements, len(c.Covenant.Family.ExcludedAddresses))
	} else {
		m.excluded, err = excludedAddresses(c.Pseudonymiser, c.Covenant.Family)
	}
	if err != nil {
		return nil, err
	}
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.loc == nil {
		m.loc = identity.DefaultLocation()
	}
	m.idemWindow = c.IdempotencyWindow
	if m.idemWindow <= 0 {
		m.idemWindow = defaultIdempotencyWindow
	}
	m.refreshWindow, m.eventsPerHour = c.RefreshWindow, c.EventsPerHour
	if m.refreshWindow == 0 {
		m.refreshWindow = DefaultRefreshWindow
	}
	if m.eventsPerHour == 0 {
		m.eventsPerHour = DefaultEventsPerHour
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if fr, ok := c.Store.(store.FigureReader); ok {
		m.releases = NewReleases(fr, c.Covenant, m.clock, m.loc)
	}
	m.obs = c.Observer
	if m.obs == nil {
		m.obs = nopObserver{}
	}
	l := c.Covenant.Limits
	m.limits = limits{maxYears: l.MaxYears, endAge: l.EndAge, retention: l.RetentionDays}
	// A covenant may be stricter than the law, never looser.
	if m.limits.maxYears <= 0 || m.limits.maxYears > legalMaxYears {
		m.limits.maxYears = legalMaxYears
	}
	if m.limits.endAge <= 0 || m.limits.endAge > legalEndAge {
		m.limits.endAge = legalEndAge
	}
	if m.limits.retention <= 0 {
		m.limits.retention = defaultRetentionDays
	}
	return m, nil
}

// Actor is the authenticated institution a verb acts for.
type Actor struct {
	// Institution is the covenant's institution ID.
	Institution string
	// Credential names what the caller authenticated with, for the audit
	// log: a bearer token's ID or a client certificate's pin (never a
	// secret); "" if the caller needs none (an operator's command).
	Credential string
}

// Operator is the index's operator, at the machine (vindex audit extract;
// the key changes vindex serve records): the audit log names it
// "operator", with no credential.
var Operator = Actor{Institution: "operator"}

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

// ParseID parses a registration identifier as [ID.String] writes it.
func ParseID(s string) (ID, error) { return store.ParseID(s) }

// Party is another institution involved with the youth, as a result or an
// event names it to the recipient: never its registration ID or its client
// reference.
type Party struct {
	Institution string
	// Name is the institution's name from the covenant.
	Name    string
	Kind    Kind
	Contact Contact
	// Since is when the institution registered.
	Since time.Time
}

// Coordinator names the coordinating institution and the rule that chose it.
type Coordinator struct {
	Institution string
	Rule        string
}

// Input errors: each comes wrapped in a *FieldError that names the field.
var (
	ErrMissingYouth     = errors.New("matcher: youth is required")
	ErrMissingBSN       = errors.New("matcher: BSN is required")
	ErrMissingBirthDate = errors.New("matcher: birth date is required")
	ErrBornIn           = errors.New("matcher: born_in is the first day of a month, given in place of the birth date, not with it")
	// ErrBSNNotAccepted: a blind deployment never takes a BSN; name the
	// youth by its element.
	ErrBSNNotAccepted = errors.New("matcher: this index is blind: it takes the youth's element, never a BSN")
	// ErrYouthNotAccepted: an element given to a deployment that is not
	// blind.
	ErrYouthNotAccepted = errors.New("matcher: this index is not blind: it takes the BSN, not an element")
	// ErrBirthDateNotAccepted: a blind deployment takes the birth month
	// (born_in), never the birth date.
	ErrBirthDateNotAccepted = errors.New("matcher: this index is blind: it takes the birth month (born_in), never the birth date")
	ErrNotAYouth            = errors.New("matcher: the youth's age is outside the index's range")
	ErrMunicipality         = errors.New("matcher: municipality is not part of the covenant")
	ErrKind                 = errors.New("matcher: kind must be signal or involvement")
	ErrKindNotAllowed       = errors.New("matcher: this institution may only signal")
	ErrSignalCode           = errors.New("matcher: a signal needs a signal code; an involvement has none")
	ErrUnknownSignalCode    = errors.New("matcher: signal code is not one of the covenant's")
	ErrSector               = errors.New("matcher: unknown sector")
	ErrContact              = errors.New("matcher: contact needs a name and a phone number or e-mail address")
	ErrContactName          = errors.New("matcher: contact name must be a person's name: words of letters, with . - ' only as in names")
	ErrContactPhone         = errors.New("matcher: contact phone must be a Dutch phone number or an international one starting with +")
	ErrContactEmail         = errors.New("matcher: contact e-mail must be one plain address, like name@example.nl")
	ErrIdentifiesYouth      = errors.New("matcher: the field holds the youth's BSN or birth date")
	ErrEndsOn               = errors.New("matcher: end date must not be in the past")
	ErrEndDate              = errors.New("matcher: end date is before the registration was made")
	// ErrEndReason: an end reason that is not risk_gone, other or
	// unjustified.
	ErrEndReason = errors.New("matcher: unknown end reason")
	// ErrUnjustifiedLater: an end as unjustified planned for a later day
	// (an unjustified registration is destroyed now).
	ErrUnjustifiedLater     = errors.New("matcher: an unjustified registration is destroyed now, not on a later day")
	ErrIdempotencyKey       = errors.New("matcher: idempotency key must be 1 to 128 printable characters")
	ErrIdempotencyReuse     = errors.New("matcher: idempotency key was used for another youth")
	ErrBirthDateMismatch    = errors.New("matcher: the birth date differs from the one this youth is registered with; check the BSN and the birth date")
	ErrRemoveReason         = errors.New("matcher: unknown removal reason")
	ErrClientRef            = errors.New("matcher: client reference must be 1 to 64 characters of A-Z, a-z, 0-9 and - . _ / : #, with at least one digit")
	ErrClientRefIdentity    = errors.New("matcher: client reference must not contain the youth's BSN or birth date")
	ErrClientRefUnsupported = errors.New("matcher: client references are not configured")
)

// Access errors: who the actor is and what it may see or do.
var (
	ErrUnknownInstitution = errors.New("matcher: unknown institution")
	ErrNotInvolved        = errors.New("matcher: not involved")
	ErrNotFound           = errors.New("matcher: registration not found")
	ErrNotCoordinator     = errors.New("matcher: only the coordinator may do this")
	ErrForbidden          = errors.New("matcher: this institution may not do this")
)

// Storage errors: the store's own, passed on unchanged (test with
// errors.Is). Nothing of the refused call was written.
var (
	// ErrUnavailable: the store takes no writes now (its disk is nearly
	// full, or a write failed); reads go on.
	ErrUnavailable = store.ErrUnavailable
	// ErrClosed: the store has been closed (the service is shutting down).
	ErrClosed = store.ErrClosed
	// ErrNotLeader: the store is one node of a replicated store and does
	// not lead now: it takes no writes (send them to the leader).
	ErrNotLeader = store.ErrNotLeader
	// ErrFenced: the write was refused by the replicated log because
	// another node leads now; it was not acknowledged, and this node
	// stopped leading.
	ErrFenced = store.ErrFenced
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
		out = append(out, m.party(r.Institution, r.Kind, r.Contact, r.CreatedAt))
	}
	return out
}

func (m *Matcher) party(institution string, kind Kind, c Contact, since time.Time) Party {
	return Party{Institution: institution, Name: m.cov.InstitutionName(institution), Kind: kind, Contact: c, Since: since}
}

// liveOn filters regs in place (the caller owns the slice) to the
// registrations live on today.
func liveOn(regs []store.Registration, today time.Time) []store.Registration {
	out := regs[:0]
	for i := range regs { // by index, in place: a record that stays is not copied
		if r := &regs[i]; r.IsLive() && (r.EndsOn.IsZero() || today.Before(r.EndsOn)) {
			if len(out) == i {
				out = out[:i+1]
			} else {
				out = append(out, *r)
			}
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
