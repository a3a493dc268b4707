package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// newWorker builds the delivery worker of `serve` from the settings: mail
// over SMTP (or, with --dev and no SMTP, .eml files in DIR/mail) and the
// webhooks of the webhooks file. With neither, it returns nil: events stay
// in the outbox, readable over the API.
func newWorker(c config, cov *rules.Covenant, st backend, refs notify.RefOpener, metrics *notify.Metrics, logger *slog.Logger) (*notify.Worker, error) {
	var tm *notify.Templates
	var err error
	if c.MailTemplates != "" {
		tm, err = notify.LoadTemplates(os.DirFS(c.MailTemplates), ".")
	} else {
		tm, err = notify.BuiltinTemplates(c.MailLanguage)
	}
	if err != nil {
		return nil, err
	}
	var sender notify.Sender
	switch {
	case c.SMTPAddr != "":
		sc := notify.SMTPConfig{Address: c.SMTPAddr, From: c.SMTPFrom, Username: c.SMTPUsername, TLS: notify.TLSPolicy(c.SMTPTLS)}
		if c.SMTPPassword != "" {
			b, err := os.ReadFile(c.SMTPPassword)
			if err != nil {
				return nil, fmt.Errorf("smtp password: %w", err)
			}
			sc.Password = strings.TrimSpace(string(b))
		}
		if sc.RootCAs, err = certPool(c.SMTPCA); err != nil {
			return nil, fmt.Errorf("smtp CA: %w", err)
		}
		if sender, err = notify.NewMailer(sc); err != nil {
			return nil, err
		}
	case c.Dev:
		sender = notify.EMLDir{Dir: filepath.Join(c.Data, "mail"), From: c.SMTPFrom}
		logger.Info("no SMTP server: mails are written as .eml files", slog.String("dir", filepath.Join(c.Data, "mail")))
	}
	hooks, err := loadWebhooks(c, cov)
	if err != nil {
		return nil, err
	}
	if sender == nil && len(hooks) == 0 {
		logger.Warn("no smtp_addr and no webhooks: events are not delivered, only readable over the API")
		return nil, nil
	}
	channels := map[string][]notify.Channel{}
	ids := institutionIDs(cov)
	if sender != nil && c.Replication == "" {
		// A replicated node does this when it leads (leadDeliveries).
		if err := leadDeliveries(context.Background(), c, cov, st); err != nil {
			return nil, err
		}
	}
	for _, inst := range cov.Institutions {
		if sender != nil {
			channels[inst.ID] = append(channels[inst.ID], notify.MailChannels(notify.EmailChannel{Sender: sender, Templates: tm, Registrations: st,
				ClientRefs: refs, Mailbox: inst.Email, Region: cov.Region, DisplayName: cov.InstitutionName, RuleLabel: cov.RuleLabel})...)
		}
		if h := hooks[inst.ID]; h != nil {
			channels[inst.ID] = append(channels[inst.ID], &notify.WebhookChannel{Hook: h, Registrations: st, ClientRefs: refs})
		}
	}
	return notify.NewWorker(notify.WorkerConfig{
		Store: st, Channels: func(inst string) []notify.Channel { return channels[inst] },
		Institutions: func() []string { return ids }, Poll: c.NotifyPoll, MaxAge: c.NotifyMaxAge, Logger: logger,
		Metrics: metrics,
	})
}

// leadDeliveries prepares the delivery state before the worker runs: the
// mailbox copies went out on "email" before they had a channel of their
// own, and start where e-mail stands. A single server does it at start, a
// replicated node each time it becomes leader.
func leadDeliveries(ctx context.Context, c config, cov *rules.Covenant, st backend) error {
	if c.SMTPAddr == "" && !c.Dev {
		return nil
	}
	return notify.StartLike(ctx, st, institutionIDs(cov), "email", "mailbox")
}

// channelNames are every delivery channel, configured now or not.
var channelNames = []string{"email", "mailbox", "webhook"}

// deliveryChannels returns the names of the channels the settings give an
// institution: e-mail to the professional when mail is sent (over SMTP, or
// as files with --dev), and to the institution's mailbox if the covenant
// gives it one; a webhook when the webhooks file lists it.
func deliveryChannels(c config, cov *rules.Covenant, hooks map[string]*notify.Hook) func(institution string) []string {
	return func(inst string) []string {
		var out []string
		if c.SMTPAddr != "" || c.Dev {
			out = append(out, "email")
			if i, _ := cov.Institution(inst); i.Email != "" {
				out = append(out, "mailbox")
			}
		}
		if hooks[inst] != nil {
			out = append(out, "webhook")
		}
		return out
	}
}

// loadWebhooks reads "institution-id URL whsec_SECRET" lines; no file, no
// webhooks. The file holds secrets: like the token file, it may not be
// writable or readable by others.
func loadWebhooks(c config, cov *rules.Covenant) (map[string]*notify.Hook, error) {
	file := c.Webhooks
	if file == "" {
		return nil, nil
	}
	roots, err := certPool(c.WebhookCA)
	if err != nil {
		return nil, fmt.Errorf("webhook CA: %w", err)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("webhooks: %s holds secrets and may not be readable or writable by group or others (chmod 600)", file)
	}
	out := map[string]*notify.Hook{}
	err = scanFields(f, func(line int, fields []string) error {
		if len(fields) != 3 {
			return fmt.Errorf("webhooks: %s:%d: want institution-id URL whsec_SECRET", file, line)
		}
		if _, ok := cov.Institution(fields[0]); !ok {
			return fmt.Errorf("webhooks: %s:%d: %q is not an institution of the covenant", file, line, fields[0])
		}
		secret, err := notify.ParseWebhookSecret(fields[2])
		if err != nil {
			return fmt.Errorf("webhooks: %s:%d: %w", file, line, err)
		}
		h, err := notify.NewHook(notify.HookConfig{URL: fields[1], Secret: secret, RootCAs: roots})
		if err != nil {
			return fmt.Errorf("webhooks: %s:%d: %w", file, line, err)
		}
		if out[fields[0]] != nil {
			return fmt.Errorf("webhooks: %s:%d: a second webhook for %s", file, line, fields[0])
		}
		out[fields[0]] = h
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

const outboxUsage = `Usage: vindex outbox status|retry [INSTITUTION] [--config FILE] [flags]

Shows and repairs the delivery of events (mail, webhooks). Run it while no
server has the store open.

  status             per institution and channel: events not yet delivered,
                     events being retried (attempts, last error, next try)
                     and dead ones (given up after notify_max_age); events
                     no channel of an institution can carry (no e-mail
                     address, no webhook) are counted apart, not as
                     undelivered
  retry [INSTITUTION]
                     put the dead events back (of one institution, or all):
                     the server tries them again as soon as it runs

The same settings as vindex serve apply (--data, --covenant, --config, --dev).
`

func outboxCmd(args []string, stdout, stderr io.Writer) error {
	verb, only, c, err := parseOutboxArgs(args, stderr)
	if err != nil {
		return err
	}
	if err := checkDataDir(c.Data); err != nil {
		return err
	}
	cov, err := covenantOf(c)
	if err != nil {
		return err
	}
	if only != "" {
		if _, ok := cov.Institution(only); !ok {
			return fmt.Errorf("outbox: %q is not an institution of the covenant", only)
		}
	}
	st, err := openStore(c, toolUse)
	if err != nil {
		return fmt.Errorf("the store is not available (is a server running?): %w", err)
	}
	defer st.Close()
	hooks, err := loadWebhooks(c, cov)
	if err != nil {
		return err
	}
	insts := institutionIDs(cov)
	if only != "" {
		insts = []string{only}
	}
	switch verb {
	case "status":
		return outboxStatus(stdout, st, cov, insts, deliveryChannels(c, cov, hooks))
	case "retry":
		return outboxRetry(stdout, st, insts)
	}
	fmt.Fprintf(stderr, "vindex outbox: unknown verb %q\n\n%s", verb, outboxUsage)
	return errUsage
}

// parseOutboxArgs reads the outbox command's arguments: the verb, an
// institution, the shared settings.
func parseOutboxArgs(args []string, stderr io.Writer) (verb, only string, c config, err error) {
	if len(args) == 0 || (strings.HasPrefix(args[0], "-") && !isHelp(args[0])) {
		return "", "", config{}, printUsage(stderr, outboxUsage, args)
	}
	verb, rest := args[0], args[1:]
	if isHelp(verb) {
		rest = args // the usage and the flags
	}
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		only, rest = rest[0], rest[1:]
	}
	c, _, err = loadConfig("outbox", outboxUsage, rest, nil)
	return verb, only, c, err
}

// outboxStatus prints, per institution and configured channel, the
// events not yet delivered (among them those waiting for a retry, with the
// first one's error and next try) and the dead ones. An event the e-mail
// channel has no address for (none on its registration, or the mailbox's)
// is not counted as undelivered: the server settles it without sending.
// When no other channel of the institution carries it either, a line after
// the table counts such events.
func outboxStatus(stdout io.Writer, st backend, cov *rules.Covenant, insts []string, configured func(string) []string) error {
	ctx := context.Background()
	fmt.Fprintf(stdout, "%-32s %-8s %10s %9s %6s\n", "INSTITUTION", "CHANNEL", "UNDELIVERED", "RETRYING", "DEAD")
	var notes []string
	for _, inst := range insts {
		chans := configured(inst)
		for _, ch := range chans {
			evs, log, err := store.Undelivered(ctx, st, inst, ch, 100000)
			if err != nil {
				return err
			}
			nowhere := 0
			if ch == "email" {
				if nowhere, err = unaddressed(ctx, st, cov, inst, evs); err != nil {
					return err
				}
			}
			if nowhere > 0 && !slices.Contains(chans, "webhook") && !slices.Contains(chans, "mailbox") {
				notes = append(notes, fmt.Sprintf("%s: %d events no channel can carry (no e-mail address on their registrations or in the covenant, no webhook); not counted as undelivered",
					inst, nowhere))
			}
			if len(evs) == nowhere && log.Dead == 0 {
				continue
			}
			next, err := nextRetry(ctx, st, inst, ch)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-32s %-8s %10d %9d %6d%s\n", inst, ch, len(evs)-nowhere, log.Waiting, log.Dead, next)
		}
	}
	for _, note := range notes {
		fmt.Fprintln(stdout, note)
	}
	return nil
}

// unaddressed counts the events of evs, inst's, that the professional's
// e-mail channel has no address for.
func unaddressed(ctx context.Context, st backend, cov *rules.Covenant, inst string, evs []store.Event) (int, error) {
	i, _ := cov.Institution(inst)
	mail := &notify.EmailChannel{Registrations: st, Mailbox: i.Email}
	n := 0
	for _, e := range evs {
		to, err := mail.Addresses(ctx, e)
		if err != nil {
			return 0, err
		}
		if len(to) == 0 {
			n++
		}
	}
	return n, nil
}

// nextRetry describes the next delivery of inst's on channel waiting for a
// retry: its last error and next try; "" if none waits.
func nextRetry(ctx context.Context, st backend, inst, channel string) (string, error) {
	next, err := st.Retries(ctx, inst, channel, store.Forever, 1)
	if err != nil || len(next) == 0 {
		return "", err
	}
	return fmt.Sprintf("  last error %s, next try %s", next[0].LastError, next[0].NextTry.Format("2006-01-02 15:04:05")), nil
}

// outboxRetry puts the dead events of the institutions back in the queue,
// on every channel.
func outboxRetry(stdout io.Writer, st backend, insts []string) error {
	total := 0
	for _, inst := range insts {
		for _, ch := range channelNames {
			n, err := st.RetryDead(context.Background(), inst, ch)
			if err != nil {
				return err
			}
			if n > 0 {
				fmt.Fprintf(stdout, "%s %s: %d dead events back in the queue\n", inst, ch, n)
			}
			total += n
		}
	}
	fmt.Fprintf(stdout, "%d events put back\n", total)
	return nil
}

// certPool reads the PEM certificates in file; nil (the system's roots) if
// file is empty.
func certPool(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in %s", file)
	}
	return pool, nil
}
