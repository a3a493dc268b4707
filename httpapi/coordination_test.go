package httpapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/vindex-nl/vindex/httpapi"
)

// TestCoordinationOverHTTPS drives the coordination routes: a decline
// assigns the next eligible institution, which hands the case over, the
// addressee accepts; the escalation ladder's steps; each answer's status
// and problem code, and the events they make.
func TestCoordinationOverHTTPS(t *testing.T) {
	e := newEnv(t)
	y := httpapi.BSNRequest{BSN: bsn(t, 7)}
	e.do(byToken(school), "POST", "/v1/registrations", report(t, 7, "signal"))
	e.do(byCert(wij), "POST", "/v1/registrations", report(t, 7, "involvement"))
	e.do(byToken(ggd), "POST", "/v1/registrations", report(t, 7, "involvement"))
	coordinatorIs := func(want string) {
		t.Helper()
		v := decodeAs[httpapi.ViewResponse](t, e.do(byToken(school), "POST", "/v1/lookups", y))
		if v.Coordinator == nil || v.Coordinator.Institution != want {
			t.Fatalf("coordinator %+v, want %s", v.Coordinator, want)
		}
	}
	coordinatorIs(wij)
	for _, c := range []struct {
		who    as
		path   string
		body   any
		status int
		code   string
	}{
		{byToken(ggd), "/v1/cases/accept", y, 403, httpapi.CodeNotCoordinator},
		{byCert(wij), "/v1/cases/decline", httpapi.DeclineRequest{BSN: y.BSN, Reason: "too busy"}, 400, httpapi.CodeInvalidReason},
		{byCert(wij), "/v1/cases/decline", map[string]string{"bsn": y.BSN, "reason": "other", "note": "free text"}, 400, httpapi.CodeUnknownField},
		{byCert(wij), "/v1/cases/decline", httpapi.DeclineRequest{BSN: y.BSN, Reason: "no_capacity"}, 204, ""},
		{byCert(wij), "/v1/cases/accept", y, 403, httpapi.CodeNotCoordinator},
		{byToken(ggd), "/v1/cases/handover", httpapi.HandoverRequest{BSN: y.BSN, To: wij}, 422, httpapi.CodeNotEligible}, // it declined
		{byToken(ggd), "/v1/cases/accept", y, 204, ""},
		{byToken(ggd), "/v1/cases/decline", httpapi.DeclineRequest{BSN: y.BSN, Reason: "other"}, 409, httpapi.CodeAlreadyAccepted},
		{byToken(ggd), "/v1/cases/escalations", httpapi.EscalationRequest{BSN: y.BSN, Step: "alderman"}, 409, httpapi.CodeEscalationOrder},
		{byToken(ggd), "/v1/cases/escalations", httpapi.EscalationRequest{BSN: y.BSN, Step: "top"}, 400, httpapi.CodeInvalidStep},
		{byToken(ggd), "/v1/cases/escalations", httpapi.EscalationRequest{BSN: y.BSN, Step: "own-management", Coordinator: wij}, 400, httpapi.CodeInvalidDecision},
		{byToken(ggd), "/v1/cases/escalations", httpapi.EscalationRequest{BSN: y.BSN, Step: "own-management"}, 204, ""},
		{byToken(ggd), "/v1/cases/escalations", httpapi.EscalationRequest{BSN: y.BSN, Step: "involved-managements"}, 204, ""},
		{byToken(ggd), "/v1/cases/escalations", httpapi.EscalationRequest{BSN: y.BSN, Step: "alderman"}, 204, ""},
		{byToken(hogeland), "/v1/cases/escalations", httpapi.EscalationRequest{BSN: y.BSN, Step: "decision", Coordinator: ggd}, 404, httpapi.CodeNotInvolved},
		{byToken(municipality), "/v1/cases/escalations", httpapi.EscalationRequest{BSN: y.BSN, Step: "decision", Coordinator: school}, 422, httpapi.CodeNotEligible},
		{byToken(municipality), "/v1/cases/escalations", httpapi.EscalationRequest{BSN: y.BSN, Step: "decision", Coordinator: ggd}, 204, ""},
		{byToken(school), "/v1/cases/handover/accept", y, 409, httpapi.CodeNoHandover},
	} {
		r := e.do(c.who, "POST", c.path, c.body)
		if r.status != c.status || r.problem.Code != c.code {
			t.Fatalf("%s %+v: %d %s, want %d %s", c.path, c.body, r.status, r.body, c.status, c.code)
		}
	}
	coordinatorIs(ggd)
	// Every institution involved sees the coordination state in its
	// lookup.
	v := decodeAs[httpapi.ViewResponse](t, e.do(byToken(school), "POST", "/v1/lookups", y))
	c := v.Coordination
	if c == nil || !c.Accepted || c.AcceptBy != "" || c.HandoverTo != "" {
		t.Fatalf("the school's view of the coordination: %+v", c)
	}
	var steps []string
	for _, s := range c.Escalation {
		steps = append(steps, s.Step+"/"+s.By)
	}
	if !slices.Equal(steps, []string{"own-management/" + ggd, "involved-managements/" + ggd, "alderman/" + ggd, "decision/" + municipality}) ||
		c.Escalation[3].Decided != ggd || c.Escalation[3].NextDue == "" {
		t.Fatalf("the escalation in the view: %+v", c.Escalation)
	}
	ev := decodeAs[httpapi.EventsResponse](t, e.do(byToken(municipality), "GET", "/v1/events", nil))
	var types []string
	for _, x := range ev.Events {
		types = append(types, x.Type)
	}
	if !slices.Equal(types, []string{"escalation"}) || len(ev.Events[0].Others) != 1 || ev.Events[0].Others[0].Institution != ggd || ev.Events[0].Reason != "alderman" {
		t.Fatalf("the municipality's events: %+v", ev.Events)
	}
	ev = decodeAs[httpapi.EventsResponse](t, e.do(byCert(wij), "GET", "/v1/events", nil))
	types = nil
	for _, x := range ev.Events {
		types = append(types, x.Type)
	}
	if !slices.Contains(types, "coordinator-declined") || !slices.Contains(types, "coordinator-accepted") || !slices.Contains(types, "escalation") {
		t.Fatalf("WIJ's events: %v", types)
	}
	if r := e.do(byToken(school), "GET", "/v1/events", nil); r.status != http.StatusOK {
		t.Fatal(r.status)
	}
}
