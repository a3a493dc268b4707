// Package hooktest is a client system's webhook endpoint for tests: real
// TLS, every request verified with notify.VerifyWebhook.
package hooktest

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/notify"
)

// Receiver answers each verified request with the next of its statuses,
// then 204, and a request that fails verification with 401.
type Receiver struct {
	// URL is the receiver's https:// address (127.0.0.1, a certificate
	// from the CA given to Start); Secret is the webhook secret it checks.
	URL    string
	Secret notify.WebhookSecret

	mu       sync.Mutex
	statuses []int
	seen     Seen
}

// Seen is what a Receiver has received.
type Seen struct {
	// IDs are the webhook-ids of the verified requests, in order; Bodies
	// their bodies.
	IDs    []string
	Bodies [][]byte
	// Got are the events of the requests answered with a 2xx.
	Got []notify.HookEvent
	// Bad counts the requests that failed verification.
	Bad int
}

// Start starts a Receiver with a server certificate from ca; it stops when
// the test ends.
func Start(t testing.TB, ca *pki.CA, statuses ...int) *Receiver {
	t.Helper()
	r := &Receiver{Secret: notify.NewWebhookSecret(), statuses: statuses}
	r.URL = Serve(t, ca, http.HandlerFunc(r.serve))
	return r
}

// Serve serves h over HTTPS on 127.0.0.1 with a certificate from ca until
// the test ends, and returns its https:// URL: a receiver that checks
// nothing, for benchmarks.
func Serve(t testing.TB, ca *pki.CA, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	cert, err := ca.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, err := notify.VerifyWebhook(r.Secret, req.Header, body, time.Now(), 0)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.seen.Bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.seen.IDs = append(r.seen.IDs, id)
	r.seen.Bodies = append(r.seen.Bodies, body)
	status := http.StatusNoContent
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	if status/100 == 2 {
		var ev notify.HookEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.seen.Got = append(r.seen.Got, ev)
	}
	w.WriteHeader(status)
}

// Seen returns a copy of what the receiver has received so far.
func (r *Receiver) Seen() Seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Seen{IDs: slices.Clone(r.seen.IDs), Bodies: slices.Clone(r.seen.Bodies), Got: slices.Clone(r.seen.Got), Bad: r.seen.Bad}
}
