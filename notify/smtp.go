package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLSPolicy says whether mail goes to the SMTP server over STARTTLS.
type TLSPolicy string

// The TLS policies.
const (
	// TLSRequired: STARTTLS with a verified certificate, or no delivery.
	// The default.
	TLSRequired TLSPolicy = "required"
	// TLSOpportunistic: STARTTLS when the server offers it, otherwise in
	// the clear.
	TLSOpportunistic TLSPolicy = "opportunistic"
	// TLSNone: in the clear; only to a server on a loopback address (a
	// relay on the same host, a test server).
	TLSNone TLSPolicy = "none"
)

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	// Address is host:port, e.g. smtp.example.org:587.
	Address string
	// From is the sender, e.g. "Verwijsindex <noreply@vindex.example>".
	From string
	// Username and Password authenticate (PLAIN, only over TLS); empty
	// Username: no authentication.
	Username, Password string
	// TLS is the policy; empty means TLSRequired.
	TLS TLSPolicy
	// RootCAs verify the server's certificate; nil: the system's.
	RootCAs *x509.CertPool
	// Timeout bounds connecting and each command; zero: 30 s.
	Timeout time.Duration
}

// ErrSMTPConfig: the SMTP settings are incomplete or unsafe.
var ErrSMTPConfig = errors.New("notify: smtp settings")

// Mailer sends messages to an SMTP server. It keeps a few connections open
// between messages and reuses them; a reused connection that fails is
// replaced by a new one at once.
type Mailer struct {
	c    SMTPConfig
	host string
	port int
	from string

	mu   sync.Mutex
	idle []*gomail.Client
}

// maxIdle is how many connections a Mailer keeps open.
const maxIdle = 4

// NewMailer checks c and returns a Mailer. It does not connect.
func NewMailer(c SMTPConfig) (*Mailer, error) {
	host, portText, err := net.SplitHostPort(c.Address)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil || host == "" || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("%w: address %q: want host:port", ErrSMTPConfig, c.Address)
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("%w: sender %q: %v", ErrSMTPConfig, c.From, err)
	}
	switch c.TLS {
	case "":
		c.TLS = TLSRequired
	case TLSRequired, TLSOpportunistic:
	case TLSNone:
		if !loopback(host) {
			return nil, fmt.Errorf("%w: TLS none is only for a server on a loopback address, not %s", ErrSMTPConfig, host)
		}
	default:
		return nil, fmt.Errorf("%w: TLS policy %q: want required, opportunistic or none", ErrSMTPConfig, c.TLS)
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	return &Mailer{c: c, host: host, port: port, from: from.String()}, nil
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// compose builds the MIME message: a text part and an HTML alternative,
// the message's stable ID as Message-ID (so a mail client shows a retry as
// the same message), and urgency as Importance and X-Priority.
func compose(from string, to []string, m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("notify: sender: %w", err)
	}
	if len(to) == 0 {
		return nil, errors.New("notify: a message without recipients")
	}
	if err := msg.To(to...); err != nil {
		return nil, fmt.Errorf("notify: recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.ID + "@vindex")
	msg.SetDate()
	msg.SetUserAgent("vindex")
	if m.Urgent {
		msg.SetImportance(gomail.ImportanceUrgent)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}

// Send delivers m to the recipients in one SMTP transaction. An error says
// the message may not have arrived (a retry is safe: the Message-ID is the
// same); Temporary reports whether the server asked to try again later.
func (ml *Mailer) Send(ctx context.Context, to []string, m Message) error {
	msg, err := compose(ml.from, to, m)
	if err != nil {
		return err
	}
	if c := ml.take(); c != nil {
		err := c.Send(msg)
		if err == nil {
			ml.put(c)
			return nil
		}
		c.Close()
		if se := (&SMTPError{Address: ml.c.Address, err: err}); se.Code() != 0 && se.Code() != 421 {
			return se // the server answered: it would answer the same on a new connection
		}
		// Stale, broken or closing (421): a new connection below.
	}
	c, err := ml.dial(ctx)
	if err != nil {
		return &SMTPError{Address: ml.c.Address, err: err}
	}
	if err := c.Send(msg); err != nil {
		c.Close()
		return &SMTPError{Address: ml.c.Address, err: err}
	}
	ml.put(c)
	return nil
}

func (ml *Mailer) dial(ctx context.Context) (*gomail.Client, error) {
	policy := gomail.TLSMandatory
	switch ml.c.TLS {
	case TLSOpportunistic:
		policy = gomail.TLSOpportunistic
	case TLSNone:
		policy = gomail.NoTLS
	}
	opts := []gomail.Option{
		gomail.WithPort(ml.port), gomail.WithTLSPolicy(policy), gomail.WithTimeout(ml.c.Timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: ml.host, RootCAs: ml.c.RootCAs, MinVersion: tls.VersionTLS12}),
	}
	if ml.c.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(ml.c.Username), gomail.WithPassword(ml.c.Password))
	}
	c, err := gomail.NewClient(ml.host, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.DialWithContext(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (ml *Mailer) take() *gomail.Client {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	if len(ml.idle) == 0 {
		return nil
	}
	c := ml.idle[len(ml.idle)-1]
	ml.idle = ml.idle[:len(ml.idle)-1]
	return c
}

func (ml *Mailer) put(c *gomail.Client) {
	ml.mu.Lock()
	if len(ml.idle) < maxIdle {
		ml.idle = append(ml.idle, c)
		c = nil
	}
	ml.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// Close closes the connections kept open.
func (ml *Mailer) Close() error {
	ml.mu.Lock()
	idle := ml.idle
	ml.idle = nil
	ml.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	return nil
}

// SMTPError is a failed delivery to the SMTP server.
type SMTPError struct {
	Address string
	err     error
}

func (e *SMTPError) Error() string { return fmt.Sprintf("notify: smtp %s: %v", e.Address, e.err) }

func (e *SMTPError) Unwrap() error { return e.err }

// Code is the server's reply code (451, 554, …), 0 if it gave none.
func (e *SMTPError) Code() int {
	var se *gomail.SendError
	if errors.As(e.err, &se) && se.ErrorCode() > 0 {
		return se.ErrorCode()
	}
	var reply *textproto.Error
	if errors.As(e.err, &reply) {
		return reply.Code
	}
	return 0
}

// Temporary reports whether the server answered with a temporary failure
// (4xx) or the connection failed: worth retrying as it is.
func (e *SMTPError) Temporary() bool {
	if c := e.Code(); c != 0 {
		return c/100 == 4
	}
	return true // no answer: the connection failed
}

// Permanent reports whether the server refused the recipient or the
// message for good: a 5xx answer to RCPT TO or to the message (DATA). The
// same message to the same address would be refused again, so it is not
// retried. A 5xx at any other step (authentication, MAIL FROM) says that the
// settings are wrong, not the address: it is retried, so that the mail goes
// out once they are put right.
func (e *SMTPError) Permanent() bool {
	var se *gomail.SendError
	if !errors.As(e.err, &se) || e.Code()/100 != 5 {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		return true
	}
	return false
}

// WriteEML writes m as an RFC 5322 message, as Send would send it: for a
// development server without SMTP, whose messages are files to open.
func WriteEML(w io.Writer, from string, to []string, m Message) error {
	msg, err := compose(from, to, m)
	if err != nil {
		return err
	}
	_, err = msg.WriteTo(w)
	return err
}
