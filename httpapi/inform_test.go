package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/vindex-nl/vindex/httpapi"
)

// The contract checker reads an HTML letter as the string the document
// says it is (kin-openapi knows text/plain only).
func init() {
	openapi3filter.RegisterBodyDecoder("text/html", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(body)
		return string(b), err
	})
}

// youngReport is report for a youth of about eight, whatever today is:
// the parents are the ones to inform.
func youngReport(t testing.TB, n int, kind string) (httpapi.RegistrationRequest, time.Time) {
	r := report(t, n, kind)
	born := time.Now().AddDate(-8, 0, 0)
	r.BirthDate = born.Format(time.DateOnly)
	return r, born
}

// The duty to inform over HTTPS: a report records whom it informed (which
// must fit the youth's age), PATCH records it later, and the letter is the
// caller's own, as text or HTML, never quoting the youth's identity.
func TestInformOverHTTPS(t *testing.T) {
	e := newEnv(t)
	yesterday := time.Now().AddDate(0, 0, -1).Format(time.DateOnly)
	r, born := youngReport(t, 31, "signal")
	r.Informed = &httpapi.InformedJSON{Who: "youth", On: yesterday}
	if got := e.do(byToken(school), "POST", "/v1/registrations", r); got.status != 422 || got.problem.Code != httpapi.CodeInformMismatch || got.problem.Field != "informed.who" {
		t.Fatalf("an eight-year-old informed alone: %d %s", got.status, got.body)
	}
	r.Informed.Who = "parents"
	reg := e.do(byToken(school), "POST", "/v1/registrations", r)
	if reg.status != http.StatusCreated {
		t.Fatalf("report: %d %s", reg.status, reg.body)
	}
	id := decodeAs[httpapi.RegistrationResponse](t, reg).ID

	for _, c := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"later", httpapi.InformRequest{NotInformed: &httpapi.NotInformedJSON{Reason: "later"}}, 204, "", ""},
		{"parents", httpapi.InformRequest{Informed: &httpapi.InformedJSON{Who: "parents", On: yesterday}}, 204, "", ""},
		{"both", httpapi.InformRequest{Informed: &httpapi.InformedJSON{Who: "both", On: yesterday}}, 422, httpapi.CodeInformMismatch, "informed.who"},
		{"who", httpapi.InformRequest{Informed: &httpapi.InformedJSON{Who: "grandma", On: yesterday}}, 400, httpapi.CodeInvalidInform, "informed.who"},
		{"no day", `{"informed":{"who":"parents"}}`, 400, httpapi.CodeInvalidDate, "informed.on"},
		{"tomorrow", httpapi.InformRequest{Informed: &httpapi.InformedJSON{Who: "parents", On: time.Now().AddDate(0, 0, 2).Format(time.DateOnly)}}, 400, httpapi.CodeInvalidDate, "informed.on"},
		{"reason", httpapi.InformRequest{NotInformed: &httpapi.NotInformedJSON{Reason: "busy"}}, 400, httpapi.CodeInvalidInform, "not_informed.reason"},
		{"both members", httpapi.InformRequest{Informed: &httpapi.InformedJSON{Who: "parents", On: yesterday}, NotInformed: &httpapi.NotInformedJSON{Reason: "danger"}}, 400, httpapi.CodeInvalidInform, "informed"},
		{"neither", `{}`, 400, httpapi.CodeInvalidInform, "informed"},
		{"unknown field", `{"informed":{"who":"parents","on":"` + yesterday + `","note":"x"}}`, 400, httpapi.CodeUnknownField, "note"},
		{"case", `{"Informed":{"who":"parents","on":"` + yesterday + `"}}`, 400, httpapi.CodeInvalidJSON, "informed"},
	} {
		got := e.do(byToken(school), "PATCH", "/v1/registrations/"+id, c.body)
		if got.status != c.status || got.problem.Code != c.code || (c.field != "" && got.problem.Field != c.field) {
			t.Errorf("%s: %d %q field %q, want %d %q field %q: %s", c.name, got.status, got.problem.Code, got.problem.Field, c.status, c.code, c.field, got.body)
		}
	}

	// The letter: text by default, HTML on request, the caller's own only.
	text := e.do(byToken(school), "GET", "/v1/registrations/"+id+"/letter", nil)
	html := e.do(byToken(school), "GET", "/v1/registrations/"+id+"/letter", nil, "Accept", "text/html,application/xhtml+xml;q=0.9")
	plain := e.do(byToken(school), "GET", "/v1/registrations/"+id+"/letter", nil, "Accept", "text/html;q=0, text/plain")
	if text.status != 200 || !strings.HasPrefix(text.header.Get("Content-Type"), "text/plain") || string(plain.body) != string(text.body) {
		t.Fatalf("text letter: %d %s\n%s", text.status, text.header.Get("Content-Type"), text.body)
	}
	if html.status != 200 || !strings.HasPrefix(html.header.Get("Content-Type"), "text/html") || !strings.HasPrefix(string(html.body), "<!DOCTYPE html>") {
		t.Fatalf("HTML letter: %d %s\n%s", html.status, html.header.Get("Content-Type"), html.body)
	}
	for _, l := range []response{text, html} {
		body := string(l.body)
		for _, want := range []string{"Geachte ouder(s) of verzorger(s)", "Voorbeeldlyceum Groningen", "S01", "Gemeente Groningen", "A. Jansen", "bezwaar"} {
			if !strings.Contains(body, want) {
				t.Errorf("the letter lacks %q:\n%s", want, body)
			}
		}
		for _, secret := range []string{bsn(t, 31), born.Format(time.DateOnly), born.Format("02-01-2006"), born.Format("02012006")} {
			if strings.Contains(body, secret) {
				t.Errorf("the letter quotes the youth's BSN or birth date (%s)", secret)
			}
		}
	}
	for _, who := range []as{byCert(wij), byToken(municipality)} {
		if got := e.do(who, "GET", "/v1/registrations/"+id+"/letter", nil); got.status != 404 || got.problem.Code != httpapi.CodeNotFound {
			t.Errorf("another's letter: %d %s", got.status, got.body)
		}
	}
}

// A covenant that requires a record refuses a report without one.
func TestRequireInformRecordOverHTTPS(t *testing.T) {
	e := newEnvCovenant(t, func(s string) string {
		return strings.Replace(s, "require_inform_record: false", "require_inform_record: true", 1)
	})
	r, _ := youngReport(t, 32, "involvement")
	got := e.do(byToken(ggd), "POST", "/v1/registrations", r)
	if got.status != 422 || got.problem.Code != httpapi.CodeInformRecordRequired || got.problem.Field != "informed" {
		t.Fatalf("no record: %d %s", got.status, got.body)
	}
	r.NotInformed = &httpapi.NotInformedJSON{Reason: "danger"}
	if got := e.do(byToken(ggd), "POST", "/v1/registrations", r); got.status != http.StatusCreated {
		t.Fatalf("with a record: %d %s", got.status, got.body)
	}
}
