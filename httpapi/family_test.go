package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testkeys"
)

// withFamily enables address matching in the test covenant.
func withFamily(cov string) string {
	const off = "family:\n  address_matching: false\n"
	if !strings.Contains(cov, off) {
		panic("the example covenant has no family section to turn on")
	}
	return strings.Replace(cov, off, "family:\n  address_matching: true\n", 1)
}

// siblingsMatch has the GGD report a and the WIJ b, two children with a
// parent and the address in common: the answer to b names nobody, each
// institution gets a family-match event by parent and by address naming
// the other (and no family match naming more), no event quotes one of
// leaks, and a school involved with neither child hears nothing.
func siblingsMatch(t *testing.T, e *env, a, b httpapi.RegistrationRequest, leaks ...string) {
	t.Helper()
	if r := e.do(byToken(ggd), "POST", "/v1/registrations", a); r.status != http.StatusCreated {
		t.Fatalf("report with parents: %d %s", r.status, r.body)
	}
	res := e.do(byCert(wij), "POST", "/v1/registrations", b)
	if res.status != http.StatusCreated {
		t.Fatalf("sibling's report: %d %s", res.status, res.body)
	}
	// The answer is about the youth only: no match, nobody else named.
	if v := decodeAs[httpapi.RegistrationResponse](t, res); v.Matched || len(v.Involved) != 0 {
		t.Fatalf("the report's answer names the family: %+v", v)
	}
	for _, who := range []as{byToken(ggd), byCert(wij)} {
		r := e.do(who, "GET", "/v1/events", nil)
		for _, leak := range leaks {
			if strings.Contains(string(r.body), leak) {
				t.Fatalf("events quote %q: %s", leak, r.body)
			}
		}
		reasons := map[string]string{}
		for _, ev := range decodeAs[httpapi.EventsResponse](t, r).Events {
			if ev.Type == "family-match" {
				if len(ev.Others) != 1 {
					t.Fatalf("family-match names %d institutions", len(ev.Others))
				}
				reasons[ev.Reason] = ev.Others[0].Institution
			}
		}
		other := wij
		if who == byCert(wij) {
			other = ggd
		}
		if reasons["parent"] != other || reasons["address"] != other {
			t.Fatalf("family matches: %v, want parent and address with %s", reasons, other)
		}
	}
	// A school involved with neither child hears nothing.
	if ev := decodeAs[httpapi.EventsResponse](t, e.do(byToken(school), "GET", "/v1/events", nil)); len(ev.Events) != 0 {
		t.Fatalf("an uninvolved institution got %d events", len(ev.Events))
	}
}

// TestFamilyOverHTTPS: two institutions report two children with a parent
// in common and the same address; each gets a family-match event naming
// the other, and no answer, event or problem quotes a parent's BSN or the
// address. Bad parents and addresses get their codes.
func TestFamilyOverHTTPS(t *testing.T) {
	e := newEnvCovenant(t, withFamily)
	parent := bsn(t, 900)
	addr := &httpapi.AddressJSON{Postcode: "9712 cp", HouseNumber: 4817, Addition: "b"}
	a := report(t, 1, "involvement")
	a.Parents, a.Address = []string{parent, bsn(t, 901)}, addr
	b := report(t, 2, "involvement")
	b.Parents, b.Address = []string{parent}, &httpapi.AddressJSON{Postcode: "9712CP", HouseNumber: 4817, Addition: "B"}
	siblingsMatch(t, e, a, b, parent, bsn(t, 901), bsn(t, 1), bsn(t, 2), "9712", "4817")

	good := func() httpapi.RegistrationRequest { return report(t, 7, "involvement") }
	with := func(f func(*httpapi.RegistrationRequest)) httpapi.RegistrationRequest { r := good(); f(&r); return r }
	for _, c := range []struct {
		name   string
		body   httpapi.RegistrationRequest
		status int
		code   string
		field  string
	}{
		{"parent checksum", with(func(r *httpapi.RegistrationRequest) { r.Parents = []string{"123456789"} }), 400, "invalid_parents", "parents"},
		{"three parents", with(func(r *httpapi.RegistrationRequest) { r.Parents = []string{bsn(t, 900), bsn(t, 901), bsn(t, 902)} }), 400, "invalid_parents", "parents"},
		{"a parent twice", with(func(r *httpapi.RegistrationRequest) { r.Parents = []string{parent, parent} }), 400, "invalid_parents", "parents"},
		{"the youth as parent", with(func(r *httpapi.RegistrationRequest) { r.Parents = []string{bsn(t, 7)} }), 422, "parent_is_youth", "parents"},
		{"postcode", with(func(r *httpapi.RegistrationRequest) {
			r.Address = &httpapi.AddressJSON{Postcode: "97120", HouseNumber: 1}
		}), 400, "invalid_address", "address"},
		{"house number", with(func(r *httpapi.RegistrationRequest) {
			r.Address = &httpapi.AddressJSON{Postcode: "9712CP", HouseNumber: 0}
		}), 400, "invalid_address", "address"},
		{"addition", with(func(r *httpapi.RegistrationRequest) {
			r.Address = &httpapi.AddressJSON{Postcode: "9712CP", HouseNumber: 1, Addition: "flat 3"}
		}), 400, "invalid_address", "address"},
	} {
		r := e.do(byToken(ggd), "POST", "/v1/registrations", c.body)
		if r.status != c.status || r.problem.Code != c.code || r.problem.Field != c.field {
			t.Errorf("%s: got %d %q field %q, want %d %q field %q: %s", c.name, r.status, r.problem.Code, r.problem.Field, c.status, c.code, c.field, r.body)
		}
		if strings.Contains(string(r.body), parent) || strings.Contains(string(r.body), "9712") {
			t.Errorf("%s: the problem quotes the input: %s", c.name, r.body)
		}
	}
}

// Without the covenant's address matching an address is refused; a blind
// deployment refuses clear parents (it takes their elements).
func TestFamilyRefused(t *testing.T) {
	e := newEnv(t)
	r := report(t, 1, "involvement")
	r.Address = &httpapi.AddressJSON{Postcode: "9712CP", HouseNumber: 1}
	if got := e.do(byToken(ggd), "POST", "/v1/registrations", r); got.status != 422 || got.problem.Code != "address_not_enabled" {
		t.Fatalf("address without address matching: %d %s", got.status, got.body)
	}
	b := newBlindEnv(t)
	br := blindReport(t, oprf.GenerateKey(), 1, "involvement")
	br.Parents = []string{bsn(t, 900)}
	if got := b.do(byToken(ggd), "POST", "/v1/registrations", br); got.status != 400 || got.problem.Code != "family_not_blind" {
		t.Fatalf("blind report with parents: %d %s", got.status, got.body)
	}
}

// elementText is the request form (base64) of in's element with key.
func elementText(t *testing.T, key *oprf.PrivateKey, in oprf.Input) string {
	t.Helper()
	b, err := testkeys.InputElements(t, []oprf.Input{in}, key)[0].MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBlindFamilyOverHTTPS: in a blind deployment two institutions report
// two children with the elements of a parent in common and of one
// address; each gets a family-match event naming the other, an
// uninvolved institution hears nothing, and malformed elements, clear
// family values, and elements sent to an hmac index get their codes.
func TestBlindFamilyOverHTTPS(t *testing.T) {
	e := newEnvMode(t, true, nil, withFamily, true)
	key := oprf.GenerateKey()
	pb, err := identity.ParseBSN(bsn(t, 900))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := identity.ParseAddress("9712CP", 4817, "b")
	if err != nil {
		t.Fatal(err)
	}
	parent, home := elementText(t, key, oprf.ParentInput(pb)), elementText(t, key, oprf.AddressInput(addr))
	a := blindReport(t, key, 1, "involvement")
	a.ParentElements, a.AddressElement = []string{parent}, home
	b := blindReport(t, key, 2, "involvement")
	b.ParentElements, b.AddressElement = []string{parent}, home
	siblingsMatch(t, e, a, b, parent, home)

	with := func(f func(*httpapi.RegistrationRequest)) httpapi.RegistrationRequest {
		r := blindReport(t, key, 7, "involvement")
		f(&r)
		return r
	}
	other := elementText(t, key, oprf.ParentInput(bsnOf(t, 901)))
	for _, c := range []struct {
		name   string
		body   httpapi.RegistrationRequest
		status int
		code   string
		field  string
	}{
		{"not base64", with(func(r *httpapi.RegistrationRequest) { r.ParentElements = []string{"not an element"} }), 400, "invalid_parents", "parent_elements"},
		{"three parents", with(func(r *httpapi.RegistrationRequest) {
			r.ParentElements = []string{parent, other, youthElement(t, key, 9)}
		}), 400, "invalid_parents", "parent_elements"},
		{"a parent twice", with(func(r *httpapi.RegistrationRequest) { r.ParentElements = []string{parent, parent} }), 400, "invalid_parents", "parent_elements"},
		{"a bad address element", with(func(r *httpapi.RegistrationRequest) { r.AddressElement = strings.Repeat("A", 44) }), 400, "invalid_address", "address_element"},
		{"a parent's BSN", with(func(r *httpapi.RegistrationRequest) { r.Parents = []string{bsn(t, 900)} }), 400, "family_not_blind", "parents"},
		{"a malformed BSN", with(func(r *httpapi.RegistrationRequest) { r.Parents = []string{"12"} }), 400, "family_not_blind", "parents"},
		{"a clear address", with(func(r *httpapi.RegistrationRequest) {
			r.Address = &httpapi.AddressJSON{Postcode: "9712CP", HouseNumber: 1}
		}), 400, "family_not_blind", "address"},
	} {
		r := e.do(byToken(ggd), "POST", "/v1/registrations", c.body)
		if r.status != c.status || r.problem.Code != c.code || r.problem.Field != c.field {
			t.Errorf("%s: got %d %q field %q, want %d %q field %q: %s", c.name, r.status, r.problem.Code, r.problem.Field, c.status, c.code, c.field, r.body)
		}
	}
	// An hmac index refuses elements.
	h := newEnvCovenant(t, withFamily)
	r := report(t, 1, "involvement")
	for _, els := range [][]string{{parent}, {"not an element"}} {
		r.ParentElements = els
		if got := h.do(byToken(ggd), "POST", "/v1/registrations", r); got.status != 400 || got.problem.Code != "youth_not_accepted" || got.problem.Field != "parent_elements" {
			t.Fatalf("parent elements to an hmac index: %d %s", got.status, got.body)
		}
	}
}

func bsnOf(t *testing.T, n int) identity.BSN {
	t.Helper()
	b, err := identity.ParseBSN(bsn(t, n))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
