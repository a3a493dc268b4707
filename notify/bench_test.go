package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/bench"
	"github.com/vindex-nl/vindex/bench/target"
	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/hooktest"
	"github.com/vindex-nl/vindex/internal/smtptest"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
	"github.com/vindex-nl/vindex/store/storetest"
)

// Delivery benchmarks on a real store: b.N events spread over six
// institutions, delivered by the worker until the outbox is drained; the
// figure is deliveries per second, each recorded durably in the store.

var benchInstitutions = []string{"a", "b", "c", "d", "e", "f"}

// fillOutbox stages n events; with refs, each is about a registration of
// its recipient that carries a client reference sealed by refs, as the
// channels then read and open it for every delivery.
func fillOutbox(b *testing.B, n int, refs *clientref.Sealer) *workerEnv {
	b.Helper()
	s := openStore(b, b.TempDir())
	b.Cleanup(func() { s.Close() })
	at := time.Now()
	// Events are staged 100 to a youth; events about registrations 2 to a
	// youth, as a youth's record (read for every delivery) is small.
	per := 100
	if refs != nil {
		per = 2
	}
	for i := 0; i < n; {
		y := storetest.Youth(1, i)
		if err := s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			for k := 0; k < per && i < n; k++ {
				e := store.Event{Type: store.EventMatch, At: at, Recipient: benchInstitutions[i%len(benchInstitutions)]}
				if refs != nil {
					r := storetest.Reg(y, e.Recipient, at)
					sealed, err := refs.Seal(fmt.Sprintf("DOSSIER-%06d", i), r.Institution, r.ID)
					if err != nil {
						return err
					}
					r.ClientRef = sealed
					tx.Put(r)
					e.Registration = r.ID
				}
				tx.Append(e)
				i++
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	return &workerEnv{s: s}
}

type workerEnv struct{ s *pebblestore.Store }

func drain(b *testing.B, s notify.Store, ch notify.Channel) {
	b.Helper()
	w, err := notify.NewWorker(notify.WorkerConfig{
		Store: s, Channels: func(string) []notify.Channel { return []notify.Channel{ch} },
		Institutions: func() []string { return benchInstitutions },
	})
	if err != nil {
		b.Fatal(err)
	}
	for {
		worked, err := w.Round(bg)
		if err != nil {
			b.Fatal(err)
		}
		if !worked {
			return
		}
	}
}

func BenchmarkDeliveryWebhook(b *testing.B) { benchWebhook(b, false) }

// BenchmarkDeliveryWebhookClientRef: each body quotes the recipient's
// client reference, read from its registration and opened per delivery.
func BenchmarkDeliveryWebhookClientRef(b *testing.B) { benchWebhook(b, true) }

func benchWebhook(b *testing.B, withRefs bool) {
	ca, _ := testCA(b)
	var got, quoted atomic.Int64
	url := hooktest.Serve(b, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got.Add(1)
		if bytes.Contains(body, []byte(`"client_ref":"DOSSIER-`)) {
			quoted.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	h, err := notify.NewHook(notify.HookConfig{URL: url, Secret: notify.NewWebhookSecret(), RootCAs: ca.Pool()})
	if err != nil {
		b.Fatal(err)
	}
	var refs *clientref.Sealer
	if withRefs {
		refs = testkeys.Sealer(b)
	}
	env := fillOutbox(b, b.N, refs)
	ch := &notify.WebhookChannel{Hook: h}
	if withRefs {
		ch.Registrations, ch.ClientRefs = env.s, refs
	}
	b.ResetTimer()
	drain(b, env.s, ch)
	b.StopTimer()
	if got.Load() < int64(b.N) {
		b.Fatalf("%d of %d delivered", got.Load(), b.N)
	}
	if withRefs && quoted.Load() < int64(b.N) {
		b.Fatalf("%d of %d deliveries quote the client reference", quoted.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

func BenchmarkDeliverySMTP(b *testing.B) {
	ca, cert := testCA(b)
	srv := smtptest.Start(b, &cert)
	ml, err := notify.NewMailer(notify.SMTPConfig{Address: srv.Addr, From: "noreply@vindex.example", RootCAs: ca.Pool()})
	if err != nil {
		b.Fatal(err)
	}
	tm, _ := notify.BuiltinTemplates("nl")
	env := fillOutbox(b, b.N, nil)
	ch := &notify.EmailChannel{Sender: ml, Templates: tm, Registrations: noRegistrations{}, Mailbox: "zorg@example.org"}
	b.ResetTimer()
	drain(b, env.s, ch)
	b.StopTimer()
	if n := len(srv.Messages()); n < b.N {
		b.Fatalf("%d of %d delivered", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

type noRegistrations struct{}

func (noRegistrations) Registration(context.Context, store.ID) (store.Registration, error) {
	return store.Registration{}, fmt.Errorf("bench: %w", store.ErrNotFound)
}

// BenchmarkBacklogUnderLoad registers youths in process at an open-loop
// 10,000 reports a second for 10 s (the bench package's rereport
// workload, so that matches happen) while the worker posts every event to a
// local webhook receiver, and reports the largest backlog seen, the backlog
// when the load stops and how long it then takes to drain. Run it alone:
// go test -run '^$' -bench BacklogUnderLoad -benchtime 1x ./notify
func BenchmarkBacklogUnderLoad(b *testing.B) {
	ca, _ := testCA(b)
	url := hooktest.Serve(b, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	env := newMatcherEnv(b, nil)
	m, s := env.m, env.s
	hook, _ := notify.NewHook(notify.HookConfig{URL: url, Secret: notify.NewWebhookSecret(), RootCAs: ca.Pool()})
	ch := &notify.WebhookChannel{Hook: hook}
	insts := target.Institutions
	w, err := notify.NewWorker(notify.WorkerConfig{
		Store: s, Channels: func(string) []notify.Channel { return []notify.Channel{ch} },
		Institutions: func() []string { return insts }, Poll: 10 * time.Millisecond, Batch: 256,
	})
	if err != nil {
		b.Fatal(err)
	}
	backlog := func() int {
		n := 0
		for _, inst := range insts {
			log, _ := s.DeliveryLog(bg, inst, "webhook")
			evs, _ := s.Events(bg, inst, log.Cursor, 1_000_000)
			n += len(evs) + log.Waiting
		}
		return n
	}
	ctx, stop := context.WithCancel(bg)
	defer stop()
	go w.Run(ctx)
	var maxBacklog atomic.Int64
	sampling, stopSampling := context.WithCancel(bg)
	defer stopSampling()
	go func() {
		for sampling.Err() == nil {
			if n := int64(backlog()); n > maxBacklog.Load() {
				maxBacklog.Store(n)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
	b.ResetTimer()
	for range b.N {
		r, err := bench.Run(bg, bench.NewInProcess("vindex", m), bench.Config{Workload: bench.Rereport, Ops: 100_000, Rate: 10_000, Concurrency: 256, Seed: 1}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.OpsRate, "regs/s")
		atEnd := backlog()
		start := time.Now()
		for backlog() > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		stopSampling()
		b.ReportMetric(float64(atEnd), "backlog_at_end")
		b.ReportMetric(float64(max(maxBacklog.Load(), int64(atEnd))), "backlog_max")
		b.ReportMetric(time.Since(start).Seconds(), "drain_s")
	}
}
