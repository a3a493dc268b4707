package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/store"
)

// objection is the body of an objection to every registration of youth n.
func objection(t testing.TB, n int) httpapi.ObjectionRequest {
	return httpapi.ObjectionRequest{BSN: bsn(t, n), BirthDate: "2014-05-17", Scope: httpapi.ScopeAll}
}

// TestObjectionOverHTTPS: after an upheld objection every lookup by the
// institutions answers not_involved, the store holds nothing under the
// youth's pseudonym, each institution has a removed event, and a replay of
// a removed registration's report (the same Idempotency-Key) is a new
// report that returns nothing of the removed registration.
func TestObjectionOverHTTPS(t *testing.T) {
	e := newEnv(t)
	first := e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"), "Idempotency-Key", "school-report-1")
	s := decodeAs[httpapi.RegistrationResponse](t, first)
	w := decodeAs[httpapi.RegistrationResponse](t, e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement")))
	g := decodeAs[httpapi.RegistrationResponse](t, e.do(byToken(ggd), "POST", "/v1/registrations", report(t, 1, "involvement")))
	if r := e.do(byToken(ggd), "POST", "/v1/registrations/"+g.ID+"/end", httpapi.EndRequest{Reason: "risk_gone"}); r.status != 204 {
		t.Fatalf("end: %d %s", r.status, r.body)
	}
	if r := e.do(byToken(municipality), "POST", "/v1/objections", objection(t, 1)); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("objection: %d %s", r.status, r.body)
	}
	for _, who := range []as{byToken(school), byCert(wij), byToken(ggd)} {
		if r := e.do(who, "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)}); r.status != 404 || r.problem.Code != httpapi.CodeNotInvolved {
			t.Errorf("lookup after the objection: %d %s", r.status, r.body)
		}
	}
	for _, id := range []string{s.ID, w.ID, g.ID} { // g is archived
		rid, err := store.ParseID(id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Registration(context.Background(), rid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("registration %s: %v, want not found", id, err)
		}
	}
	b, err := identity.ParseBSN(bsn(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	set, err := e.ps.Youth(b)
	if err != nil {
		t.Fatal(err)
	}
	err = e.store.View(context.Background(), set.All, func(rd store.Reader) error {
		if _, hasCase := rd.Case(); len(rd.Registrations()) != 0 || len(rd.History()) != 0 || hasCase {
			t.Errorf("under the youth's pseudonym: %d live, %d archived, case %v", len(rd.Registrations()), len(rd.History()), hasCase)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who as
		reg string
	}{{byToken(school), s.ID}, {byCert(wij), w.ID}, {byToken(ggd), g.ID}} {
		evs := decodeAs[httpapi.EventsResponse](t, e.do(c.who, "GET", "/v1/events", nil)).Events
		if last := evs[len(evs)-1]; last.Type != "removed" || last.Reason != "objection" || last.Registration != c.reg || last.Subject != municipality {
			t.Errorf("last event %+v", last)
		}
	}
	replay := e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"), "Idempotency-Key", "school-report-1")
	again := decodeAs[httpapi.RegistrationResponse](t, replay)
	if replay.status != http.StatusCreated || again.Replayed || again.ID == s.ID || again.Matched || len(again.Involved) != 0 {
		t.Fatalf("replay of the removed report: %d %s", replay.status, replay.body)
	}
}

// TestObjectionIsNoOracle: a municipality that serves none of the youth's
// registrations gets exactly the bytes it gets for a youth nobody
// registered, as does the serving one with another birth date, and
// nothing is removed.
func TestObjectionIsNoOracle(t *testing.T) {
	e := newEnv(t)
	e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement"))
	wrongDate := objection(t, 1)
	wrongDate.BirthDate = "2014-05-18"
	unknown := e.do(byToken(hogeland), "POST", "/v1/objections", objection(t, 2))
	for _, c := range []struct {
		name string
		who  as
		body httpapi.ObjectionRequest
	}{
		{"another municipality", byToken(hogeland), objection(t, 1)},
		{"another birth date", byToken(municipality), wrongDate},
		{"the serving municipality, an unknown youth", byToken(municipality), objection(t, 2)},
	} {
		r := e.do(c.who, "POST", "/v1/objections", c.body)
		if r.status != unknown.status || string(r.body) != string(unknown.body) || !sameHeadersBut(r.header, unknown.header, "Date") {
			t.Errorf("%s: %d %v %q; for an unknown youth: %d %v %q", c.name, r.status, r.header, r.body, unknown.status, unknown.header, unknown.body)
		}
	}
	if v := decodeAs[httpapi.ViewResponse](t, e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)})); !v.Matched {
		t.Fatalf("the refused objections changed the youth: %+v", v)
	}
}

// TestObjectionBadInput: each bad request gets its problem code and field,
// and a caller that is not a municipality is forbidden.
func TestObjectionBadInput(t *testing.T) {
	e := newEnv(t)
	with := func(f func(*httpapi.ObjectionRequest)) httpapi.ObjectionRequest {
		r := objection(t, 1)
		f(&r)
		return r
	}
	for _, c := range []struct {
		name   string
		who    as
		body   any
		status int
		code   string
		field  string
	}{
		{"no scope", byToken(municipality), with(func(r *httpapi.ObjectionRequest) { r.Scope = "" }), 400, httpapi.CodeInvalidScope, "scope"},
		{"unknown scope", byToken(municipality), with(func(r *httpapi.ObjectionRequest) { r.Scope = "some" }), 400, httpapi.CodeInvalidScope, "scope"},
		{"all with an institution", byToken(municipality), with(func(r *httpapi.ObjectionRequest) { r.Institution = ggd }), 400, httpapi.CodeInvalidScope, "institution"},
		{"institution without one", byToken(municipality), with(func(r *httpapi.ObjectionRequest) { r.Scope = httpapi.ScopeInstitution }), 400, httpapi.CodeInvalidScope, "institution"},
		{"unknown institution", byToken(municipality), with(func(r *httpapi.ObjectionRequest) { r.Scope, r.Institution = httpapi.ScopeInstitution, "nobody" }), 400, httpapi.CodeInvalidScope, "institution"},
		{"no birth date", byToken(municipality), with(func(r *httpapi.ObjectionRequest) { r.BirthDate = "" }), 400, httpapi.CodeInvalidBirthDate, "birth_date"},
		{"bad birth date", byToken(municipality), with(func(r *httpapi.ObjectionRequest) { r.BirthDate = "17-05-2014" }), 400, httpapi.CodeInvalidBirthDate, "birth_date"},
		{"bad BSN", byToken(municipality), with(func(r *httpapi.ObjectionRequest) { r.BSN = "123456789" }), 400, httpapi.CodeInvalidBSN, "bsn"},
		{"unknown field", byToken(municipality), `{"bsn":"` + bsn(t, 1) + `","birth_date":"2014-05-17","scope":"all","reason":"x"}`, 400, httpapi.CodeUnknownField, "reason"},
		{"field twice", byToken(municipality), `{"bsn":"` + bsn(t, 1) + `","birth_date":"2014-05-17","scope":"all","scope":"all"}`, 400, httpapi.CodeInvalidJSON, "scope"},
		{"not a municipality", byToken(ggd), objection(t, 1), 403, httpapi.CodeForbidden, ""},
	} {
		r := e.do(c.who, "POST", "/v1/objections", c.body)
		if r.status != c.status || r.problem.Code != c.code || r.problem.Field != c.field {
			t.Errorf("%s: %d %s, want %d %s (field %q)", c.name, r.status, r.body, c.status, c.code, c.field)
		}
	}
}

// TestObjectionsRateLimited: objections are changes; over the class's
// limit they are refused, and so is any other change.
func TestObjectionsRateLimited(t *testing.T) {
	e := newEnvCovenant(t, smallRates(t))
	refused := 0
	for n := 1; n <= 10; n++ {
		switch r := e.do(byToken(municipality), "POST", "/v1/objections", objection(t, n)); {
		case r.status == 429 && r.problem.Code == httpapi.CodeRateLimited:
			refused++
		case r.status != 204:
			t.Fatalf("objection: %d %s", r.status, r.body)
		}
	}
	if refused == 0 {
		t.Fatal("no objection was refused with a burst of 3 at 1/s")
	}
	if r := e.do(byToken(municipality), "POST", "/v1/deaths", httpapi.BSNRequest{BSN: bsn(t, 1)}); r.status != 429 {
		t.Fatalf("a death after the objections used up the changes: %d", r.status)
	}
}
