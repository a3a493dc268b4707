package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vindex-nl/vindex/httpapi"
)

// TestEveryOperationIsChecked drives every operation of openapi.yaml
// through the contract checker (which every test's client goes through)
// and fails if one was never exercised.
func TestEveryOperationIsChecked(t *testing.T) {
	e := newEnv(t)
	s := decodeAs[httpapi.RegistrationResponse](t, e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal")))
	e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement"))
	e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)})
	e.do(byToken(school), "GET", "/v1/events?after=0&limit=10", nil)
	e.do(byToken(school), "PATCH", "/v1/registrations/"+s.ID, httpapi.InformRequest{NotInformed: &httpapi.NotInformedJSON{Reason: "later"}})
	e.do(byToken(school), "GET", "/v1/registrations/"+s.ID+"/letter", nil)
	e.do(byToken(school), "POST", "/v1/registrations/"+s.ID+"/end", httpapi.EndRequest{On: "2099-01-01"})
	e.do(byToken(school), "POST", "/v1/registrations", report(t, 2, "signal"))
	x := decodeAs[httpapi.RegistrationResponse](t, e.do(byCert(wij), "POST", "/v1/registrations", report(t, 2, "involvement")))
	e.do(byToken(municipality), "DELETE", "/v1/registrations/"+x.ID+"?reason=objection", nil)
	day := time.Now().UTC().AddDate(0, 0, 7).Format(time.DateOnly)
	e.do(byCert(wij), "POST", "/v1/cases/plan", httpapi.PlanRequest{BSN: bsn(t, 1), Start: day, IntendedEnd: day})
	e.do(byCert(wij), "POST", "/v1/cases/agreements", httpapi.AgreementRequest{BSN: bsn(t, 1), Institution: school, Due: day})
	e.do(byToken(school), "POST", "/v1/cases/agreements/done", httpapi.AgreementDoneRequest{BSN: bsn(t, 1), Agreement: 1})
	e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)})
	e.do(byToken(ggd), "POST", "/v1/registrations", report(t, 1, "involvement"))
	e.do(byCert(wij), "POST", "/v1/cases/handover", httpapi.HandoverRequest{BSN: bsn(t, 1), To: ggd})
	e.do(byToken(ggd), "POST", "/v1/cases/handover/decline", httpapi.DeclineRequest{BSN: bsn(t, 1), Reason: "no_capacity"})
	e.do(byCert(wij), "POST", "/v1/cases/handover", httpapi.HandoverRequest{BSN: bsn(t, 1), To: ggd})
	e.do(byToken(ggd), "POST", "/v1/cases/handover/accept", httpapi.BSNRequest{BSN: bsn(t, 1)})
	e.do(byToken(ggd), "POST", "/v1/cases/accept", httpapi.BSNRequest{BSN: bsn(t, 1)})
	e.do(byToken(ggd), "POST", "/v1/cases/decline", httpapi.DeclineRequest{BSN: bsn(t, 1), Reason: "other"})
	e.do(byToken(ggd), "POST", "/v1/cases/escalations", httpapi.EscalationRequest{BSN: bsn(t, 1), Step: "own-management"})
	e.do(byToken(ggd), "POST", "/v1/cases/close", httpapi.BSNRequest{BSN: bsn(t, 1)})
	e.do(byCert(wij), "POST", "/v1/cases/close", httpapi.BSNRequest{BSN: bsn(t, 1)})
	for _, format := range []string{"json", "text", "html"} {
		e.do(byToken(municipality), "POST", "/v1/subject-access", httpapi.SubjectAccessRequest{BSN: bsn(t, 2), BirthDate: "2014-05-17", Format: format})
	}
	e.do(byToken(municipality), "GET", "/v1/stats?year=2025&by=month,kind", nil)
	e.do(byToken(municipality), "POST", "/v1/deaths", httpapi.BSNRequest{BSN: bsn(t, 2)})
	e.do(byToken(municipality), "POST", "/v1/objections", httpapi.ObjectionRequest{BSN: bsn(t, 1), BirthDate: "2014-05-17", Scope: httpapi.ScopeAll})
	if r := e.do(anonymous, "GET", "/v1/audit/checkpoint", nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("checkpoint before the first seal: %d", r.status)
	}
	if _, err := e.audit.Seal(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/healthz", "/readyz", "/openapi.yaml", "/v1/audit/checkpoint"} {
		if r := e.do(anonymous, "GET", p, nil); r.status != 200 {
			t.Fatalf("%s: %d", p, r.status)
		}
	}

	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if e.checker.seen[op.OperationID] == 0 {
				missing = append(missing, method+" "+path)
			}
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Fatalf("operations never checked against openapi.yaml: %v", missing)
	}
}

// TestContractCheckerCatchesDrift is the checker's positive control: a
// response that breaks the document is reported.
func TestContractCheckerCatchesDrift(t *testing.T) {
	ft := &fakeT{TB: t}
	c := newContract(ft, "https://127.0.0.1:8443")
	req, _ := http.NewRequest("POST", "https://127.0.0.1:8443/v1/lookups", strings.NewReader(`{"bsn":"111222333"}`))
	req.Header.Set("Content-Type", "application/json")
	for _, bad := range []struct {
		status int
		ct     string
		body   string
	}{
		{200, "application/json", `{"id":"rxxx","matched":true}`},                                                                   // missing fields, bad id
		{200, "application/json", `{"id":"raaaaaaaaaaaaaaaaaaaaaaaaaa","matched":true,"involved":[],"coordinator":null,"bsn":"1"}`}, // extra field
		{418, "application/problem+json", `{"type":"urn:vindex:problem:x","title":"t","status":418,"code":"teapot"}`},               // undocumented status
		{404, "application/problem+json", `{"type":"urn:vindex:problem:x","title":"t","status":404,"code":"teapot"}`},               // unknown code
	} {
		before := len(c.errs)
		resp := &http.Response{StatusCode: bad.status, Header: http.Header{"Content-Type": {bad.ct}}}
		c.check(req, []byte(`{"bsn":"111222333"}`), resp, []byte(bad.body))
		if len(c.errs) == before {
			t.Errorf("the checker accepted %d %s", bad.status, bad.body)
		}
	}
	c.errs = nil
	var _ = io.EOF
	var _ = bytes.MinRead
}

type fakeT struct{ testing.TB }

func (f *fakeT) Cleanup(func()) {}
