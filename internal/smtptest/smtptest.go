// Package smtptest is a real SMTP server (emersion/go-smtp) on loopback for
// tests: it keeps what it receives, and can be told to fail, drop or slow
// down DATA. With a certificate it offers STARTTLS and then PLAIN
// authentication only over TLS; without one it speaks in the clear.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The credentials PLAIN authentication accepts.
const (
	Username = "vindex"
	Password = "s3cret"
)

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
	// TLS and Auth: it came over STARTTLS, on an authenticated session.
	TLS, Auth bool
}

// Server is a running test server.
type Server struct {
	// Addr is its host:port on 127.0.0.1.
	Addr string

	mu       sync.Mutex
	got      []Message
	dataErr  error
	drop     bool
	slow     time.Duration
	sessions int
	refuse   map[string]error
	refused  map[string]int
}

// Start starts a server that stops when the test ends; cert nil: no TLS.
func Start(t testing.TB, cert *tls.Certificate) *Server {
	t.Helper()
	srv := &Server{}
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
	srv.Addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return srv
}

// FailData makes DATA answer err (an *smtp.SMTPError for a reply code);
// nil: accept again.
func (s *Server) FailData(err error) { s.mu.Lock(); s.dataErr = err; s.mu.Unlock() }

// RefuseRcpt makes RCPT TO answer err (an *smtp.SMTPError for a reply
// code, 550 for an unknown user, 451 to try later) for addr; nil: accept it
// again.
func (s *Server) RefuseRcpt(addr string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse == nil {
		s.refuse, s.refused = map[string]error{}, map[string]int{}
	}
	s.refuse[addr] = err
}

// Refused returns how many times RCPT TO was refused for addr.
func (s *Server) Refused(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[addr]
}

// DropData makes DATA close the connection after part of the message.
func (s *Server) DropData(drop bool) { s.mu.Lock(); s.drop = drop; s.mu.Unlock() }

// SlowData makes DATA take d per message.
func (s *Server) SlowData(d time.Duration) { s.mu.Lock(); s.slow = d; s.mu.Unlock() }

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.got...)
}

// Sessions returns how many connections were served.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// MessageIDs counts the accepted messages by their Message-ID header.
func (s *Server) MessageIDs() map[string]int {
	ids := map[string]int{}
	for _, m := range s.Messages() {
		if msg, err := mail.ReadMessage(bytes.NewReader(m.Data)); err == nil {
			ids[msg.Header.Get("Message-ID")]++
		}
	}
	return ids
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	return &session{srv: s, conn: c}, nil
}

type session struct {
	srv  *Server
	conn *smtp.Conn
	cur  Message
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != Username || pass != Password {
			return errors.New("bad credentials")
		}
		s.cur.Auth = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.cur.From = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	err := s.srv.refuse[to]
	if err != nil {
		s.srv.refused[to]++
	}
	s.srv.mu.Unlock()
	if err != nil {
		return err
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	s.srv.mu.Lock()
	drop, dataErr, slow := s.srv.drop, s.srv.dataErr, s.srv.slow
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
	if dataErr != nil {
		return dataErr
	}
	time.Sleep(slow)
	_, s.cur.TLS = s.conn.TLSConnectionState()
	s.cur.Data = b
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, s.cur)
	s.srv.mu.Unlock()
	s.cur = Message{Auth: s.cur.Auth}
	return nil
}

func (s *session) Reset()        { s.cur = Message{Auth: s.cur.Auth} }
func (s *session) Logout() error { return nil }
