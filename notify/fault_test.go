package notify_test

import (
	"bytes"
	"context"
	"net"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/vindex-nl/vindex/internal/smtptest"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
)

// The mail server refuses, times out, or drops the connection mid-DATA:
// the event is not marked delivered, and once the server is well it is
// delivered, with the Message-ID it had on every attempt.
func TestWorkerSMTPFaults(t *testing.T) {
	ca, cert := testCA(t)
	for _, fault := range []string{"refuses", "times out", "drops mid-DATA"} {
		t.Run(fault, func(t *testing.T) {
			c := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
			s := openStore(t, t.TempDir())
			defer s.Close()
			seqs := events(t, s, "ggd", 1, c.Now(), 1)
			srv := smtptest.Start(t, &cert)
			addr := srv.Addr
			switch fault {
			case "refuses":
				srv.FailData(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
			case "times out":
				l, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never greets
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				go func() {
					for {
						conn, err := l.Accept()
						if err != nil {
							return
						}
						defer conn.Close()
					}
				}()
				addr = l.Addr().String()
			case "drops mid-DATA":
				srv.DropData(true)
			}
			sender := &switchable{}
			mailer := func(a string) *notify.Mailer {
				m, err := notify.NewMailer(notify.SMTPConfig{Address: a, From: "noreply@vindex.example", RootCAs: ca.Pool(), Timeout: 500 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			sender.set(mailer(addr))
			tm, _ := notify.BuiltinTemplates("en")
			ch := &notify.EmailChannel{Sender: sender, Templates: tm, Registrations: s, Mailbox: "zorg@ggd.example", ToMailbox: true}
			w := worker(t, s, c, map[string][]notify.Channel{"ggd": {ch}})
			round(t, w)
			// Tried: the cursor is past it, and it waits for a retry.
			log, _ := s.DeliveryLog(bg, "ggd", "mailbox")
			waiting, _ := s.Retries(bg, "ggd", "mailbox", store.Forever, 10)
			if len(waiting) != 1 || waiting[0].Delivered || log.Cursor != seqs[0] || log.Waiting != 1 {
				t.Fatalf("after the fault: %+v, waiting %+v", log, waiting)
			}
			if want := map[string]string{"refuses": "smtp_451", "times out": "timeout", "drops mid-DATA": "smtp_unreachable"}[fault]; waiting[0].LastError != want {
				t.Errorf("error code %q, want %q", waiting[0].LastError, want)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Fatalf("%d messages kept by a failing server", n)
			}
			// The server is well again.
			srv.FailData(nil)
			srv.DropData(false)
			sender.set(mailer(srv.Addr))
			c.Add(2 * time.Minute)
			round(t, w)
			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("%d messages after recovery", len(got))
			}
			msg, err := mail.ReadMessage(bytes.NewReader(got[0].Data))
			if err != nil || msg.Header.Get("Message-ID") != "<"+notify.EventID("ggd", seqs[0])+"@vindex>" {
				t.Fatalf("Message-ID %q, %v", msg.Header.Get("Message-ID"), err)
			}
			if log, _ := s.DeliveryLog(bg, "ggd", "mailbox"); log.Cursor != seqs[0] || log.Waiting != 0 {
				t.Fatalf("not settled after delivery: %+v", log)
			}
		})
	}
}

// switchable is a Sender whose mailer a test can swap.
type switchable struct {
	mu sync.Mutex
	m  *notify.Mailer
}

func (s *switchable) set(m *notify.Mailer) { s.mu.Lock(); s.m = m; s.mu.Unlock() }
func (s *switchable) Send(ctx context.Context, to []string, m notify.Message) error {
	s.mu.Lock()
	ml := s.m
	s.mu.Unlock()
	return ml.Send(ctx, to, m)
}

// Urgent events are attempted first.
func TestWorkerUrgentFirst(t *testing.T) {
	c := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	s := openStore(t, t.TempDir())
	defer s.Close()
	y := 1
	var order []uint64
	for _, urgent := range []bool{false, false, true} {
		y++
		if err := s.Update(bg, youths(y), func(tx store.Tx) error {
			tx.Append(store.Event{Type: store.EventMatch, At: c.Now(), Recipient: "ggd", Urgent: urgent})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	rec := &orderChannel{}
	w := worker(t, s, c, map[string][]notify.Channel{"ggd": {rec}})
	round(t, w)
	order = rec.order
	evs, _ := s.Events(bg, "ggd", 0, 10)
	if len(order) != 3 || order[0] != evs[2].Seq {
		t.Fatalf("order %v, want the urgent %d first", order, evs[2].Seq)
	}
}

type orderChannel struct{ order []uint64 }

func (o *orderChannel) Name() string { return "webhook" }
func (o *orderChannel) Deliver(_ context.Context, e store.Event) error {
	o.order = append(o.order, e.Seq)
	return nil
}
