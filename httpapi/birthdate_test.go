package httpapi_test

import (
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/httpapi"
)

// TestBirthDateMismatchOverHTTPS: a report of a registered youth with
// another birth date (a mistyped BSN, or a mistyped date) is refused with
// 409 birth_date_mismatch, names the field, quotes neither, and stores
// nothing; the same birth date matches.
func TestBirthDateMismatchOverHTTPS(t *testing.T) {
	e := newEnv(t)
	if r := e.do(byToken(ggd), "POST", "/v1/registrations", report(t, 5, "involvement")); r.status != 201 {
		t.Fatalf("first report: %d %s", r.status, r.body)
	}
	other := report(t, 5, "signal")
	other.BirthDate = "2014-05-18"
	r := e.do(byToken(school), "POST", "/v1/registrations", other)
	if r.status != 409 || r.problem.Code != httpapi.CodeBirthDateMismatch || r.problem.Field != "birth_date" ||
		r.problem.Type != httpapi.ProblemTypePrefix+httpapi.CodeBirthDateMismatch {
		t.Fatalf("another birth date: %d %s", r.status, r.body)
	}
	for _, s := range []string{bsn(t, 5), "2014-05-17", "2014-05-18"} {
		if strings.Contains(string(r.body), s) {
			t.Fatalf("the problem quotes %s: %s", s, r.body)
		}
	}
	if r := e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 5)}); r.status != 404 {
		t.Fatalf("the refused report registered: %d %s", r.status, r.body)
	}
	if ev := decodeAs[httpapi.EventsResponse](t, e.do(byToken(school), "GET", "/v1/events", nil)); len(ev.Events) != 0 {
		t.Fatalf("the refused report wrote events: %+v", ev.Events)
	}
	r = e.do(byToken(school), "POST", "/v1/registrations", report(t, 5, "signal"))
	if r.status != 201 || !decodeAs[httpapi.RegistrationResponse](t, r).Matched {
		t.Fatalf("the same birth date: %d %s", r.status, r.body)
	}
}
