package notify_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/internal/smtptest"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
)

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
	srv := smtptest.Start(t, &cert)
	ml, err := notify.NewMailer(notify.SMTPConfig{Address: srv.Addr, From: "Verwijsindex <noreply@vindex.example>",
		Username: smtptest.Username, Password: smtptest.Password, RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	m := rendered(t, true)
	to := []string{"a.jansen@ggd.example", "zorgcoordinatie@ggd.example"}
	if err := ml.Send(context.Background(), to, m); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("%d messages received", len(got))
	}
	r := got[0]
	if !r.TLS || !r.Auth || r.From != "noreply@vindex.example" || strings.Join(r.To, ",") != strings.Join(to, ",") {
		t.Fatalf("envelope: tls %v auth %v from %q to %v", r.TLS, r.Auth, r.From, r.To)
	}
	msg, subject, body := parseMail(t, r.Data)
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
	srv := smtptest.Start(t, &cert)
	ml, err := notify.NewMailer(notify.SMTPConfig{Address: srv.Addr, From: "noreply@vindex.example", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Close()
	for range 5 {
		if err := ml.Send(context.Background(), []string{"a@example.org"}, rendered(t, false)); err != nil {
			t.Fatal(err)
		}
	}
	sessions := srv.Sessions()
	if len(srv.Messages()) != 5 || sessions > 2 {
		t.Fatalf("%d messages over %d connections", len(srv.Messages()), sessions)
	}
}

// TLS required: a server without STARTTLS, or with a certificate from
// another CA, gets nothing.
func TestMailerRefusesWithoutTLS(t *testing.T) {
	ca, _ := testCA(t)
	plain := smtptest.Start(t, nil)
	_, otherCert := testCA(t)
	other := smtptest.Start(t, &otherCert)
	for name, srv := range map[string]*smtptest.Server{"no STARTTLS": plain, "unknown CA": other} {
		ml, err := notify.NewMailer(notify.SMTPConfig{Address: srv.Addr, From: "noreply@vindex.example", RootCAs: ca.Pool(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = ml.Send(context.Background(), []string{"a@example.org"}, rendered(t, false))
		var se *notify.SMTPError
		if !errors.As(err, &se) {
			t.Errorf("%s: err %v", name, err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("%s: %d messages delivered", name, n)
		}
	}
	// Policy none, to a loopback server: delivered in the clear.
	ml, err := notify.NewMailer(notify.SMTPConfig{Address: plain.Addr, From: "noreply@vindex.example", TLS: notify.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	if err := ml.Send(context.Background(), []string{"a@example.org"}, rendered(t, false)); err != nil || len(plain.Messages()) != 1 {
		t.Fatalf("TLS none to loopback: %v, %d messages", err, len(plain.Messages()))
	}
}

// A 4xx answer is temporary, a 5xx one to the address or the message is
// permanent.
func TestMailerTemporaryFailures(t *testing.T) {
	ca, cert := testCA(t)
	srv := smtptest.Start(t, &cert)
	ml, err := notify.NewMailer(notify.SMTPConfig{Address: srv.Addr, From: "noreply@vindex.example", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		code int
		rcpt bool // refused at RCPT TO, not at DATA
		temp bool
	}{{451, false, true}, {554, false, false}, {451, true, true}, {550, true, false}} {
		refusal := &smtp.SMTPError{Code: tc.code, EnhancedCode: smtp.EnhancedCode{tc.code / 100, 0, 0}, Message: "no"}
		srv.FailData(nil)
		srv.RefuseRcpt("a@example.org", nil)
		if tc.rcpt {
			srv.RefuseRcpt("a@example.org", refusal)
		} else {
			srv.FailData(refusal)
		}
		err := ml.Send(context.Background(), []string{"a@example.org"}, rendered(t, false))
		var se *notify.SMTPError
		// Permanent: refused for good, not to be retried.
		if !errors.As(err, &se) || se.Temporary() != tc.temp || se.Permanent() == tc.temp || se.Code() != tc.code {
			t.Errorf("answer %d (rcpt %v): err %v, temporary %v", tc.code, tc.rcpt, err, se != nil && se.Temporary())
		}
	}
	// Answered once, not again on a new connection.
	if n := srv.Refused("a@example.org"); n != 2 {
		t.Errorf("RCPT TO refused %d times for two messages", n)
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

// A development server's files: one per event, whose recipients grow as
// the same message goes to another address (the professional's and the
// mailbox's channels write the same event), and a retry changes nothing.
func TestEMLDirOneFilePerEvent(t *testing.T) {
	dir := t.TempDir()
	d := notify.EMLDir{Dir: dir, From: "noreply@vindex.example"}
	m := rendered(t, false)
	for _, to := range []string{"b@example.org", "a@example.org", "b@example.org"} {
		if err := d.Send(context.Background(), []string{to}, m); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 || filepath.Base(files[0]) != m.ID+".eml" {
		t.Fatalf("files %v, want one %s.eml", files, m.ID)
	}
	b, _ := os.ReadFile(files[0])
	msg, _, _ := parseMail(t, b)
	if to := msg.Header.Get("To"); to != "<a@example.org>, <b@example.org>" {
		t.Fatalf("To: %q", to)
	}
}
