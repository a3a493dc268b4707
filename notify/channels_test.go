package notify_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/internal/hooktest"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
)

// regMap is a registration lookup for unit tests; err, if set, is what
// every lookup fails with.
type regMap struct {
	regs map[store.ID]store.Registration
	err  error
}

func (m regMap) Registration(_ context.Context, id store.ID) (store.Registration, error) {
	if m.err != nil {
		return store.Registration{}, m.err
	}
	r, ok := m.regs[id]
	if !ok {
		return store.Registration{}, store.ErrNotFound
	}
	return r, nil
}

// The webhook body quotes the recipient's own reference, and only that: a
// registration that is gone, that is another institution's, or whose
// reference does not open gives a body without one; a store that fails
// gives an error (retried later), not a body without the reference.
func TestWebhookChannelClientRef(t *testing.T) {
	refs, other := testkeys.Sealer(t), testkeys.Sealer(t)
	own, foreign, lost := store.NewID(), store.NewID(), store.NewID()
	seal := func(s *clientref.Sealer, ref, inst string, id store.ID) []byte {
		b, err := s.Seal(ref, inst, id)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	regs := regMap{regs: map[store.ID]store.Registration{
		own:     {ID: own, Institution: "wij", ClientRef: seal(refs, "W-1", "wij", own)},
		foreign: {ID: foreign, Institution: "school", ClientRef: seal(refs, "S-1", "school", foreign)},
		lost:    {ID: lost, Institution: "wij", ClientRef: seal(other, "W-2", "wij", lost)},
	}}
	ca, _ := testCA(t)
	rc := hooktest.Start(t, ca)
	hook, err := notify.NewHook(notify.HookConfig{URL: rc.URL, Secret: rc.Secret, RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	ch := &notify.WebhookChannel{Hook: hook, Registrations: regs, ClientRefs: refs}
	for i, tc := range []struct {
		id   store.ID
		want string
	}{{own, "W-1"}, {foreign, ""}, {lost, ""}, {store.NewID(), ""}} {
		if err := ch.Deliver(bg, store.Event{Seq: uint64(i + 1), Type: store.EventMatch, Recipient: "wij", Registration: tc.id}); err != nil {
			t.Fatal(err)
		}
		seen := rc.Seen()
		got := seen.Got[len(seen.Got)-1].ClientRef
		if got != tc.want {
			t.Errorf("event %d: client_ref %q, want %q", i+1, got, tc.want)
		}
	}
	broken := &notify.WebhookChannel{Hook: hook, Registrations: regMap{err: store.ErrUnavailable}, ClientRefs: refs}
	if err := broken.Deliver(bg, store.Event{Seq: 9, Type: store.EventMatch, Recipient: "wij", Registration: own}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("store failure: %v", err)
	}
	if n := len(rc.Seen().IDs); n != 4 {
		t.Fatalf("%d posts, want 4 (none for the store failure)", n)
	}
}

// The e-mail channels mail the professional on the event's registration
// ("email") and the institution's mailbox ("mailbox"), each to its own
// address; an address equal to the mailbox goes once, by the mailbox
// channel; with no address a channel has nowhere to send the event, and
// delivering it sends nothing.
func TestEmailChannelAddresses(t *testing.T) {
	withMail, without, same := store.NewID(), store.NewID(), store.NewID()
	regs := regMap{regs: map[store.ID]store.Registration{
		withMail: {ID: withMail, Institution: "wij", Contact: store.Contact{Name: "A", Email: "a@wij.example"}},
		without:  {ID: without, Institution: "wij", Contact: store.Contact{Name: "B", Phone: "050-1"}},
		same:     {ID: same, Institution: "wij", Contact: store.Contact{Name: "C", Email: "zorg@wij.example"}},
	}}
	sent := &recordingSender{}
	tm, err := notify.BuiltinTemplates("nl")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mailbox string
		id      store.ID
		want    map[string][]string // by channel
	}{
		{"", withMail, map[string][]string{"email": {"a@wij.example"}}},
		{"zorg@wij.example", withMail, map[string][]string{"email": {"a@wij.example"}, "mailbox": {"zorg@wij.example"}}},
		{"zorg@wij.example", without, map[string][]string{"mailbox": {"zorg@wij.example"}}},
		{"zorg@wij.example", same, map[string][]string{"mailbox": {"zorg@wij.example"}}},
		{"zorg@wij.example", store.NewID(), map[string][]string{"mailbox": {"zorg@wij.example"}}}, // removed
		{"", without, nil},
		{"", store.NewID(), nil},
	} {
		chs := notify.MailChannels(notify.EmailChannel{Sender: sent, Templates: tm, Registrations: regs, Mailbox: tc.mailbox})
		if want := 1 + min(len(tc.mailbox), 1); len(chs) != want {
			t.Fatalf("mailbox %q: %d channels, want %d", tc.mailbox, len(chs), want)
		}
		for _, ch := range chs {
			want := tc.want[ch.Name()]
			e := store.Event{Seq: 1, Type: store.EventNoMatch, Recipient: "wij", Registration: tc.id}
			got, err := ch.(*notify.EmailChannel).Addresses(bg, e)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("mailbox %q, channel %s: addresses %q %v, want %q", tc.mailbox, ch.Name(), got, err, want)
			}
			before := len(sent.to)
			if err := ch.Deliver(bg, e); err != nil {
				t.Fatal(err)
			}
			if sentNow := len(sent.to) > before; sentNow != (len(want) > 0) || sentNow && !slices.Equal(sent.to[before], want) {
				t.Errorf("mailbox %q, channel %s, addresses %q: sent %v", tc.mailbox, ch.Name(), want, sent.to[before:])
			}
		}
	}
	broken := &notify.EmailChannel{Registrations: regMap{err: store.ErrUnavailable}, Mailbox: "zorg@wij.example"}
	if _, err := broken.Addresses(bg, store.Event{Recipient: "wij", Registration: withMail}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("store failure: %v", err)
	}
}

// recordingSender records the addresses of each message it is given.
type recordingSender struct{ to [][]string }

func (s *recordingSender) Send(_ context.Context, to []string, _ notify.Message) error {
	s.to = append(s.to, to)
	return nil
}
