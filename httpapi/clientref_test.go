package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/httpapi"
)

// Over HTTPS each institution gets its own client reference back (register,
// lookup, events) and never sees another's; a refresh without one keeps it;
// no reference reaches the logs.
func TestClientRefOverHTTPS(t *testing.T) {
	e := newEnv(t)
	s := report(t, 11, "signal")
	s.ClientRef = "LL-REF-7781"
	w := report(t, 11, "involvement")
	w.ClientRef = "WIJ-REF-0042"

	rs := e.do(byToken(school), "POST", "/v1/registrations", s)
	rw := e.do(byCert(wij), "POST", "/v1/registrations", w)
	for _, c := range []struct {
		r          response
		own, other string
	}{{rs, s.ClientRef, w.ClientRef}, {rw, w.ClientRef, s.ClientRef}} {
		got := decodeAs[httpapi.RegistrationResponse](t, c.r)
		if c.r.status != http.StatusCreated || got.ClientRef != c.own {
			t.Fatalf("register: %d client_ref %q, want %q", c.r.status, got.ClientRef, c.own)
		}
		if strings.Contains(string(c.r.body), c.other) {
			t.Fatalf("a response holds another institution's reference: %s", c.r.body)
		}
	}
	for _, c := range []struct {
		as         as
		own, other string
	}{{byToken(school), s.ClientRef, w.ClientRef}, {byCert(wij), w.ClientRef, s.ClientRef}} {
		lr := e.do(c.as, "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 11)})
		if v := decodeAs[httpapi.ViewResponse](t, lr); v.ClientRef != c.own || strings.Contains(string(lr.body), c.other) {
			t.Fatalf("lookup: %s", lr.body)
		}
		er := e.do(c.as, "GET", "/v1/events", nil)
		ev := decodeAs[httpapi.EventsResponse](t, er)
		if len(ev.Events) == 0 || strings.Contains(string(er.body), c.other) {
			t.Fatalf("events: %s", er.body)
		}
		for _, x := range ev.Events {
			if x.ClientRef != c.own {
				t.Fatalf("%s event: client_ref %q, want %q", x.Type, x.ClientRef, c.own)
			}
		}
	}
	// A refresh without a reference keeps it.
	s.ClientRef = ""
	if got := decodeAs[httpapi.RegistrationResponse](t, e.do(byToken(school), "POST", "/v1/registrations", s)); !got.Refreshed || got.ClientRef != "LL-REF-7781" {
		t.Fatalf("refresh: %+v", got)
	}
	if logs := string(e.logs.Bytes()); strings.Contains(logs, "LL-REF") || strings.Contains(logs, "WIJ-REF") {
		t.Fatalf("a client reference reached the logs:\n%s", logs)
	}
}
