package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/bench/target"
)

// HTTPS drives a running vindex server over HTTPS with bearer tokens, as
// the institutions' client systems do: one keep-alive connection per
// caller.
type HTTPS struct {
	base   string
	tokens map[string]string
	tls    *tls.Config
	client *http.Client
	ids    RegistrationIDs[string]
}

// HTTPSConfig configures an HTTPS target.
type HTTPSConfig struct {
	// URL is the server's base URL, e.g. https://127.0.0.1:8443.
	URL string
	// Tokens maps each institution of target.Institutions to its bearer token.
	Tokens map[string]string
	// RootCAs verifies the server's certificate; nil means the system's.
	RootCAs *x509.CertPool
	// Connections is the number of keep-alive connections to keep (the
	// run's concurrency).
	Connections int
}

// NewHTTPS returns a target for the server at c.URL.
func NewHTTPS(c HTTPSConfig) (*HTTPS, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("bench: server URL %q: want https://host:port", c.URL)
	}
	for _, inst := range target.Institutions {
		if c.Tokens[inst] == "" {
			return nil, fmt.Errorf("bench: no token for %s", inst)
		}
	}
	tc := &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}
	tr := &http.Transport{
		TLSClientConfig:     tc,
		MaxIdleConns:        max(c.Connections, 2),
		MaxIdleConnsPerHost: max(c.Connections, 2),
		IdleConnTimeout:     time.Minute,
		ForceAttemptHTTP2:   false,
	}
	return &HTTPS{
		base:   strings.TrimRight(u.String(), "/"),
		tokens: c.Tokens,
		tls:    tc,
		client: &http.Client{Transport: tr, Timeout: time.Minute},
	}, nil
}

// Name implements Target.
func (t *HTTPS) Name() string { return "vindex-https" }

// ProblemError is a problem+json answer; Code is its stable code.
type ProblemError struct {
	Status  int
	Problem string
}

func (e *ProblemError) Error() string {
	return fmt.Sprintf("bench: server answered %d %s", e.Status, e.Problem)
}

// Code implements Code.
func (e *ProblemError) Code() string {
	if e.Problem == "" {
		return fmt.Sprintf("http_%d", e.Status)
	}
	return e.Problem
}

// call sends body (a GET if it is nil) to path as inst and decodes the
// answer into out.
func (t *HTTPS) call(ctx context.Context, inst, path string, body any, out any) (int, error) {
	return t.callKeyed(ctx, inst, path, "", body, out)
}

// callKeyed is call with an Idempotency-Key header if key is not empty.
// Such a request is one Go's client sends again by itself when a kept-alive
// connection turns out to have been closed by the server as the request
// went out, as a client system that follows the API's advice does.
func (t *HTTPS) callKeyed(ctx context.Context, inst, path, key string, body any, out any) (int, error) {
	method, rd := http.MethodGet, io.Reader(nil)
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		method, rd = http.MethodPost, bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+t.tokens[inst])
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode >= 300 {
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(data, &p)
		return resp.StatusCode, &ProblemError{Status: resp.StatusCode, Problem: p.Code}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("bench: answer of %s: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

// Register implements Target.
func (t *HTTPS) Register(ctx context.Context, inst string, y Youth) (Outcome, error) {
	var res struct {
		ID        string            `json:"id"`
		Involved  []json.RawMessage `json:"involved"`
		Refreshed bool              `json:"refreshed"`
	}
	body := map[string]any{
		"bsn": y.BSN().RevealDigits(), "birth_date": y.BirthDate().RevealDate().Format(time.DateOnly),
		"municipality": target.Municipality, "kind": "involvement",
		"contact": map[string]string{"name": target.Contact.Name, "phone": target.Contact.Phone, "email": target.Contact.Email},
	}
	if target.IsSignal(inst) {
		body["kind"], body["code"] = "signal", target.SignalCode
	}
	// Every report carries a key of its own (as a client system's should:
	// a retry then answers the first result instead of reporting twice).
	_, err := t.callKeyed(ctx, inst, "/v1/registrations", rand.Text(), body, &res)
	if err != nil {
		return 0, err
	}
	t.ids.Remember(inst, y, res.ID)
	return registerOutcome(res.Refreshed, len(res.Involved) > 0), nil
}

// Lookup implements Target.
func (t *HTTPS) Lookup(ctx context.Context, inst string, y Youth) (Outcome, error) {
	_, err := t.call(ctx, inst, "/v1/lookups", map[string]string{"bsn": y.BSN().RevealDigits()}, nil)
	var p *ProblemError
	if errors.As(err, &p) && p.Problem == "not_involved" {
		return NotInvolved, nil
	}
	if err != nil {
		return 0, err
	}
	return Viewed, nil
}

// End implements Target.
func (t *HTTPS) End(ctx context.Context, inst string, y Youth) (Outcome, error) {
	id, ok := t.ids.Take(inst, y)
	if !ok {
		return Skipped, nil
	}
	if _, err := t.call(ctx, inst, "/v1/registrations/"+url.PathEscape(id)+"/end", struct{}{}, nil); err != nil {
		return 0, err
	}
	return Ended, nil
}

// eventsAbout counts inst's outbox events about its registration for y,
// by type, reading the whole outbox with GET /v1/events.
func (t *HTTPS) eventsAbout(ctx context.Context, inst string, y Youth) (map[string]int64, error) {
	id, ok := t.ids.Get(inst, y)
	if !ok {
		return nil, fmt.Errorf("bench: %s has no registration for the youth", inst)
	}
	out := map[string]int64{}
	for after := uint64(0); ; {
		var page struct {
			Events []struct {
				Type         string `json:"type"`
				Registration string `json:"registration"`
			} `json:"events"`
			Next uint64 `json:"next"`
		}
		if _, err := t.call(ctx, inst, fmt.Sprintf("/v1/events?after=%d&limit=1000", after), nil, &page); err != nil {
			return nil, err
		}
		if len(page.Events) == 0 || page.Next <= after {
			return out, nil
		}
		for _, e := range page.Events {
			if e.Registration == id {
				out[e.Type]++
			}
		}
		after = page.Next
	}
}

// Close implements Target.
func (t *HTTPS) Close() error {
	t.client.CloseIdleConnections()
	return nil
}
