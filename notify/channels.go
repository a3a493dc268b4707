package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/vindex-nl/vindex/store"
)

// Sender sends a message to addresses: a *Mailer, or an EMLDir.
type Sender interface {
	Send(ctx context.Context, to []string, m Message) error
}

// EMLDir writes each message as a file DIR/<message ID>.eml instead of
// sending it: for a development server without SMTP, so that a newcomer can
// open what would have been sent. A retry rewrites the same file.
type EMLDir struct {
	Dir  string
	From string
}

// Send implements Sender.
func (d EMLDir) Send(_ context.Context, to []string, m Message) error {
	var b bytes.Buffer
	if err := WriteEML(&b, d.From, to, m); err != nil {
		return err
	}
	if err := os.MkdirAll(d.Dir, 0o700); err != nil {
		return err
	}
	name := filepath.Join(d.Dir, m.ID+".eml")
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

// EmailChannel mails an institution's events to the professional on the
// registration the event is about and to the institution's functional
// mailbox, if it has one.
type EmailChannel struct {
	Sender        Sender
	Templates     *Templates
	Registrations Registrations
	// ClientRefs opens the recipient's own reference for the message; nil:
	// messages quote none.
	ClientRefs RefOpener
	// Mailbox is the institution's functional mailbox; empty if none.
	Mailbox string
	// Region, DisplayName and RuleLabel are for the message (see
	// Notice.Region, Notice.Name and Notice.RuleLabel).
	Region      string
	DisplayName func(institution string) string
	RuleLabel   func(rule string) string
}

// Name implements Channel.
func (c *EmailChannel) Name() string { return "email" }

// Deliver implements Channel. An event whose registration is gone (removed)
// goes to the mailbox only; with no address at all there is nothing to
// send, which counts as delivered.
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

// Addresses returns where Deliver would mail e: the professional on the
// registration e is about, if it is still there and has an e-mail address,
// and the mailbox. None: the channel has nowhere to send e (Deliver sends
// nothing). It needs only Registrations and Mailbox.
func (c *EmailChannel) Addresses(ctx context.Context, e store.Event) ([]string, error) {
	to, _, err := c.addresses(ctx, e)
	return to, err
}

// addresses is Addresses, and the registration e is about (zero if gone).
func (c *EmailChannel) addresses(ctx context.Context, e store.Event) ([]string, store.Registration, error) {
	var to []string
	reg, found, err := recipientReg(ctx, c.Registrations, e)
	if err != nil {
		return nil, reg, err
	}
	if found && reg.Contact.Email != "" {
		to = append(to, reg.Contact.Email)
	}
	if c.Mailbox != "" && !slices.Contains(to, c.Mailbox) {
		to = append(to, c.Mailbox)
	}
	return to, reg, nil
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
