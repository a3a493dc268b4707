package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/store"
)

// TestSubjectAccessOverHTTPS: the municipality that serves the youth gets
// every registration, live and archived, and the letter, as JSON or as the
// letter alone; neither holds the BSN, the birth date or a contact.
func TestSubjectAccessOverHTTPS(t *testing.T) {
	e := newEnv(t)
	e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement"))
	e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	g := decodeAs[httpapi.RegistrationResponse](t, e.do(byToken(ggd), "POST", "/v1/registrations", report(t, 1, "involvement")))
	if r := e.do(byToken(ggd), "POST", "/v1/registrations/"+g.ID+"/end", httpapi.EndRequest{Reason: "other"}); r.status != 204 {
		t.Fatalf("end: %d %s", r.status, r.body)
	}
	req := httpapi.SubjectAccessRequest{BSN: bsn(t, 1), BirthDate: "2014-05-17"}
	r := e.do(byToken(municipality), "POST", "/v1/subject-access", req)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("subject access: %d %v %s", r.status, r.header, r.body)
	}
	a := decodeAs[httpapi.SubjectAccessResponse](t, r)
	born, err := identity.ParseBirthDate("2014-05-17")
	if err != nil {
		t.Fatal(err)
	}
	band := store.AgeBandOf(born.AgeOn(time.Now()))
	if a.AddressedTo != band.Whom().String() || len(a.Registrations) != 3 {
		t.Fatalf("answer: %+v, want addressed to %v", a, band)
	}
	status := map[string]string{}
	for _, reg := range a.Registrations {
		status[reg.Institution] = reg.Status
	}
	if status[wij] != "active" || status[school] != "active" || status[ggd] != "archived" {
		t.Fatalf("statuses: %v", status)
	}
	arch := a.Registrations[2]
	if arch.ID != g.ID || arch.EndReason != "ended-other" || arch.EndedAt == "" || arch.PurgeOn == "" {
		t.Fatalf("the archived registration: %+v", arch)
	}
	if !strings.Contains(a.Letter.Text, "\nAan [naam jeugdige]") || !strings.Contains(a.Letter.Text, "Gemeente Groningen") ||
		!strings.Contains(a.Letter.HTML, "<h2>Gearchiveerde registraties</h2>") {
		t.Fatalf("letter:\n%s\n%s", a.Letter.Text, a.Letter.HTML)
	}
	for _, f := range []struct{ format, ct, want string }{
		{"text", "text/plain; charset=utf-8", "Betreft: uw verzoek om inzage in de verwijsindex\n"},
		{"html", "text/html; charset=utf-8", "<!DOCTYPE html>"},
	} {
		req.Format = f.format
		r := e.do(byToken(municipality), "POST", "/v1/subject-access", req)
		if r.status != 200 || r.header.Get("Content-Type") != f.ct || !strings.Contains(string(r.body), f.want) {
			t.Fatalf("format %s: %d %v %s", f.format, r.status, r.header, r.body)
		}
		// The same letter, but for the accesses: the JSON request is one.
		if f.format == "text" && (withoutAccesses(string(r.body)) != withoutAccesses(a.Letter.Text) ||
			strings.Count(string(r.body), "inzage gevraagd") != strings.Count(a.Letter.Text, "inzage gevraagd")+1) {
			t.Fatalf("the text letter differs from the JSON's:\n%s\n%s", r.body, a.Letter.Text)
		}
		for _, leak := range []string{bsn(t, 1), "2014-05-17", "17 mei 2014", "A. Jansen", "050-1234567"} {
			if strings.Contains(string(r.body), leak) {
				t.Fatalf("format %s holds %q", f.format, leak)
			}
		}
	}
	for _, leak := range []string{bsn(t, 1), "2014-05-17", "A. Jansen", "050-1234567"} {
		if strings.Contains(string(r.body), leak) {
			t.Fatalf("the JSON answer holds %q", leak)
		}
	}
}

// withoutAccesses is a text letter without its section on who accessed
// the youth.
func withoutAccesses(letter string) string {
	start, end := strings.Index(letter, "Wie heeft de gegevens ingezien"), strings.Index(letter, "Uw rechten")
	if start < 0 || end < start {
		return letter
	}
	return letter[:start] + letter[end:]
}

// TestSubjectAccessIsNoOracle: a municipality that serves none of the
// youth's registrations, a youth nobody registered and a birth date other
// than the youth's get exactly the bytes and headers of an uninvolved
// lookup; an institution that is not a municipality gets 403.
func TestSubjectAccessIsNoOracle(t *testing.T) {
	e := newEnv(t)
	e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement"))
	e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	uninvolved := e.do(byToken(other), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 2)})
	if uninvolved.status != 404 || uninvolved.problem.Code != httpapi.CodeNotInvolved {
		t.Fatalf("the uninvolved lookup: %d %s", uninvolved.status, uninvolved.body)
	}
	for _, tc := range []struct {
		name string
		who  as
		n    int
		born string
	}{
		{"another municipality, a registered youth", byToken(hogeland), 1, "2014-05-17"},
		{"another municipality, an unknown youth", byToken(hogeland), 2, "2014-05-17"},
		{"the municipality, an unknown youth", byToken(municipality), 2, "2014-05-17"},
		{"the municipality, another birth date", byToken(municipality), 1, "2014-05-18"},
	} {
		for _, format := range []string{"", "text", "html"} {
			r := e.do(tc.who, "POST", "/v1/subject-access", httpapi.SubjectAccessRequest{BSN: bsn(t, tc.n), BirthDate: tc.born, Format: format})
			if r.status != uninvolved.status || string(r.body) != string(uninvolved.body) || !sameHeadersBut(r.header, uninvolved.header, "Date") {
				t.Errorf("%s (format %q): %d %v %s\nwant the uninvolved lookup's: %d %v %s", tc.name, format,
					r.status, r.header, r.body, uninvolved.status, uninvolved.header, uninvolved.body)
			}
		}
	}
	for _, who := range []as{byToken(school), byCert(wij), byToken(other)} {
		for _, n := range []int{1, 2} {
			r := e.do(who, "POST", "/v1/subject-access", httpapi.SubjectAccessRequest{BSN: bsn(t, n), BirthDate: "2014-05-17"})
			if r.status != http.StatusForbidden || r.problem.Code != httpapi.CodeForbidden {
				t.Errorf("%+v, youth %d: %d %s", who, n, r.status, r.body)
			}
		}
	}
	// Bad input is refused alike for a registered and an unknown youth,
	// without quoting it.
	for _, tc := range []struct {
		body        string
		status      int
		code, field string
	}{
		{`{"bsn":"` + bsn(t, 1) + `"}`, 400, "invalid_birth_date", "birth_date"},
		{`{"bsn":"` + bsn(t, 1) + `","birth_date":"17-05-2014"}`, 400, "invalid_birth_date", "birth_date"},
		{`{"bsn":"` + bsn(t, 1) + `","birth_date":"2099-01-01"}`, 422, "not_a_youth", "birth_date"},
		{`{"bsn":"` + bsn(t, 1) + `","birth_date":"2014-05-17","format":"pdf"}`, 400, "invalid_parameter", "format"},
		{`{"bsn":"` + bsn(t, 1) + `","birth_date":"2014-05-17","diagnosis":"x"}`, 400, "unknown_field", "diagnosis"},
		{`{"bsn":"123456789","birth_date":"2014-05-17"}`, 400, "invalid_bsn", "bsn"},
	} {
		r := e.do(byToken(municipality), "POST", "/v1/subject-access", tc.body)
		if r.status != tc.status || r.problem.Code != tc.code || r.problem.Field != tc.field {
			t.Errorf("%s: %d %s, want %d %s (%s)", tc.body, r.status, r.body, tc.status, tc.code, tc.field)
		}
		if strings.Contains(string(r.body), bsn(t, 1)) || strings.Contains(string(r.body), "2014") {
			t.Errorf("%s: the problem quotes the input: %s", tc.body, r.body)
		}
	}
}

// TestSubjectAccessListsWhoAccessed: two institutions report a youth, one
// looks it up, and an institution not involved looks it up too (answered
// not_involved: an access attempt all the same). The municipality's answer
// lists each of these, by institution, verb, day and outcome, in the JSON
// and in the letter; its own request is listed by the next one.
func TestSubjectAccessListsWhoAccessed(t *testing.T) {
	e := newEnv(t)
	e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement"))
	e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	if r := e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)}); r.status != 200 {
		t.Fatalf("lookup: %d %s", r.status, r.body)
	}
	if r := e.do(byToken(other), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)}); r.status != 404 {
		t.Fatalf("the uninvolved lookup: %d %s", r.status, r.body)
	}
	e.do(byToken(other), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 2)}) // another youth
	req := httpapi.SubjectAccessRequest{BSN: bsn(t, 1), BirthDate: "2014-05-17"}
	a := decodeAs[httpapi.SubjectAccessResponse](t, e.do(byToken(municipality), "POST", "/v1/subject-access", req))
	today := time.Now().In(identity.DefaultLocation()).Format(time.DateOnly)
	type line struct{ inst, verb, outcome string }
	want := []line{{wij, "register", "ok"}, {school, "register", "ok"}, {school, "lookup", "ok"}, {other, "lookup", "not_involved"}}
	var got []line
	for _, x := range a.Accesses {
		got = append(got, line{x.Institution, x.Verb, x.Outcome})
		if x.On != today || x.Name == "" {
			t.Errorf("access %+v: want the day %s and the covenant's name", x, today)
		}
	}
	if !slices.Equal(got, want) || a.AccessesCut {
		t.Fatalf("accesses %v (cut %v), want %v", got, a.AccessesCut, want)
	}
	for _, s := range []string{"Wie heeft de gegevens ingezien", "Sociaal Team Het Hogeland", "niet betrokken"} {
		if !strings.Contains(a.Letter.Text, s) || !strings.Contains(a.Letter.HTML, s) {
			t.Errorf("the letter does not say %q:\n%s", s, a.Letter.Text)
		}
	}
	a = decodeAs[httpapi.SubjectAccessResponse](t, e.do(byToken(municipality), "POST", "/v1/subject-access", req))
	if n := len(a.Accesses); n != len(want)+1 || a.Accesses[n-1].Verb != "subject-access" || a.Accesses[n-1].Institution != municipality {
		t.Fatalf("the second request's accesses: %+v", a.Accesses)
	}
}

// TestAccessedVerbsAreTheStores: openapi.yaml's verbs of an access are the
// store's audit verbs, each by its name.
func TestAccessedVerbsAreTheStores(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var inDoc, inStore []string
	for _, v := range doc.Components.Schemas["Accessed"].Value.Properties["verb"].Value.Enum {
		inDoc = append(inDoc, v.(string))
	}
	for v := store.AuditVerb(1); v.Valid(); v++ {
		inStore = append(inStore, v.String())
	}
	if !slices.Equal(inDoc, inStore) {
		t.Fatalf("openapi.yaml's verbs %v, the store's %v", inDoc, inStore)
	}
}
