package httpapi_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
)

// A client that sends its headers slowly (slowloris) is cut off after the
// header timeout, while other clients are served.
func TestSlowClientIsCutOff(t *testing.T) {
	e := newEnvTuned(t, func(s *http.Server) { s.ReadHeaderTimeout = 300 * time.Millisecond })
	host := strings.TrimPrefix(e.srv.URL, "https://")
	c, err := tls.Dial("tcp", host, &tls.Config{RootCAs: e.ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /v1/registrations HTTP/1.1\r\nHost: "+host+"\r\nX-Slow: 1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	if r.status != 201 {
		t.Fatalf("a valid client while a slow one waits: %d", r.status)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the slow client was held for %v", took)
	}
	if err != nil && !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("slow client: %v", err)
	}
	if strings.Contains(string(b), "201") {
		t.Fatal("a half-sent request was served")
	}
}

// A flood of invalid BSNs is answered, each with invalid_bsn, while valid
// reports go on being registered.
func TestInvalidFloodLeavesValidTraffic(t *testing.T) {
	e := newEnv(t)
	var invalid, valid, wrong atomic.Int64
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range 100 {
				bad := report(t, 1, "involvement")
				bad.BSN = []string{"123456789", "000000000", "12345678x", "1234", strings.Repeat("9", 40)}[(w+i)%5]
				r := e.do(byToken(ggd), "POST", "/v1/registrations", bad)
				if r.status == 400 && r.problem.Code == httpapi.CodeInvalidBSN {
					invalid.Add(1)
				} else {
					wrong.Add(1)
				}
			}
		})
	}
	for w := range 2 {
		wg.Go(func() {
			for i := range 50 {
				r := e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1000+w*100+i, "involvement"))
				if r.status == 201 {
					valid.Add(1)
				} else {
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d invalid reports refused, %d valid registered", invalid.Load(), valid.Load())
	if invalid.Load() != 600 || valid.Load() != 100 || wrong.Load() != 0 {
		t.Fatalf("invalid %d/600, valid %d/100, wrong answers %d", invalid.Load(), valid.Load(), wrong.Load())
	}
}

// Hundreds of open idle connections do not keep valid clients out.
func TestManyConnections(t *testing.T) {
	e := newEnv(t)
	host := strings.TrimPrefix(e.srv.URL, "https://")
	var conns []*tls.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 300 {
		c, err := tls.Dial("tcp", host, &tls.Config{RootCAs: e.ca.Pool()})
		if err != nil {
			t.Fatalf("after %d connections: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	for i := range 20 {
		if r := e.do(byToken(school), "POST", "/v1/registrations", report(t, 3000+i, "signal")); r.status != 201 {
			t.Fatalf("with 300 idle connections: %d", r.status)
		}
	}
}

// TestNoMetricsOnTheAPI: /metrics is not served on the API's listener, to
// anyone: a scrape makes the service work, and an outsider who reaches
// the API port must not be able to make it work for free (vindex serve
// serves the metrics on a listener of their own, metrics_listen).
func TestNoMetricsOnTheAPI(t *testing.T) {
	e := newEnv(t)
	e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	for _, who := range []as{anonymous, byToken(school), byCert(wij)} {
		r := e.do(who, "GET", "/metrics", nil)
		if r.status != http.StatusNotFound || strings.Contains(string(r.body), "vindex_") {
			t.Errorf("GET /metrics on the API: %d %.80s", r.status, r.body)
		}
	}
	if r := e.scrape(); r.status != http.StatusOK || !strings.Contains(string(r.body), "vindex_registrations_total") {
		t.Fatalf("the metrics handler itself: %d (the test would prove nothing)", r.status)
	}
}
