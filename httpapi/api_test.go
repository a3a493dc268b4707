package httpapi_test

import (
	"context"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
)

func TestMatchOverHTTPS(t *testing.T) {
	e := newEnv(t)
	r := e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	if r.status != http.StatusCreated {
		t.Fatalf("school: %d %s", r.status, r.body)
	}
	first := decodeAs[httpapi.RegistrationResponse](t, r)
	if first.Matched || len(first.Involved) != 0 || first.Coordinator != nil {
		t.Fatalf("lone report: %+v", first)
	}

	r = e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement"))
	if r.status != http.StatusCreated {
		t.Fatalf("wij: %d %s", r.status, r.body)
	}
	second := decodeAs[httpapi.RegistrationResponse](t, r)
	if !second.Matched || len(second.Involved) != 1 || second.Involved[0].Institution != school || second.Involved[0].Contact.Name != "A. Jansen" {
		t.Fatalf("second report: %+v", second)
	}
	if second.Coordinator == nil || second.Coordinator.Institution != wij || second.Coordinator.Rule == "" {
		t.Fatalf("coordinator: %+v", second.Coordinator)
	}

	// The school sees the match in a lookup and in its events.
	v := decodeAs[httpapi.ViewResponse](t, e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)}))
	if !v.Matched || v.ID != first.ID || v.Coordinator == nil || v.Coordinator.Institution != wij {
		t.Fatalf("school's view: %+v", v)
	}
	ev := decodeAs[httpapi.EventsResponse](t, e.do(byToken(school), "GET", "/v1/events", nil))
	var types []string
	for _, x := range ev.Events {
		types = append(types, x.Type)
		if x.Registration != first.ID {
			t.Errorf("school event about %s, not its registration", x.Registration)
		}
	}
	// One event of WIJ's report: the match, naming the coordinator.
	if !slices.Equal(types, []string{"no-match", "match"}) {
		t.Fatalf("school events: %v", types)
	}
	if c := ev.Events[1].Coordinator; c == nil || *c != *second.Coordinator {
		t.Fatalf("the match event names coordinator %+v, want %+v", c, second.Coordinator)
	}
	if ev.Next != ev.Events[1].Seq {
		t.Fatalf("next = %d, want %d", ev.Next, ev.Events[1].Seq)
	}
	// Polling from next gives nothing new; a page of one gives the first.
	if rest := decodeAs[httpapi.EventsResponse](t, e.do(byToken(school), "GET", "/v1/events?after="+itoa(ev.Next), nil)); len(rest.Events) != 0 || rest.Next != ev.Next {
		t.Fatalf("after next: %+v", rest)
	}
	if page := decodeAs[httpapi.EventsResponse](t, e.do(byToken(school), "GET", "/v1/events?limit=1", nil)); len(page.Events) != 1 || page.Next != ev.Events[0].Seq {
		t.Fatalf("limit 1: %+v", page)
	}

	// A refresh answers 200 and no new match; a replay the first result.
	r = e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	if got := decodeAs[httpapi.RegistrationResponse](t, r); r.status != http.StatusOK || !got.Refreshed || got.ID != first.ID {
		t.Fatalf("refresh: %d %+v", r.status, got)
	}
	rep := report(t, 2, "involvement")
	a := e.do(byToken(ggd), "POST", "/v1/registrations", rep, "Idempotency-Key", "k-1")
	b := e.do(byToken(ggd), "POST", "/v1/registrations", rep, "Idempotency-Key", "k-1")
	ra, rb := decodeAs[httpapi.RegistrationResponse](t, a), decodeAs[httpapi.RegistrationResponse](t, b)
	if a.status != http.StatusCreated || b.status != http.StatusOK || !rb.Replayed || ra.ID != rb.ID {
		t.Fatalf("idempotent retry: %d %+v / %d %+v", a.status, ra, b.status, rb)
	}

	// Access log: the route pattern and the institution, never the path.
	var access []string
	for _, line := range strings.Split(string(e.logs.Bytes()), "\n") {
		if strings.Contains(line, `"msg":"request"`) {
			access = append(access, line)
		}
	}
	logs := strings.Join(access, "\n")
	for _, want := range []string{`"route":"POST /v1/registrations"`, `"institution":"` + wij + `"`, `"route":"GET /v1/events"`, `"status":201`} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %s", want)
		}
	}
	if strings.Contains(logs, "after=") || strings.Contains(logs, "limit=") || strings.Contains(logs, "A. Jansen") {
		t.Errorf("access log has a query or a body:\n%s", logs)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestAccessMatrix runs every endpoint as every role: the registration's
// own institution, another institution, the coordinator, the municipality,
// no credentials, an unpinned and an untrusted client certificate.
func TestAccessMatrix(t *testing.T) {
	e := newEnv(t)
	n := 100
	// setup makes a fresh youth reported by the school (a signal) and by
	// WIJ (coordinator), and returns the school's registration ID.
	setup := func(t *testing.T) (int, string) {
		n++
		s := decodeAs[httpapi.RegistrationResponse](t, e.do(byToken(school), "POST", "/v1/registrations", report(t, n, "signal")))
		w := decodeAs[httpapi.RegistrationResponse](t, e.do(byCert(wij), "POST", "/v1/registrations", report(t, n, "involvement")))
		if w.Coordinator == nil || w.Coordinator.Institution != wij {
			t.Fatalf("setup: coordinator %+v", w.Coordinator)
		}
		return n, s.ID
	}
	type call struct {
		name   string
		method string
		path   func(id string) string
		body   func(n int) any
	}
	calls := map[string]call{
		"register": {"register", "POST", func(string) string { return "/v1/registrations" }, func(n int) any {
			r := report(t, n, "signal")
			r.BSN = bsn(t, n+5000)
			return r
		}},
		"lookup":       {"lookup", "POST", func(string) string { return "/v1/lookups" }, func(n int) any { return httpapi.BSNRequest{BSN: bsn(t, n)} }},
		"end":          {"end", "POST", func(id string) string { return "/v1/registrations/" + id + "/end" }, func(int) any { return nil }},
		"remove-wrong": {"remove-wrong", "DELETE", func(id string) string { return "/v1/registrations/" + id + "?reason=wrong" }, func(int) any { return nil }},
		"remove-objection": {"remove-objection", "DELETE", func(id string) string { return "/v1/registrations/" + id }, func(int) any {
			return httpapi.RemoveRequest{Reason: "objection"}
		}},
		"close":  {"close", "POST", func(string) string { return "/v1/cases/close" }, func(n int) any { return httpapi.BSNRequest{BSN: bsn(t, n)} }},
		"death":  {"death", "POST", func(string) string { return "/v1/deaths" }, func(n int) any { return httpapi.BSNRequest{BSN: bsn(t, n)} }},
		"events": {"events", "GET", func(string) string { return "/v1/events" }, func(int) any { return nil }},
		"objection": {"objection", "POST", func(string) string { return "/v1/objections" }, func(n int) any {
			return httpapi.ObjectionRequest{BSN: bsn(t, n), BirthDate: "2014-05-17", Scope: httpapi.ScopeAll}
		}},
		"subject-access": {"subject-access", "POST", func(string) string { return "/v1/subject-access" }, func(n int) any {
			return httpapi.SubjectAccessRequest{BSN: bsn(t, n), BirthDate: "2014-05-17"}
		}},
		"inform": {"inform", "PATCH", func(id string) string { return "/v1/registrations/" + id }, func(int) any {
			return httpapi.InformRequest{NotInformed: &httpapi.NotInformedJSON{Reason: "later"}}
		}},
		"letter": {"letter", "GET", func(id string) string { return "/v1/registrations/" + id + "/letter" }, func(int) any { return nil }},
		"accept": {"accept", "POST", func(string) string { return "/v1/cases/accept" }, func(n int) any { return httpapi.BSNRequest{BSN: bsn(t, n)} }},
		"decline": {"decline", "POST", func(string) string { return "/v1/cases/decline" }, func(n int) any {
			return httpapi.DeclineRequest{BSN: bsn(t, n), Reason: "no_capacity"}
		}},
		"handover": {"handover", "POST", func(string) string { return "/v1/cases/handover" }, func(n int) any {
			return httpapi.HandoverRequest{BSN: bsn(t, n), To: school}
		}},
		"handover-accept": {"handover-accept", "POST", func(string) string { return "/v1/cases/handover/accept" }, func(n int) any {
			return httpapi.BSNRequest{BSN: bsn(t, n)}
		}},
		"handover-decline": {"handover-decline", "POST", func(string) string { return "/v1/cases/handover/decline" }, func(n int) any {
			return httpapi.DeclineRequest{BSN: bsn(t, n), Reason: "other"}
		}},
		"escalate": {"escalate", "POST", func(string) string { return "/v1/cases/escalations" }, func(n int) any {
			return httpapi.EscalationRequest{BSN: bsn(t, n), Step: "own-management"}
		}},
		"decision": {"decision", "POST", func(string) string { return "/v1/cases/escalations" }, func(n int) any {
			return httpapi.EscalationRequest{BSN: bsn(t, n), Step: "decision", Coordinator: wij}
		}},
		"plan": {"plan", "POST", func(string) string { return "/v1/cases/plan" }, func(n int) any {
			day := time.Now().UTC().Format(time.DateOnly)
			return httpapi.PlanRequest{BSN: bsn(t, n), Start: day, IntendedEnd: day}
		}},
	}
	roles := map[string]as{
		"own":          byToken(school),
		"other":        byToken(other),
		"coordinator":  byCert(wij),
		"municipality": byToken(municipality),
		"none":         anonymous,
		"bad-token":    {rawTok: "Bearer vx_not-a-token"},
		"unpinned":     {cert: "cert:unpinned"},
	}
	// want[call][role] = status; 0 means the TLS handshake must fail.
	want := map[string]map[string]int{
		"register":         {"own": 201, "other": 201, "coordinator": 201, "municipality": 201, "none": 401, "bad-token": 401, "unpinned": 401},
		"lookup":           {"own": 200, "other": 404, "coordinator": 200, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"end":              {"own": 204, "other": 404, "coordinator": 404, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"remove-wrong":     {"own": 403, "other": 404, "coordinator": 204, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"remove-objection": {"own": 403, "other": 403, "coordinator": 403, "municipality": 204, "none": 401, "bad-token": 401, "unpinned": 401},
		"close":            {"own": 403, "other": 404, "coordinator": 204, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"death":            {"own": 403, "other": 403, "coordinator": 403, "municipality": 204, "none": 401, "bad-token": 401, "unpinned": 401},
		"objection":        {"own": 403, "other": 403, "coordinator": 403, "municipality": 204, "none": 401, "bad-token": 401, "unpinned": 401},
		"events":           {"own": 200, "other": 200, "coordinator": 200, "municipality": 200, "none": 401, "bad-token": 401, "unpinned": 401},
		"subject-access":   {"own": 403, "other": 403, "coordinator": 403, "municipality": 200, "none": 401, "bad-token": 401, "unpinned": 401},
		"inform":           {"own": 204, "other": 404, "coordinator": 404, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"letter":           {"own": 200, "other": 404, "coordinator": 404, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"accept":           {"own": 403, "other": 404, "coordinator": 204, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"decline":          {"own": 403, "other": 404, "coordinator": 204, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"handover":         {"own": 403, "other": 404, "coordinator": 422, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"handover-accept":  {"own": 409, "other": 404, "coordinator": 409, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"handover-decline": {"own": 409, "other": 404, "coordinator": 409, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"escalate":         {"own": 403, "other": 404, "coordinator": 204, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"decision":         {"own": 404, "other": 404, "coordinator": 404, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
		"plan":             {"own": 403, "other": 404, "coordinator": 204, "municipality": 404, "none": 401, "bad-token": 401, "unpinned": 401},
	}
	for cname, byRole := range want {
		for role, status := range byRole {
			t.Run(cname+"/"+role, func(t *testing.T) {
				c := calls[cname]
				n, id := setup(t)
				r := e.do(roles[role], c.method, c.path(id), c.body(n))
				if r.status != status {
					t.Fatalf("%s as %s: %d, want %d: %s", cname, role, r.status, status, r.body)
				}
				if status >= 400 && r.problem.Code == "" {
					t.Fatalf("no problem code: %s", r.body)
				}
				if status == 401 && r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
	}
	// A client certificate from a CA the server does not trust fails the
	// handshake: no request is served at all.
	t.Run("untrusted-certificate", func(t *testing.T) {
		if r, err := e.try(as{cert: "cert:rogue"}, "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)}); err == nil {
			t.Fatalf("served a client with an untrusted certificate: %d", r.status)
		}
	})
	// A certificate and a token of different institutions.
	t.Run("conflicting-credentials", func(t *testing.T) {
		r := e.do(as{cert: "cert:" + wij, token: school}, "GET", "/v1/events", nil)
		if r.status != 401 || r.problem.Code != httpapi.CodeCredentialsConflict {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if r := e.do(as{cert: "cert:" + wij, token: wij}, "GET", "/v1/events", nil); r.status != 200 {
			t.Fatalf("certificate and token of the same institution: %d", r.status)
		}
	})
}

// TestNotInvolvedIsNoOracle: an uninvolved institution gets the same
// answer for a youth others are involved with and for an unknown youth.
func TestNotInvolvedIsNoOracle(t *testing.T) {
	e := newEnv(t)
	e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement"))
	known := e.do(byToken(other), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)})
	unknown := e.do(byToken(other), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 2)})
	if known.status != 404 || known.problem.Code != httpapi.CodeNotInvolved {
		t.Fatalf("known youth: %d %s", known.status, known.body)
	}
	if known.status != unknown.status || string(known.body) != string(unknown.body) {
		t.Fatalf("answers differ:\n%s\n%s", known.body, unknown.body)
	}
	for _, c := range []string{"/v1/cases/close", "/v1/cases/accept", "/v1/cases/handover/accept"} {
		k := e.do(byToken(other), "POST", c, httpapi.BSNRequest{BSN: bsn(t, 1)})
		u := e.do(byToken(other), "POST", c, httpapi.BSNRequest{BSN: bsn(t, 2)})
		if k.status != u.status || string(k.body) != string(u.body) {
			t.Fatalf("%s answers differ: %s / %s", c, k.body, u.body)
		}
	}
	for _, c := range []struct {
		path string
		body func(n int) any
	}{
		{"/v1/cases/decline", func(n int) any { return httpapi.DeclineRequest{BSN: bsn(t, n), Reason: "no_capacity"} }},
		{"/v1/cases/handover/decline", func(n int) any { return httpapi.DeclineRequest{BSN: bsn(t, n), Reason: "other"} }},
		{"/v1/cases/handover", func(n int) any { return httpapi.HandoverRequest{BSN: bsn(t, n), To: wij} }},
		{"/v1/cases/escalations", func(n int) any { return httpapi.EscalationRequest{BSN: bsn(t, n), Step: "own-management"} }},
	} {
		k := e.do(byToken(other), "POST", c.path, c.body(1))
		u := e.do(byToken(other), "POST", c.path, c.body(2))
		if k.status != 404 || k.status != u.status || string(k.body) != string(u.body) {
			t.Fatalf("%s answers differ: %d %s / %s", c.path, k.status, k.body, u.body)
		}
	}
	// A municipality's escalation step, before the case has come that
	// far: the answer of a youth nobody registered.
	dk := e.do(byToken(municipality), "POST", "/v1/cases/escalations", httpapi.EscalationRequest{BSN: bsn(t, 1), Step: "decision", Coordinator: wij})
	du := e.do(byToken(municipality), "POST", "/v1/cases/escalations", httpapi.EscalationRequest{BSN: bsn(t, 2), Step: "decision", Coordinator: wij})
	if dk.status != 404 || dk.status != du.status || string(dk.body) != string(du.body) {
		t.Fatalf("decision answers differ: %d %s / %s", dk.status, dk.body, du.body)
	}
	// A municipality that serves none of the youth's registrations records
	// a death as if nobody were registered: the same answer, and nothing
	// ends.
	k := e.do(byToken(hogeland), "POST", "/v1/deaths", httpapi.BSNRequest{BSN: bsn(t, 1)})
	u := e.do(byToken(hogeland), "POST", "/v1/deaths", httpapi.BSNRequest{BSN: bsn(t, 2)})
	if k.status != u.status || string(k.body) != string(u.body) || !sameHeadersBut(k.header, u.header, "Date") {
		t.Fatalf("deaths answers differ: %d %s / %d %s", k.status, k.body, u.status, u.body)
	}
	if v := e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)}); v.status != 200 {
		t.Fatalf("another municipality's death report ended the youth's registrations: %d %s", v.status, v.body)
	}
}

// sameHeadersBut reports whether a and b are equal but for the named
// headers.
func sameHeadersBut(a, b http.Header, but ...string) bool {
	a, b = a.Clone(), b.Clone()
	for _, h := range but {
		a.Del(h)
		b.Del(h)
	}
	return maps.EqualFunc(a, b, slices.Equal)
}

// TestBadInput: every bad request gets its problem code and writes
// nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	good := func() httpapi.RegistrationRequest { return report(t, 7, "involvement") }
	with := func(f func(*httpapi.RegistrationRequest)) httpapi.RegistrationRequest { r := good(); f(&r); return r }
	huge := `{"bsn":"` + strings.Repeat("1", httpapi.DefaultMaxBodyBytes) + `"}`
	cases := []struct {
		name   string
		body   any
		hdr    []string
		status int
		code   string
		field  string
	}{
		{"bsn checksum", with(func(r *httpapi.RegistrationRequest) { r.BSN = "123456789" }), nil, 400, "invalid_bsn", "bsn"},
		{"bsn letters", with(func(r *httpapi.RegistrationRequest) { r.BSN = "12345678x" }), nil, 400, "invalid_bsn", "bsn"},
		{"bsn missing", with(func(r *httpapi.RegistrationRequest) { r.BSN = "" }), nil, 400, "invalid_bsn", "bsn"},
		{"birth date format", with(func(r *httpapi.RegistrationRequest) { r.BirthDate = "17-05-2014" }), nil, 400, "invalid_birth_date", "birth_date"},
		{"birth date missing", with(func(r *httpapi.RegistrationRequest) { r.BirthDate = "" }), nil, 400, "invalid_birth_date", "birth_date"},
		{"too old", with(func(r *httpapi.RegistrationRequest) { r.BirthDate = "1990-01-01" }), nil, 422, "not_a_youth", "birth_date"},
		{"municipality format", with(func(r *httpapi.RegistrationRequest) { r.Municipality = "Groningen" }), nil, 400, "invalid_municipality", "municipality"},
		{"municipality elsewhere", with(func(r *httpapi.RegistrationRequest) { r.Municipality = "GM0363" }), nil, 422, "unknown_municipality", "municipality"},
		{"kind", with(func(r *httpapi.RegistrationRequest) { r.Kind = "worry" }), nil, 400, "invalid_kind", "kind"},
		{"code on involvement", with(func(r *httpapi.RegistrationRequest) { r.Code = "S01" }), nil, 400, "invalid_signal_code", "code"},
		{"signal without code", with(func(r *httpapi.RegistrationRequest) { r.Kind = "signal" }), nil, 400, "invalid_signal_code", "code"},
		{"free text as a signal code", with(func(r *httpapi.RegistrationRequest) { r.Kind, r.Code = "signal", "vermoeden mishandeling" }), nil, 422, "unknown_signal_code", "code"},
		{"a code the covenant does not list", with(func(r *httpapi.RegistrationRequest) { r.Kind, r.Code = "signal", "S99" }), nil, 422, "unknown_signal_code", "code"},
		{"sector", with(func(r *httpapi.RegistrationRequest) { r.Sector = "police" }), nil, 400, "invalid_sector", "sector"},
		{"contact", with(func(r *httpapi.RegistrationRequest) { r.Contact = httpapi.ContactJSON{Name: "X"} }), nil, 400, "invalid_contact", "contact"},
		{"ends_on format", with(func(r *httpapi.RegistrationRequest) { r.EndsOn = "tomorrow" }), nil, 400, "invalid_date", "ends_on"},
		{"ends_on past", with(func(r *httpapi.RegistrationRequest) { r.EndsOn = "2001-01-01" }), nil, 400, "invalid_date", "ends_on"},
		{"idempotency key", with(func(r *httpapi.RegistrationRequest) { r.IdempotencyKey = strings.Repeat("k", 200) }), nil, 400, "invalid_idempotency_key", "idempotency_key"},
		{"idempotency conflict", with(func(r *httpapi.RegistrationRequest) { r.IdempotencyKey = "a" }), []string{"Idempotency-Key", "b"}, 400, "idempotency_key_conflict", "idempotency_key"},
		{"client_ref control characters", with(func(r *httpapi.RegistrationRequest) { r.ClientRef = "D-1\r\nBcc: x@example.org" }), nil, 400, "invalid_client_ref", "client_ref"},
		{"client_ref a name", with(func(r *httpapi.RegistrationRequest) { r.ClientRef = "J.Jansen" }), nil, 400, "invalid_client_ref", "client_ref"},
		{"client_ref a sentence", with(func(r *httpapi.RegistrationRequest) { r.ClientRef = "vermoeden mishandeling 2" }), nil, 400, "invalid_client_ref", "client_ref"},
		{"client_ref too long", with(func(r *httpapi.RegistrationRequest) { r.ClientRef = strings.Repeat("D", 65) }), nil, 400, "invalid_client_ref", "client_ref"},
		{"client_ref holds the bsn", with(func(r *httpapi.RegistrationRequest) { r.ClientRef = "DOS-" + bsn(t, 7) }), nil, 422, "client_ref_identifies_youth", "client_ref"},
		{"client_ref holds the birth date", with(func(r *httpapi.RegistrationRequest) { r.ClientRef = "2014-05-17" }), nil, 422, "client_ref_identifies_youth", "client_ref"},
		{"unknown field", `{"bsn":"` + bsn(t, 7) + `","diagnosis":"x"}`, nil, 400, "unknown_field", "diagnosis"},
		{"bsn as a field name", `{"` + bsn(t, 7) + `":1}`, nil, 400, "unknown_field", ""},
		{"malformed", `{"bsn":`, nil, 400, "malformed_json", ""},
		{"two objects", `{} {}`, nil, 400, "malformed_json", ""},
		{"array", `[]`, nil, 400, "malformed_json", ""},
		{"wrong type", `{"urgent":"yes"}`, nil, 400, "malformed_json", "urgent"},
		{"too large", huge, nil, 413, "body_too_large", ""},
		{"media type", good(), []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(byToken(ggd), "POST", "/v1/registrations", c.body, c.hdr...)
			if r.status != c.status || r.problem.Code != c.code || r.problem.Field != c.field {
				t.Fatalf("got %d %q field %q, want %d %q field %q: %s", r.status, r.problem.Code, r.problem.Field, c.status, c.code, c.field, r.body)
			}
			if r.header.Get("Content-Type") != "application/problem+json" || r.problem.Status != c.status || r.problem.Type != httpapi.ProblemTypePrefix+c.code {
				t.Fatalf("not a problem document: %v %s", r.header, r.body)
			}
			if strings.Contains(string(r.body), bsn(t, 7)) || strings.Contains(string(r.body), "2014-05-17") {
				t.Fatalf("the problem quotes the input: %s", r.body)
			}
		})
	}
	// Nothing was written: no events for the caller, no registration.
	if ev := decodeAs[httpapi.EventsResponse](t, e.do(byToken(ggd), "GET", "/v1/events", nil)); len(ev.Events) != 0 {
		t.Fatalf("bad input wrote events: %+v", ev.Events)
	}
	if r := e.do(byToken(ggd), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 7)}); r.status != 404 {
		t.Fatalf("bad input wrote a registration: %d", r.status)
	}
	// Other routes and methods.
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"GET", "/v1/registrations", nil, 405, "method_not_allowed"},
		{"GET", "/v1/nothing", nil, 404, "not_found"},
		{"POST", "/v1/registrations/rnotanid/end", nil, 404, "not_found"},
		{"POST", "/v1/registrations/" + strings.Repeat("a", 27) + "/end", httpapi.EndRequest{On: "soon"}, 400, "invalid_date"},
		{"DELETE", "/v1/registrations/raaaaaaaaaaaaaaaaaaaaaaaaaa?reason=bored", nil, 400, "invalid_reason"},
		{"POST", "/v1/registrations/" + strings.Repeat("a", 27) + "/end", httpapi.EndRequest{Reason: "bored"}, 400, "invalid_reason"},
		{"POST", "/v1/registrations/" + strings.Repeat("a", 27) + "/end", httpapi.EndRequest{Reason: "unjustified", On: "2099-01-01"}, 404, "not_found"},
		{"GET", "/v1/events?after=-1", nil, 400, "invalid_parameter"},
		{"GET", "/v1/events?limit=100000", nil, 400, "invalid_parameter"},
		{"POST", "/v1/lookups", `{"bsn":"12"}`, 400, "invalid_bsn"},
	} {
		r := e.do(byToken(ggd), c.method, c.path, c.body)
		if c.status == 405 && r.header.Get("Allow") != "POST" {
			t.Errorf("405 without Allow: POST: %v", r.header)
		}
		if r.status != c.status || r.problem.Code != c.code {
			t.Errorf("%s %s: %d %q, want %d %q: %s", c.method, c.path, r.status, r.problem.Code, c.status, c.code, r.body)
		}
	}
}

func TestTokenFileRotatesWithoutRestart(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(e.dir, "tokens")
	tokens, err := httpapi.LoadTokens(path, e.cov, nil)
	if err != nil {
		t.Fatal(err)
	}
	inst, ok := tokens.Authenticate(e.tokens[school])
	if !ok || inst != school {
		t.Fatalf("school's token: %q %v", inst, ok)
	}
	if _, ok := tokens.Authenticate(e.tokens[school] + "x"); ok {
		t.Fatal("a changed token authenticates")
	}
	newTok, line := httpapi.NewToken(school)
	if strings.Contains(line, newTok) {
		t.Fatal("the token file line holds the token itself")
	}
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watching := make(chan struct{})
	go func() { tokens.Watch(ctx, 10*time.Millisecond); close(watching) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, oldOK := tokens.Authenticate(e.tokens[school])
		_, newOK := tokens.Authenticate(newTok)
		if !oldOK && newOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the token file was not reloaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-watching
	// A broken file keeps the tokens in use.
	if err := os.WriteFile(path, []byte("school-example-lyceum vx_cleartext\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tokens.Reload(); err == nil {
		t.Fatal("a file with a clear token loaded")
	}
	if _, ok := tokens.Authenticate(newTok); !ok {
		t.Fatal("a failed reload dropped the tokens in use")
	}
	for _, bad := range []string{"nobody " + httpapi.TokenHash("x") + "\n", "only-one-field\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := tokens.Reload(); err == nil {
			t.Fatalf("loaded %q", bad)
		}
	}
	if err := os.WriteFile(path, []byte(line+"\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o666)
	if err := tokens.Reload(); err == nil {
		t.Fatal("loaded a world-writable token file")
	}
}

// TestEndUnjustifiedOverHTTPS: an end with reason unjustified destroys the
// registration (its lookup and the other's view no longer show it, a
// second end finds nothing); a later day with it is refused.
func TestEndUnjustifiedOverHTTPS(t *testing.T) {
	e := newEnv(t)
	e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement"))
	s := decodeAs[httpapi.RegistrationResponse](t, e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal")))
	path := "/v1/registrations/" + s.ID + "/end"
	if r := e.do(byToken(school), "POST", path, httpapi.EndRequest{Reason: "unjustified", On: "2099-01-01"}); r.status != 400 || r.problem.Code != "invalid_reason" {
		t.Fatalf("unjustified on a later day: %d %s", r.status, r.body)
	}
	if r := e.do(byToken(school), "POST", path, httpapi.EndRequest{Reason: "unjustified"}); r.status != 204 {
		t.Fatalf("unjustified: %d %s", r.status, r.body)
	}
	if r := e.do(byToken(school), "POST", path, httpapi.EndRequest{}); r.status != 404 {
		t.Fatalf("an end of the destroyed registration: %d %s", r.status, r.body)
	}
	v := decodeAs[httpapi.ViewResponse](t, e.do(byCert(wij), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)}))
	if v.Matched || len(v.Involved) != 0 {
		t.Fatalf("the other's view after the unjustified end: %+v", v)
	}
}
