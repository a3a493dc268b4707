package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
)

// Client calls a vindex index on behalf of one institution: its methods
// are the API's verbs (httpapi/openapi.yaml), each taking the youth by its
// clear BSN and birth date. It turns them into what the deployment takes:
// bsn and birth_date, or with a Blinder (a blind deployment) the youth's
// element, the key holders' key ID and the birth month (youth, youth_key,
// born_in), so that in a blind deployment neither the BSN nor the birth
// date ever leaves the client system.
//
// A Client is safe for concurrent use; it must not be copied after first
// use. Its zero value is not usable: BaseURL is required.
type Client struct {
	// BaseURL is the index's base URL ("https://vindex.example"), without
	// a trailing slash.
	BaseURL string
	// Token is the institution's bearer token. Empty: the institution is
	// authenticated by the TLS client certificate HTTP presents.
	Token string
	// HTTP makes the requests; its transport holds the TLS configuration
	// (the index's CA, the institution's client certificate). If nil, a
	// client of the system's roots with a 30 s timeout.
	HTTP *http.Client
	// Blinder, if set, makes this a client of a blind deployment
	// (docs/blind.md): the BSN goes to the key holders blinded, and only
	// its element to the index. Nil: an hmac deployment, which takes the
	// BSN itself. It must not be changed after the Client's first call.
	Blinder *Blinder

	once sync.Once
	co   *coalescer
}

// defaultHTTP is the client of a Client without one.
var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

// maxAnswer bounds an answer the client reads (a subject access of a
// youth with many accesses is the largest); maxProblem a problem body.
const (
	maxAnswer  = 32 << 20
	maxProblem = 64 << 10
)

// Errors of the Client itself, before or without an answer of the index.
var (
	// ErrIdentifiesYouth: a free-text field of the request (the client
	// reference, the contact's name, phone or e-mail, the idempotency
	// key) quotes the youth's BSN or birth date (identity.Quotes). The
	// Client refuses it before any request, in a *FieldError that names
	// the field; an index's answer field_identifies_youth or
	// client_ref_identifies_youth (an *APIError) matches it too.
	ErrIdentifiesYouth = errors.New("client: the text quotes the youth's BSN or birth date")
	// ErrYouth: a request without the youth's BSN, or a report or an
	// hmac-mode objection or subject access without its birth date.
	ErrYouth = errors.New("client: the youth's BSN and birth date are required")
	// ErrParents: a report with more than two parents, one given twice,
	// a zero one, or the youth's own BSN as a parent's. The Client
	// refuses it before any request, in a *FieldError naming "parents"
	// (in both modes: a blind index has no BSN to check against).
	ErrParents = errors.New("client: parents are one or two BSNs, each once, none the youth's own")
	// ErrAddress: a report's address is the zero identity.Address (make
	// one with identity.ParseAddress).
	ErrAddress = errors.New("client: the address is empty (identity.ParseAddress makes one)")
	// ErrIdentifiesParent: a free-text field of a report quotes a
	// parent's BSN; refused before any request, as ErrIdentifiesYouth.
	ErrIdentifiesParent = errors.New("client: the text quotes a parent's BSN")
	// ErrClient: the Client is misconfigured (no BaseURL), or could not
	// reach the index or read its answer.
	ErrClient = errors.New("client: request failed")
)

// FieldError is a request the Client refused before sending it: Field is
// the API's name of the field ("client_ref", "contact.phone"). It never
// holds the field's value.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() + ": " + e.Field }

// Unwrap returns the reason (ErrIdentifiesYouth, ErrYouth).
func (e *FieldError) Unwrap() error { return e.Err }

// youthOf is how a request names the youth: the bsn in hmac mode, the
// element and its key ID in a blind deployment (one key-holder
// evaluation, coalesced with those of concurrent calls).
func (c *Client) youthOf(ctx context.Context, bsn identity.BSN) (youthBody, error) {
	if bsn.IsZero() {
		return youthBody{}, &FieldError{Field: "bsn", Err: ErrYouth}
	}
	if c.Blinder == nil {
		return youthBody{BSN: bsn.RevealDigits()}, nil
	}
	in := oprf.YouthInput(bsn)
	ys, err := c.elements(ctx, in)
	in.Clear()
	if err != nil {
		return youthBody{}, err
	}
	return youthBody{Youth: ys[0], YouthKey: c.Blinder.LayerID()}, nil
}

// elements returns the request form (base64) of each input's element,
// through the Blinder, in one batch with concurrent calls' inputs.
func (c *Client) elements(ctx context.Context, ins ...oprf.Input) ([]string, error) {
	c.once.Do(func() { c.co = newCoalescer(c.Blinder, maxInFlight) })
	ys, err := c.co.elements(ctx, ins...)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ys))
	for i, y := range ys {
		text, err := y.MarshalText()
		if err != nil {
			return nil, fmt.Errorf("%w: element: %w", ErrClient, err)
		}
		out[i] = string(text)
	}
	return out, nil
}

// checkText refuses a request whose free-text fields quote the youth (see
// ErrIdentifiesYouth). fields alternate name and value.
func checkText(bsn identity.BSN, bd identity.BirthDate, fields ...string) error {
	if f := quotingField(bsn, bd, fields...); f != "" {
		return &FieldError{Field: f, Err: ErrIdentifiesYouth}
	}
	return nil
}

// quotingField names the first of fields (alternating name and value)
// whose value quotes bsn or bd (identity.Quotes); "" if none does.
func quotingField(bsn identity.BSN, bd identity.BirthDate, fields ...string) string {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] != "" && identity.Quotes(fields[i+1], bsn, bd) {
			return fields[i]
		}
	}
	return ""
}

// call is one request: its method, path and query, its JSON body (nil:
// none), and where its JSON answer goes (nil: none). Accept is the media
// type asked for (JSON if empty). scrub are strings an error's detail must
// not hold (the request's element); bsn and bd the youth, likewise.
type call struct {
	method, path string
	body, out    any
	accept       string
	bsn          identity.BSN
	bd           identity.BirthDate
	scrub        []string
	// raw, if set, receives the answer's body as it is (a letter).
	raw *[]byte
}

// do makes the call; an answer other than 2xx is an *APIError.
func (c *Client) do(ctx context.Context, k call) error {
	if c.BaseURL == "" {
		return fmt.Errorf("%w: BaseURL is required", ErrClient)
	}
	var body io.Reader
	if k.body != nil {
		b, err := json.Marshal(k.body)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrClient, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, strings.TrimSuffix(c.BaseURL, "/")+k.path, body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrClient, err)
	}
	if k.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	accept := k.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept+", application/problem+json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		// A url.Error names the method and the URL: the base URL and
		// a registration ID at most, never a body.
		return fmt.Errorf("%w: %w", ErrClient, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return k.apiError(resp)
	}
	if k.out == nil && k.raw == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxProblem))
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("%w: reading the answer: %w", ErrClient, err)
	}
	if len(b) > maxAnswer {
		return fmt.Errorf("%w: the answer is larger than %d bytes", ErrClient, maxAnswer)
	}
	if k.raw != nil {
		*k.raw = b
		return nil
	}
	if err := json.Unmarshal(b, k.out); err != nil {
		return fmt.Errorf("%w: the answer to %s %s is not the JSON expected: %w", ErrClient, k.method, k.route(), err)
	}
	return nil
}

// route is the call's path without its query, for errors.
func (k call) route() string {
	p, _, _ := strings.Cut(k.path, "?")
	return p
}

// apiError reads an answer that is not 2xx.
func (k call) apiError(resp *http.Response) error {
	e := &APIError{Status: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" {
		var p problem
		if json.NewDecoder(io.LimitReader(resp.Body, maxProblem)).Decode(&p) == nil {
			e.Code, e.Detail, e.Field, e.Leader = p.Code, p.Detail, p.Field, p.Leader
		}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxProblem))
	// The index never quotes a BSN, a birth date or an element in a
	// problem; something else in the way (a proxy) might echo the request.
	// The error keeps no such detail.
	if k.quoted(e.Detail) || k.quoted(e.Field) {
		e.Detail, e.Field = "", ""
	}
	return e
}

func (k call) quoted(s string) bool {
	if s == "" {
		return false
	}
	if identity.Quotes(s, k.bsn, k.bd) {
		return true
	}
	for _, x := range k.scrub {
		if x != "" && strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// problem is an RFC 9457 problem as the index writes it (httpapi.Problem).
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
	Leader string `json:"leader,omitempty"`
}
