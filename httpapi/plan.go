package httpapi

import (
	"net/http"
	"time"

	"github.com/vindex-nl/vindex/matcher"
)

// PlanRequest is the body of POST /v1/cases/plan: the coordinator records
// that the youth's case has a plan, from Start to IntendedEnd (YYYY-MM-DD).
// Nothing of the plan's content: that stays with the institutions.
type PlanRequest struct {
	BSN         string `json:"bsn,omitempty"`
	Youth       string `json:"youth,omitempty"`
	YouthKey    string `json:"youth_key,omitempty"`
	Start       string `json:"start"`
	IntendedEnd string `json:"intended_end"`
}

// AgreementRequest is the body of POST /v1/cases/agreements: the
// coordinator records an agreement of the plan, for which Institution (an
// institution actively involved) is responsible, due on Due (YYYY-MM-DD).
type AgreementRequest struct {
	BSN         string `json:"bsn,omitempty"`
	Youth       string `json:"youth,omitempty"`
	YouthKey    string `json:"youth_key,omitempty"`
	Institution string `json:"institution"`
	Due         string `json:"due"`
}

// AgreementResponse answers POST /v1/cases/agreements: the agreement's
// number in the plan.
type AgreementResponse struct {
	Agreement int `json:"agreement"`
}

// AgreementDoneRequest is the body of POST /v1/cases/agreements/done: the
// coordinator or the responsible institution records that agreement
// Agreement of the plan is done.
type AgreementDoneRequest struct {
	BSN       string `json:"bsn,omitempty"`
	Youth     string `json:"youth,omitempty"`
	YouthKey  string `json:"youth_key,omitempty"`
	Agreement int    `json:"agreement"`
}

// PlanJSON is a case's plan as a lookup shows it to the institutions
// involved.
type PlanJSON struct {
	Start       string          `json:"start"`
	IntendedEnd string          `json:"intended_end"`
	By          string          `json:"by"`
	Agreements  []AgreementJSON `json:"agreements"`
}

// AgreementJSON is one agreement of a plan.
type AgreementJSON struct {
	Agreement   int    `json:"agreement"`
	Institution string `json:"institution"`
	Due         string `json:"due"`
	// Done is the day it was recorded as done; absent while open.
	Done string `json:"done,omitempty"`
	// Overdue: it was still open the day after its due day (the
	// coordinator was told).
	Overdue bool `json:"overdue"`
}

// planJSON is p as a lookup shows it; nil for no plan.
func planJSON(p *matcher.Plan) *PlanJSON {
	if p == nil {
		return nil
	}
	out := &PlanJSON{Start: p.Start.Format(time.DateOnly), IntendedEnd: p.IntendedEnd.Format(time.DateOnly), By: p.By,
		Agreements: make([]AgreementJSON, 0, len(p.Agreements))}
	for _, g := range p.Agreements {
		a := AgreementJSON{Agreement: g.N, Institution: g.Institution, Due: g.Due.Format(time.DateOnly), Overdue: g.Overdue}
		if !g.Done.IsZero() {
			a.Done = g.Done.Format(time.DateOnly)
		}
		out.Agreements = append(out.Agreements, a)
	}
	return out
}

// requiredDate is h.date for a field that must be given.
func (h *Handler) requiredDate(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, problem(http.StatusBadRequest, CodeInvalidDate, field, field+" must be a date in the form YYYY-MM-DD")
	}
	return h.date(field, s)
}

// plan serves POST /v1/cases/plan.
func (h *Handler) plan(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req PlanRequest
	if err := h.decode(r, &req, false); err != nil {
		return nil, 0, err
	}
	who, err := youthOf(h.m, req.BSN, req.Youth, req.YouthKey)
	if err != nil {
		return nil, 0, err
	}
	start, err := h.requiredDate("start", req.Start)
	if err != nil {
		return nil, 0, err
	}
	end, err := h.requiredDate("intended_end", req.IntendedEnd)
	if err != nil {
		return nil, 0, err
	}
	if err := h.m.RecordPlan(r.Context(), actor, who, start, end); err != nil {
		return nil, 0, err
	}
	return nil, http.StatusNoContent, nil
}

// agreement serves POST /v1/cases/agreements.
func (h *Handler) agreement(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req AgreementRequest
	if err := h.decode(r, &req, false); err != nil {
		return nil, 0, err
	}
	who, err := youthOf(h.m, req.BSN, req.Youth, req.YouthKey)
	if err != nil {
		return nil, 0, err
	}
	due, err := h.requiredDate("due", req.Due)
	if err != nil {
		return nil, 0, err
	}
	n, err := h.m.AddAgreement(r.Context(), actor, who, req.Institution, due)
	if err != nil {
		return nil, 0, err
	}
	return AgreementResponse{Agreement: n}, http.StatusCreated, nil
}

// agreementDone serves POST /v1/cases/agreements/done.
func (h *Handler) agreementDone(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req AgreementDoneRequest
	if err := h.decode(r, &req, false); err != nil {
		return nil, 0, err
	}
	who, err := youthOf(h.m, req.BSN, req.Youth, req.YouthKey)
	if err != nil {
		return nil, 0, err
	}
	if req.Agreement < 1 {
		return nil, 0, problem(http.StatusNotFound, CodeNoAgreement, "agreement", matcher.ErrNoAgreement.Error())
	}
	if err := h.m.AgreementDone(r.Context(), actor, who, req.Agreement); err != nil {
		return nil, 0, err
	}
	return nil, http.StatusNoContent, nil
}
