// Package store is the storage contract of vindex: what the matcher keeps
// about a youth, and the guarantees a backend gives about keeping it.
//
// # What is stored
//
// A youth is known to the store only by its pseudonyms (see
// crypto/pseudonym): never a BSN, a birth date or a name. Per youth the store
// keeps its [Registration]s (that-information: which institution, since when,
// how to reach its professional), one [Case] (whether there is a match, who
// coordinates, the youth's age in completed years at the last report), the
// idempotency records of the reports that made them, and, in one outbox for
// all youths, the [Event]s that the matcher raised. The dates kept are the
// dates of the registrations themselves and the day each one ends on its own
// accord ([Registration.EndsOn]). The birth date is never stored: the age
// and the end day are computed from its month only, so at most the birth
// month can be learnt from them, and the case keeps a keyed check value of
// it ([Case.BirthCheck]) that says nothing without the key. For the duty
// to inform, a registration keeps the youth's age band at its report (under
// 12, 12 to 15, 16 and over: [AgeBand]), which says less than the age, and
// whether and when its institution informed the parents or the youth
// ([Inform]). A registration may carry family relations ([Relation]): the
// pseudonyms of the youth's parents and home address, in domains of their
// own, never the BSN or the address; the store keeps a family index of the
// live registrations by relation key, so that a report finds the other
// children of a family ([Tx.Family]) with a bounded read, and an ended
// registration is in no family.
//
// # Live state and history
//
// A youth's live registrations and its case are its live state: what every
// report, lookup and end reads. Its ended registrations are its history,
// kept apart and read only when asked for, one by ID ([Reader.Ended]) or
// all of them ([Reader.History]): the cost of an operation on a youth does
// not grow with the number of its registrations that have ended, however
// many an institution makes and ends.
//
// # Atomicity, durability, concurrency
//
// Every change goes through [Store.Update] (or [Store.UpdateByID]): the
// function passed in gets exclusive access to one youth's records, reads them,
// and stages writes. When it returns nil, all the staged writes (registrations,
// case, idempotency records, outbox events and every index) are committed in
// one atomic write that is durable (synced to stable storage) before Update
// returns. When it returns an error, or the commit fails, nothing is written.
// Updates of different youths run concurrently and share the cost of syncing
// (group commit); updates of the same youth are serialised.
//
// Reads ([Store.View], [Store.Registration], [Store.Events], [Store.Due]) see
// a consistent snapshot and never block writers. A read may observe a write
// whose Update has not returned yet; it never observes half of one.
//
// Outbox events get a sequence number at commit, per recipient: each
// recipient's events are numbered 1, 2, 3, … in commit order, without gaps
// unless a commit fails, so a reader that has seen its event N and asks for
// the events after N misses none that commits later, and learns nothing of
// how many events other recipients got. (A store written when one sequence
// numbered all recipients keeps those numbers; each recipient continues
// from its highest.)
//
// All methods are safe for concurrent use. Backends pass the conformance
// suite in store/storetest.
//
// # Optional interfaces
//
// [Store] is what the matcher needs. A backend serves the rest of vindex
// by also implementing:
//
//   - [DeliveryStore]: delivery state beside the outbox, for the delivery
//     worker and vindex outbox, and each recipient's last sequence number, to
//     move a delivery cursor past every event so far (vindex import
//     --notify=false);
//   - [KeyUse]: what depends on each key, so that vindex keys retire
//     retires a key only when nothing live depends on it (a key rotation
//     loses no match), and vindex keys status and /metrics show it;
//   - [Checker]: whether the store can still commit, for /readyz;
//   - [FigureReader]: the management figures' counters, for vindex stats
//     and GET /v1/stats.
//
// vindex serve, import, outbox and keys need all three; storetest checks
// each one a backend implements.
package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
)

// Errors returned by every backend. Backends wrap them with %w; test with
// errors.Is.
var (
	// ErrNotFound: no record with that identifier.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("store: closed")
	// ErrConflict: the staged writes contradict the youth's records (a
	// registration staged under a pseudonym the update does not hold, or an
	// identifier that belongs to another youth).
	ErrConflict = errors.New("store: conflict")
	// ErrCorrupt: a record could not be decoded. The store does not guess.
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrUnavailable: the store takes no writes: its disk is (nearly)
	// full, or a write to disk failed. Nothing of the refused update was
	// written. A backend that can recover (disk space freed) takes writes
	// again by itself; one whose write failed needs a restart, after which
	// every acknowledged update is there.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrInvalid: a record the caller made cannot be kept as it is (an
	// audit entry with an unknown verb, say). Nothing was written.
	ErrInvalid = errors.New("store: invalid record")
)

// Store is the storage contract. See the package documentation for the
// atomicity, durability and concurrency guarantees.
type Store interface {
	// Update gives fn exclusive access to the youth known by any of the
	// given pseudonyms (the same youth under each enabled key) and commits
	// what fn staged atomically and durably if fn returns nil. fn may be
	// called at most once; it must not retain the Tx.
	Update(ctx context.Context, youth []pseudonym.Pseudonym, fn func(Tx) error) error
	// UpdateByID is Update for the youth that holds registration id. It
	// returns ErrNotFound if no such registration exists (anymore).
	UpdateByID(ctx context.Context, id ID, fn func(Tx) error) error
	// View gives fn a consistent read of the youth known by any of the
	// given pseudonyms.
	View(ctx context.Context, youth []pseudonym.Pseudonym, fn func(Reader) error) error
	// Registration returns one registration by its identifier.
	Registration(ctx context.Context, id ID) (Registration, error)
	// Events returns up to limit outbox events for recipient with a
	// sequence number greater than after, in sequence order. An empty
	// recipient means all recipients: after applies to each recipient's
	// sequence, and the events are ordered by number, then recipient.
	Events(ctx context.Context, recipient string, after uint64, limit int) ([]Event, error)
	// Due returns up to limit registrations whose action day is on or
	// before day: live registrations whose EndsOn has come, and ended
	// registrations whose PurgeOn has come. Ordered by day, then youth.
	Due(ctx context.Context, day time.Time, limit int) ([]DueItem, error)
	// Wakeups returns up to limit youths whose case's WakeAt is not after
	// t, earliest first, each by the pseudonym its case is kept under.
	Wakeups(ctx context.Context, t time.Time, limit int) ([]pseudonym.Pseudonym, error)
	// AuditLog keeps the audit log (see AuditEntry).
	AuditLog
	// Youths returns up to limit pseudonyms under which the store keeps a
	// youth's records (its live record or an ended registration), each
	// once, in the store's order, beginning after the pseudonym after (the
	// zero pseudonym: from the first). A caller walks the whole store by
	// passing the last pseudonym of one call to the next; what is written
	// meanwhile may or may not be seen. It is for the few tasks that must
	// visit every youth (re-keying after a key rotation), never for a
	// report or a lookup.
	Youths(ctx context.Context, after pseudonym.Pseudonym, limit int) ([]pseudonym.Pseudonym, error)
	// PurgeIdempotency deletes up to limit idempotency records made on a
	// day before the day of before, and returns how many it deleted. A
	// retry after that gets the answer of a new report.
	PurgeIdempotency(ctx context.Context, before time.Time, limit int) (int, error)
	// UpdateFamily is Update that is also serialised with every other
	// UpdateFamily holding one of the family keys (relation keys, see
	// Relation): two reports that add the same relation to two youths at
	// the same moment run one after the other, so the second reads the
	// first's family index entries (Tx.Family) and one family match is
	// made, not two or none. fn gets exclusive access to the youth only;
	// the families' other members are read (Tx.Family, Tx.FamilyYouth),
	// never written.
	UpdateFamily(ctx context.Context, youth, family []pseudonym.Pseudonym, fn func(Tx) error) error
	// Close releases the store. Committed writes are kept; later calls
	// return ErrClosed.
	Close() error
}

// Reader reads one youth's records inside Update or View.
type Reader interface {
	// Registrations returns the youth's live registrations under every
	// pseudonym held, ordered by CreatedAt then ID. The slice is the
	// caller's. Ended registrations are kept apart (see Ended and
	// History): reading a youth costs the same however many of its
	// registrations have ended.
	Registrations() []Registration
	// Ended returns the youth's ended registration id, if the youth holds
	// one by that ID under a pseudonym held: one point read, whatever the
	// youth's history.
	Ended(id ID) (Registration, bool)
	// History returns all of the youth's ended registrations under every
	// pseudonym held, ordered by CreatedAt then ID. Its cost grows with
	// the youth's history: it is for the few verbs that must see all of it
	// (a youth's destruction, subject access), never for a report or a
	// lookup.
	History() []Registration
	// Case returns the youth's case record, if any.
	Case() (Case, bool)
	// Idempotency returns the record of an earlier report kept under key,
	// if any. The key is a keyed hash of the reporting institution and its
	// idempotency key (the matcher makes it): the store never sees the
	// idempotency key itself.
	Idempotency(key pseudonym.Pseudonym) (Idempotency, bool)
}

// Tx stages writes for one youth inside Update. Staged writes are visible to
// the Tx's own reads.
type Tx interface {
	Reader
	// Put inserts or replaces a registration (by ID), live or ended: an
	// ended one goes to the youth's history, a live one (also one revived
	// from the history) to its live records. Its Youth must be one of the
	// pseudonyms the update holds; to migrate a registration to another
	// key, Put it with the new pseudonym: the old record goes.
	Put(r Registration)
	// PutNew is Put of a live registration made in this update under an
	// ID from NewID, which no registration has had: the store reads
	// nothing to find one it replaces (Put does, for an ID it has not
	// read: one point read of the youth's history). Its Youth is as for
	// Put.
	PutNew(r Registration)
	// Delete removes a registration, live or ended, and its indexes (a
	// hard delete).
	Delete(id ID)
	// PutCase sets the youth's case record under c.Youth and removes it
	// under every other pseudonym the update holds.
	PutCase(c Case)
	// DeleteCase removes the youth's case record.
	DeleteCase()
	// Append adds an event to the outbox; its Seq is assigned at commit.
	Append(e Event)
	// PutIdempotency records the outcome of a report with an idempotency
	// key, under key: the keyed hash of the institution and its idempotency
	// key (see Reader.Idempotency).
	PutIdempotency(key pseudonym.Pseudonym, rec Idempotency)
	// DeleteIdempotency forgets the idempotency record under key.
	DeleteIdempotency(key pseudonym.Pseudonym)
	// DeleteIdempotencyOf forgets every idempotency record whose
	// Registration is id, of any institution and key, staged ones
	// included: a registration that ends or is removed leaves no replay of
	// the report that made it. A record put later in the same Tx is kept.
	DeleteIdempotencyOf(id ID)
	// Audit adds an entry to the audit log in this same atomic commit:
	// the entry about the change the update makes. Its Seq is assigned at
	// commit. An entry that fails AuditEntry.Check fails the update.
	Audit(e AuditEntry)
	// FigureCounter adds to the management figures' counters in this
	// same atomic commit (see FigureCounter).
	FigureCounter
	// Family returns, up to limit, the live registrations of other
	// youths (not the youth the update holds) that carry a relation
	// under one of keys, read from the family index as committed. The
	// index holds an entry per relation of each live registration: the
	// store keeps it in the commit that puts, ends, migrates or deletes
	// the registration, so an ended, purged, removed or destroyed
	// registration has none. Its cost is bounded by limit, however large
	// a family is (a shelter's address, say). Ordered by key (as given),
	// then by registration ID.
	Family(keys []pseudonym.Pseudonym, limit int) []FamilyMember
	// FamilyYouth reads the case (ok: there is one) and the live
	// registrations of another youth (a family member's, by
	// FamilyMember.Youth) as committed, without holding it: what it says
	// may change as soon as it is read. One point read.
	FamilyYouth(youth pseudonym.Pseudonym) (c Case, live []Registration, ok bool)
	// FamilyNoticed reports whether registrations a and b were marked
	// with NoteFamily (in either order), committed or staged.
	FamilyNoticed(a, b ID) bool
	// NoteFamily marks the pair of registrations a and b (one of them the
	// youth's own) in this same commit: the matcher's record that the
	// coordinators whose registrations they are were told of each other. The mark goes
	// when either registration ends or is deleted.
	NoteFamily(a, b ID)
}

// RelationType says what a family relation is.
type RelationType uint8

const (
	// RelationParent: the youth's parent or guardian, as registered in
	// the population register (BRP), by the pseudonym of the parent's BSN
	// (crypto/pseudonym domain parent-bsn).
	RelationParent RelationType = 1
	// RelationAddress: the youth's home address, by its pseudonym
	// (domain home-address).
	RelationAddress RelationType = 2
)

// String returns "parent" or "address".
func (t RelationType) String() string {
	switch t {
	case RelationParent:
		return "parent"
	case RelationAddress:
		return "address"
	}
	return fmt.Sprintf("relation(%d)", uint8(t))
}

// Valid reports whether t is a known relation type.
func (t RelationType) Valid() bool { return t == RelationParent || t == RelationAddress }

// Relation is one family relation a registration's report gave: a
// pseudonym, never a BSN or an address, in a domain of its own so that it
// joins nothing but the same relation of another youth.
type Relation struct {
	Type RelationType
	// Key is the parent's or the address's pseudonym under the key it was
	// made with (the primary key at the report).
	Key pseudonym.Pseudonym
	// Since is when the relation was first reported on this registration.
	Since time.Time
	// Element is, in a blind deployment, the relation's element (the
	// parent's or the address's, as the client blinded it) sealed by the
	// matcher for this registration, so that the index can re-key the
	// relation when a key is replaced without ever holding its value; nil
	// in an hmac deployment. The store keeps it as it is given.
	Element []byte
}

// FamilyMember is a live registration of another youth that shares a
// relation: what Tx.Family reads from the family index.
type FamilyMember struct {
	Youth        pseudonym.Pseudonym
	Registration ID
	Institution  string
	Kind         Kind
	Contact      Contact
	// Type and Key are the shared relation's; Since is when it was
	// reported on the member's registration.
	Type  RelationType
	Key   pseudonym.Pseudonym
	Since time.Time
	// EndsOn is the registration's own end day (zero: none): a member
	// whose day has come is as good as ended.
	EndsOn time.Time
}

// IDSize is the size of a registration identifier in bytes.
const IDSize = 16

// ID identifies a registration. It is random: it says nothing about the
// youth, the institution or the time.
type ID [IDSize]byte

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a fresh random identifier.
func NewID() ID {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		panic("store: no randomness: " + err.Error())
	}
	return id
}

// String returns the identifier as "r" followed by 26 lower-case base32
// characters.
func (id ID) String() string { return "r" + idEncoding.EncodeToString(id[:]) }

// IsZero reports whether id is the zero identifier.
func (id ID) IsZero() bool { return id == ID{} }

// ErrBadID is returned by ParseID.
var ErrBadID = errors.New("store: malformed registration id")

// ParseID parses the form String returns.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 27 || s[0] != 'r' {
		return id, ErrBadID
	}
	b, err := idEncoding.DecodeString(s[1:])
	if err != nil || len(b) != IDSize {
		return id, ErrBadID
	}
	copy(id[:], b)
	if id.String() != s {
		return ID{}, ErrBadID
	}
	return id, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Kind says what a registration is.
type Kind uint8

const (
	// KindSignal is a signal: the institution is concerned about the youth
	// (school, police, childcare may only signal).
	KindSignal Kind = 1
	// KindInvolvement is an involvement registration (ketenregistratie):
	// the institution provides care to the youth.
	KindInvolvement Kind = 2
)

// String returns "signal" or "involvement".
func (k Kind) String() string {
	switch k {
	case KindSignal:
		return "signal"
	case KindInvolvement:
		return "involvement"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindSignal || k == KindInvolvement }

// EndReason says why a registration ended.
type EndReason uint8

const (
	// Live: the registration has not ended.
	Live EndReason = 0
	// EndedByInstitution: its own institution ended it, the risk gone.
	EndedByInstitution EndReason = 1
	// EndedByClose: the coordinator closed the case.
	EndedByClose EndReason = 2
	// EndedByExpiry: its end day came (own end date, the legal maximum
	// duration, or the youth's legal end age).
	EndedByExpiry EndReason = 3
	// EndedByDeath: the youth died.
	EndedByDeath EndReason = 4
	// EndedOther: its own institution ended it for another reason than
	// that the risk is gone (EndedByInstitution).
	EndedOther EndReason = 5
)

// String names the reason.
func (r EndReason) String() string {
	switch r {
	case Live:
		return "live"
	case EndedByInstitution:
		return "ended"
	case EndedByClose:
		return "case-closed"
	case EndedByExpiry:
		return "expired"
	case EndedByDeath:
		return "death"
	case EndedOther:
		return "ended-other"
	}
	return fmt.Sprintf("end-reason(%d)", uint8(r))
}

// Contact is how to reach the professional behind a registration.
type Contact struct {
	Name  string
	Phone string
	Email string
}

// Registration is one institution's report about one youth: only
// that-information.
type Registration struct {
	ID          ID
	Youth       pseudonym.Pseudonym
	Institution string
	Kind        Kind
	// SignalCode is the covenant's signal code, for signals.
	SignalCode string
	Urgent     bool
	// Sector is set by an institution that acts in a sector with its own
	// rules (child protection, youth probation); empty otherwise.
	Sector       string
	Municipality string
	Contact      Contact
	// CreatedAt is when the registration was first made; UpdatedAt when it
	// was last refreshed by a report of the same institution.
	CreatedAt time.Time
	UpdatedAt time.Time
	// EndsOn is the civil day (00:00 UTC) on which the registration ends
	// on its own: the earliest of its own end date, the legal maximum
	// duration after its institution's last report of the youth
	// (UpdatedAt: a refresh is a new report, whose term counts from it;
	// CreatedAt keeps when the institution first reported), and the first
	// day of the month in which the youth reaches the end age (never the
	// birthday itself).
	EndsOn time.Time
	// EndedAt is when it ended; zero while live.
	EndedAt   time.Time
	EndReason EndReason
	// PurgeOn is the civil day from which an ended registration may be
	// purged; zero while live. Never after DestroyOn.
	PurgeOn time.Time
	// DestroyOn is the civil day from which nothing of the registration
	// may be kept, whatever its state: the first day of the month in
	// which the youth turns 23 (Jeugdwet art. 7.1.4.5; counted by month,
	// as EndsOn is, so it says no more of the birth date than its month,
	// which EndsOn and Case.Age already do). Zero for a registration made
	// before it was recorded.
	DestroyOn time.Time
	// Relations are the youth's family relations (parents, home address)
	// this registration's last report gave, each once; none if it gave
	// none. They are live with the registration and end with it (see
	// Tx.Family).
	Relations []Relation
	// ClientRef is the institution's own reference for the youth, sealed
	// (see crypto/clientref): ciphertext only, bound to this registration
	// and institution. Nil if the institution gave none.
	ClientRef []byte

	// The duty to inform (see [AgeBand]). AgeBand is the band of the
	// youth's age at its institution's last report, which says whom the
	// institution informs; AgeBandUnknown on a registration made before
	// bands were kept. Inform is what the institution recorded.
	AgeBand AgeBand
	Inform  Inform

	// Element is, in a blind deployment, the youth's element (the value a
	// client system made from the BSN with the key holders; see
	// crypto/oprf) sealed under the reference keyset, bound to this
	// registration (see crypto/clientref.SealElement): what re-keying the
	// youth's pseudonyms needs when a key is replaced, without a BSN. Nil
	// otherwise. Its key is counted by KeyUse.RefsByKey as a client
	// reference's is.
	Element []byte
}

// IsLive reports whether the registration has not ended.
func (r Registration) IsLive() bool { return r.EndReason == Live && r.EndedAt.IsZero() }

// Case is the per-youth match state.
type Case struct {
	Youth pseudonym.Pseudonym
	// Matched reports whether two or more distinct institutions have live
	// registrations.
	Matched bool
	// Coordinator is the assigned institution ("" if none) and Rule the
	// covenant rule that assigned it.
	Coordinator string
	Rule        string
	DecidedAt   time.Time
	// Age is the youth's age in years at the last report, counted by
	// month (a birthday counts from the first day of its month), for
	// decisions made without a report (an end, an expiry). -1 if unknown.
	Age          int
	Municipality string
	// BirthCheck is a keyed hash of the youth's BSN and birth date
	// (crypto/pseudonym, domain youth-birth-date), tagged with the key
	// that made it: a report that states another birth date is refused.
	// Zero if none was recorded yet. Without the key it says nothing
	// about the date.
	BirthCheck pseudonym.Pseudonym
	// Ends lists, per institution, the registration it last ended itself,
	// while a new report of it may still revive that registration (the
	// matcher's refresh window); none after that.
	Ends []RecentEnd
	// Notices is, per recipient institution, how many of the youth's
	// events it was told in the current hour and how many were held back
	// (the matcher bounds a youth's events to one recipient per hour).
	Notices []Notice
	// WakeAt is when the matcher wants to see the youth again without a
	// report (held events to sum up, a refresh window to forget); zero if
	// never. [Store.Wakeups] lists the youths whose time has come.
	WakeAt time.Time
	// Plan is that the case has a plan drawn up with the institutions
	// involved, and its agreements; nil if the coordinator recorded none.
	// Only that-information: dates and institutions, never the plan's
	// content. It goes with the case.
	Plan *Plan

	// The coordinator's acceptance. AcceptDue is the first instant at
	// which the coordinator's term to accept is over, while it has not
	// accepted (zero once it has, and with no coordinator); AcceptedAt
	// when it accepted (zero while it has not).
	AcceptDue  time.Time
	AcceptedAt time.Time
	// Excluded are the institutions that declined to coordinate the case
	// or let their term to accept lapse: the case's decisions pass them
	// by while they are involved.
	Excluded []string
	// HandoverTo is the institution the coordinator offered the case to,
	// at HandoverAt, while it has not accepted or declined; "" if none.
	HandoverTo string
	HandoverAt time.Time
	// Escalation is the case's current escalation, its steps in the
	// order they were taken; empty if none.
	Escalation []EscalationStep
}

// Plan is that a youth's case has a plan ("één kind, één plan"): since
// when, until when it is meant to run, and the agreements made in it. It
// holds no content: what was agreed stays with the institutions.
type Plan struct {
	// Start and IntendedEnd are civil days (00:00 UTC).
	Start, IntendedEnd time.Time
	// By is the coordinator that recorded the plan (when is in the audit
	// log).
	By string
	// Agreements in the order they were made.
	Agreements []Agreement
}

// Agreement is one agreement of a plan: which institution is responsible,
// by when, and whether it is done. Numbers count 1, 2, 3, … within the
// plan, and a number is never given twice.
type Agreement struct {
	N           int
	Institution string
	// Due and Done are civil days (00:00 UTC); Done is zero while the
	// agreement is open.
	Due, Done time.Time
	// Overdue: the coordinator was told it is overdue (once).
	Overdue bool
}

// EscalationStep is one step of an escalation as it was taken: which
// step of the covenant's ladder (Step, its name), by which institution,
// when, and when the next step is due (zero after the last). Overdue
// records that the overdue next step was raised (once). Decided is, for
// the alderman's decision, the institution it named as coordinator.
type EscalationStep struct {
	Step    string
	By      string
	At      time.Time
	Due     time.Time
	Overdue bool
	Decided string
}

// Coordinating reports whether c has any coordination state of the
// coordinator's acceptance, hand-over or escalation: an acceptance, an
// exclusion, a hand-over or an escalation (the plan is apart: Plan).
func (c Case) Coordinating() bool {
	return !c.AcceptDue.IsZero() || !c.AcceptedAt.IsZero() || len(c.Excluded) > 0 || c.HandoverTo != "" ||
		!c.HandoverAt.IsZero() || len(c.Escalation) > 0
}

// RecentEnd is an institution's registration that it ended itself, at At.
type RecentEnd struct {
	Institution  string
	Registration ID
	At           time.Time
}

// Notice is what one recipient was told about one youth in the hour since
// Since: Sent events one by one, and Held events held back, to be summed
// up in one event when the hour is over (Urgent if one of them was).
type Notice struct {
	Recipient string
	Since     time.Time
	Sent      int
	Held      int
	Urgent    bool
}

// Idempotency records what a report with an idempotency key produced, so a
// retry gets the first result.
type Idempotency struct {
	Registration ID
	Youth        pseudonym.Pseudonym
	CreatedAt    time.Time
	// Result is the matcher's encoding of the first result.
	Result []byte
}

// Party is an involved institution as an event or result names it.
type Party struct {
	Registration ID
	Institution  string
	Kind         Kind
	Contact      Contact
	Since        time.Time
}

// Event is an outbox entry for one recipient institution.
type Event struct {
	// Seq is assigned at commit: the recipient's events are numbered 1,
	// 2, 3, … in commit order; numbers of different recipients are
	// unrelated.
	Seq       uint64
	Type      EventType
	At        time.Time
	Recipient string
	// Registration is the recipient's own registration the event is about.
	Registration ID
	Urgent       bool
	// Others are the other involved institutions (match, coordinator,
	// summary).
	Others []Party
	// Coordinator and Rule name the coordinator and the rule that chose
	// it: in a coordinator event the new one, in a match or summary event
	// the case's (empty if it has none).
	Coordinator string
	Rule        string
	// Subject is the institution whose action caused the event (ended,
	// removed), if not the recipient.
	Subject string
	// Reason says why a registration ended or was removed: an EndReason's
	// name ("ended", "expired", "death", …) or "wrong" / "objection".
	Reason string
	// Collapsed: in a summary event, how many events it stands for; 0
	// otherwise.
	Collapsed int
	// Agreement: in an agreement event, the number of the plan's
	// agreement it is about; 0 otherwise.
	Agreement int
}

// DueItem is a registration whose action day has come.
type DueItem struct {
	ID    ID
	Youth pseudonym.Pseudonym
	Day   time.Time
	// Purge is true for an ended registration whose retention is over,
	// false for a live one whose end day has come.
	Purge bool
}

// Delivery is where the delivery of one outbox event over one channel
// stands, once it has been tried.
type Delivery struct {
	// Seq is the event's sequence number.
	Seq uint64
	// Urgent is the event's Urgent: urgent deliveries are retried first.
	Urgent bool
	// Attempts made so far.
	Attempts int
	// FirstTry and NextTry: the first attempt, and when to try again.
	FirstTry, NextTry time.Time
	// LastError is a stable code of the last failure ("smtp_451",
	// "http_500", "timeout"), never a message that could quote content.
	LastError string
	// Delivered: the channel took it. Dead: given up (past the maximum
	// age, or refused for good); kept in the dead list for operators.
	Delivered, Dead bool
}

// Settled reports whether nothing more is to be done for d.
func (d Delivery) Settled() bool { return d.Delivered || d.Dead }

// DeliveryLog is the delivery state of one recipient's events on one
// channel. Every event at or below the cursor has been tried at least once
// (or skipped on purpose): it is delivered, dead, or waiting for a retry.
// Above the cursor, events may have been tried ahead of it (urgent ones).
// A delivery waiting for a retry never holds the cursor back: it waits in a
// queue of its own, ordered by urgency and next try (Retries).
type DeliveryLog struct {
	Cursor uint64
	// States of the events above the cursor that were tried, ascending
	// Seq.
	States []Delivery
	// Waiting counts the deliveries waiting for a retry (tried, not
	// settled), above or below the cursor; FirstWaiting is the lowest Seq
	// among them, 0 if none.
	Waiting      int
	FirstWaiting uint64
	// Dead counts the dead list.
	Dead int
}

// Undelivered returns recipient's events that are not settled on channel
// (neither delivered nor dead): those waiting for a retry, then those above
// the cursor never tried, oldest first in each part, at most limit in all,
// with the delivery log they were judged by.
func Undelivered(ctx context.Context, s interface {
	Events(ctx context.Context, recipient string, after uint64, limit int) ([]Event, error)
	DeliveryStore
}, recipient, channel string, limit int) ([]Event, DeliveryLog, error) {
	log, err := s.DeliveryLog(ctx, recipient, channel)
	if err != nil {
		return nil, DeliveryLog{}, err
	}
	waiting, err := s.Retries(ctx, recipient, channel, Forever, limit)
	if err != nil {
		return nil, DeliveryLog{}, err
	}
	slices.SortFunc(waiting, func(a, b Delivery) int { return cmp.Compare(a.Seq, b.Seq) })
	var out []Event
	for _, d := range waiting {
		evs, err := s.Events(ctx, recipient, d.Seq-1, 1)
		if err != nil {
			return nil, DeliveryLog{}, err
		}
		if len(evs) == 1 && evs[0].Seq == d.Seq {
			out = append(out, evs[0])
		}
	}
	if len(out) >= limit {
		return out, log, nil
	}
	evs, err := s.Events(ctx, recipient, log.Cursor, limit-len(out))
	if err != nil {
		return nil, DeliveryLog{}, err
	}
	tried := make(map[uint64]bool, len(log.States))
	for _, d := range log.States {
		tried[d.Seq] = true
	}
	for _, e := range evs {
		if !tried[e.Seq] {
			out = append(out, e)
		}
	}
	return out, log, nil
}

// Forever is a time after every NextTry: Retries(…, Forever, …) lists every
// delivery waiting for a retry.
var Forever = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// DeliveryStore keeps delivery state beside the outbox, so that a delivery
// worker resumes where it stopped after a restart or a crash. A delivery
// that fails waits for its retry apart from the others: it holds back no
// later event. The worker's reads are bounded: DeliveryLog reads the states
// above the cursor (what was tried ahead of it), Retries what it asks for;
// neither reads the whole outbox, the whole queue or the dead list.
type DeliveryStore interface {
	// DeliveryLog reads recipient's delivery state on channel.
	DeliveryLog(ctx context.Context, recipient, channel string) (DeliveryLog, error)
	// RecordDeliveries writes, in one atomic, durable write: the cursor,
	// which may only move forward, and the states of tried events. A
	// state that is not settled waits for a retry (Retries), wherever it
	// is; a dead one goes to the dead list. Settled states at or below the
	// cursor are dropped (those above it are kept until the cursor passes
	// them).
	RecordDeliveries(ctx context.Context, recipient, channel string, cursor uint64, states []Delivery) error
	// Retries lists the deliveries waiting for a retry whose NextTry is
	// not after due, at most limit: urgent ones first, each part by
	// NextTry (then Seq).
	Retries(ctx context.Context, recipient, channel string, due time.Time, limit int) ([]Delivery, error)
	// DeadDeliveries lists the deliveries given up on, ascending Seq.
	DeadDeliveries(ctx context.Context, recipient, channel string) ([]Delivery, error)
	// RetryDead empties the dead list: each dead delivery waits for a
	// retry again (attempts kept, due at once); the cursor stays. It
	// returns how many there were.
	RetryDead(ctx context.Context, recipient, channel string) (int, error)
	// LastSeq returns the sequence number of recipient's last outbox
	// event that Events returns: every event of recipient numbered up to
	// it has committed and is readable, and every event of recipient that
	// commits later gets a greater number. 0 if recipient has no events.
	// A cursor of recipient moved to it (RecordDeliveries) therefore skips
	// exactly the events committed so far. Re-opened, the store has the
	// same last numbers. They are kept in step with each commit rather
	// than looked up, so a call costs no I/O and cannot fail; after Close
	// its result is undefined.
	LastSeq(recipient string) uint64
}

// KeyUse counts, per key, the stored records that still need the key: the
// counts by which a key is retired only when nothing live depends on it
// (a key rotation loses no match; see crypto/keys).
//
// The counts are exact for the committed state. An update that commits
// changes them by what it changed, judged by each registration's state
// before and after the update (a refresh that keeps the key and the state
// changes nothing); an update that fails or is refused changes nothing.
// They are current once Update returns: a concurrent call may see an
// update's change a moment before its Update returns, never half of it.
// (If the commit's sync then fails, the store is out of service and the
// counts are those of the data again after re-open.) Re-opened, the store
// counts what it holds.
//
// A backend keeps the counts up to date as updates commit rather than
// computing them when asked: a call costs no I/O (vindex serve reads
// LiveByKey on every scrape of /metrics) and cannot fail. Both methods
// are safe for concurrent use; after Close their result is undefined.
// Both maps are the caller's and never nil; a key with nothing counted is
// absent, never a zero entry.
type KeyUse interface {
	// LiveByKey returns, per PRF key ID, how many live registrations
	// (Registration.IsLive) are stored under a pseudonym of that key
	// (Registration.Youth.KeyID). Ended registrations are not counted:
	// they no longer match, so they do not need the key. A registration
	// migrated to another key (Put with a pseudonym of the new key) is
	// counted under the new key only; but a live registration with family
	// relations (Registration.Relations) under other keys is counted
	// under each of those keys too, once per key: its family matches
	// need them until a report re-keys its relations.
	LiveByKey() map[uint32]int64
	// RefsByKey returns, per reference key ID, how many stored
	// registrations, live or ended, hold a client reference sealed under
	// that key (RefKeyID of Registration.ClientRef), plus how many hold an
	// element sealed under it (Registration.Element), plus how many family
	// relations' elements are sealed under it (Relation.Element). An ended registration
	// keeps its reference until it is deleted (purged or removed), so it
	// is counted until then. A ClientRef that names no key (RefKeyID
	// false) is not counted.
	RefsByKey() map[uint32]int64
}

// RefKeyID returns the ID of the reference key a sealed client reference
// was sealed under, as its first bytes name it: Tink's output prefix, a
// version byte 1 and the key ID, 4 bytes big-endian (see
// crypto/clientref). ok is false if sealed does not begin so.
func RefKeyID(sealed []byte) (id uint32, ok bool) {
	if len(sealed) < 5 || sealed[0] != 1 {
		return 0, false
	}
	return binary.BigEndian.Uint32(sealed[1:5]), true
}

// Compacter rewrites a store's files so that deleted records are gone from
// them: a destroyed registration must not stay readable on disk below its
// deletion (Jeugdwet art. 7.1.4.5: destroyed, not just hidden).
type Compacter interface {
	// Compact rewrites every file that may still hold the bytes of a
	// deleted record, blocking until done. It is safe for concurrent use
	// with every other method, and costs a read and a write of the whole
	// store: run it daily, not per deletion.
	Compact(ctx context.Context) error
}

// Checker tells whether the store can still commit, for a readiness probe.
type Checker interface {
	// Check returns nil if the store takes writes now, ErrClosed after
	// Close, and an error wrapping ErrUnavailable if it refuses them (disk
	// space low, or a failed write to disk). It finds out by a durable
	// write that changes no record (a synced empty log entry, say), so a
	// failing disk shows here before it shows on a report, and a write
	// failure it meets puts the store out of service as a failed Update
	// would. It is safe for concurrent use with every other method.
	Check(ctx context.Context) error
}
