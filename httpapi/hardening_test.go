package httpapi_test

import (
	"crypto/tls"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/httpapi"
)

// rawReport is report(t, n, "involvement") as JSON, with its first "{"
// replaced by "{"+extra (a member placed first, before the real ones).
func rawReport(t *testing.T, n int, extra string) string {
	b, err := json.Marshal(report(t, n, "involvement"))
	if err != nil {
		t.Fatal(err)
	}
	return "{" + extra + string(b[1:])
}

// TestJSONAsStrictAsTheDocument: a body that encoding/json would read one
// way and another JSON reader another way (a member twice, a name in
// another case) is refused, at any depth and on every route, and so is a
// media type other than application/json. Nothing is written.
func TestJSONAsStrictAsTheDocument(t *testing.T) {
	e := newEnv(t)
	otherBSN := bsn(t, 2)
	cases := []struct {
		name, path, body, ct string
		status               int
		code, field          string
	}{
		{"bsn twice", "/v1/registrations", rawReport(t, 1, `"bsn":"`+otherBSN+`",`), "", 400, "invalid_json", "bsn"},
		{"contact name twice", "/v1/registrations", strings.Replace(rawReport(t, 1, ""), `"name":"A. Jansen"`, `"name":"A. Jansen","name":"B"`, 1), "", 400, "invalid_json", "name"},
		{"unknown member twice, nested", "/v1/registrations", rawReport(t, 1, `"x":[{"a":1,"a":2}],`), "", 400, "invalid_json", ""},
		{"BSN for bsn", "/v1/registrations", strings.Replace(rawReport(t, 1, ""), `"bsn"`, `"BSN"`, 1), "", 400, "invalid_json", "bsn"},
		{"Kind for kind beside kind", "/v1/registrations", rawReport(t, 1, `"Kind":"signal",`), "", 400, "invalid_json", "kind"},
		{"Name for contact.name", "/v1/registrations", strings.Replace(rawReport(t, 1, ""), `"name"`, `"Name"`, 1), "", 400, "invalid_json", "name"},
		{"long s for s", "/v1/registrations", strings.Replace(rawReport(t, 1, ""), `"bsn"`, `"b`+"\u017f"+`n"`, 1), "", 400, "invalid_json", "bsn"},
		{"lookup bsn twice", "/v1/lookups", `{"bsn":"` + bsn(t, 1) + `","bsn":"` + otherBSN + `"}`, "", 400, "invalid_json", "bsn"},
		{"+json media type", "/v1/registrations", rawReport(t, 1, ""), "application/foo+json", 415, "unsupported_media_type", ""},
		{"json-seq media type", "/v1/registrations", rawReport(t, 1, ""), "application/json-seq", 415, "unsupported_media_type", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.ct != "" {
				hdr = []string{"Content-Type", c.ct}
			}
			r := e.do(byToken(ggd), "POST", c.path, c.body, hdr...)
			if r.status != c.status || r.problem.Code != c.code || r.problem.Field != c.field {
				t.Fatalf("got %d %q field %q, want %d %q field %q: %s", r.status, r.problem.Code, r.problem.Field, c.status, c.code, c.field, r.body)
			}
			if strings.Contains(string(r.body), bsn(t, 1)) || strings.Contains(string(r.body), otherBSN) {
				t.Fatalf("the problem quotes the body: %s", r.body)
			}
		})
	}
	for _, n := range []int{1, 2} {
		if r := e.do(byToken(ggd), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, n)}); r.status != 404 {
			t.Fatalf("a refused body wrote a registration: %d %s", r.status, r.body)
		}
	}
	// application/json with parameters, in any case, is JSON.
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON"} {
		if r := e.do(byToken(ggd), "POST", "/v1/registrations", rawReport(t, 3, ""), "Content-Type", ct); r.status != 201 && r.status != 200 {
			t.Fatalf("Content-Type %s: %d %s", ct, r.status, r.body)
		}
	}
}

// TestObjectionRemovalIsNoOracle: a caller that may not remove a
// registration after an objection gets, byte for byte, the same answer for
// an existing registration as for an id nobody holds: an institution that
// is not a municipality, and a municipality the registration is not in.
func TestObjectionRemovalIsNoOracle(t *testing.T) {
	e := newEnv(t)
	r := report(t, 1, "involvement")
	r.Municipality = "GM1952" // not gemeente-groningen's
	g := decodeAs[httpapi.RegistrationResponse](t, e.do(byToken(ggd), "POST", "/v1/registrations", r))
	random := "r" + strings.Repeat("a", 26)
	for _, who := range []string{school, other, ggd, municipality} {
		existing := e.do(byToken(who), "DELETE", "/v1/registrations/"+g.ID+"?reason=objection", nil)
		unknown := e.do(byToken(who), "DELETE", "/v1/registrations/"+random+"?reason=objection", nil)
		if existing.status != unknown.status || string(existing.body) != string(unknown.body) || existing.status < 400 {
			t.Errorf("%s: existing registration %d %s; unknown %d %s", who, existing.status, existing.body, unknown.status, unknown.body)
		}
	}
	if v := e.do(byToken(ggd), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)}); v.status != 200 {
		t.Fatalf("the registration went: %d %s", v.status, v.body)
	}
}

// TestTLSAEADOnlyAndHSTS: a TLS 1.2 client that offers only CBC suites with
// SHA-1 cannot connect, and every answer over TLS carries HSTS.
func TestTLSAEADOnlyAndHSTS(t *testing.T) {
	e := newEnv(t)
	for _, suites := range [][]uint16{
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
	} {
		conn, err := tls.Dial("tcp", e.srv.Listener.Addr().String(), &tls.Config{
			RootCAs: e.ca.Pool(), ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12, CipherSuites: suites,
		})
		if err == nil {
			st := conn.ConnectionState()
			conn.Close()
			t.Errorf("handshake with %s succeeded", tls.CipherSuiteName(st.CipherSuite))
		}
	}
	for _, s := range httpapi.TLSConfig(tls.Certificate{}, nil).CipherSuites {
		name := tls.CipherSuiteName(s)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "_GCM_") || strings.Contains(name, "CHACHA20_POLY1305")) {
			t.Errorf("suite %s is not ECDHE with an AEAD", name)
		}
	}
	// A TLS 1.2 client with the AEAD suites connects (and HTTP/2 works).
	conn, err := tls.Dial("tcp", e.srv.Listener.Addr().String(), &tls.Config{
		RootCAs: e.ca.Pool(), ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12, NextProtos: []string{"h2"},
	})
	if err != nil {
		t.Fatalf("TLS 1.2 with the default suites: %v", err)
	}
	conn.Close()
	for _, c := range []struct {
		who    as
		method string
		path   string
	}{
		{byToken(ggd), "GET", "/v1/events"},
		{anonymous, "GET", "/healthz"},
		{anonymous, "GET", "/v1/events"},
		{anonymous, "GET", "/v1/nothing"},
	} {
		r := e.do(c.who, c.method, c.path, nil)
		if got := r.header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("%s %s (%d): Strict-Transport-Security %q", c.method, c.path, r.status, got)
		}
	}
}

// TestReplayAfterObjectionRemoval: after a municipality removed a
// registration on an upheld objection, a retry of the report with its
// Idempotency-Key is a new report (201, a new registration), not a replay
// of the removed one with the other institution's contact.
func TestReplayAfterObjectionRemoval(t *testing.T) {
	e := newEnv(t)
	e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement"))
	first := e.do(byToken(ggd), "POST", "/v1/registrations", report(t, 1, "involvement"), "Idempotency-Key", "ggd-report-1")
	f := decodeAs[httpapi.RegistrationResponse](t, first)
	if first.status != 201 || !f.Matched {
		t.Fatalf("setup: %d %s", first.status, first.body)
	}
	if r := e.do(byToken(ggd), "POST", "/v1/registrations", report(t, 1, "involvement"), "Idempotency-Key", "ggd-report-1"); r.status != 200 || !decodeAs[httpapi.RegistrationResponse](t, r).Replayed {
		t.Fatalf("a retry before the removal: %d %s", r.status, r.body)
	}
	if r := e.do(byToken(municipality), "DELETE", "/v1/registrations/"+f.ID+"?reason=objection", nil); r.status != 204 {
		t.Fatalf("objection removal: %d %s", r.status, r.body)
	}
	retry := e.do(byToken(ggd), "POST", "/v1/registrations", report(t, 1, "involvement"), "Idempotency-Key", "ggd-report-1")
	got := decodeAs[httpapi.RegistrationResponse](t, retry)
	if retry.status != 201 || got.Replayed || got.ID == f.ID {
		t.Fatalf("the retry after the removal: %d %s (removed: %s)", retry.status, retry.body, f.ID)
	}
}
