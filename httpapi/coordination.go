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
	return out
}
