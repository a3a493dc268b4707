package httpapi_test

import (
	"testing"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
)

// The plan's routes: who may do what, the codes of what is refused, and
// the plan in every involved institution's lookup.
func TestPlanRoutes(t *testing.T) {
	e := newEnv(t)
	for _, r := range []struct {
		who  as
		kind string
		n    int
	}{{byToken(school), "signal", 1}, {byCert(wij), "involvement", 1}, {byToken(ggd), "involvement", 1}, {byToken(school), "signal", 2}, {byCert(wij), "involvement", 2}} {
		if res := e.do(r.who, "POST", "/v1/registrations", report(t, r.n, r.kind)); res.status != 201 {
			t.Fatalf("report: %d %s", res.status, res.body)
		}
	}
	today := time.Now().UTC().Format(time.DateOnly)
	inWeeks := func(w int) string { return time.Now().UTC().AddDate(0, 0, 7*w).Format(time.DateOnly) }
	plan := httpapi.PlanRequest{BSN: bsn(t, 1), Start: today, IntendedEnd: inWeeks(26)}
	for _, tc := range []struct {
		name   string
		who    as
		path   string
		body   any
		status int
		code   string
	}{
		{"agreement before a plan", byCert(wij), "/v1/cases/agreements", httpapi.AgreementRequest{BSN: bsn(t, 1), Institution: ggd, Due: inWeeks(1)}, 409, httpapi.CodeNoPlan},
		{"plan by a care provider that does not coordinate", byToken(ggd), "/v1/cases/plan", plan, 403, httpapi.CodeForbidden},
		{"plan by an institution not involved", byToken(other), "/v1/cases/plan", plan, 404, httpapi.CodeNotInvolved},
		{"plan with a malformed day", byCert(wij), "/v1/cases/plan", httpapi.PlanRequest{BSN: bsn(t, 1), Start: "1-2-2026", IntendedEnd: inWeeks(1)}, 400, httpapi.CodeInvalidDate},
		{"plan ending before it starts", byCert(wij), "/v1/cases/plan", httpapi.PlanRequest{BSN: bsn(t, 1), Start: inWeeks(2), IntendedEnd: inWeeks(1)}, 400, httpapi.CodeInvalidPlanDates},
		{"plan", byCert(wij), "/v1/cases/plan", plan, 204, ""},
		{"agreement without a due day", byCert(wij), "/v1/cases/agreements", httpapi.AgreementRequest{BSN: bsn(t, 1), Institution: ggd}, 400, httpapi.CodeInvalidDate},
		{"agreement for an institution not involved", byCert(wij), "/v1/cases/agreements", httpapi.AgreementRequest{BSN: bsn(t, 1), Institution: other, Due: inWeeks(1)}, 422, httpapi.CodeAgreementInstitution},
		{"agreement due yesterday", byCert(wij), "/v1/cases/agreements", httpapi.AgreementRequest{BSN: bsn(t, 1), Institution: ggd, Due: time.Now().UTC().AddDate(0, 0, -2).Format(time.DateOnly)}, 400, httpapi.CodeInvalidDue},
		{"agreement by the school", byToken(school), "/v1/cases/agreements", httpapi.AgreementRequest{BSN: bsn(t, 1), Institution: ggd, Due: inWeeks(1)}, 403, httpapi.CodeForbidden},
		{"agreement", byCert(wij), "/v1/cases/agreements", httpapi.AgreementRequest{BSN: bsn(t, 1), Institution: ggd, Due: inWeeks(1)}, 201, ""},
		{"done by the school, not responsible", byToken(school), "/v1/cases/agreements/done", httpapi.AgreementDoneRequest{BSN: bsn(t, 1), Agreement: 1}, 403, httpapi.CodeForbidden},
		{"done of an agreement that does not exist", byToken(ggd), "/v1/cases/agreements/done", httpapi.AgreementDoneRequest{BSN: bsn(t, 1), Agreement: 9}, 404, httpapi.CodeNoAgreement},
		{"done of agreement 0", byToken(ggd), "/v1/cases/agreements/done", httpapi.AgreementDoneRequest{BSN: bsn(t, 1), Agreement: 0}, 404, httpapi.CodeNoAgreement},
		{"done by the responsible institution", byToken(ggd), "/v1/cases/agreements/done", httpapi.AgreementDoneRequest{BSN: bsn(t, 1), Agreement: 1}, 204, ""},
	} {
		r := e.do(tc.who, "POST", tc.path, tc.body)
		if r.status != tc.status || r.problem.Code != tc.code {
			t.Fatalf("%s: %d %q, want %d %q: %s", tc.name, r.status, r.problem.Code, tc.status, tc.code, r.body)
		}
		if tc.status == 201 {
			if a := decodeAs[httpapi.AgreementResponse](t, r); a.Agreement != 1 {
				t.Fatalf("%s: agreement %d, want 1", tc.name, a.Agreement)
			}
		}
	}
	// The day an agreement is done is the matcher's day, in its zone
	// (identity.DefaultLocation), which is not UTC's in the hours around
	// midnight.
	doneDay := time.Now().In(identity.DefaultLocation()).Format(time.DateOnly)
	v := decodeAs[httpapi.ViewResponse](t, e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)}))
	p := v.Plan
	if p == nil || p.Start != today || p.IntendedEnd != inWeeks(26) || p.By != wij || len(p.Agreements) != 1 {
		t.Fatalf("school's lookup: plan %+v", p)
	}
	if g := p.Agreements[0]; g.Agreement != 1 || g.Institution != ggd || g.Due != inWeeks(1) || g.Done != doneDay || g.Overdue {
		t.Fatalf("agreement: %+v", g)
	}
	if v := decodeAs[httpapi.ViewResponse](t, e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 2)})); v.Plan != nil {
		t.Fatalf("youth 2 has a plan: %+v", v.Plan)
	}
}

// An institution not involved gets the same answer from the plan's routes
// for a youth others are involved with as for one nobody registered.
func TestPlanRoutesAreNoOracle(t *testing.T) {
	e := newEnv(t)
	e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement"))
	day := time.Now().UTC().AddDate(0, 0, 7).Format(time.DateOnly)
	if r := e.do(byCert(wij), "POST", "/v1/cases/plan", httpapi.PlanRequest{BSN: bsn(t, 1), Start: day, IntendedEnd: day}); r.status != 204 {
		t.Fatalf("plan: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		path string
		body func(n int) any
	}{
		{"/v1/cases/plan", func(n int) any { return httpapi.PlanRequest{BSN: bsn(t, n), Start: day, IntendedEnd: day} }},
		{"/v1/cases/agreements", func(n int) any { return httpapi.AgreementRequest{BSN: bsn(t, n), Institution: school, Due: day} }},
		{"/v1/cases/agreements/done", func(n int) any { return httpapi.AgreementDoneRequest{BSN: bsn(t, n), Agreement: 1} }},
	} {
		k := e.do(byToken(other), "POST", c.path, c.body(1))
		u := e.do(byToken(other), "POST", c.path, c.body(2))
		if k.status != 404 || k.status != u.status || string(k.body) != string(u.body) {
			t.Fatalf("%s: known %d %s, unknown %d %s", c.path, k.status, k.body, u.status, u.body)
		}
	}
}
