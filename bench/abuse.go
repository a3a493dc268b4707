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
}

// ParseAbuse reads "oversize=N,invalid=N,slowloris=N,idle=N" (any subset).
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
		default:
			return Abuse{}, fmt.Errorf("bench: abuse %q: the kinds are oversize, invalid, slowloris and idle", part)
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
	// Answers counts the answers by status and problem code.
	Answers map[string]int64 `json:"answers,omitempty"`
}

// abuser is implemented by targets that can be abused (HTTPS).
type abuser interface {
	abuse(ctx context.Context, a Abuse) (stop func() []AbuseResult)
}

type abuseCounts struct {
	kind                                  string
	clients                               int
	attempts, refused, cutOff, unexpected atomic.Int64
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
	return AbuseResult{Kind: c.kind, Clients: c.clients, Attempts: c.attempts.Load(), Refused: c.refused.Load(),
		CutOff: c.cutOff.Load(), Unexpected: c.unexpected.Load(), Answers: c.answers}
}

// abuse starts the abusive clients against the server; stop ends them and
// returns their counts.
func (t *HTTPS) abuse(ctx context.Context, a Abuse) func() []AbuseResult {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var all []*abuseCounts
	start := func(kind string, n int, run func(*abuseCounts)) {
		if n == 0 {
			return
		}
		c := &abuseCounts{kind: kind, clients: n}
		all = append(all, c)
		for range n {
			wg.Go(func() {
				for ctx.Err() == nil {
					run(c)
				}
			})
		}
	}
	// Its own client, so that abuse does not share the valid callers'
	// connections.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: t.tls.Clone(), MaxIdleConnsPerHost: max(a.Oversize+a.Invalid, 2)}, Timeout: time.Minute}
	inst := target.Institutions[0]
	post := func(c *abuseCounts, body []byte, wantStatus int, wantCode string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.base+"/v1/registrations", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+t.tokens[inst])
		c.attempts.Add(1)
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() == nil {
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
	big := []byte(`{"bsn":"111222333","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"` +
		strings.Repeat("x", 1<<20) + `"}}`)
	start("oversize", a.Oversize, func(c *abuseCounts) { post(c, big, http.StatusRequestEntityTooLarge, "body_too_large") })
	invalid := []byte(`{"bsn":"123456789","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"A. Jansen","phone":"050-1234567"}}`)
	start("invalid_bsn", a.Invalid, func(c *abuseCounts) { post(c, invalid, http.StatusBadRequest, "invalid_bsn") })
	host := strings.TrimPrefix(t.base, "https://")
	// hold opens a TLS connection, sends what send sends while it is
	// open, and counts it cut off when the server closes it.
	hold := func(c *abuseCounts, send func(net.Conn) error) {
		d := tls.Dialer{Config: t.tls.Clone()}
		conn, err := d.DialContext(ctx, "tcp", host)
		c.attempts.Add(1)
		if err != nil {
			if ctx.Err() == nil {
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
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}
	start("slowloris", a.Slowloris, func(c *abuseCounts) {
		first := true
		hold(c, func(conn net.Conn) error {
			line := "X-Slow: 1\r\n"
			if first {
				line, first = "POST /v1/registrations HTTP/1.1\r\nHost: "+host+"\r\n", false
			}
			_, err := io.WriteString(conn, line)
			return err
		})
	})
	start("idle", a.Idle, func(c *abuseCounts) { hold(c, func(net.Conn) error { return nil }) })
	return func() []AbuseResult {
		cancel()
		wg.Wait()
		hc.CloseIdleConnections()
		var out []AbuseResult
		for _, c := range all {
			out = append(out, c.result())
		}
		slices.SortFunc(out, func(a, b AbuseResult) int { return strings.Compare(a.Kind, b.Kind) })
		return out
	}
}
