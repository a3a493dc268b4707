package httpapi_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
)

// smallRates replaces the example covenant's rate_limits (sized for
// benchmarks) with small ones, and gives the GGD reports a rate of its
// own.
func smallRates(t testing.TB) func(string) string {
	return func(cov string) string {
		start := strings.Index(cov, "\nrate_limits:\n")
		if start < 0 {
			t.Fatal("the example covenant has no rate_limits section")
		}
		end := start + 1 + strings.Index(cov[start+1:], "\n\n")
		cov = cov[:start+1] + `rate_limits:
  reports: {per_second: 1, burst: 3}
  lookups: {per_second: 1, burst: 3}
  changes: {per_second: 1, burst: 3}
  events: {per_second: 1, burst: 2}
` + cov[end+1:]
		anchor := "  - id: " + ggd + "\n"
		return strings.Replace(cov, anchor, anchor+"    rate_limits: {reports: {per_second: 1000, burst: 1000}}\n", 1)
	}
}

// TestRateLimit: a burst of reports above an institution's limit is
// refused with 429 rate_limited and Retry-After, and the matcher is not
// called (nothing is registered); other institutions, and the same
// institution's other classes, are not held up; after Retry-After the
// refused report is accepted; the refusals are counted by institution and
// class.
func TestRateLimit(t *testing.T) {
	e := newEnvCovenant(t, smallRates(t))

	// The school's reports: a burst of 3, then 1 a second.
	var accepted, refused int
	var limited response
	for n := 1; n <= 10 && refused == 0; n++ {
		r := e.do(byToken(school), "POST", "/v1/registrations", report(t, n, "signal"))
		switch r.status {
		case http.StatusCreated:
			accepted++
		case http.StatusTooManyRequests:
			refused, limited = n, r
		default:
			t.Fatalf("report %d: %d %s", n, r.status, r.body)
		}
	}
	if refused == 0 || accepted < 3 || accepted > 5 {
		t.Fatalf("%d reports accepted in a row, first refused: %d (burst 3, 1/s)", accepted, refused)
	}
	if limited.problem.Code != httpapi.CodeRateLimited || limited.problem.Status != 429 ||
		!strings.HasPrefix(limited.header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("refused report: %+v %s", limited.problem, limited.header)
	}
	secs, err := strconv.Atoi(limited.header.Get("Retry-After"))
	if err != nil || secs != 1 {
		t.Fatalf("Retry-After %q: want 1 (a token a second, rounded up)", limited.header.Get("Retry-After"))
	}

	// Nothing of the refused report was done: the school is not involved
	// with that youth (lookups are another class), and only the accepted
	// reports were counted by the matcher.
	if r := e.do(byToken(school), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, refused)}); r.status != 404 || r.problem.Code != httpapi.CodeNotInvolved {
		t.Fatalf("lookup of the refused youth: %d %s", r.status, r.body)
	}
	metrics := string(e.scrape().body)
	if want := fmt.Sprintf(`vindex_registrations_total{kind="signal",outcome="new"} %d`, accepted); !strings.Contains(metrics, want) {
		t.Fatalf("the matcher registered more than was accepted: want %s in\n%s", want, grep(metrics, "vindex_registrations_total"))
	}

	// Other institutions, by token and by certificate, and the school's
	// other classes are not held up; the GGD has its own, higher, rate.
	for n := 1; n <= 3; n++ {
		if r := e.do(byCert(wij), "POST", "/v1/registrations", report(t, 100+n, "involvement")); r.status != 201 {
			t.Fatalf("WIJ's report %d beside the school's flood: %d %s", n, r.status, r.body)
		}
	}
	for n := 1; n <= 20; n++ {
		if r := e.do(byToken(ggd), "POST", "/v1/registrations", report(t, 200+n, "involvement")); r.status != 201 {
			t.Fatalf("GGD's report %d (its own rate: 1000/s): %d %s", n, r.status, r.body)
		}
	}
	if r := e.do(byToken(school), "GET", "/v1/events", nil); r.status != 200 {
		t.Fatalf("the school's events beside its refused reports: %d %s", r.status, r.body)
	}

	// Events are a class of their own: a burst of 2.
	var eventsRefused bool
	for range 5 {
		if r := e.do(byToken(school), "GET", "/v1/events", nil); r.status == 429 && r.problem.Code == httpapi.CodeRateLimited && r.header.Get("Retry-After") != "" {
			eventsRefused = true
			break
		}
	}
	if !eventsRefused {
		t.Fatal("6 polls in a row with a burst of 2 were all answered")
	}

	// After Retry-After, the refused report goes through.
	time.Sleep(time.Duration(secs) * time.Second)
	if r := e.do(byToken(school), "POST", "/v1/registrations", report(t, refused, "signal")); r.status != 201 {
		t.Fatalf("after Retry-After: %d %s", r.status, r.body)
	}

	metrics = string(e.scrape().body)
	for _, want := range []string{
		`vindex_rate_limited_total{class="reports",institution="` + school + `"} 1`,
		`vindex_rate_limited_total{class="events",institution="` + school + `"} 1`,
		`vindex_report_rate_ratio{institution="` + school + `"} `,
		`vindex_report_rate_ratio{institution="` + ggd + `"} `,
		`vindex_reports_per_second{institution="` + school + `",window="1m"} `,
		`vindex_reports_per_second{institution="` + school + `",window="1h"} `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, inst := range []string{wij, ggd} {
		if strings.Contains(metrics, `vindex_rate_limited_total{class="reports",institution="`+inst+`"}`) {
			t.Errorf("%s was counted as rate limited", inst)
		}
	}
}

// TestChangesRateLimited: ends, closes, removals and deaths share one
// class; over it, the change is not made.
func TestChangesRateLimited(t *testing.T) {
	e := newEnvCovenant(t, smallRates(t))
	var ids []string
	for n := 1; n <= 20; n++ {
		ids = append(ids, decodeAs[httpapi.RegistrationResponse](t, e.do(byToken(ggd), "POST", "/v1/registrations", report(t, n, "involvement"))).ID)
	}
	var ended, refused int
	notEnded := 0 // a youth whose end was refused
	for i, id := range ids {
		switch r := e.do(byToken(ggd), "POST", "/v1/registrations/"+id+"/end", nil); {
		case r.status == 204:
			ended++
		case r.status == 429 && r.problem.Code == httpapi.CodeRateLimited:
			refused++
			notEnded = i + 1
		default:
			t.Fatalf("end: %d %s", r.status, r.body)
		}
	}
	if ended < 3 || ended > 8 || refused == 0 {
		t.Fatalf("%d ends done and %d refused with a burst of 3 at 1/s", ended, refused)
	}
	if r := e.do(byToken(ggd), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, notEnded)}); r.status != 200 {
		t.Fatalf("the youth whose end was refused is no longer registered: %d %s", r.status, r.body)
	}
}

var lineRE = regexp.MustCompile(`(?m)^.*$`)

// grep returns the lines of s that contain sub.
func grep(s, sub string) string {
	var out []string
	for _, l := range lineRE.FindAllString(s, -1) {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
