package client

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
)

// Register reports that the institution is involved with the youth (POST
// /v1/registrations) and returns the view: whether another institution is
// involved (a match), who, and who coordinates. The report's free text
// (client reference, contact, idempotency key) must not quote the youth's
// BSN or birth date: the Client refuses it before any request
// (ErrIdentifiesYouth, in a *FieldError naming the field), in both modes,
// since a blind index has neither to check against.
func (c *Client) Register(ctx context.Context, r Report) (*Result, error) {
	switch {
	case r.BSN.IsZero():
		return nil, &FieldError{Field: "bsn", Err: ErrYouth}
	case r.BirthDate.IsZero():
		return nil, &FieldError{Field: "birth_date", Err: ErrYouth}
	}
	if err := checkText(r.BSN, r.BirthDate, r.freeText()...); err != nil {
		return nil, err
	}
	if err := checkFamily(r); err != nil {
		return nil, err
	}
	body := registrationBody{Municipality: r.Municipality, Kind: r.Kind, Code: r.Code, Urgent: r.Urgent, Sector: r.Sector,
		Contact: r.Contact, EndsOn: r.EndsOn, IdempotencyKey: r.IdempotencyKey, ClientRef: r.ClientRef,
		Informed: r.Informed, NotInformed: r.NotInformed}
	var scrub []string
	if c.Blinder == nil {
		// The parents' BSNs and the address go on the wire in clear (over
		// TLS), as the youth's BSN does; an error's detail never quotes
		// them.
		body.BSN = r.BSN.RevealDigits()
		for _, p := range r.Parents {
			body.Parents = append(body.Parents, p.RevealDigits())
			scrub = append(scrub, p.RevealDigits())
		}
		if r.Address != nil {
			body.Address = addressOf(*r.Address)
			scrub = append(scrub, body.Address.Postcode)
		}
	} else {
		// The youth, the parents and the address are blinded together,
		// in one batch: only their elements go to the index.
		ins := []oprf.Input{oprf.YouthInput(r.BSN)}
		for _, p := range r.Parents {
			ins = append(ins, oprf.ParentInput(p))
		}
		if r.Address != nil {
			ins = append(ins, oprf.AddressInput(*r.Address))
		}
		els, err := c.elements(ctx, ins...)
		for _, in := range ins {
			in.Clear()
		}
		if err != nil {
			return nil, err
		}
		body.Youth, body.YouthKey = els[0], c.Blinder.LayerID()
		body.ParentElements = els[1 : 1+len(r.Parents)]
		if r.Address != nil {
			body.AddressElement = els[len(els)-1]
		}
		scrub = els
	}
	if c.Blinder != nil {
		body.BornIn = r.BirthDate.RevealDate().Format("2006-01")
	} else {
		body.BirthDate = r.BirthDate.RevealDate().Format(time.DateOnly)
	}
	var out Result
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/registrations", body: &body, out: &out,
		bsn: r.BSN, bd: r.BirthDate, scrub: scrub}); err != nil {
		return nil, err
	}
	return &out, nil
}

// checkFamily refuses, before any request, parents that are more than two,
// given twice, zero or the youth's own, and a free-text field that quotes
// a parent's BSN: in both modes, as a blind index cannot check them.
func checkFamily(r Report) error {
	if len(r.Parents) > 2 {
		return &FieldError{Field: "parents", Err: ErrParents}
	}
	if r.Address != nil && r.Address.IsZero() {
		return &FieldError{Field: "address", Err: ErrAddress}
	}
	for i, p := range r.Parents {
		if p.IsZero() || p == r.BSN || slices.Contains(r.Parents[:i], p) {
			return &FieldError{Field: "parents", Err: ErrParents}
		}
		if f := quotingField(p, identity.BirthDate{}, r.freeText()...); f != "" {
			return &FieldError{Field: f, Err: ErrIdentifiesParent}
		}
	}
	return nil
}

// freeText are the report's free-text fields, alternating name and value:
// none may quote the youth or a parent.
func (r Report) freeText() []string {
	return []string{"client_ref", r.ClientRef, "contact.name", r.Contact.Name, "contact.phone", r.Contact.Phone,
		"contact.email", r.Contact.Email, "idempotency_key", r.IdempotencyKey}
}

// addressOf is a's wire form.
func addressOf(a identity.Address) *addressBody {
	pc, n, add := a.RevealParts()
	return &addressBody{Postcode: pc, HouseNumber: n, Addition: add}
}

// Lookup returns the involvement view of a youth the institution is
// registered for (POST /v1/lookups); ErrNotInvolved if it has no live
// registration, whether or not anyone else is involved.
func (c *Client) Lookup(ctx context.Context, bsn identity.BSN) (*View, error) {
	var out View
	if err := c.youthCall(ctx, "/v1/lookups", bsn, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CloseCase closes the youth's case, ending every registration (POST
// /v1/cases/close; the coordinator only).
func (c *Client) CloseCase(ctx context.Context, bsn identity.BSN) error {
	return c.youthCall(ctx, "/v1/cases/close", bsn, nil)
}

// RecordPlan records that the youth's case has a plan from start until
// intendedEnd, or changes its days (POST /v1/cases/plan; the coordinator
// only). Only the days are sent: the plan's content stays with the
// institutions.
func (c *Client) RecordPlan(ctx context.Context, bsn identity.BSN, start, intendedEnd time.Time) error {
	y, err := c.youthOf(ctx, bsn)
	if err != nil {
		return err
	}
	body := planBody{BSN: y.BSN, Youth: y.Youth, YouthKey: y.YouthKey,
		Start: start.Format(time.DateOnly), IntendedEnd: intendedEnd.Format(time.DateOnly)}
	return c.do(ctx, call{method: http.MethodPost, path: "/v1/cases/plan", body: &body, bsn: bsn, scrub: []string{y.Youth}})
}

// AddAgreement records an agreement of the youth's plan for which
// institution, actively involved, is responsible by due, and returns its
// number (POST /v1/cases/agreements; the coordinator only).
func (c *Client) AddAgreement(ctx context.Context, bsn identity.BSN, institution string, due time.Time) (int, error) {
	y, err := c.youthOf(ctx, bsn)
	if err != nil {
		return 0, err
	}
	body := agreementBody{BSN: y.BSN, Youth: y.Youth, YouthKey: y.YouthKey, Institution: institution, Due: due.Format(time.DateOnly)}
	var out agreementAnswer
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/cases/agreements", body: &body, out: &out, bsn: bsn, scrub: []string{y.Youth}}); err != nil {
		return 0, err
	}
	return out.Agreement, nil
}

// AgreementDone records that agreement n of the youth's plan is done
// (POST /v1/cases/agreements/done; the coordinator or the responsible
// institution).
func (c *Client) AgreementDone(ctx context.Context, bsn identity.BSN, n int) error {
	y, err := c.youthOf(ctx, bsn)
	if err != nil {
		return err
	}
	body := agreementDoneBody{BSN: y.BSN, Youth: y.Youth, YouthKey: y.YouthKey, Agreement: n}
	return c.do(ctx, call{method: http.MethodPost, path: "/v1/cases/agreements/done", body: &body, bsn: bsn, scrub: []string{y.Youth}})
}

// RecordDeath records the youth's death, destroying everything about it
// (POST /v1/deaths; a municipality only).
func (c *Client) RecordDeath(ctx context.Context, bsn identity.BSN) error {
	return c.youthCall(ctx, "/v1/deaths", bsn, nil)
}

// youthCall posts a body that names one youth.
func (c *Client) youthCall(ctx context.Context, path string, bsn identity.BSN, out any) error {
	y, err := c.youthOf(ctx, bsn)
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodPost, path: path, body: &y, out: out, bsn: bsn, scrub: []string{y.Youth}})
}

// Object carries out an upheld objection (POST /v1/objections; a
// municipality only). Its answer is the same whether or not anything was
// removed.
func (c *Client) Object(ctx context.Context, o Objection) error {
	y, err := c.youthOf(ctx, o.BSN)
	if err != nil {
		return err
	}
	body := objectionBody{BSN: y.BSN, Youth: y.Youth, YouthKey: y.YouthKey, Scope: o.Scope, Institution: o.Institution}
	if c.Blinder == nil {
		if o.BirthDate.IsZero() {
			return &FieldError{Field: "birth_date", Err: ErrYouth}
		}
		body.BirthDate = o.BirthDate.RevealDate().Format(time.DateOnly)
	}
	return c.do(ctx, call{method: http.MethodPost, path: "/v1/objections", body: &body,
		bsn: o.BSN, bd: o.BirthDate, scrub: []string{y.Youth}})
}

// SubjectAccess returns every registration of the youth, who accessed it,
// and the letter that answers a request for access (POST
// /v1/subject-access; a municipality only). The birth date is required in
// an hmac deployment and never sent to a blind one, which addresses the
// letter by the birth month the registrations keep.
func (c *Client) SubjectAccess(ctx context.Context, bsn identity.BSN, bd identity.BirthDate) (*SubjectAccess, error) {
	if c.Blinder == nil && bd.IsZero() {
		return nil, &FieldError{Field: "birth_date", Err: ErrYouth}
	}
	y, err := c.youthOf(ctx, bsn)
	if err != nil {
		return nil, err
	}
	body := subjectAccessBody{BSN: y.BSN, Youth: y.Youth, YouthKey: y.YouthKey}
	if c.Blinder == nil {
		body.BirthDate = bd.RevealDate().Format(time.DateOnly)
	}
	var out SubjectAccess
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/subject-access", body: &body, out: &out,
		bsn: bsn, bd: bd, scrub: []string{y.Youth}}); err != nil {
		return nil, err
	}
	return &out, nil
}

// End ends the institution's own registration id, now or on e.On (POST
// /v1/registrations/{id}/end).
func (c *Client) End(ctx context.Context, id string, e EndRequest) error {
	var body any
	if e != (EndRequest{}) {
		body = &e
	}
	return c.do(ctx, call{method: http.MethodPost, path: regPath(id) + "/end", body: body})
}

// Remove removes registration id outright (DELETE
// /v1/registrations/{id}): reason "wrong" (the coordinator) or
// "objection" (a municipality).
func (c *Client) Remove(ctx context.Context, id, reason string) error {
	return c.do(ctx, call{method: http.MethodDelete, path: regPath(id), body: &removeBody{Reason: reason}})
}

// RecordInformed records on the institution's own registration id that it
// informed the parents or the youth, or why not (PATCH
// /v1/registrations/{id}).
func (c *Client) RecordInformed(ctx context.Context, id string, r InformRequest) error {
	return c.do(ctx, call{method: http.MethodPatch, path: regPath(id), body: &r})
}

// Letter returns the informing letter of the institution's own live
// registration id (GET /v1/registrations/{id}/letter): an HTML document
// if html, else text.
func (c *Client) Letter(ctx context.Context, id string, html bool) (string, error) {
	accept := "text/plain"
	if html {
		accept = "text/html"
	}
	var b []byte
	if err := c.do(ctx, call{method: http.MethodGet, path: regPath(id) + "/letter", accept: accept, raw: &b}); err != nil {
		return "", err
	}
	return string(b), nil
}

func regPath(id string) string { return "/v1/registrations/" + url.PathEscape(id) }

// Events returns the institution's outbox events after sequence number
// after, at most limit of them (GET /v1/events; limit 0: the index's
// default, 100). Poll again with the answer's Next.
func (c *Client) Events(ctx context.Context, after uint64, limit int) (*Events, error) {
	q := url.Values{"after": {strconv.FormatUint(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out Events
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/events?" + q.Encode(), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Stats returns a municipality's management figures of a closed year, in
// JSON (GET /v1/stats).
func (c *Client) Stats(ctx context.Context, sq StatsQuery) (*Stats, error) {
	q := url.Values{"year": {strconv.Itoa(sq.Year)}, "format": {"json"}}
	if sq.Municipality != "" {
		q.Set("municipality", sq.Municipality)
	}
	if sq.Measure != "" {
		q.Set("measure", sq.Measure)
	}
	if len(sq.By) > 0 {
		q.Set("by", strings.Join(sq.By, ","))
	}
	var out Stats
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/stats?" + q.Encode(), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Ready reports whether the index takes requests (GET /readyz): nil, or
// an *APIError (ErrUnavailable).
func (c *Client) Ready(ctx context.Context) error {
	var h health
	return c.do(ctx, call{method: http.MethodGet, path: "/readyz", out: &h})
}

// AuditCheckpoint returns the audit log's newest signed checkpoint (GET
// /v1/audit/checkpoint), a C2SP tlog-checkpoint note.
func (c *Client) AuditCheckpoint(ctx context.Context) ([]byte, error) {
	var b []byte
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/audit/checkpoint", accept: "text/plain", raw: &b}); err != nil {
		return nil, err
	}
	return b, nil
}

// The reasons for declining a case or a hand-over (DeclineCase,
// DeclineHandover): stable codes, never free text.
const (
	DeclineNoCapacity     = "no_capacity"
	DeclineNoCareRelation = "no_care_relation"
	DeclineBetterPlaced   = "better_placed_elsewhere"
	DeclineOther          = "other"
)

// AcceptCase accepts coordinating the youth's case (POST
// /v1/cases/accept; the coordinator only, within the covenant's term).
func (c *Client) AcceptCase(ctx context.Context, bsn identity.BSN) error {
	return c.youthCall(ctx, "/v1/cases/accept", bsn, nil)
}

// DeclineCase declines coordinating the youth's case for reason (POST
// /v1/cases/decline; the coordinator only, before it accepted): the next
// eligible institution is assigned.
func (c *Client) DeclineCase(ctx context.Context, bsn identity.BSN, reason string) error {
	return c.declineCall(ctx, "/v1/cases/decline", bsn, reason)
}

// HandOver offers the youth's case to the institution to, another
// involved care provider, which accepts or declines (POST
// /v1/cases/handover; the coordinator only).
func (c *Client) HandOver(ctx context.Context, bsn identity.BSN, to string) error {
	y, err := c.youthOf(ctx, bsn)
	if err != nil {
		return err
	}
	body := handoverBody{BSN: y.BSN, Youth: y.Youth, YouthKey: y.YouthKey, To: to}
	return c.do(ctx, call{method: http.MethodPost, path: "/v1/cases/handover", body: &body, bsn: bsn, scrub: []string{y.Youth}})
}

// AcceptHandover accepts the hand-over of the youth's case offered to the
// institution: it coordinates from now (POST /v1/cases/handover/accept).
func (c *Client) AcceptHandover(ctx context.Context, bsn identity.BSN) error {
	return c.youthCall(ctx, "/v1/cases/handover/accept", bsn, nil)
}

// DeclineHandover declines the hand-over of the youth's case offered to
// the institution, for reason (POST /v1/cases/handover/decline).
func (c *Client) DeclineHandover(ctx context.Context, bsn identity.BSN, reason string) error {
	return c.declineCall(ctx, "/v1/cases/handover/decline", bsn, reason)
}

func (c *Client) declineCall(ctx context.Context, path string, bsn identity.BSN, reason string) error {
	y, err := c.youthOf(ctx, bsn)
	if err != nil {
		return err
	}
	body := declineBody{BSN: y.BSN, Youth: y.Youth, YouthKey: y.YouthKey, Reason: reason}
	return c.do(ctx, call{method: http.MethodPost, path: path, body: &body, bsn: bsn, scrub: []string{y.Youth}})
}

// Escalate takes step of the covenant's escalation ladder for the youth's
// case (POST /v1/cases/escalations); coordinator names, for the
// alderman's decision only, the institution that coordinates with the
// final say ("" for any other step).
func (c *Client) Escalate(ctx context.Context, bsn identity.BSN, step, coordinator string) error {
	y, err := c.youthOf(ctx, bsn)
	if err != nil {
		return err
	}
	body := escalationBody{BSN: y.BSN, Youth: y.Youth, YouthKey: y.YouthKey, Step: step, Coordinator: coordinator}
	return c.do(ctx, call{method: http.MethodPost, path: "/v1/cases/escalations", body: &body, bsn: bsn, scrub: []string{y.Youth}})
}
