// Package notify delivers the outbox: it tells institutions what happened
// to the youths they are involved with, at least once, by mail and by
// webhook.
//
//   - A Worker drains every institution's outbox over each of its channels
//     (EmailChannel to the professional and to the institution's mailbox,
//     each a channel of its own; WebhookChannel): urgent events first, a
//     failed attempt retried after an exponential backoff with jitter
//     while it holds back no other event, an event given up (dead) after
//     a maximum age or at once when a mail server refuses the address for
//     good. Its state lives in the store
//     (store.DeliveryStore) and is written atomically, so a restart
//     resumes where it stopped; a crash can repeat at most one batch of
//     deliveries, with the same IDs.
//   - Templates render an event into a message (subject, text and HTML
//     parts; Dutch by default, English, or an operator's own templates),
//     naming the other institutions and their professionals' contacts —
//     never a BSN, a birth date, a name or a pseudonym, which an event does
//     not hold. Every message has a stable ID (EventID), the same on a
//     retry, so that a receiver can drop a duplicate.
//   - A Mailer sends a message over SMTP (github.com/wneessen/go-mail):
//     STARTTLS with a verified certificate required by default, PLAIN
//     authentication only over TLS, the stable ID as Message-ID, urgency
//     marked, connections reused; EMLDir writes the messages to files
//     instead, for development.
//   - A Hook posts an event as JSON (HookEvent) to a client system, HTTPS
//     only (plain HTTP only to loopback), signed following the Standard
//     Webhooks convention (https://www.standardwebhooks.com) with
//     SignWebhook; a 2xx answer is a delivery. A vendor's receiver checks a
//     request with VerifyWebhook.
//
// # Never logged
//
// Log lines and the delivery state carry the institution, the channel, the
// event ID and a stable error code (ErrorCode), never a message's content or
// a server's reply. Secrets are never printed: errors name what is wrong (a
// missing header, a stale timestamp, no matching signature), never a
// secret, a signature or a body.
package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// secretPrefix marks a webhook secret: "whsec_" and the key in base64.
const secretPrefix = "whsec_"

// DefaultTolerance is how far a webhook's timestamp may be from the
// receiver's clock, either way, for VerifyWebhook to accept it.
const DefaultTolerance = 5 * time.Minute

// Errors from VerifyWebhook and ParseWebhookSecret. None quotes a secret, a
// signature or a body.
var (
	ErrWebhookSecret    = errors.New("notify: a webhook secret is whsec_ followed by at least 24 bytes in base64")
	ErrWebhookHeaders   = errors.New("notify: webhook-id, webhook-timestamp and webhook-signature are required")
	ErrWebhookTimestamp = errors.New("notify: the webhook timestamp is too far from now (a replay, or a skewed clock)")
	ErrWebhookSignature = errors.New("notify: no webhook signature matches")
)

// WebhookSecret is the key a webhook is signed with.
type WebhookSecret struct{ key []byte }

// NewWebhookSecret makes a random 32-byte secret.
func NewWebhookSecret() WebhookSecret {
	k := make([]byte, 32)
	rand.Read(k)
	return WebhookSecret{key: k}
}

// ParseWebhookSecret reads a secret in its text form, "whsec_" and the key
// in standard base64 (the prefix may be left out).
func ParseWebhookSecret(s string) (WebhookSecret, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), secretPrefix))
	if err != nil || len(k) < 24 {
		return WebhookSecret{}, ErrWebhookSecret
	}
	return WebhookSecret{key: k}, nil
}

// Text returns the secret in its text form, to hand to the receiver once.
func (s WebhookSecret) Text() string { return secretPrefix + base64.StdEncoding.EncodeToString(s.key) }

// String redacts the secret.
func (s WebhookSecret) String() string { return "WebhookSecret(redacted)" }

// GoString redacts the secret.
func (s WebhookSecret) GoString() string { return "notify.WebhookSecret(redacted)" }

// IsZero reports whether s holds no key.
func (s WebhookSecret) IsZero() bool { return len(s.key) == 0 }

// sign returns the v1 signature of one message.
func (s WebhookSecret) sign(id string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// SignWebhook sets the three Standard Webhooks headers on h for a message
// with the given ID (stable across retries, so receivers can drop
// duplicates), sent at, with body: webhook-signature is "v1," and the
// base64 HMAC-SHA256 of "id.timestamp.body" under the secret.
func SignWebhook(h http.Header, s WebhookSecret, id string, at time.Time, body []byte) {
	ts := at.Unix()
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderWebhookSignature, "v1,"+base64.StdEncoding.EncodeToString(s.sign(id, ts, body)))
}

// VerifyWebhook checks a received webhook: its headers h and raw body,
// against the secret, at the receiver's time now, accepting a timestamp
// within tolerance (DefaultTolerance if zero) either way. Any of several
// space-separated signatures may match (a sender rotating its secret sends
// two). It returns the message ID, by which a receiver drops a duplicate
// delivery. The comparison takes constant time.
func VerifyWebhook(s WebhookSecret, h http.Header, body []byte, now time.Time, tolerance time.Duration) (id string, err error) {
	id, tsText, sigs := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	if id == "" || tsText == "" || sigs == "" {
		return "", ErrWebhookHeaders
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: the timestamp is not a Unix time in seconds", ErrWebhookHeaders)
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return "", ErrWebhookTimestamp
	}
	want := s.sign(id, ts, body)
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if subtle.ConstantTimeCompare(got, want) == 1 {
			return id, nil
		}
	}
	return "", ErrWebhookSignature
}
