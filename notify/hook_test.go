package notify_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
)

// receiver is a client system's endpoint over real TLS: it verifies every
// request with VerifyWebhook and answers with the next of its statuses.
type receiver struct {
	srv      *httptest.Server
	secret   notify.WebhookSecret
	mu       sync.Mutex
	statuses []int
	got      []notify.HookEvent
	ids      []string
	bad      int
}

func startReceiver(t *testing.T, ca *pki.CA, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{secret: notify.NewWebhookSecret(), statuses: statuses}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id, err := notify.VerifyWebhook(r.secret, req.Header, body, time.Now(), 0)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
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
			r.got = append(r.got, ev)
		}
		r.ids = append(r.ids, id)
		w.WriteHeader(status)
	}))
	cert, err := ca.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	r.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	r.srv.StartTLS()
	t.Cleanup(r.srv.Close)
	return r
}

// A 500 and then a 200: the retry carries the same webhook-id and body,
// and the receiver's verification passes both times.
func TestHookDeliversSignedAndRetries(t *testing.T) {
	ca, err := pki.NewCA("hook CA")
	if err != nil {
		t.Fatal(err)
	}
	rc := startReceiver(t, ca, 500, 200)
	h, err := notify.NewHook(notify.HookConfig{URL: rc.srv.URL + "/vindex", Secret: rc.secret, RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	ev := notify.NewHookEvent(notice(store.EventMatch).Event, "DOS-2026-0042")
	err = h.Send(context.Background(), ev)
	var he *notify.HookError
	if !errors.As(err, &he) || he.Status != 500 {
		t.Fatalf("first delivery: %v", err)
	}
	if err := h.Send(context.Background(), ev); err != nil {
		t.Fatalf("retry: %v", err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.bad != 0 || len(rc.ids) != 2 || rc.ids[0] != rc.ids[1] || rc.ids[0] != "vx_ggd-groningen_17" {
		t.Fatalf("ids %v, %d badly signed", rc.ids, rc.bad)
	}
	got := rc.got[0]
	if got.Type != "match" || got.ClientRef != "DOS-2026-0042" || len(got.Others) != 1 || got.Others[0].Email != "m.devries@wij.example" {
		t.Fatalf("body %+v", got)
	}
}

func TestHookRefusals(t *testing.T) {
	ca, _ := pki.NewCA("hook CA")
	other, _ := pki.NewCA("other CA")
	rc := startReceiver(t, ca)
	// A receiver whose certificate the hook does not trust gets nothing.
	h, err := notify.NewHook(notify.HookConfig{URL: rc.srv.URL, Secret: rc.secret, RootCAs: other.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Send(context.Background(), notify.NewHookEvent(notice(store.EventNoMatch).Event, "")); err == nil {
		t.Fatal("delivered to an untrusted certificate")
	}
	// A wrong secret: the receiver refuses it (401), which is no delivery.
	h, _ = notify.NewHook(notify.HookConfig{URL: rc.srv.URL, Secret: notify.NewWebhookSecret(), RootCAs: ca.Pool()})
	var he *notify.HookError
	if err := h.Send(context.Background(), notify.NewHookEvent(notice(store.EventNoMatch).Event, "")); !errors.As(err, &he) || he.Status != 401 {
		t.Fatalf("wrong secret: %v", err)
	}
	for _, u := range []string{"http://client.example/hook", "ftp://client.example/", "https://", "::"} {
		if _, err := notify.NewHook(notify.HookConfig{URL: u, Secret: notify.NewWebhookSecret()}); !errors.Is(err, notify.ErrWebhookURL) {
			t.Errorf("%q: %v", u, err)
		}
	}
	if _, err := notify.NewHook(notify.HookConfig{URL: "http://127.0.0.1:9/hook", Secret: notify.NewWebhookSecret()}); err != nil {
		t.Errorf("plain HTTP to loopback: %v", err)
	}
	if _, err := notify.NewHook(notify.HookConfig{URL: "https://client.example/hook"}); err == nil || strings.Contains(err.Error(), "whsec") {
		t.Errorf("no secret: %v", err)
	}
}
