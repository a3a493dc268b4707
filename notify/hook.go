package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// ErrWebhookURL: a webhook URL that is not HTTPS (plain HTTP is allowed
// only to a loopback address).
var ErrWebhookURL = errors.New("notify: a webhook URL must be https:// (http:// only to a loopback address)")

// Hook posts signed events to one institution's client system.
type Hook struct {
	url    string
	secret WebhookSecret
	client *http.Client
	now    func() time.Time
}

// HookConfig configures a Hook.
type HookConfig struct {
	URL    string
	Secret WebhookSecret
	// RootCAs verify the receiver's certificate; nil: the system's.
	RootCAs *x509.CertPool
	// Timeout bounds one delivery; zero: 10 s.
	Timeout time.Duration
}

// NewHook checks c and returns a Hook.
func NewHook(c HookConfig) (*Hook, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: %q", ErrWebhookURL, c.URL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: %q", ErrWebhookURL, c.URL)
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrWebhookURL, c.URL)
	}
	if c.Secret.IsZero() {
		return nil, errors.New("notify: a webhook needs a secret")
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 4}
	// No redirects: a receiver answers where it was configured.
	hc := &http.Client{Transport: tr, Timeout: c.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Hook{url: u.String(), secret: c.Secret, client: hc, now: time.Now}, nil
}

// HookEvent is the JSON body of a webhook: what happened, in the
// recipient's terms. It holds no identity of the youth.
type HookEvent struct {
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	At           time.Time   `json:"at"`
	Registration string      `json:"registration"`
	ClientRef    string      `json:"client_ref,omitempty"`
	Urgent       bool        `json:"urgent,omitempty"`
	Others       []HookParty `json:"others,omitempty"`
	Coordinator  string      `json:"coordinator,omitempty"`
	Rule         string      `json:"rule,omitempty"`
	Subject      string      `json:"subject,omitempty"`
	Reason       string      `json:"reason,omitempty"`
	// Collapsed is, in a summary event, how many events it stands for;
	// absent from any other.
	Collapsed int `json:"collapsed,omitempty"`
	// Agreement is, in an agreement event, the number of the plan's
	// agreement it is about; absent from any other.
	Agreement int `json:"agreement,omitempty"`
}

// HookParty is another involved institution and its professional.
type HookParty struct {
	Institution string `json:"institution"`
	Kind        string `json:"kind"`
	Name        string `json:"name,omitempty"`
	Phone       string `json:"phone,omitempty"`
	Email       string `json:"email,omitempty"`
	Since       string `json:"since"`
}

// NewHookEvent is the webhook body of event e for its recipient, with the
// recipient's own reference for the youth.
func NewHookEvent(e store.Event, clientRef string) HookEvent {
	h := HookEvent{ID: EventID(e.Recipient, e.Seq), Type: e.Type.String(), At: e.At.UTC(), Registration: e.Registration.String(),
		ClientRef: clientRef, Urgent: e.Urgent, Coordinator: e.Coordinator, Rule: e.Rule, Subject: e.Subject, Reason: e.Reason,
		Collapsed: e.Collapsed, Agreement: e.Agreement}
	for _, o := range e.Others {
		h.Others = append(h.Others, HookParty{Institution: o.Institution, Kind: o.Kind.String(), Name: o.Contact.Name,
			Phone: o.Contact.Phone, Email: o.Contact.Email, Since: o.Since.Format(time.DateOnly)})
	}
	return h
}

// HookError is a delivery the receiver did not take.
type HookError struct {
	// Status is the receiver's HTTP status, 0 if it gave none.
	Status int
	err    error
}

func (e *HookError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("notify: webhook answered %d", e.Status)
	}
	return fmt.Sprintf("notify: webhook: %v", e.err)
}

func (e *HookError) Unwrap() error { return e.err }

// Send posts ev, signed, with its stable ID as webhook-id. A 2xx answer is a
// delivery; anything else is an error, and the same event may be sent again.
func (h *Hook) Send(ctx context.Context, ev HookEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vindex")
	SignWebhook(req.Header, h.secret, ev.ID, h.now(), body)
	resp, err := h.client.Do(req)
	if err != nil {
		return &HookError{err: err}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &HookError{Status: resp.StatusCode}
	}
	return nil
}
