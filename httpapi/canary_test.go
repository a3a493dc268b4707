package httpapi_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/canary"
)

// TestCanaryOverHTTP registers known BSNs and birth dates over HTTPS,
// through every endpoint and with bad input, then scans the data directory,
// the server's logs (at debug level) and /metrics for them. The reports
// carry parents and home addresses too (siblings, so that they make family
// matches): their BSNs, addresses and postcodes are looked for as well.
func TestCanaryOverHTTP(t *testing.T) {
	e := newEnvCovenant(t, withFamily)
	needles := canary.Needles{}
	births := []string{"2010-11-23", "2008-02-29", "2019-07-04", "2004-12-31"}
	for i := range 40 {
		n := 2000 + i*7
		needles.BSN("bsn "+strconv.Itoa(i), bsn(t, n))
		bd := births[i%len(births)]
		needles.Date("birth date "+bd, bd)

		s := report(t, n, "signal")
		s.BirthDate = bd
		w := report(t, n, "involvement")
		w.BirthDate = bd
		// A sibling of the youth, reported by the GGD: the same parents
		// and address make a family match with the school and WIJ.
		parent, other := bsn(t, 50000+i), bsn(t, 60000+i)
		needles.BSN("parent "+strconv.Itoa(i), parent)
		needles.BSN("other parent "+strconv.Itoa(i), other)
		pc := strconv.Itoa(5000+i*13) + "QX"
		needles.Address("address "+strconv.Itoa(i), pc, 100+i, "B")
		addr := &httpapi.AddressJSON{Postcode: pc[:4] + " " + strings.ToLower(pc[4:]), HouseNumber: 100 + i, Addition: "b"}
		s.Parents, s.Address = []string{parent, other}, addr
		w.Parents, w.Address = []string{other}, addr
		// The siblings' BSNs lie where none of their 4-byte forms can be
		// a Pebble WAL chunk header by chance (checksum byte, length below
		// 32 KiB, chunk type 1 to 12): 100,700,00x, as before, read as a
		// little-endian integer, is "xx 90 00 06", the header of a
		// 144-byte chunk after a checksum ending in xx.
		sib := report(t, 1000000+i, "involvement")
		sib.Parents, sib.Address = []string{parent}, addr
		needles.BSN("sibling "+strconv.Itoa(i), sib.BSN)
		e.do(byToken(ggd), "POST", "/v1/registrations", sib)
		badParent := sib
		badParent.Parents = []string{parent, parent}
		e.do(byToken(ggd), "POST", "/v1/registrations", badParent)
		sr := decodeAs[httpapi.RegistrationResponse](t, e.do(byToken(school), "POST", "/v1/registrations", s, "Idempotency-Key", "canary-"+strconv.Itoa(i)))
		e.do(byCert(wij), "POST", "/v1/registrations", w)
		e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: s.BSN})
		// Refused calls are logged too.
		e.do(byToken(other), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: s.BSN})
		bad := s
		bad.Contact.Name = ""
		e.do(byToken(school), "POST", "/v1/registrations", bad)
		e.do(byToken(school), "POST", "/v1/registrations", `{"bsn":"`+s.BSN+`","birth_date":"`+bd+`","oops":1}`)
		e.do(byToken(school), "POST", "/v1/cases/close", httpapi.BSNRequest{BSN: s.BSN})
		// Subject access, answered and refused.
		e.do(byToken(municipality), "POST", "/v1/subject-access", httpapi.SubjectAccessRequest{BSN: s.BSN, BirthDate: bd})
		e.do(byToken(hogeland), "POST", "/v1/subject-access", httpapi.SubjectAccessRequest{BSN: s.BSN, BirthDate: bd, Format: "text"})
		switch i % 4 {
		case 0:
			e.do(byToken(school), "POST", "/v1/registrations/"+sr.ID+"/end", nil)
		case 1:
			e.do(byCert(wij), "POST", "/v1/cases/close", httpapi.BSNRequest{BSN: s.BSN})
		case 2:
			e.do(byToken(municipality), "POST", "/v1/deaths", httpapi.BSNRequest{BSN: s.BSN})
		case 3:
			e.do(byToken(municipality), "POST", "/v1/objections", httpapi.ObjectionRequest{BSN: s.BSN, BirthDate: bd, Scope: httpapi.ScopeAll})
		}
		e.do(byToken(school), "GET", "/v1/events", nil)
		e.do(byToken(ggd), "GET", "/v1/events", nil)
	}
	if n := familyMatches(t, e, ggd); n == 0 {
		t.Fatal("no family match: the scan for parents and addresses would prove little")
	}
	metrics := e.scrape()
	if metrics.status != 200 || !strings.Contains(string(metrics.body), "vindex_registrations_total") {
		t.Fatalf("/metrics: %d", metrics.status)
	}
	e.srv.Close()
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	logs := e.logs.Bytes()
	if !strings.Contains(string(logs), `"msg":"request"`) {
		t.Fatal("no access log: the log scan would prove nothing")
	}
	// A 4-byte form (a BSN as an integer) found for one or two BSNs is
	// chance in this many bytes of pseudonyms and IDs (about 5% of runs);
	// an encoding that wrote them would write all 160.
	if found, err := needles.ScanDir(e.dir); err != nil || len(canary.Significant(found, 3)) > 0 {
		t.Fatalf("identity in the data directory (%v):\n%s", err, strings.Join(found, "\n"))
	}
	if found := needles.Scan("logs", logs); len(found) > 0 {
		t.Fatalf("identity in the logs:\n%s", strings.Join(found, "\n"))
	}
	if found := needles.Scan("/metrics", metrics.body); len(found) > 0 {
		t.Fatalf("identity in /metrics:\n%s", strings.Join(found, "\n"))
	}
}

// TestMetrics: the metrics of every layer, on one registry as vindex serve
// has them, count what happened, with bounded labels. (vindex_keys_in_use
// and vindex_key_info are vindex serve's own: cmd/vindex tests them.)
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	for n := 1; n <= 3; n++ {
		e.do(byToken(school), "POST", "/v1/registrations", report(t, n, "signal"))
		e.do(byCert(wij), "POST", "/v1/registrations", report(t, n, "involvement"))
	}
	e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	e.do(byToken(ggd), "GET", "/v1/events", nil)
	if err := e.polls.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := string(e.scrape().body)
	for _, want := range []string{
		`vindex_registrations_total{kind="signal",outcome="new"} 3`,
		`vindex_registrations_total{kind="signal",outcome="refreshed"} 1`,
		`vindex_registrations_total{kind="involvement",outcome="new"} 3`,
		`vindex_matches_total 3`,
		`vindex_coordinator_assignments_total 3`,
		`vindex_outbox_events_total{type="match"} 6`,
		`vindex_outbox_events_total{type="no-match"} 3`,
		`vindex_outbox_events_total{type="coordinator"} 0`, // the match events name the coordinator
		`vindex_outbox_backlog_events{institution="` + school + `"} 6`,
		`vindex_outbox_backlog_events{institution="` + ggd + `"} 0`,
		`vindex_http_requests_total{code="2xx",route="POST /v1/registrations"} 7`,
		`vindex_http_request_duration_seconds_count{code="2xx",route="POST /v1/registrations"} 7`,
		`vindex_key_live_registrations{key_id="`,
		`vindex_store_disk_bytes `,
		`vindex_store_l0_tables `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Polling moves the school's backlog to what it has not read.
	ev := decodeAs[httpapi.EventsResponse](t, e.do(byToken(school), "GET", "/v1/events?limit=4", nil))
	e.do(byToken(school), "GET", "/v1/events?after="+itoa(ev.Next), nil)
	if err := e.polls.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	body = string(e.scrape().body)
	if want := `vindex_outbox_backlog_events{institution="` + school + `"} 2`; !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %s after a poll", want)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, "r") && strings.Contains(line, "registration=") || strings.Contains(line, "A. Jansen") {
			t.Errorf("a registration or contact as a label: %s", line)
		}
	}
}

// familyMatches counts inst's family-match events.
func familyMatches(t *testing.T, e *env, inst string) int {
	n := 0
	for _, ev := range decodeAs[httpapi.EventsResponse](t, e.do(byToken(inst), "GET", "/v1/events?limit=1000", nil)).Events {
		if ev.Type == "family-match" {
			n++
		}
	}
	return n
}
