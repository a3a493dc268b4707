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

// EmailChannel mails an institution's events to the professional on the
// registration the event is about and to the institution's functional
// mailbox, if it has one.
type EmailChannel struct {
	Sender        Sender
	Templates     *Templates
	Registrations Registrations
	// Mailbox is the institution's functional mailbox; empty if none.
	Mailbox string
	// Region and DisplayName are for the message (see Notice.Region and
	// Notice.Name).
	Region      string
	DisplayName func(institution string) string
}

// Name implements Channel.
func (c *EmailChannel) Name() string { return "email" }

// Deliver implements Channel. An event whose registration is gone (removed)
// goes to the mailbox only; with no address at all there is nothing to
// send, which counts as delivered.
func (c *EmailChannel) Deliver(ctx context.Context, e store.Event) error {
	var to []string
	reg, err := c.Registrations.Registration(ctx, e.Registration)
	switch {
	case err == nil:
		if reg.Contact.Email != "" {
			to = append(to, reg.Contact.Email)
		}
	case errors.Is(err, store.ErrNotFound):
	default:
		return fmt.Errorf("notify: the event's registration: %w", err)
	}
	if c.Mailbox != "" && !slices.Contains(to, c.Mailbox) {
		to = append(to, c.Mailbox)
	}
	if len(to) == 0 {
		return nil
	}
	m, err := c.Templates.Render(Notice{Event: e, Region: c.Region, Name: c.DisplayName})
	if err != nil {
		return err
	}
	return c.Sender.Send(ctx, to, m)
}

// WebhookChannel posts an institution's events to its client system.
type WebhookChannel struct {
	Hook *Hook
}

// Name implements Channel.
func (c *WebhookChannel) Name() string { return "webhook" }

// Deliver implements Channel.
func (c *WebhookChannel) Deliver(ctx context.Context, e store.Event) error {
	return c.Hook.Send(ctx, NewHookEvent(e, ""))
}
