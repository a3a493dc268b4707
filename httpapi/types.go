package httpapi

// The JSON bodies of the API, as openapi.yaml describes them. Client systems
// written in Go may use them.

// RegistrationRequest is the body of POST /v1/registrations.
type RegistrationRequest struct {
	// BSN is the youth's citizen service number (9 digits); in a blind
	// deployment never: Youth instead.
	BSN string `json:"bsn,omitempty"`
	// Youth is, in a blind deployment, the youth's element (base64 of 32
	// bytes; see docs/blind.md), in place of the BSN.
	Youth string `json:"youth,omitempty"`
	// YouthKey names the key holders' keys the element was made under
	// (oprf.LayerID of their public keys); required while a key holder
	// replaces its key.
	YouthKey string `json:"youth_key,omitempty"`
	// BirthDate is the youth's birth date, YYYY-MM-DD; in a blind
	// deployment never: BornIn instead.
	BirthDate string `json:"birth_date,omitempty"`
	// BornIn is, in a blind deployment, the youth's birth month, YYYY-MM,
	// in place of the birth date.
	BornIn string `json:"born_in,omitempty"`
	// Municipality is the CBS code of the youth's municipality (GM0014).
	Municipality string `json:"municipality"`
	// Kind is "signal" or "involvement".
	Kind string `json:"kind"`
	// Code is the covenant's signal code; required for a signal.
	Code string `json:"code,omitempty"`
	// Urgent marks an urgent report.
	Urgent bool `json:"urgent,omitempty"`
	// Sector is set for a child-protection or youth-probation client.
	Sector string `json:"sector,omitempty"`
	// Contact is the professional to reach.
	Contact ContactJSON `json:"contact"`
	// EndsOn is the day the registration ends by itself, YYYY-MM-DD.
	EndsOn string `json:"ends_on,omitempty"`
	// IdempotencyKey makes a retry return the first result (or use the
	// Idempotency-Key header).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// ClientRef is the institution's own reference for the youth (its
	// dossier number): stored encrypted, returned only to the institution,
	// quoted in its notifications. 1 to 64 characters of A-Z, a-z, 0-9
	// and - . _ / : #, with at least one digit; a refresh without one
	// keeps the one on file.
	ClientRef string `json:"client_ref,omitempty"`
	// Informed or NotInformed (at most one) records the duty to inform:
	// whom the institution informed and when, or why not. A refresh
	// without either keeps the record on file.
	Informed    *InformedJSON    `json:"informed,omitempty"`
	NotInformed *NotInformedJSON `json:"not_informed,omitempty"`
	// Parents are the BSNs of the youth's parents or guardians as in the
	// population register: one or two, each once, not the youth's own.
	// Kept only as pseudonyms of their own domain, for family matches; a
	// refresh without them keeps those on file. Not in a blind
	// deployment (family_not_blind), which takes ParentElements.
	Parents []string `json:"parents,omitempty"`
	// Address is the youth's home address, only if the covenant enables
	// address matching (address_not_enabled otherwise); kept as Parents
	// are. Not in a blind deployment, which takes AddressElement.
	Address *AddressJSON `json:"address,omitempty"`
	// ParentElements are, in a blind deployment, the parents' elements in
	// place of their BSNs: each the client's blinding of the input
	// "vindex:v1:parent-bsn:" + the nine digits, under the same key
	// holders' keys as Youth (docs/blind.md); one or two, each once.
	ParentElements []string `json:"parent_elements,omitempty"`
	// AddressElement is, in a blind deployment, the home address's element
	// in place of Address: the blinding of "vindex:v1:home-address:" + the
	// normalised address ("1234AB:12:A").
	AddressElement string `json:"address_element,omitempty"`
}

// AddressJSON is a Dutch home address as the population register keys it.
type AddressJSON struct {
	// Postcode is 4 digits and 2 letters, with or without a space.
	Postcode string `json:"postcode"`
	// HouseNumber is 1 to 99999.
	HouseNumber int `json:"house_number"`
	// Addition is the house number's addition (up to 4 letters or digits).
	Addition string `json:"addition,omitempty"`
}

// InformedJSON records that the institution informed the parents, the
// youth or both of its registration.
type InformedJSON struct {
	// Who is "parents" (youth under 12), "both" (12 to 15) or "youth"
	// (16 and over), by the youth's age at the report.
	Who string `json:"who"`
	// On is the day they were informed, YYYY-MM-DD, not after today.
	On string `json:"on"`
}

// NotInformedJSON records why the institution did not inform.
type NotInformedJSON struct {
	// Reason is "danger", "not_reachable" or "later" (a reminder follows
	// after the covenant's inform_within_days).
	Reason string `json:"reason"`
}

// InformRequest is the body of PATCH /v1/registrations/{id}: exactly one
// of its members.
type InformRequest struct {
	Informed    *InformedJSON    `json:"informed,omitempty"`
	NotInformed *NotInformedJSON `json:"not_informed,omitempty"`
}

// ContactJSON is how to reach a professional.
type ContactJSON struct {
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// PartyJSON is another institution involved with the youth.
type PartyJSON struct {
	Institution string      `json:"institution"`
	Name        string      `json:"name,omitempty"`
	Kind        string      `json:"kind"`
	Contact     ContactJSON `json:"contact"`
	Since       string      `json:"since"`
}

// CoordinatorJSON names the coordinator and the rule that chose it.
type CoordinatorJSON struct {
	Institution string `json:"institution"`
	Rule        string `json:"rule"`
}

// ViewResponse answers POST /v1/lookups: the involvement view of a youth.
type ViewResponse struct {
	// ID is the caller's own registration for the youth.
	ID      string `json:"id"`
	Matched bool   `json:"matched"`
	// Involved are the other institutions actively involved.
	Involved    []PartyJSON      `json:"involved"`
	Coordinator *CoordinatorJSON `json:"coordinator"`
	// NoCoordinator says why there is no coordinator despite a match.
	NoCoordinator string `json:"no_coordinator,omitempty"`
	// ClientRef is the caller's own reference on its registration.
	ClientRef string `json:"client_ref,omitempty"`
	// Plan is the case's plan, if its coordinator recorded one.
	Plan *PlanJSON `json:"plan,omitempty"`
	// Coordination is the case's coordination state (lookups only;
	// absent if the case has no coordinator).
	Coordination *CoordinationJSON `json:"coordination,omitempty"`
}

// CoordinationJSON is a case's coordination state in a lookup: whether
// the coordinator accepted or by when it must, a pending hand-over, the
// escalation's steps (the plan is ViewResponse.Plan).
type CoordinationJSON struct {
	Accepted   bool                 `json:"accepted"`
	AcceptBy   string               `json:"accept_by,omitempty"`
	HandoverTo string               `json:"handover_to,omitempty"`
	Escalation []EscalationStepJSON `json:"escalation,omitempty"`
}

// EscalationStepJSON is one step of an escalation as it was taken, and
// when the next one is due (absent after the last). Decided names the
// coordinator of the alderman's decision.
type EscalationStepJSON struct {
	Step    string `json:"step"`
	By      string `json:"by"`
	At      string `json:"at"`
	NextDue string `json:"next_due,omitempty"`
	Overdue bool   `json:"overdue,omitempty"`
	Decided string `json:"decided,omitempty"`
}

// RegistrationResponse answers POST /v1/registrations: the view, and
// whether the report refreshed an existing registration or replayed an
// earlier result.
type RegistrationResponse struct {
	ViewResponse
	Refreshed bool `json:"refreshed"`
	Replayed  bool `json:"replayed"`
}

// BSNRequest is the body of the calls about one youth: lookups, case
// closing and deaths.
type BSNRequest struct {
	BSN string `json:"bsn,omitempty"`
	// Youth is, in a blind deployment, the youth's element, in place of
	// the BSN; YouthKey names the key holders' keys that made it.
	Youth    string `json:"youth,omitempty"`
	YouthKey string `json:"youth_key,omitempty"`
}

// EndRequest is the optional body of POST /v1/registrations/{id}/end.
type EndRequest struct {
	// On is a later day on which the registration ends; empty: now.
	On string `json:"on,omitempty"`
	// Reason is why: risk_gone (empty: the default), other, or
	// unjustified (destroyed now, nothing archived).
	Reason string `json:"reason,omitempty"`
}

// RemoveRequest is the optional body of DELETE /v1/registrations/{id};
// the reason may instead be given as the query parameter reason.
type RemoveRequest struct {
	// Reason is "wrong" (the coordinator) or "objection" (the municipality).
	Reason string `json:"reason,omitempty"`
}

// EventJSON is one outbox event.
type EventJSON struct {
	Seq          uint64           `json:"seq"`
	Type         string           `json:"type"`
	At           string           `json:"at"`
	Registration string           `json:"registration"`
	Urgent       bool             `json:"urgent,omitempty"`
	Others       []PartyJSON      `json:"others,omitempty"`
	Coordinator  *CoordinatorJSON `json:"coordinator,omitempty"`
	Subject      string           `json:"subject,omitempty"`
	Reason       string           `json:"reason,omitempty"`
	// ClientRef is the recipient's own reference on Registration.
	ClientRef string `json:"client_ref,omitempty"`
	// Collapsed is, in a summary event, how many events it stands for;
	// absent from any other.
	Collapsed int `json:"collapsed,omitempty"`
	// Agreement is, in an agreement event, the number of the plan's
	// agreement it is about; absent from any other.
	Agreement int `json:"agreement,omitempty"`
}

// EventsResponse answers GET /v1/events. Next is the after to poll with
// next time.
type EventsResponse struct {
	Events []EventJSON `json:"events"`
	Next   uint64      `json:"next"`
}

// Health answers /healthz and /readyz.
type Health struct {
	Status string `json:"status"`
}

// SubjectAccessRequest is the body of POST /v1/subject-access.
type SubjectAccessRequest struct {
	// BSN is the youth's citizen service number (9 digits); in a blind
	// deployment never: Youth instead.
	BSN string `json:"bsn,omitempty"`
	// Youth is, in a blind deployment, the youth's element, in place of
	// the BSN; YouthKey names the key holders' keys that made it.
	Youth    string `json:"youth,omitempty"`
	YouthKey string `json:"youth_key,omitempty"`
	// BirthDate is the youth's birth date, YYYY-MM-DD: the letter is
	// addressed by the youth's age today, and it must be the birth date
	// the youth is registered with. Not in a blind deployment, where the
	// age comes from the birth month the registrations keep.
	BirthDate string `json:"birth_date,omitempty"`
	// Format is the answer's form: "json" (the default: the registrations
	// and the letter in both forms), "text" (the letter as text/plain) or
	// "html" (the letter as text/html).
	Format string `json:"format,omitempty"`
}

// SubjectAccessResponse answers POST /v1/subject-access in the json
// format: every registration of the youth, live and archived, and the
// letter that answers the request for access.
type SubjectAccessResponse struct {
	// At is when the answer was made.
	At string `json:"at"`
	// AddressedTo is whom the letter addresses by the youth's age today:
	// "parents" (under 12), "both" (12 to 15) or "youth" (16 and older).
	AddressedTo   string                   `json:"addressed_to"`
	Registrations []AccessRegistrationJSON `json:"registrations"`
	// Accesses are who accessed the youth, as the audit log holds it, in
	// the order they were answered; this request is not among them (the
	// next one lists it): the newest matcher.MaxAccesses; AccessesCut
	// says older ones are left out.
	Accesses    []AccessedJSON `json:"accesses"`
	AccessesCut bool           `json:"accesses_cut,omitempty"`
	Letter      LetterJSON     `json:"letter"`
}

// AccessedJSON is one access to the youth as subject access lists it.
type AccessedJSON struct {
	// On is the day of the access, YYYY-MM-DD, in Europe/Amsterdam.
	On string `json:"on"`
	// Institution is the institution that called, and Name its name in
	// the covenant.
	Institution string `json:"institution"`
	Name        string `json:"name,omitempty"`
	// Verb is what it did ("register", "lookup", "subject-access", …).
	Verb string `json:"verb"`
	// Outcome is "ok" or the refusal's code ("not_involved", …).
	Outcome string `json:"outcome"`
}

// AccessRegistrationJSON is one registration as subject access shows it.
type AccessRegistrationJSON struct {
	ID          string `json:"id"`
	Institution string `json:"institution"`
	// Name and Type are the institution's in the covenant.
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
	Kind string `json:"kind"`
	// Code is a signal's code, CodeLabel what it stands for.
	Code      string `json:"code,omitempty"`
	CodeLabel string `json:"code_label,omitempty"`
	Urgent    bool   `json:"urgent"`
	// Since is when the institution first reported the youth.
	Since string `json:"since"`
	// Status is "active" or "archived".
	Status string `json:"status"`
	// EndsOn is the day an active registration ends on its own.
	EndsOn string `json:"ends_on,omitempty"`
	// EndedAt and EndReason say when and why an archived one ended;
	// PurgeOn is the day it is destroyed.
	EndedAt   string `json:"ended_at,omitempty"`
	EndReason string `json:"end_reason,omitempty"`
	PurgeOn   string `json:"purge_on,omitempty"`
	// Informed or NotInformed is what the institution recorded of its
	// duty to inform; neither if it recorded nothing.
	Informed    *InformedJSON    `json:"informed,omitempty"`
	NotInformed *NotInformedJSON `json:"not_informed,omitempty"`
	// Family lists the family relations the registration records: type
	// ("parent" or "address") and since when; never the parent or the
	// address.
	Family []FamilyRelationJSON `json:"family,omitempty"`
}

// FamilyRelationJSON is one family relation of a registration, as subject
// access shows it.
type FamilyRelationJSON struct {
	Type  string `json:"type"`
	Since string `json:"since"`
}

// LetterJSON is a letter in its two forms.
type LetterJSON struct {
	Text string `json:"text"`
	HTML string `json:"html"`
}

// DeclineRequest is the body of POST /v1/cases/decline and POST
// /v1/cases/handover/decline: the youth, and why (a stable code:
// no_capacity, no_care_relation, better_placed_elsewhere or other).
type DeclineRequest struct {
	BSN      string `json:"bsn,omitempty"`
	Youth    string `json:"youth,omitempty"`
	YouthKey string `json:"youth_key,omitempty"`
	Reason   string `json:"reason"`
}

// HandoverRequest is the body of POST /v1/cases/handover: the youth, and
// the institution the coordinator offers the case to.
type HandoverRequest struct {
	BSN      string `json:"bsn,omitempty"`
	Youth    string `json:"youth,omitempty"`
	YouthKey string `json:"youth_key,omitempty"`
	To       string `json:"to"`
}

// EscalationRequest is the body of POST /v1/cases/escalations: the youth,
// the step of the covenant's escalation ladder taken, and for the
// alderman's decision the institution it names as coordinator.
type EscalationRequest struct {
	BSN         string `json:"bsn,omitempty"`
	Youth       string `json:"youth,omitempty"`
	YouthKey    string `json:"youth_key,omitempty"`
	Step        string `json:"step"`
	Coordinator string `json:"coordinator,omitempty"`
}
