package notify_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/notify"
)

// CheckSettled finds events that wait on a configured channel;
// MarkDelivered moves them past the given institutions' cursors on every
// channel given, so that the worker delivers only what comes after, and
// leaves other institutions' outboxes alone.
func TestMarkDelivered(t *testing.T) {
	c := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	s := openStore(t, t.TempDir())
	defer s.Close()
	events(t, s, "ggd", 3, c.Now(), 1)
	wij := events(t, s, "wij", 2, c.Now(), 2)
	other := events(t, s, "bureau", 1, c.Now(), 3)
	emailOnly := func(string) []string { return []string{"email"} }

	err := notify.CheckSettled(bg, s, []string{"ggd", "wij"}, emailOnly)
	if !errors.Is(err, notify.ErrUndelivered) || !strings.Contains(err.Error(), "notify: events not yet delivered: ggd has 3 on email") {
		t.Fatalf("CheckSettled with 3 events waiting: %v", err)
	}
	if err := notify.CheckSettled(bg, s, []string{"ggd", "wij"}, func(string) []string { return nil }); err != nil {
		t.Fatalf("CheckSettled without channels: %v", err)
	}

	if last := wij[len(wij)-1]; s.LastSeq("wij") != last {
		t.Fatalf("wij's LastSeq = %d, want its last event's %d", s.LastSeq("wij"), last)
	}
	if err := notify.MarkDelivered(bg, s, []string{"ggd", "wij"}, []string{"email", "webhook"}, s.LastSeq); err != nil {
		t.Fatal(err)
	}
	if err := notify.CheckSettled(bg, s, []string{"ggd", "wij"}, func(string) []string { return []string{"email", "webhook"} }); err != nil {
		t.Fatalf("after MarkDelivered: %v", err)
	}
	// An institution not given keeps its events waiting.
	if err := notify.CheckSettled(bg, s, []string{"bureau"}, emailOnly); !errors.Is(err, notify.ErrUndelivered) {
		t.Fatalf("bureau's event (seq %d): %v", other[0], err)
	}
	// A cursor never moves back.
	if err := notify.MarkDelivered(bg, s, []string{"ggd"}, []string{"email"}, func(string) uint64 { return 1 }); err != nil {
		t.Fatalf("MarkDelivered below the cursor: %v", err)
	}
	if log, err := s.DeliveryLog(bg, "ggd", "email"); err != nil || log.Cursor != s.LastSeq("ggd") || log.Cursor != 3 {
		t.Fatalf("ggd's email cursor: %d %v, want its last event's 3", log.Cursor, err)
	}

	// The worker delivers only what comes after.
	later := events(t, s, "wij", 1, c.Now(), 2)
	ggdMail, wijMail, wijHook := newChannel("email", nil), newChannel("email", nil), newChannel("webhook", nil)
	w := worker(t, s, c, map[string][]notify.Channel{"ggd": {ggdMail}, "wij": {wijMail, wijHook}})
	round(t, w)
	if got := ggdMail.delivered(); len(got) != 0 {
		t.Fatalf("ggd got %v, want nothing", got)
	}
	for _, ch := range []*channel{wijMail, wijHook} {
		if got := ch.delivered(); len(got) != 1 || got[later[0]] != 1 {
			t.Fatalf("wij %s got %v, want only event %d", ch.name, got, later[0])
		}
	}
}

// StartLike starts a channel without state where another stands, and
// leaves a channel with state alone.
func TestStartLike(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	seqs := events(t, s, "ggd", 3, time.Now(), 1)
	if err := s.RecordDeliveries(bg, "ggd", "email", seqs[1], nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDeliveries(bg, "wij", "mailbox", 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := notify.StartLike(bg, s, []string{"ggd", "wij", "bureau"}, "email", "mailbox"); err != nil {
		t.Fatal(err)
	}
	for inst, want := range map[string]uint64{"ggd": seqs[1], "wij": 1, "bureau": 0} {
		if log, err := s.DeliveryLog(bg, inst, "mailbox"); err != nil || log.Cursor != want {
			t.Errorf("%s mailbox: %+v %v, want cursor %d", inst, log, err, want)
		}
	}
}
