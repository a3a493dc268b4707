package httpapi

import (
	"net/http"

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
