package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vindex-nl/vindex/bench/target"
)

// Abuse is the misbehaving clients an HTTPS run sends beside its workload,
// to show that they are answered or cut off while valid traffic goes on.
type Abuse struct {
	// Oversize clients send reports with a 1 MiB body, one after another.
	Oversize int `json:"oversize,omitempty"`
	// Invalid clients send reports with BSNs that fail the eleven-check.
	Invalid int `json:"invalid_bsn,omitempty"`
	// Slowloris connections trickle a request header, a line a second.
	Slowloris int `json:"slowloris,omitempty"`
	// Idle connections finish the TLS handshake and send nothing.
	Idle int `json:"idle,omitempty"`
	// Scrape is scrapes of MetricsURL a second, without credentials, each
	// sent on time whether or not the last was answered (at most 64 in
	// flight): what a careless or hostile scraper costs the service.
	Scrape int `json:"scrape_per_second,omitempty"`
	// MetricsURL is what Scrape scrapes; empty: the server's API URL +
	// "/metrics", which vindex never serves there (404 is "refused as
	// expected"). Give the metrics listener's URL to measure what scrapes
	// cost the valid traffic.
	MetricsURL string `json:"metrics_url,omitempty"`
}

// ParseAbuse reads "oversize=N,invalid=N,slowloris=N,idle=N,scrape=N" (any
// subset).
func ParseAbuse(s string) (Abuse, error) {
	var a Abuse
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || n > 10000 {
			return Abuse{}, fmt.Errorf("bench: abuse %q: want kind=N with 0 ≤ N ≤ 10000", part)
		}
		switch strings.TrimSpace(k) {
		case "oversize":
			a.Oversize = n
		case "invalid":
			a.Invalid = n
		case "slowloris":
			a.Slowloris = n
		case "idle":
			a.Idle = n
		case "scrape":
			a.Scrape = n
		default:
			return Abuse{}, fmt.Errorf("bench: abuse %q: the kinds are oversize, invalid, slowloris, idle and scrape", part)
		}
	}
	return a, nil
}

// AbuseResult counts what one kind of abuse got.
type AbuseResult struct {
	Kind    string `json:"kind"`
	Clients int    `json:"clients"`
	// Attempts is requests sent (oversize, invalid) or connections opened
	// (slowloris, idle).
	Attempts int64 `json:"attempts"`
	// Refused is answers with the expected problem: 413 body_too_large,
	// 400 invalid_bsn.
	Refused int64 `json:"refused"`
	// CutOff is connections the server closed on the client.
	CutOff int64 `json:"cut_off"`
	// Unexpected is any other answer (a success, a 5xx, another code).
	Unexpected int64 `json:"unexpected"`
	// Served is scrapes answered with the metrics (scrape of a metrics
	// listener); MeanSeconds is their mean answer time.
	Served      int64   `json:"served,omitempty"`
	MeanSeconds float64 `json:"mean_seconds,omitempty"`
	// Answers counts the answers by status and problem code.
	Answers map[string]int64 `json:"answers,omitempty"`
}

// abuser is implemented by targets that can be abused (HTTPS).
type abuser interface {
	abuse(ctx context.Context, a Abuse) (stop func() []AbuseResult)
}

// startAbuse starts a's misbehaving clients against t, if a asks for any;
// stop ends them and returns their counts (none if there were none).
func startAbuse(ctx context.Context, t Target, a Abuse) (stop func() []AbuseResult, err error) {
	if a == (Abuse{}) {
		return func() []AbuseResult { return nil }, nil
	}
	ab, ok := t.(abuser)
	if !ok {
		return nil, fmt.Errorf("bench: abuse needs a server target (https), not %s", t.Name())
	}
	return ab.abuse(ctx, a), nil
}

type abuseCounts struct {
	kind                                  string
	clients                               int
	attempts, refused, cutOff, unexpected atomic.Int64
	served, servedNanos                   atomic.Int64
	mu                                    sync.Mutex
	answers                               map[string]int64
}

func (c *abuseCounts) answer(a string) {
	c.mu.Lock()
	if c.answers == nil {
		c.answers = map[string]int64{}
	}
	c.answers[a]++
	c.mu.Unlock()
}

func (c *abuseCounts) result() AbuseResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := AbuseResult{Kind: c.kind, Clients: c.clients, Attempts: c.attempts.Load(), Refused: c.refused.Load(),
		CutOff: c.cutOff.Load(), Unexpected: c.unexpected.Load(), Served: c.served.Load(), Answers: c.answers}
	if r.Served > 0 {
		r.MeanSeconds = time.Duration(c.servedNanos.Load() / r.Served).Seconds()
	}
	return r
}

// abuse starts the abusive clients against the server; stop ends them and
// returns their counts.
func (t *HTTPS) abuse(ctx context.Context, a Abuse) func() []AbuseResult {
	ctx, cancel := context.WithCancel(ctx)
	r := &abuseRun{
		ctx:  ctx,
		t:    t,
		host: strings.TrimPrefix(t.base, "https://"),
		// Its own client, so that abuse does not share the valid callers'
		// connections.
		hc: &http.Client{Transport: &http.Transport{TLSClientConfig: t.tls.Clone(), MaxIdleConnsPerHost: max(a.Oversize+a.Invalid, 2)}, Timeout: time.Minute},
	}
	big := []byte(`{"bsn":"111222333","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"` +
		strings.Repeat("x", 1<<20) + `"}}`)
	r.start("oversize", a.Oversize, func(c *abuseCounts) { r.post(c, big, http.StatusRequestEntityTooLarge, "body_too_large") })
	invalid := []byte(`{"bsn":"123456789","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"A. Jansen","phone":"050-1234567"}}`)
	r.start("invalid_bsn", a.Invalid, func(c *abuseCounts) { r.post(c, invalid, http.StatusBadRequest, "invalid_bsn") })
	r.start("slowloris", a.Slowloris, r.slowloris)
	r.start("idle", a.Idle, func(c *abuseCounts) { r.hold(c, func(net.Conn) error { return nil }) })
	r.scrapes(a)
	return func() []AbuseResult {
		cancel()
		return r.stop()
	}
}

// abuseRun is one run's abusive clients against t, until ctx ends.
type abuseRun struct {
	ctx  context.Context
	t    *HTTPS
	host string       // t's host:port
	hc   *http.Client // for post
	wg   sync.WaitGroup
	all  []*abuseCounts
}

// start starts n clients of a kind, each doing run over and over until the
// run's context ends.
func (r *abuseRun) start(kind string, n int, run func(*abuseCounts)) {
	if n == 0 {
		return
	}
	c := &abuseCounts{kind: kind, clients: n}
	r.all = append(r.all, c)
	for range n {
		r.wg.Go(func() {
			for r.ctx.Err() == nil {
				run(c)
			}
		})
	}
}

// stop waits for the clients, whose context has ended, and returns their
// counts by kind.
func (r *abuseRun) stop() []AbuseResult {
	r.wg.Wait()
	r.hc.CloseIdleConnections()
	var out []AbuseResult
	for _, c := range r.all {
		out = append(out, c.result())
	}
	slices.SortFunc(out, func(a, b AbuseResult) int { return strings.Compare(a.Kind, b.Kind) })
	return out
}

// post sends one report with body, and counts it refused if the server
// answers wantStatus with the problem code wantCode.
func (r *abuseRun) post(c *abuseCounts, body []byte, wantStatus int, wantCode string) {
	req, _ := http.NewRequestWithContext(r.ctx, http.MethodPost, r.t.base+"/v1/registrations", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.t.tokens[target.Institutions[0]])
	c.attempts.Add(1)
	resp, err := r.hc.Do(req)
	if err != nil {
		if r.ctx.Err() == nil {
			c.cutOff.Add(1)
			c.answer("connection closed")
		}
		return
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(b, &p)
	c.answer(fmt.Sprintf("%d %s", resp.StatusCode, p.Code))
	if resp.StatusCode == wantStatus && p.Code == wantCode {
		c.refused.Add(1)
	} else {
		c.unexpected.Add(1)
	}
}

// slowloris holds one connection that trickles a request header, a line a
// second.
func (r *abuseRun) slowloris(c *abuseCounts) {
	first := true
	r.hold(c, func(conn net.Conn) error {
		line := "X-Slow: 1\r\n"
		if first {
			line, first = "POST /v1/registrations HTTP/1.1\r\nHost: "+r.host+"\r\n", false
		}
		_, err := io.WriteString(conn, line)
		return err
	})
}

// hold opens a TLS connection, sends what send sends once a second while it
// is open, and counts it cut off when the server closes it.
func (r *abuseRun) hold(c *abuseCounts, send func(net.Conn) error) {
	d := tls.Dialer{Config: r.t.tls.Clone()}
	conn, err := d.DialContext(r.ctx, "tcp", r.host)
	c.attempts.Add(1)
	if err != nil {
		if r.ctx.Err() == nil {
			c.unexpected.Add(1)
			c.answer("dial failed")
			time.Sleep(100 * time.Millisecond)
		}
		return
	}
	defer conn.Close()
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, conn) // until the server closes it
		close(closed)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := send(conn); err != nil {
			c.cutOff.Add(1)
			c.answer("connection closed")
			return
		}
		select {
		case <-closed:
			c.cutOff.Add(1)
			c.answer("connection closed")
			return
		case <-r.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// scrapes starts a.Scrape scrapes a second of a.MetricsURL (or the API's
// /metrics), open loop: each is sent on time, at most 64 at once.
func (r *abuseRun) scrapes(a Abuse) {
	if a.Scrape == 0 {
		return
	}
	u := a.MetricsURL
	if u == "" {
		u = r.t.base + "/metrics"
	}
	c := &abuseCounts{kind: "scrape", clients: 1}
	r.all = append(r.all, c)
	inflight := make(chan struct{}, 64)
	r.wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(a.Scrape))
		defer tick.Stop()
		for {
			select {
			case <-r.ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case inflight <- struct{}{}:
			default:
				c.attempts.Add(1)
				c.unexpected.Add(1)
				c.answer("not sent: 64 scrapes in flight")
				continue
			}
			r.wg.Go(func() {
				defer func() { <-inflight }()
				r.scrape(c, u)
			})
		}
	})
}

// scrape sends one GET of u without credentials and counts its answer:
// 200 served (and timed), 404 refused as expected.
func (r *abuseRun) scrape(c *abuseCounts, u string) {
	req, _ := http.NewRequestWithContext(r.ctx, http.MethodGet, u, nil)
	c.attempts.Add(1)
	start := time.Now()
	resp, err := r.hc.Do(req)
	if err != nil {
		if r.ctx.Err() == nil {
			c.unexpected.Add(1)
			c.answer("failed")
		}
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.answer(strconv.Itoa(resp.StatusCode))
	switch resp.StatusCode {
	case http.StatusOK:
		c.served.Add(1)
		c.servedNanos.Add(int64(time.Since(start)))
	case http.StatusNotFound:
		c.refused.Add(1)
	default:
		c.unexpected.Add(1)
	}
}
