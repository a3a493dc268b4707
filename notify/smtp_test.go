package notify_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
)

// smtpServer is a real SMTP server (emersion/go-smtp) on loopback that
// keeps what it receives. With a certificate it offers STARTTLS, and then
// offers AUTH only over TLS.
type smtpServer struct {
	addr string
	mu   sync.Mutex
	got  []received
	// dataErr, if set, is what DATA answers.
	dataErr error
	// drop, if set, makes DATA close the connection after reading part
	// of the message.
	drop bool
	// sessions counts the connections (greetings) served.
	sessions int
}

type received struct {
	from string
	to   []string
	data []byte
	tls  bool
	auth bool
}

func startSMTP(t *testing.T, cert *tls.Certificate) *smtpServer { return startSMTPForBench(t, cert) }

func startSMTPForBench(t testing.TB, cert *tls.Certificate) *smtpServer {
	t.Helper()
	srv := &smtpServer{}
	s := smtp.NewServer(srv)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	if cert != nil {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	} else {
		s.AllowInsecureAuth = true
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return srv
}

func (s *smtpServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	return &smtpSession{srv: s, conn: c}, nil
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

type smtpSession struct {
	srv  *smtpServer
	conn *smtp.Conn
	cur  received
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "vindex" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.cur.auth = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error { s.cur.from = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	s.srv.mu.Lock()
	drop := s.srv.drop
	s.srv.mu.Unlock()
	if drop {
		io.ReadFull(r, make([]byte, 64))
		s.conn.Conn().Close()
		return errors.New("dropped")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.srv.dataErr != nil {
		return s.srv.dataErr
	}
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.data = b
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, s.cur)
	s.srv.mu.Unlock()
	s.cur = received{auth: s.cur.auth}
	return nil
}

func (s *smtpSession) Reset()        { s.cur = received{auth: s.cur.auth} }
func (s *smtpSession) Logout() error { return nil }

func testCA(t testing.TB) (*pki.CA, tls.Certificate) {
	t.Helper()
	ca, err := pki.NewCA("smtp test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Server("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	return ca, cert
}

func rendered(t *testing.T, urgent bool) notify.Message {
	t.Helper()
	tm, err := notify.BuiltinTemplates("nl")
	if err != nil {
		t.Fatal(err)
	}
	n := notice(store.EventMatch)
	n.Event.Urgent = urgent
	m, err := tm.Render(n)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func parseMail(t *testing.T, data []byte) (*mail.Message, string, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(msg.Body)
	return msg, subject, string(body)
}

// Over STARTTLS with a test CA and PLAIN authentication: one message to two
// recipients, with its subject, both parts, a Message-ID from the stable
// event ID, and urgency marked.
func TestMailerSendsOverSTARTTLS(t *testing.T) {
	ca, cert := testCA(t)
	srv := startSMTP(t, &cert)
	ml, err := notify.NewMailer(notify.SMTPConfig{Address: srv.addr, From: "Verwijsindex <noreply@vindex.example>",
		Username: "vindex", Password: "s3cret", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	m := rendered(t, true)
	to := []string{"a.jansen@ggd.example", "zorgcoordinatie@ggd.example"}
	if err := ml.Send(context.Background(), to, m); err != nil {
		t.Fatal(err)
	}
	got := srv.messages()
	if len(got) != 1 {
		t.Fatalf("%d messages received", len(got))
	}
	r := got[0]
	if !r.tls || !r.auth || r.from != "noreply@vindex.example" || strings.Join(r.to, ",") != strings.Join(to, ",") {
		t.Fatalf("envelope: tls %v auth %v from %q to %v", r.tls, r.auth, r.from, r.to)
	}
	msg, subject, body := parseMail(t, r.data)
	if subject != m.Subject {
		t.Errorf("subject %q, want %q", subject, m.Subject)
	}
	if id := msg.Header.Get("Message-ID"); id != "<"+m.ID+"@vindex>" {
		t.Errorf("Message-ID %q", id)
	}
	if msg.Header.Get("Importance") == "" && msg.Header.Get("X-Priority") == "" {
		t.Errorf("urgent message not marked: %v", msg.Header)
	}
	if !strings.Contains(msg.Header.Get("Content-Type"), "multipart/alternative") ||
		!strings.Contains(body, "text/plain") || !strings.Contains(body, "text/html") {
		t.Errorf("not text and HTML alternatives: %s", msg.Header.Get("Content-Type"))
	}
}

// Messages one after another share one connection; a connection the
// server closed is replaced without a failed delivery.
func TestMailerReusesConnections(t *testing.T) {
	ca, cert := testCA(t)
	srv := startSMTP(t, &cert)
	ml, err := notify.NewMailer(notify.SMTPConfig{Address: srv.addr, From: "noreply@vindex.example", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Close()
	for range 5 {
		if err := ml.Send(context.Background(), []string{"a@example.org"}, rendered(t, false)); err != nil {
			t.Fatal(err)
		}
	}
	srv.mu.Lock()
	sessions := srv.sessions
	srv.mu.Unlock()
	if len(srv.messages()) != 5 || sessions > 2 {
		t.Fatalf("%d messages over %d connections", len(srv.messages()), sessions)
	}
}

// TLS required: a server without STARTTLS, or with a certificate from
// another CA, gets nothing.
func TestMailerRefusesWithoutTLS(t *testing.T) {
	ca, _ := testCA(t)
	plain := startSMTP(t, nil)
	_, otherCert := testCA(t)
	other := startSMTP(t, &otherCert)
	for name, srv := range map[string]*smtpServer{"no STARTTLS": plain, "unknown CA": other} {
		ml, err := notify.NewMailer(notify.SMTPConfig{Address: srv.addr, From: "noreply@vindex.example", RootCAs: ca.Pool(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = ml.Send(context.Background(), []string{"a@example.org"}, rendered(t, false))
		var se *notify.SMTPError
		if !errors.As(err, &se) {
			t.Errorf("%s: err %v", name, err)
		}
		if n := len(srv.messages()); n != 0 {
			t.Errorf("%s: %d messages delivered", name, n)
		}
	}
	// Policy none, to a loopback server: delivered in the clear.
	ml, err := notify.NewMailer(notify.SMTPConfig{Address: plain.addr, From: "noreply@vindex.example", TLS: notify.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	if err := ml.Send(context.Background(), []string{"a@example.org"}, rendered(t, false)); err != nil || len(plain.messages()) != 1 {
		t.Fatalf("TLS none to loopback: %v, %d messages", err, len(plain.messages()))
	}
}

// A 4xx answer is temporary, a 5xx one is not.
func TestMailerTemporaryFailures(t *testing.T) {
	ca, cert := testCA(t)
	srv := startSMTP(t, &cert)
	ml, err := notify.NewMailer(notify.SMTPConfig{Address: srv.addr, From: "noreply@vindex.example", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		code int
		temp bool
	}{{451, true}, {554, false}} {
		srv.dataErr = &smtp.SMTPError{Code: tc.code, EnhancedCode: smtp.EnhancedCode{tc.code / 100, 0, 0}, Message: "no"}
		err := ml.Send(context.Background(), []string{"a@example.org"}, rendered(t, false))
		var se *notify.SMTPError
		if !errors.As(err, &se) || se.Temporary() != tc.temp {
			t.Errorf("answer %d: err %v, temporary %v", tc.code, err, se != nil && se.Temporary())
		}
	}
}

func TestSMTPConfigErrors(t *testing.T) {
	for _, c := range []notify.SMTPConfig{
		{Address: "smtp.example.org", From: "a@example.org"},
		{Address: "smtp.example.org:587", From: "not an address"},
		{Address: "smtp.example.org:587", From: "a@example.org", TLS: notify.TLSNone},
		{Address: "smtp.example.org:587", From: "a@example.org", TLS: "sometimes"},
	} {
		if _, err := notify.NewMailer(c); !errors.Is(err, notify.ErrSMTPConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// A development server writes messages to files instead: the same message.
func TestWriteEML(t *testing.T) {
	var b bytes.Buffer
	m := rendered(t, false)
	if err := notify.WriteEML(&b, "noreply@vindex.example", []string{"a@example.org"}, m); err != nil {
		t.Fatal(err)
	}
	msg, subject, _ := parseMail(t, b.Bytes())
	if subject != m.Subject || msg.Header.Get("Message-ID") != "<"+m.ID+"@vindex>" {
		t.Fatalf("eml: subject %q, id %q", subject, msg.Header.Get("Message-ID"))
	}
}
