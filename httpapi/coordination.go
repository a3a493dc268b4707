package httpapi

import (
	"net/http"
	"time"

	"github.com/vindex-nl/vindex/matcher"
)

// decline serves POST /v1/cases/decline and POST
// /v1/cases/handover/decline with verb.
func (h *Handler) decline(verb func(*http.Request, matcher.Actor, matcher.Youth, matcher.DeclineReason) error) apiFunc {
	return func(r *http.Request, actor matcher.Actor) (any, int, error) {
		var req DeclineRequest
		if err := h.decode(r, &req, false); err != nil {
			return nil, 0, err
		}
		reason, err := matcher.ParseDeclineReason(req.Reason)
		if err != nil {
			return nil, 0, err
		}
		youth, err := youthOf(h.m, req.BSN, req.Youth, req.YouthKey)
		if err != nil {
			return nil, 0, err
		}
		if err := verb(r, actor, youth, reason); err != nil {
			return nil, 0, err
		}
		return nil, http.StatusNoContent, nil
	}
}

func (h *Handler) declineCase(r *http.Request, actor matcher.Actor, youth matcher.Youth, reason matcher.DeclineReason) error {
	return h.m.Decline(r.Context(), actor, youth, reason)
}

func (h *Handler) declineHandover(r *http.Request, actor matcher.Actor, youth matcher.Youth, reason matcher.DeclineReason) error {
	return h.m.DeclineHandover(r.Context(), actor, youth, reason)
}

// handover serves POST /v1/cases/handover.
func (h *Handler) handover(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req HandoverRequest
	if err := h.decode(r, &req, false); err != nil {
		return nil, 0, err
	}
	youth, err := youthOf(h.m, req.BSN, req.Youth, req.YouthKey)
	if err != nil {
		return nil, 0, err
	}
	if err := h.m.Handover(r.Context(), actor, youth, req.To); err != nil {
		return nil, 0, err
	}
	return nil, http.StatusNoContent, nil
}

// escalate serves POST /v1/cases/escalations.
func (h *Handler) escalate(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req EscalationRequest
	if err := h.decode(r, &req, false); err != nil {
		return nil, 0, err
	}
	youth, err := youthOf(h.m, req.BSN, req.Youth, req.YouthKey)
	if err != nil {
		return nil, 0, err
	}
	if err := h.m.Escalate(r.Context(), actor, youth, matcher.Escalation{Step: req.Step, Coordinator: req.Coordinator}); err != nil {
		return nil, 0, err
	}
	return nil, http.StatusNoContent, nil
}

// day parses a YYYY-MM-DD day of field.
func day(field, s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, problem(http.StatusBadRequest, CodeInvalidDate, field, field+" must be a day, YYYY-MM-DD")
	}
	return d, nil
}

// plan serves POST /v1/cases/plan.
func (h *Handler) plan(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req PlanRequest
	if err := h.decode(r, &req, false); err != nil {
		return nil, 0, err
	}
	start, err := day("start", req.Start)
	if err != nil {
		return nil, 0, err
	}
	end, err := day("end", req.End)
	if err != nil {
		return nil, 0, err
	}
	youth, err := youthOf(h.m, req.BSN, req.Youth, req.YouthKey)
	if err != nil {
		return nil, 0, err
	}
	if err := h.m.RecordPlan(r.Context(), actor, youth, start, end); err != nil {
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
	due, err := day("due", req.Due)
	if err != nil {
		return nil, 0, err
	}
	youth, err := youthOf(h.m, req.BSN, req.Youth, req.YouthKey)
	if err != nil {
		return nil, 0, err
	}
	n, err := h.m.AddAgreement(r.Context(), actor, youth, req.Institution, due)
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
	youth, err := youthOf(h.m, req.BSN, req.Youth, req.YouthKey)
	if err != nil {
		return nil, 0, err
	}
	if err := h.m.RecordAgreementDone(r.Context(), actor, youth, req.Agreement); err != nil {
		return nil, 0, err
	}
	return nil, http.StatusNoContent, nil
}

// coordinationJSON is c as a lookup answers it; nil for nil.
func coordinationJSON(c *matcher.CaseCoordination) *CoordinationJSON {
	if c == nil {
		return nil
	}
	out := &CoordinationJSON{Accepted: c.Accepted, HandoverTo: c.HandoverTo}
	if !c.AcceptBy.IsZero() {
		out.AcceptBy = c.AcceptBy.UTC().Format(time.RFC3339)
	}
	for _, s := range c.Escalation {
		j := EscalationStepJSON{Step: s.Step, By: s.By, At: s.At.UTC().Format(time.RFC3339), Overdue: s.Overdue, Decided: s.Decided}
		if !s.Due.IsZero() {
			j.NextDue = s.Due.UTC().Format(time.RFC3339)
		}
		out.Escalation = append(out.Escalation, j)
	}
	if !c.PlanStart.IsZero() {
		out.Plan = &PlanJSON{Start: c.PlanStart.Format(time.DateOnly), End: c.PlanEnd.Format(time.DateOnly), Agreements: []AgreementJSON{}}
		for _, a := range c.Agreements {
			out.Plan.Agreements = append(out.Plan.Agreements, AgreementJSON{Agreement: a.N, Institution: a.Institution,
				Due: a.Due.Format(time.DateOnly), Done: !a.Done.IsZero(), Overdue: a.Overdue})
		}
	}
	return out
}
