package notify_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/internal/hooktest"
	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
)

// A 500 and then a 200: the retry carries the same webhook-id and body,
// and the receiver's verification passes both times.
func TestHookDeliversSignedAndRetries(t *testing.T) {
	ca, err := pki.NewCA("hook CA")
	if err != nil {
		t.Fatal(err)
	}
	rc := hooktest.Start(t, ca, 500, 200)
	h, err := notify.NewHook(notify.HookConfig{URL: rc.URL + "/vindex", Secret: rc.Secret, RootCAs: ca.Pool()})
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
	seen := rc.Seen()
	if seen.Bad != 0 || len(seen.IDs) != 2 || seen.IDs[0] != seen.IDs[1] || seen.IDs[0] != "vx_ggd-groningen_17" || !bytes.Equal(seen.Bodies[0], seen.Bodies[1]) {
		t.Fatalf("ids %v, %d badly signed", seen.IDs, seen.Bad)
	}
	got := seen.Got[0]
	if got.Type != "match" || got.ClientRef != "DOS-2026-0042" || len(got.Others) != 1 || got.Others[0].Email != "m.devries@wij.example" {
		t.Fatalf("body %+v", got)
	}
}

// A summary's webhook body carries the count of the events it stands for
// as "collapsed", with the others and the coordinator; other events have
// no "collapsed" at all.
func TestHookSummaryBody(t *testing.T) {
	ca, err := pki.NewCA("hook CA")
	if err != nil {
		t.Fatal(err)
	}
	rc := hooktest.Start(t, ca)
	h, err := notify.NewHook(notify.HookConfig{URL: rc.URL, Secret: rc.Secret, RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []store.EventType{store.EventMatch, store.EventSummary} {
		if err := h.Send(context.Background(), notify.NewHookEvent(notice(typ).Event, "DOS-2026-0042")); err != nil {
			t.Fatal(err)
		}
	}
	seen := rc.Seen()
	if len(seen.Got) != 2 || bytes.Contains(seen.Bodies[0], []byte(`"collapsed"`)) {
		t.Fatalf("a match event's body: %s", seen.Bodies[0])
	}
	got := seen.Got[1]
	if got.Type != "summary" || got.Collapsed != 12 || len(got.Others) != 1 || got.Others[0].Phone != "050-7654321" ||
		got.Coordinator != "wij-groningen" || !bytes.Contains(seen.Bodies[1], []byte(`"collapsed":12`)) {
		t.Fatalf("a summary's body: %s", seen.Bodies[1])
	}
}

func TestHookRefusals(t *testing.T) {
	ca, _ := pki.NewCA("hook CA")
	other, _ := pki.NewCA("other CA")
	rc := hooktest.Start(t, ca)
	// A receiver whose certificate the hook does not trust gets nothing.
	h, err := notify.NewHook(notify.HookConfig{URL: rc.URL, Secret: rc.Secret, RootCAs: other.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Send(context.Background(), notify.NewHookEvent(notice(store.EventNoMatch).Event, "")); err == nil {
		t.Fatal("delivered to an untrusted certificate")
	}
	// A wrong secret: the receiver refuses it (401), which is no delivery.
	h, _ = notify.NewHook(notify.HookConfig{URL: rc.URL, Secret: notify.NewWebhookSecret(), RootCAs: ca.Pool()})
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

// An inform-due reminder's webhook body names its type and the
// recipient's own registration, with the recipient's reference.
func TestHookInformDueBody(t *testing.T) {
	ca, err := pki.NewCA("hook CA")
	if err != nil {
		t.Fatal(err)
	}
	rc := hooktest.Start(t, ca)
	h, err := notify.NewHook(notify.HookConfig{URL: rc.URL, Secret: rc.Secret, RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	e := store.Event{Seq: 3, Type: store.EventInformDue, At: notice(store.EventMatch).Event.At, Recipient: "ggd-groningen", Registration: store.NewID()}
	if err := h.Send(context.Background(), notify.NewHookEvent(e, "DOS-2026-0042")); err != nil {
		t.Fatal(err)
	}
	got := rc.Seen().Got[0]
	if got.Type != "inform-due" || got.Registration != e.Registration.String() || got.ClientRef != "DOS-2026-0042" || len(got.Others) != 0 {
		t.Fatalf("body %+v", got)
	}
}
