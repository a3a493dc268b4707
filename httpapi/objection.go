package httpapi

import (
	"net/http"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
)

// ObjectionRequest is the body of POST /v1/objections: an upheld objection
// to the registration of a youth, carried out by a municipality.
type ObjectionRequest struct {
	// BSN is the youth's citizen service number (9 digits); in a blind
	// deployment never: Youth instead.
	BSN string `json:"bsn,omitempty"`
	// Youth is, in a blind deployment, the youth's element, in place of
	// the BSN; YouthKey names the key holders' keys that made it.
	Youth    string `json:"youth,omitempty"`
	YouthKey string `json:"youth_key,omitempty"`
	// BirthDate is the youth's birth date, YYYY-MM-DD; not in a blind
	// deployment, which knows no birth date to check it against.
	BirthDate string `json:"birth_date,omitempty"`
	// Scope is "all" (every registration of the youth) or "institution"
	// (those of Institution).
	Scope string `json:"scope"`
	// Institution is the covenant's ID of the institution whose
	// registrations the objection covers; only with scope "institution".
	Institution string `json:"institution,omitempty"`
}

// The scopes of an objection.
const (
	ScopeAll         = "all"
	ScopeInstitution = "institution"
)

// Objection turns the request into the matcher's youth, birth date and
// scope, checking the form of each field; its errors never quote a value.
func (req *ObjectionRequest) Objection(m *matcher.Matcher) (matcher.Youth, identity.BirthDate, matcher.ObjectionScope, error) {
	var scope matcher.ObjectionScope
	switch {
	case req.Scope == ScopeAll && req.Institution == "":
		scope = matcher.AllInstitutions()
	case req.Scope == ScopeAll:
		return matcher.Youth{}, identity.BirthDate{}, scope, problem(http.StatusBadRequest, CodeInvalidScope, "institution", "institution is given only with scope institution")
	case req.Scope == ScopeInstitution && req.Institution != "":
		scope = matcher.OneInstitution(req.Institution)
	case req.Scope == ScopeInstitution:
		return matcher.Youth{}, identity.BirthDate{}, scope, problem(http.StatusBadRequest, CodeInvalidScope, "institution", "scope institution needs the institution")
	default:
		return matcher.Youth{}, identity.BirthDate{}, scope, problem(http.StatusBadRequest, CodeInvalidScope, "scope", "scope must be all or institution")
	}
	born, err := birthDateOf(m, req.BirthDate)
	if err != nil {
		return matcher.Youth{}, identity.BirthDate{}, scope, err
	}
	who, err := youthOf(m, req.BSN, req.Youth, req.YouthKey)
	return who, born, scope, err
}

// object serves POST /v1/objections. The answer is 204 No Content whenever
// the objection is not refused for its form or its caller: whether it
// removed registrations or none (a municipality that serves none of the
// youth's registrations, a youth nobody registered, a birth date that is
// not the youth's, nothing in scope, or a repeat of an objection carried
// out before). One answer for all of these, with no count, so that it
// tells no caller whether the youth is registered, and a repeat answers as
// the first call did (the verb is idempotent by nature). The municipality
// that serves the youth finds what was removed in its own audit events
// (GET /v1/events: removed, reason objection).
func (h *Handler) object(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req ObjectionRequest
	if err := h.decode(r, &req, false); err != nil {
		return nil, 0, err
	}
	who, born, scope, err := req.Objection(h.m)
	if err != nil {
		return nil, 0, err
	}
	if _, err := h.m.Object(r.Context(), actor, who, born, scope); err != nil {
		return nil, 0, err
	}
	return nil, http.StatusNoContent, nil
}
