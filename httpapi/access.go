package httpapi

import (
	"net/http"
	"time"

	"github.com/vindex-nl/vindex/letters"
	"github.com/vindex-nl/vindex/matcher"
)

// subjectAccess serves POST /v1/subject-access: a municipality's answer to
// a request for access, as JSON or as the letter alone.
func (h *Handler) subjectAccess(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req SubjectAccessRequest
	if err := h.decode(r, &req, false); err != nil {
		return nil, 0, err
	}
	switch req.Format {
	case "", "json", "text", "html":
	default:
		return nil, 0, problem(http.StatusBadRequest, CodeInvalidParameter, "format", "format must be json, text or html")
	}
	youth, err := youthOf(h.m, req.BSN, req.Youth, req.YouthKey)
	if err != nil {
		return nil, 0, err
	}
	born, err := birthDateOf(h.m, req.BirthDate)
	if err != nil {
		return nil, 0, err
	}
	a, err := h.m.SubjectAccess(r.Context(), actor, youth, born)
	if err != nil {
		return nil, 0, err
	}
	l, err := letters.SubjectAccess(h.cov.InstitutionName(actor.Institution), a)
	if err != nil {
		return nil, 0, err
	}
	switch req.Format {
	case "text":
		return document{contentType: "text/plain; charset=utf-8", body: []byte(l.Text)}, http.StatusOK, nil
	case "html":
		return document{contentType: "text/html; charset=utf-8", body: []byte(l.HTML)}, http.StatusOK, nil
	}
	return NewSubjectAccessResponse(a, l), http.StatusOK, nil
}

// NewSubjectAccessResponse is the json answer of POST /v1/subject-access
// for a and its letter l.
func NewSubjectAccessResponse(a matcher.Access, l letters.Letter) SubjectAccessResponse {
	out := SubjectAccessResponse{At: a.Now.UTC().Format(time.RFC3339), AddressedTo: a.Band.Whom().String(),
		Registrations: make([]AccessRegistrationJSON, 0, len(a.Registrations)), Letter: LetterJSON{Text: l.Text, HTML: l.HTML}}
	for _, r := range a.Registrations {
		j := AccessRegistrationJSON{ID: r.ID.String(), Institution: r.Institution, Name: r.Name, Type: r.Type,
			Kind: r.Kind.String(), Code: r.SignalCode, CodeLabel: r.SignalLabel, Urgent: r.Urgent,
			Since: r.Since.UTC().Format(time.RFC3339), Status: "archived",
			EndsOn: date(r.EndsOn), PurgeOn: date(r.PurgeOn)}
		for _, f := range r.Family {
			j.Family = append(j.Family, FamilyRelationJSON{Type: f.Type, Since: f.Since.UTC().Format(time.RFC3339)})
		}
		if r.Live {
			j.Status = "active"
		} else {
			j.EndReason = r.EndReason.String()
		}
		if !r.EndedAt.IsZero() {
			j.EndedAt = r.EndedAt.UTC().Format(time.RFC3339)
		}
		switch {
		case r.Inform.Who != 0:
			j.Informed = &InformedJSON{Who: r.Inform.Who.String(), On: date(r.Inform.On)}
		case r.Inform.Not != 0:
			j.NotInformed = &NotInformedJSON{Reason: r.Inform.Not.String()}
		}
		out.Registrations = append(out.Registrations, j)
	}
	out.Accesses, out.AccessesCut = make([]AccessedJSON, 0, len(a.Accesses)), a.AccessesCut
	for _, x := range a.Accesses {
		out.Accesses = append(out.Accesses, AccessedJSON{On: date(x.On), Institution: x.Institution, Name: x.Name,
			Verb: x.Verb.String(), Outcome: x.Outcome})
	}
	return out
}

// date writes a civil day (00:00 UTC) as YYYY-MM-DD; "" for the zero time.
func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}
