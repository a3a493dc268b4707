package client

import (
	"encoding/json"
	"time"

	"github.com/vindex-nl/vindex/identity"
)

// The SDK's own types. Those with JSON tags mirror the API's bodies
// (httpapi's types, httpapi/openapi.yaml) field for field; a test holds
// them to httpapi's, so that they cannot drift apart. The package does not
// import httpapi: that would link the index's engine and store into a
// vendor's binary. Dates are strings in the form YYYY-MM-DD, as on the
// wire; date-times are time.Time.

// Kinds of report.
const (
	Signal      = "signal"
	Involvement = "involvement"
)

// Report is what an institution reports about a youth (POST
// /v1/registrations), with the youth's clear BSN and birth date: the
// Client sends them, or in a blind deployment the element and the birth
// month, never the BSN or the birth date.
type Report struct {
	// BSN and BirthDate name the youth; both are required.
	BSN       identity.BSN
	BirthDate identity.BirthDate
	// Municipality is the CBS code of the youth's municipality (GM0014).
	Municipality string
	// Kind is Signal or Involvement.
	Kind string
	// Code is the covenant's signal code; required for a signal.
	Code string
	// Urgent marks an urgent report.
	Urgent bool
	// Sector is "child-protection" or "youth-probation" for such a
	// client of a certified institution; empty otherwise.
	Sector string
	// Contact is the professional to reach.
	Contact Contact
	// EndsOn is the day the registration ends by itself, YYYY-MM-DD;
	// empty: the covenant's maximum.
	EndsOn string
	// IdempotencyKey makes a retry return the first result.
	IdempotencyKey string
	// ClientRef is the institution's own reference for the youth (its
	// dossier number).
	ClientRef string
	// Informed or NotInformed (at most one) records the duty to inform.
	Informed    *Informed
	NotInformed *NotInformed
	// Parents are the youth's parents or guardians as in the population
	// register (one or two, each once, never the youth's own:
	// ErrParents), for family matches; kept by the index only as
	// pseudonyms. With a Blinder they are blinded with the youth, in the
	// parents' own domain (oprf.ParentInput), and only their elements
	// are sent.
	Parents []identity.BSN
	// Address is the youth's home address, if the covenant enables
	// address matching; with a Blinder, blinded as the parents are
	// (oprf.AddressInput).
	Address *identity.Address
}

// Contact is how to reach a professional.
type Contact struct {
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Informed records that the institution informed the parents, the youth
// or both ("parents", "both", "youth") on a day (YYYY-MM-DD).
type Informed struct {
	Who string `json:"who"`
	On  string `json:"on"`
}

// NotInformed records why the institution did not inform: "danger",
// "not_reachable" or "later".
type NotInformed struct {
	Reason string `json:"reason"`
}

// InformRequest is the body of PATCH /v1/registrations/{id}: exactly one
// of its members.
type InformRequest struct {
	Informed    *Informed    `json:"informed,omitempty"`
	NotInformed *NotInformed `json:"not_informed,omitempty"`
}

// Party is another institution involved with the youth.
type Party struct {
	Institution string    `json:"institution"`
	Name        string    `json:"name,omitempty"`
	Kind        string    `json:"kind"`
	Contact     Contact   `json:"contact"`
	Since       time.Time `json:"since"`
}

// Coordinator names the coordinator and the covenant rule that chose it.
type Coordinator struct {
	Institution string `json:"institution"`
	Rule        string `json:"rule"`
}

// View is the involvement view of a youth (POST /v1/lookups).
type View struct {
	// ID is the caller's own registration for the youth.
	ID      string `json:"id"`
	Matched bool   `json:"matched"`
	// Involved are the other institutions actively involved.
	Involved    []Party      `json:"involved"`
	Coordinator *Coordinator `json:"coordinator"`
	// NoCoordinator says why there is no coordinator despite a match.
	NoCoordinator string `json:"no_coordinator,omitempty"`
	// ClientRef is the caller's own reference on its registration.
	ClientRef string `json:"client_ref,omitempty"`
	// Plan is the case's plan, if its coordinator recorded one.
	Plan *Plan `json:"plan,omitempty"`
	// Coordination is the case's coordination state (lookups only; nil if
	// the case has no coordinator).
	Coordination *Coordination `json:"coordination,omitempty"`
}

// Coordination is a case's coordination state: whether the coordinator
// accepted or by when it must, a pending hand-over, and the escalation's
// steps (the plan is View.Plan).
type Coordination struct {
	Accepted   bool             `json:"accepted"`
	AcceptBy   time.Time        `json:"accept_by,omitempty"`
	HandoverTo string           `json:"handover_to,omitempty"`
	Escalation []EscalationStep `json:"escalation,omitempty"`
}

// EscalationStep is one step of a case's escalation: which, by whom,
// when, and when the next one is due (zero after the last).
type EscalationStep struct {
	Step    string    `json:"step"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	NextDue time.Time `json:"next_due,omitempty"`
	Overdue bool      `json:"overdue,omitempty"`
	Decided string    `json:"decided,omitempty"`
}

// Plan is that a youth's case has a plan, its days (YYYY-MM-DD), the
// coordinator that recorded it, and its agreements: never its content.
type Plan struct {
	Start       string      `json:"start"`
	IntendedEnd string      `json:"intended_end"`
	By          string      `json:"by"`
	Agreements  []Agreement `json:"agreements"`
}

// Agreement is one agreement of a plan: its number, the responsible
// institution, the due day, the day it was recorded as done ("" while
// open), and whether it was overdue.
type Agreement struct {
	Agreement   int    `json:"agreement"`
	Institution string `json:"institution"`
	Due         string `json:"due"`
	Done        string `json:"done,omitempty"`
	Overdue     bool   `json:"overdue"`
}

// Result answers a report: the view, and whether the report refreshed an
// existing registration or replayed an earlier result.
type Result struct {
	View
	Refreshed bool `json:"refreshed"`
	Replayed  bool `json:"replayed"`
}

// EndRequest is the optional body of POST /v1/registrations/{id}/end.
type EndRequest struct {
	// On is a later day on which the registration ends, YYYY-MM-DD;
	// empty: now.
	On string `json:"on,omitempty"`
	// Reason is "risk_gone" (empty: the default), "other" or
	// "unjustified" (destroyed now).
	Reason string `json:"reason,omitempty"`
}

// Objection is an upheld objection a municipality carries out (POST
// /v1/objections).
type Objection struct {
	// BSN names the youth; BirthDate is required in an hmac deployment
	// and never sent to a blind one.
	BSN       identity.BSN
	BirthDate identity.BirthDate
	// Scope is "all" or "institution" (Institution's registrations).
	Scope       string
	Institution string
}

// Event is one outbox event.
type Event struct {
	Seq          uint64       `json:"seq"`
	Type         string       `json:"type"`
	At           time.Time    `json:"at"`
	Registration string       `json:"registration"`
	Urgent       bool         `json:"urgent,omitempty"`
	Others       []Party      `json:"others,omitempty"`
	Coordinator  *Coordinator `json:"coordinator,omitempty"`
	Subject      string       `json:"subject,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	// ClientRef is the recipient's own reference on Registration.
	ClientRef string `json:"client_ref,omitempty"`
	// Collapsed is, in a summary event, how many events it stands for.
	Collapsed int `json:"collapsed,omitempty"`
	// Agreement is, in an agreement event, the number of the plan's
	// agreement it is about.
	Agreement int `json:"agreement,omitempty"`
}

// Events answers GET /v1/events; Next is the after to poll with next.
type Events struct {
	Events []Event `json:"events"`
	Next   uint64  `json:"next"`
}

// SubjectAccess answers POST /v1/subject-access: every registration of the
// youth, who accessed it, and the letter.
type SubjectAccess struct {
	At time.Time `json:"at"`
	// AddressedTo is "parents", "both" or "youth", by the youth's age.
	AddressedTo   string               `json:"addressed_to"`
	Registrations []AccessRegistration `json:"registrations"`
	Accesses      []Accessed           `json:"accesses"`
	AccessesCut   bool                 `json:"accesses_cut,omitempty"`
	Letter        Letter               `json:"letter"`
}

// Accessed is one access to the youth, from the audit log.
type Accessed struct {
	On          string `json:"on"`
	Institution string `json:"institution"`
	Name        string `json:"name,omitempty"`
	Verb        string `json:"verb"`
	Outcome     string `json:"outcome"`
}

// AccessRegistration is one registration as subject access shows it.
type AccessRegistration struct {
	ID          string       `json:"id"`
	Institution string       `json:"institution"`
	Name        string       `json:"name,omitempty"`
	Type        string       `json:"type,omitempty"`
	Kind        string       `json:"kind"`
	Code        string       `json:"code,omitempty"`
	CodeLabel   string       `json:"code_label,omitempty"`
	Urgent      bool         `json:"urgent"`
	Since       time.Time    `json:"since"`
	Status      string       `json:"status"`
	EndsOn      string       `json:"ends_on,omitempty"`
	EndedAt     time.Time    `json:"ended_at,omitempty"`
	EndReason   string       `json:"end_reason,omitempty"`
	PurgeOn     string       `json:"purge_on,omitempty"`
	Informed    *Informed    `json:"informed,omitempty"`
	NotInformed *NotInformed `json:"not_informed,omitempty"`
	// Family lists the family relations an active registration records:
	// "parent" or "address", and since when.
	Family []FamilyRelation `json:"family,omitempty"`
}

// FamilyRelation is one family relation of a registration, as subject
// access shows it: never the parent or the address.
type FamilyRelation struct {
	Type  string    `json:"type"`
	Since time.Time `json:"since"`
}

// Letter is a letter as text and as an HTML document.
type Letter struct {
	Text string `json:"text"`
	HTML string `json:"html"`
}

// StatsQuery asks for management figures (GET /v1/stats).
type StatsQuery struct {
	// Year is the calendar year, closed.
	Year int
	// Municipality is the CBS code; needed only if the institution serves
	// more than one.
	Municipality string
	// Measure is "registrations" (empty: the default), "matches", …
	Measure string
	// By are at most two dimensions: "month", "institution_type",
	// "kind", "signal".
	By []string
}

// Stats answers GET /v1/stats in JSON.
type Stats struct {
	Year         int    `json:"year"`
	Municipality string `json:"municipality"`
	// Figures is the table as the index writes it.
	Figures json.RawMessage `json:"figures"`
	// MedianDaysToCoordinator is a number (float64), or a string "<10"
	// when suppressed.
	MedianDaysToCoordinator any `json:"median_days_to_coordinator"`
}

// The request bodies as they go on the wire; the Client fills them from
// the types above.

// registrationBody is httpapi.RegistrationRequest.
type registrationBody struct {
	BSN            string       `json:"bsn,omitempty"`
	Youth          string       `json:"youth,omitempty"`
	YouthKey       string       `json:"youth_key,omitempty"`
	BirthDate      string       `json:"birth_date,omitempty"`
	BornIn         string       `json:"born_in,omitempty"`
	Municipality   string       `json:"municipality"`
	Kind           string       `json:"kind"`
	Code           string       `json:"code,omitempty"`
	Urgent         bool         `json:"urgent,omitempty"`
	Sector         string       `json:"sector,omitempty"`
	Contact        Contact      `json:"contact"`
	EndsOn         string       `json:"ends_on,omitempty"`
	IdempotencyKey string       `json:"idempotency_key,omitempty"`
	ClientRef      string       `json:"client_ref,omitempty"`
	Informed       *Informed    `json:"informed,omitempty"`
	NotInformed    *NotInformed `json:"not_informed,omitempty"`
	Parents        []string     `json:"parents,omitempty"`
	Address        *addressBody `json:"address,omitempty"`
	ParentElements []string     `json:"parent_elements,omitempty"`
	AddressElement string       `json:"address_element,omitempty"`
}

// addressBody is httpapi.AddressJSON.
type addressBody struct {
	Postcode    string `json:"postcode"`
	HouseNumber int    `json:"house_number"`
	Addition    string `json:"addition,omitempty"`
}

// youthBody is httpapi.BSNRequest: a youth by BSN, or by element.
type youthBody struct {
	BSN      string `json:"bsn,omitempty"`
	Youth    string `json:"youth,omitempty"`
	YouthKey string `json:"youth_key,omitempty"`
}

// planBody is httpapi.PlanRequest.
type planBody struct {
	BSN         string `json:"bsn,omitempty"`
	Youth       string `json:"youth,omitempty"`
	YouthKey    string `json:"youth_key,omitempty"`
	Start       string `json:"start"`
	IntendedEnd string `json:"intended_end"`
}

// agreementBody is httpapi.AgreementRequest.
type agreementBody struct {
	BSN         string `json:"bsn,omitempty"`
	Youth       string `json:"youth,omitempty"`
	YouthKey    string `json:"youth_key,omitempty"`
	Institution string `json:"institution"`
	Due         string `json:"due"`
}

// agreementAnswer is httpapi.AgreementResponse.
type agreementAnswer struct {
	Agreement int `json:"agreement"`
}

// agreementDoneBody is httpapi.AgreementDoneRequest.
type agreementDoneBody struct {
	BSN       string `json:"bsn,omitempty"`
	Youth     string `json:"youth,omitempty"`
	YouthKey  string `json:"youth_key,omitempty"`
	Agreement int    `json:"agreement"`
}

// objectionBody is httpapi.ObjectionRequest.
type objectionBody struct {
	BSN         string `json:"bsn,omitempty"`
	Youth       string `json:"youth,omitempty"`
	YouthKey    string `json:"youth_key,omitempty"`
	BirthDate   string `json:"birth_date,omitempty"`
	Scope       string `json:"scope"`
	Institution string `json:"institution,omitempty"`
}

// subjectAccessBody is httpapi.SubjectAccessRequest.
type subjectAccessBody struct {
	BSN       string `json:"bsn,omitempty"`
	Youth     string `json:"youth,omitempty"`
	YouthKey  string `json:"youth_key,omitempty"`
	BirthDate string `json:"birth_date,omitempty"`
	Format    string `json:"format,omitempty"`
}

// removeBody is httpapi.RemoveRequest.
type removeBody struct {
	Reason string `json:"reason,omitempty"`
}

// health is httpapi.Health.
type health struct {
	Status string `json:"status"`
}

// declineBody is httpapi.DeclineRequest.
type declineBody struct {
	BSN      string `json:"bsn,omitempty"`
	Youth    string `json:"youth,omitempty"`
	YouthKey string `json:"youth_key,omitempty"`
	Reason   string `json:"reason"`
}

// handoverBody is httpapi.HandoverRequest.
type handoverBody struct {
	BSN      string `json:"bsn,omitempty"`
	Youth    string `json:"youth,omitempty"`
	YouthKey string `json:"youth_key,omitempty"`
	To       string `json:"to"`
}

// escalationBody is httpapi.EscalationRequest.
type escalationBody struct {
	BSN         string `json:"bsn,omitempty"`
	Youth       string `json:"youth,omitempty"`
	YouthKey    string `json:"youth_key,omitempty"`
	Step        string `json:"step"`
	Coordinator string `json:"coordinator,omitempty"`
}
