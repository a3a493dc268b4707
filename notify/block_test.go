package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/hooktest"
	"github.com/vindex-nl/vindex/internal/smtptest"
	"github.com/vindex-nl/vindex/internal/testbsn"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
)

// The mailboxes and addresses of the blocking tests.
const (
	wijMailbox = "zorgvoorjeugd@wij-groningen.example"
	badAddress = "onbekend@wij-groningen.example"
	goodPro    = "m.devries@wij-groningen.example"
)

// mailEnv is the example covenant's matcher on a real store, a real SMTP
// server over STARTTLS, and WIJ's two mail channels to it.
type mailEnv struct {
	*matcherEnv
	srv      *smtptest.Server
	channels []notify.Channel
	n        int
}

func newMailEnv(t *testing.T) *mailEnv {
	t.Helper()
	env := &mailEnv{matcherEnv: newMatcherEnv(t, nil)}
	ca, cert := testCA(t)
	env.srv = smtptest.Start(t, &cert)
	mailer, err := notify.NewMailer(notify.SMTPConfig{Address: env.srv.Addr, From: "noreply@vindex.example", RootCAs: ca.Pool(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mailer.Close() })
	tm, err := notify.BuiltinTemplates("nl")
	if err != nil {
		t.Fatal(err)
	}
	env.channels = notify.MailChannels(notify.EmailChannel{Sender: mailer, Templates: tm, Registrations: env.s, Mailbox: wijMailbox,
		Region: "Groningen", DisplayName: env.cov.InstitutionName, RuleLabel: env.cov.RuleLabel})
	return env
}

// report registers a new youth by WIJ with the professional's address
// email, and returns the Message-ID of the event it raises (WIJ's no-match).
func (env *mailEnv) report(t *testing.T, email string, urgent bool) string {
	t.Helper()
	env.n++
	bsn, err := identity.ParseBSN(testbsn.For(30000000, env.n))
	if err != nil {
		t.Fatal(err)
	}
	birth, _ := identity.ParseBirthDate("2014-05-17")
	youth, err := env.m.YouthByBSN(bsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.Register(bg, matcher.Actor{Institution: "wij-groningen"}, matcher.Registration{
		Youth: youth, BirthDate: birth, Municipality: "GM0014", Kind: matcher.Involvement, Urgent: urgent,
		Contact: matcher.Contact{Name: "M. de Vries", Phone: "050-7654321", Email: email},
	}); err != nil {
		t.Fatal(err)
	}
	return "<" + notify.EventID("wij-groningen", env.s.LastSeq("wij-groningen")) + "@vindex>"
}

// worker is a worker of WIJ's mail channels on the real clock.
func (env *mailEnv) worker(t *testing.T, poll time.Duration, m *notify.Metrics) *notify.Worker {
	t.Helper()
	w, err := notify.NewWorker(notify.WorkerConfig{
		Store: env.s, Channels: func(string) []notify.Channel { return env.channels },
		Institutions: func() []string { return []string{"wij-groningen"} }, Poll: poll, Metrics: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// received returns the Message-IDs the server accepted for addr.
func received(srv *smtptest.Server, addr string) map[string]int {
	ids := map[string]int{}
	for _, m := range srv.Messages() {
		if len(m.To) == 1 && m.To[0] == addr {
			if msg, err := mail.ReadMessage(bytes.NewReader(m.Data)); err == nil {
				ids[msg.Header.Get("Message-ID")]++
			}
		}
	}
	return ids
}

// waitFor polls cond until it holds or the deadline passes, and returns how
// long it took.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// The attack of a careless institution: 40 registrations whose
// professional's address the mail server refuses (550), then an urgent one.
// The urgent mail arrives within a second of the worker's next poll, both
// when all of it waits before the worker starts and when it comes while
// the worker runs; the mailbox gets its copy of every event; the refused
// deliveries are dead at once and not tried again.
func TestMailRefusedAddressBlocksNothing(t *testing.T) {
	env := newMailEnv(t)
	env.srv.RefuseRcpt(badAddress, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	var all []string
	for range 40 {
		all = append(all, env.report(t, badAddress, false))
	}
	urgent := env.report(t, goodPro, true)
	all = append(all, urgent)

	const poll = 300 * time.Millisecond
	ctx, stop := context.WithCancel(bg)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	m := notify.NewMetrics()
	w := env.worker(t, poll, m)
	wg.Go(func() { w.Run(ctx) })
	took := waitFor(t, time.Second, "the urgent mail waiting with 40 refused ones", func() bool { return received(env.srv, goodPro)[urgent] == 1 })
	t.Logf("the urgent mail waiting with 40 refused ones arrived %v after the worker started", took)

	// While the worker runs: 40 more refused ones, then another urgent.
	for range 40 {
		all = append(all, env.report(t, badAddress, false))
	}
	waitFor(t, 10*time.Second, "40 more refused", func() bool { return env.srv.Refused(badAddress) == 80 })
	urgent = env.report(t, goodPro, true)
	all = append(all, urgent)
	took = waitFor(t, poll+time.Second, "the urgent mail after 40 more refused ones", func() bool { return received(env.srv, goodPro)[urgent] == 1 })
	t.Logf("the urgent mail after 40 more refused ones arrived %v after it was registered (poll %v)", took, poll)

	// The mailbox gets a copy of every one of them, once.
	waitFor(t, 10*time.Second, "every mailbox copy", func() bool { return len(received(env.srv, wijMailbox)) == len(all) })
	box := received(env.srv, wijMailbox)
	for _, id := range all {
		if box[id] != 1 {
			t.Errorf("mailbox copy of %s received %d times", id, box[id])
		}
	}
	// The refused ones are dead, at their first attempt, and stay so.
	time.Sleep(3 * poll)
	if n := env.srv.Refused(badAddress); n != 80 {
		t.Errorf("the refused address was tried %d times, want 80 (once per event)", n)
	}
	dead, err := env.s.DeadDeliveries(bg, "wij-groningen", "email")
	if err != nil || len(dead) != 80 {
		t.Fatalf("%d dead on email, want 80 (%v)", len(dead), err)
	}
	if d := dead[0]; d.Attempts != 1 || d.LastError != "smtp_550" {
		t.Errorf("a dead one: %+v", d)
	}
	for _, ch := range []string{"email", "mailbox"} {
		if evs, _, err := store.Undelivered(bg, env.s, "wij-groningen", ch, 1000); err != nil || len(evs) != 0 {
			t.Errorf("%s: %d undelivered (%v)", ch, len(evs), err)
		}
	}
	// The metrics say so too.
	want := `
# HELP vindex_delivery_backlog_events Events not yet delivered on the channel, as of the worker's last look.
# TYPE vindex_delivery_backlog_events gauge
vindex_delivery_backlog_events{channel="email"} 0
vindex_delivery_backlog_events{channel="mailbox"} 0
# HELP vindex_delivery_dead_events Events given up on the channel (vindex outbox retry).
# TYPE vindex_delivery_dead_events gauge
vindex_delivery_dead_events{channel="email"} 80
vindex_delivery_dead_events{channel="mailbox"} 0
# HELP vindex_deliveries_total Delivery attempts of outbox events, by channel (email, mailbox, webhook) and result (delivered, failed, dead).
# TYPE vindex_deliveries_total counter
vindex_deliveries_total{channel="email",result="dead"} 80
vindex_deliveries_total{channel="email",result="delivered"} 2
vindex_deliveries_total{channel="email",result="failed"} 0
vindex_deliveries_total{channel="mailbox",result="dead"} 0
vindex_deliveries_total{channel="mailbox",result="delivered"} 82
vindex_deliveries_total{channel="mailbox",result="failed"} 0
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "vindex_delivery_backlog_events", "vindex_delivery_dead_events", "vindex_deliveries_total"); err != nil {
		t.Error(err)
	}
}

// A receiver that answers 451 for one address (try later) gets that
// delivery again after the backoff, with the same Message-ID, while the
// events after it go out at once.
func TestMailTemporaryRefusalRetriedWhileOthersGo(t *testing.T) {
	env := newMailEnv(t)
	const later = "later@wij-groningen.example"
	env.srv.RefuseRcpt(later, &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
	first := env.report(t, later, false)
	var next []string
	for range 40 {
		next = append(next, env.report(t, goodPro, false))
	}
	c := &clock{now: time.Now()}
	w, err := notify.NewWorker(notify.WorkerConfig{
		Store: env.s, Channels: func(string) []notify.Channel { return env.channels },
		Institutions: func() []string { return []string{"wij-groningen"} },
		MinBackoff:   time.Minute, MaxBackoff: 10 * time.Minute, Clock: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	for round(t, w) {
	}
	got := received(env.srv, goodPro)
	for _, id := range next {
		if got[id] != 1 {
			t.Fatalf("later event %s received %d times while the first waits", id, got[id])
		}
	}
	if n := env.srv.Refused(later); n != 1 {
		t.Fatalf("tried %d times before its backoff", n)
	}
	c.Add(61 * time.Second) // past the first backoff (30–60 s): refused again
	round(t, w)
	if n := env.srv.Refused(later); n != 2 {
		t.Fatalf("tried %d times after the backoff, want 2", n)
	}
	env.srv.RefuseRcpt(later, nil)
	c.Add(30 * time.Second) // within the second backoff (1–2 min)
	round(t, w)
	if len(received(env.srv, later)) != 0 {
		t.Fatal("retried before its backoff")
	}
	c.Add(2 * time.Minute)
	round(t, w)
	if got := received(env.srv, later); got[first] != 1 || len(got) != 1 {
		t.Fatalf("after the receiver took it: %v, want %s once", got, first)
	}
	if dead, _ := env.s.DeadDeliveries(bg, "wij-groningen", "email"); len(dead) != 0 {
		t.Fatalf("a temporary refusal is dead: %+v", dead)
	}
}

// A webhook receiver that fails one event (503, over and over) holds back
// none of the events after it, however many; the failing one is retried
// after its backoff, with the same ID.
func TestWebhookFailingEventBlocksNothing(t *testing.T) {
	ca, _ := testCA(t)
	s := openStore(t, t.TempDir())
	defer s.Close()
	c := &clock{now: time.Now()}
	seqs := events(t, s, "ggd", 100, c.Now(), 1)
	failing := notify.EventID("ggd", seqs[0])
	var mu sync.Mutex
	got := map[string]int{}
	url := hooktest.Serve(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev notify.HookEvent
		json.Unmarshal(body, &ev)
		mu.Lock()
		defer mu.Unlock()
		got[ev.ID]++
		if ev.ID == failing {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	hook, err := notify.NewHook(notify.HookConfig{URL: url, Secret: notify.NewWebhookSecret(), RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	w := worker(t, s, c, map[string][]notify.Channel{"ggd": {&notify.WebhookChannel{Hook: hook}}})
	for round(t, w) {
	}
	mu.Lock()
	for _, seq := range seqs {
		if id := notify.EventID("ggd", seq); got[id] != 1 {
			t.Errorf("%s posted %d times", id, got[id])
		}
	}
	mu.Unlock()
	c.Add(time.Minute + time.Second)
	round(t, w)
	mu.Lock()
	defer mu.Unlock()
	if got[failing] != 2 {
		t.Fatalf("the failing event posted %d times after its backoff, want 2", got[failing])
	}
	if log, _ := s.DeliveryLog(bg, "ggd", "webhook"); log.Cursor != seqs[99] || log.Waiting != 1 || log.FirstWaiting != seqs[0] {
		t.Fatalf("delivery log: %+v", log)
	}
}
