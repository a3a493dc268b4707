package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testkeys"
)

// youthElement computes youth n's element with key, as a client system
// does with a key holder, in the request's form (base64).
func youthElement(t *testing.T, key *oprf.PrivateKey, n int) string {
	t.Helper()
	b, err := identity.ParseBSN(bsn(t, n))
	if err != nil {
		t.Fatal(err)
	}
	text, err := testkeys.Elements(t, []identity.BSN{b}, key)[0].MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// blindReport is report(n) as a blind deployment takes it: the element
// for the BSN, the birth month for the birth date.
func blindReport(t *testing.T, key *oprf.PrivateKey, n int, kind string) httpapi.RegistrationRequest {
	r := report(t, n, kind)
	r.BSN, r.BirthDate, r.Youth, r.BornIn = "", "", youthElement(t, key, n), "2014-05"
	return r
}

// TestBlindOverHTTPS: a blind deployment matches two institutions that
// report one youth by its element and birth month, and refuses a BSN, a
// birth date, a malformed element or month, with stable codes; a
// deployment that is not blind refuses an element. Neither the BSN nor the
// element is in what the server logged.
func TestBlindOverHTTPS(t *testing.T) {
	e := newBlindEnv(t)
	key := oprf.GenerateKey()
	if r := e.do(byToken(school), "POST", "/v1/registrations", blindReport(t, key, 1, "signal")); r.status != http.StatusCreated {
		t.Fatalf("blind report: %d %s", r.status, r.body)
	}
	res := decodeAs[httpapi.RegistrationResponse](t, e.do(byCert(wij), "POST", "/v1/registrations", blindReport(t, key, 1, "involvement")))
	if !res.Matched {
		t.Fatalf("one element reported by two institutions does not match: %+v", res)
	}
	v := decodeAs[httpapi.ViewResponse](t, e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{Youth: youthElement(t, key, 1)}))
	if !v.Matched {
		t.Fatalf("the blind lookup: %+v", v)
	}
	for name, c := range map[string]struct {
		body any
		code string
	}{
		"a BSN": {func() any { r := blindReport(t, key, 2, "signal"); r.BSN = bsn(t, 2); return r }(), "bsn_not_accepted"},
		"a birth date": {func() any {
			r := blindReport(t, key, 2, "signal")
			r.BirthDate = "2014-05-17"
			return r
		}(), "birth_date_not_accepted"},
		"a bad element":   {func() any { r := blindReport(t, key, 2, "signal"); r.Youth = "AAAA"; return r }(), "invalid_youth"},
		"no element":      {func() any { r := blindReport(t, key, 2, "signal"); r.Youth = ""; return r }(), "invalid_youth"},
		"a bad month":     {func() any { r := blindReport(t, key, 2, "signal"); r.BornIn = "2014-5"; return r }(), "invalid_born_in"},
		"a lookup by BSN": {httpapi.BSNRequest{BSN: bsn(t, 1)}, "bsn_not_accepted"},
	} {
		path := "/v1/registrations"
		if strings.HasPrefix(name, "a lookup") {
			path = "/v1/lookups"
		}
		r := e.do(byToken(school), "POST", path, c.body)
		var p httpapi.Problem
		json.Unmarshal(r.body, &p)
		if r.status != http.StatusBadRequest || p.Code != c.code {
			t.Errorf("%s: %d %s, want 400 %s", name, r.status, r.body, c.code)
		}
	}
	for n := 1; n <= 2; n++ {
		if logs := e.logs.String(); strings.Contains(logs, bsn(t, n)) || strings.Contains(logs, youthElement(t, key, n)[:20]) {
			t.Errorf("youth %d's BSN or element is in the server's log", n)
		}
	}

	// Subject access by element alone: the registrations, and the age from
	// the birth month they keep (January 2009: 17, so the letter is the
	// youth's own).
	older := blindReport(t, key, 4, "signal")
	older.BornIn = "2009-01"
	if r := e.do(byToken(school), "POST", "/v1/registrations", older); r.status != http.StatusCreated {
		t.Fatalf("blind report of youth 4: %d %s", r.status, r.body)
	}
	sa := decodeAs[httpapi.SubjectAccessResponse](t, e.do(byToken(municipality), "POST", "/v1/subject-access",
		httpapi.SubjectAccessRequest{Youth: youthElement(t, key, 4)}))
	if len(sa.Registrations) != 1 || sa.AddressedTo != "youth" {
		t.Errorf("blind subject access: %d registrations, addressed to %q", len(sa.Registrations), sa.AddressedTo)
	}
	if r := e.do(byToken(municipality), "POST", "/v1/subject-access", httpapi.SubjectAccessRequest{Youth: youthElement(t, key, 1), BirthDate: "2014-05-17"}); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "birth_date_not_accepted") {
		t.Errorf("blind subject access with a birth date: %d %s", r.status, r.body)
	}

	// An objection by element alone removes the youth's registrations; a
	// birth date with it is refused.
	bad := e.do(byToken(municipality), "POST", "/v1/objections", httpapi.ObjectionRequest{Youth: youthElement(t, key, 1), BirthDate: "2014-05-17", Scope: httpapi.ScopeAll})
	if bad.status != http.StatusBadRequest || !strings.Contains(string(bad.body), "birth_date_not_accepted") {
		t.Errorf("a blind objection with a birth date: %d %s", bad.status, bad.body)
	}
	if r := e.do(byToken(municipality), "POST", "/v1/objections", httpapi.ObjectionRequest{Youth: youthElement(t, key, 1), Scope: httpapi.ScopeAll}); r.status != http.StatusNoContent {
		t.Fatalf("a blind objection: %d %s", r.status, r.body)
	}
	if r := e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{Youth: youthElement(t, key, 1)}); r.status != http.StatusNotFound {
		t.Errorf("after the objection the school still sees the youth: %d %s", r.status, r.body)
	}

	// A death by element, as a close would be: the youth's records go.
	if r := e.do(byToken(school), "POST", "/v1/registrations", blindReport(t, key, 3, "signal")); r.status != http.StatusCreated {
		t.Fatalf("blind report of youth 3: %d %s", r.status, r.body)
	}
	if r := e.do(byToken(municipality), "POST", "/v1/deaths", httpapi.BSNRequest{Youth: youthElement(t, key, 3)}); r.status/100 != 2 {
		t.Fatalf("a blind death: %d %s", r.status, r.body)
	}
	if r := e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{Youth: youthElement(t, key, 3)}); r.status != http.StatusNotFound {
		t.Errorf("after the death the school still sees the youth: %d %s", r.status, r.body)
	}

	hm := newEnv(t)
	r := hm.do(byToken(school), "POST", "/v1/registrations", blindReport(t, key, 1, "signal"))
	var p httpapi.Problem
	json.Unmarshal(r.body, &p)
	if r.status != http.StatusBadRequest || p.Code != "youth_not_accepted" {
		t.Errorf("an element to an hmac deployment: %d %s", r.status, r.body)
	}
	r = hm.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1), YouthKey: "0123456789abcdef"})
	p = httpapi.Problem{}
	json.Unmarshal(r.body, &p)
	if r.status != http.StatusBadRequest || p.Code != "youth_not_accepted" {
		t.Errorf("a youth_key to an hmac deployment: %d %s", r.status, r.body)
	}
}
