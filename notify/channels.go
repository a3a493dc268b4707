package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/vindex-nl/vindex/store"
)

// Sender sends a message to addresses: a *Mailer, or an EMLDir.
type Sender interface {
	Send(ctx context.Context, to []string, m Message) error
}

// EMLDir writes each message as a file DIR/<message ID>.eml instead of
// sending it: for a development server without SMTP, so that a newcomer can
// open what would have been sent. A retry rewrites the same file; the same
// message to another address (the professional's, the mailbox's) is added
// to the file's recipients, so one file holds one event's mail.
type EMLDir struct {
	Dir  string
	From string
}

// emlWrites serialises EMLDir's writes, which read a file to add to it.
var emlWrites sync.Mutex

// Send implements Sender.
func (d EMLDir) Send(_ context.Context, to []string, m Message) error {
	emlWrites.Lock()
	defer emlWrites.Unlock()
	to = slices.Clone(to)
	name := filepath.Join(d.Dir, m.ID+".eml")
	if f, err := os.Open(name); err == nil {
		msg, err := mail.ReadMessage(f)
		if err == nil {
			var had []*mail.Address
			if had, err = msg.Header.AddressList("To"); err == nil {
				for _, a := range had {
					if !slices.Contains(to, a.Address) {
						to = append(to, a.Address)
					}
				}
			}
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("notify: %s: %w", name, err)
		}
	}
	slices.Sort(to)
	var b bytes.Buffer
	if err := WriteEML(&b, d.From, to, m); err != nil {
		return err
	}
	if err := os.MkdirAll(d.Dir, 0o700); err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// Registrations finds a registration by its ID (pebblestore's Store does).
type Registrations interface {
	Registration(ctx context.Context, id store.ID) (store.Registration, error)
}

// RefOpener opens a client reference sealed on a registration, named by
// its ID's bytes (*clientref.Sealer does).
type RefOpener interface {
	Open(sealed []byte, institution string, id [16]byte) (string, error)
}

// recipientReg reads the registration event e is about; found is false if
// it is gone (removed, or purged).
func recipientReg(ctx context.Context, regs Registrations, e store.Event) (reg store.Registration, found bool, err error) {
	reg, err = regs.Registration(ctx, e.Registration)
	switch {
	case err == nil:
		return reg, true, nil
	case errors.Is(err, store.ErrNotFound):
		return store.Registration{}, false, nil
	}
	return store.Registration{}, false, fmt.Errorf("notify: the event's registration: %w", err)
}

// clientRef is the recipient's own reference on reg: "" if it gave none,
// if reg is not the recipient's, or if the reference does not open (a key
// removed from the reference keyset): the event is delivered without it
// rather than not at all.
func clientRef(refs RefOpener, e store.Event, reg store.Registration) string {
	if refs == nil || reg.ClientRef == nil || reg.Institution != e.Recipient {
		return ""
	}
	ref, err := refs.Open(reg.ClientRef, e.Recipient, reg.ID)
	if err != nil {
		return ""
	}
	return ref
}

// EmailChannel mails an institution's events to one address: the
// professional on the registration the event is about (channel "email"), or,
// with ToMailbox, the institution's functional mailbox (channel "mailbox").
// The two are separate deliveries, each with its own state, so an address
// that is refused or failing holds back neither the other nor any later
// event; both mails carry the event's Message-ID. MailChannels returns the
// channels of an institution.
type EmailChannel struct {
	Sender        Sender
	Templates     *Templates
	Registrations Registrations
	// ClientRefs opens the recipient's own reference for the message; nil:
	// messages quote none.
	ClientRefs RefOpener
	// Mailbox is the institution's functional mailbox; empty if none. If
	// set, the professional's channel leaves an address equal to it to the
	// mailbox channel, so that it gets one mail.
	Mailbox string
	// ToMailbox makes this the mailbox channel.
	ToMailbox bool
	// Region, DisplayName and RuleLabel are for the message (see
	// Notice.Region, Notice.Name and Notice.RuleLabel).
	Region      string
	DisplayName func(institution string) string
	RuleLabel   func(rule string) string
}

// MailChannels returns the channels that mail an institution's events, as
// c describes them (ToMailbox aside): the professional's, and the
// mailbox's if c.Mailbox is set.
func MailChannels(c EmailChannel) []Channel {
	pro := c
	pro.ToMailbox = false
	out := []Channel{&pro}
	if c.Mailbox != "" {
		box := c
		box.ToMailbox = true
		out = append(out, &box)
	}
	return out
}

// Name implements Channel.
func (c *EmailChannel) Name() string {
	if c.ToMailbox {
		return "mailbox"
	}
	return "email"
}

// Deliver implements Channel. With no address to send to (the
// registration is gone, or has no e-mail address) there is nothing to send,
// which counts as delivered.
func (c *EmailChannel) Deliver(ctx context.Context, e store.Event) error {
	to, reg, err := c.addresses(ctx, e)
	if err != nil || len(to) == 0 {
		return err
	}
	m, err := c.Templates.Render(Notice{Event: e, Region: c.Region, Name: c.DisplayName, RuleLabel: c.RuleLabel,
		ClientRef: clientRef(c.ClientRefs, e, reg)})
	if err != nil {
		return err
	}
	return c.Sender.Send(ctx, to, m)
}

// Addresses returns where Deliver would mail e: the mailbox, or the
// professional on the registration e is about if it is still there, has
// an e-mail address and that is not the mailbox. None: the channel has
// nowhere to send e (Deliver sends nothing). It needs only Registrations,
// Mailbox and ToMailbox.
func (c *EmailChannel) Addresses(ctx context.Context, e store.Event) ([]string, error) {
	to, _, err := c.addresses(ctx, e)
	return to, err
}

// addresses is Addresses, and the registration e is about (zero if gone).
func (c *EmailChannel) addresses(ctx context.Context, e store.Event) ([]string, store.Registration, error) {
	reg, found, err := recipientReg(ctx, c.Registrations, e)
	switch {
	case err != nil:
		return nil, reg, err
	case c.ToMailbox && c.Mailbox != "":
		return []string{c.Mailbox}, reg, nil
	case !c.ToMailbox && found && reg.Contact.Email != "" && reg.Contact.Email != c.Mailbox:
		return []string{reg.Contact.Email}, reg, nil
	}
	return nil, reg, nil
}

// WebhookChannel posts an institution's events to its client system.
type WebhookChannel struct {
	Hook *Hook
	// Registrations and ClientRefs give the body the recipient's own
	// reference for the youth; either nil: none.
	Registrations Registrations
	ClientRefs    RefOpener
}

// Name implements Channel.
func (c *WebhookChannel) Name() string { return "webhook" }

// Deliver implements Channel.
func (c *WebhookChannel) Deliver(ctx context.Context, e store.Event) error {
	var ref string
	if c.Registrations != nil && c.ClientRefs != nil {
		reg, found, err := recipientReg(ctx, c.Registrations, e)
		if err != nil {
			return err
		}
		if found {
			ref = clientRef(c.ClientRefs, e, reg)
		}
	}
	return c.Hook.Send(ctx, NewHookEvent(e, ref))
}
