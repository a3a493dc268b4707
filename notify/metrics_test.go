package notify_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// readCounter is the store with its outbox and delivery reads counted, to
// show that a scrape reads nothing.
type readCounter struct {
	*pebblestore.Store
	reads atomic.Int64
}

func (r *readCounter) Events(ctx context.Context, recipient string, after uint64, limit int) ([]store.Event, error) {
	r.reads.Add(1)
	return r.Store.Events(ctx, recipient, after, limit)
}

func (r *readCounter) DeliveryLog(ctx context.Context, recipient, channel string) (store.DeliveryLog, error) {
	r.reads.Add(1)
	return r.Store.DeliveryLog(ctx, recipient, channel)
}

func (r *readCounter) DeadDeliveries(ctx context.Context, recipient, channel string) ([]store.Delivery, error) {
	r.reads.Add(1)
	return r.Store.DeadDeliveries(ctx, recipient, channel)
}

// gauge reads one series of c, failing the test if the read touched the
// store.
func gauge(t *testing.T, c prometheus.Collector, s *readCounter, name, label string) float64 {
	t.Helper()
	before := s.reads.Load()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if n := s.reads.Load() - before; n != 0 {
		t.Fatalf("a scrape read the store %d times", n)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == label {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no %s{%s}", name, label)
	return 0
}

// The delivery backlog rises as events are appended and falls as they are
// delivered, as the worker looks (a scrape in between reads no store and
// sees the figure of the last look), also when it is longer than a batch.
func TestDeliveryBacklogFollowsTheWorker(t *testing.T) {
	c := &clock{now: time.Now()}
	s := &readCounter{Store: openStore(t, t.TempDir())}
	defer s.Close()
	var mu sync.Mutex
	down := true
	ch := newChannel("webhook", func(store.Event, int) bool { mu.Lock(); defer mu.Unlock(); return down })
	m := notify.NewMetrics()
	w, err := notify.NewWorker(notify.WorkerConfig{
		Store: s, Channels: func(string) []notify.Channel { return []notify.Channel{ch} },
		Institutions: func() []string { return []string{"ggd"} }, Batch: 8,
		MinBackoff: time.Minute, MaxBackoff: 10 * time.Minute, MaxAge: 24 * time.Hour, Clock: c.Now, Metrics: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	dead := events(t, s.Store, "ggd", 1, c.Now().Add(-25*time.Hour), 1)
	events(t, s.Store, "ggd", 20, c.Now().Add(-time.Hour), 2)
	round(t, w)
	backlog := func() float64 { return gauge(t, m, s, "vindex_delivery_backlog_events", "webhook") }
	if got := backlog(); got != 20 {
		t.Fatalf("backlog %v after the first look, want 20 (one of 21 is dead)", got)
	}
	if got := gauge(t, m, s, "vindex_delivery_dead_events", "webhook"); got != 1 {
		t.Fatalf("dead %v, want 1", got)
	}
	if got := gauge(t, m, s, "vindex_delivery_oldest_seconds", "webhook"); got < 3599 || got > 3700 {
		t.Fatalf("oldest %v s, want about an hour", got)
	}

	events(t, s.Store, "ggd", 5, c.Now(), 3)
	if got := backlog(); got != 20 {
		t.Fatalf("backlog %v before the worker looked again, want 20: computed at the scrape?", got)
	}
	round(t, w) // the failed ones wait for their backoff; the new events are counted
	if got := backlog(); got != 25 {
		t.Fatalf("backlog %v after appending 5, want 25", got)
	}

	mu.Lock()
	down = false
	mu.Unlock()
	c.Add(11 * time.Minute)
	for round(t, w) {
	}
	if got := backlog(); got != 0 {
		t.Fatalf("backlog %v after delivery, want 0", got)
	}
	if got := gauge(t, m, s, "vindex_delivery_oldest_seconds", "webhook"); got != 0 {
		t.Fatalf("oldest %v s with nothing undelivered", got)
	}
	want := `
# HELP vindex_deliveries_total Delivery attempts of outbox events, by channel (email, mailbox, webhook) and result (delivered, failed, dead).
# TYPE vindex_deliveries_total counter
vindex_deliveries_total{channel="webhook",result="dead"} 1
vindex_deliveries_total{channel="webhook",result="delivered"} 25
vindex_deliveries_total{channel="webhook",result="failed"} 15
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "vindex_deliveries_total"); err != nil {
		t.Fatal(err)
	}

	// vindex outbox retry puts the dead event back in the retry queue:
	// the gauges follow the store's counts.
	if n, err := s.RetryDead(bg, "ggd", "webhook"); n != 1 || err != nil {
		t.Fatalf("RetryDead: %d %v", n, err)
	}
	mu.Lock()
	down = true
	mu.Unlock()
	round(t, w)
	if got := backlog(); got != 0 {
		t.Fatalf("backlog %v after the retried event died again, want 0", got)
	}
	if got := gauge(t, m, s, "vindex_delivery_dead_events", "webhook"); got != 1 {
		t.Fatalf("dead %v after retry and death, want 1 (event %d)", got, dead[0])
	}
}

// The poll backlog follows appends and polls at its updates, never at a
// scrape.
func TestPollBacklog(t *testing.T) {
	s := &readCounter{Store: openStore(t, t.TempDir())}
	defer s.Close()
	b := notify.NewPollBacklog(s, []string{"ggd", "wij"}, time.Hour)
	backlog := func(inst string) float64 { return gauge(t, b, s, "vindex_outbox_backlog_events", inst) }
	seqs := events(t, s.Store, "ggd", 9, time.Now(), 1)
	events(t, s.Store, "wij", 2, time.Now(), 1)
	if got := backlog("ggd"); got != 0 {
		t.Fatalf("backlog %v before the first update", got)
	}
	if err := b.Update(bg); err != nil {
		t.Fatal(err)
	}
	if got, got2 := backlog("ggd"), backlog("wij"); got != 9 || got2 != 2 {
		t.Fatalf("backlog %v, %v; want 9, 2", got, got2)
	}
	b.Polled("ggd", seqs[3])
	b.Polled("ggd", seqs[1]) // an older position changes nothing
	b.Polled("nobody", 7)
	if got := backlog("ggd"); got != 9 {
		t.Fatalf("backlog %v before the update, want 9", got)
	}
	if err := b.Update(bg); err != nil {
		t.Fatal(err)
	}
	if got := backlog("ggd"); got != 5 {
		t.Fatalf("backlog %v after a poll after the 4th event, want 5", got)
	}
	more := events(t, s.Store, "ggd", 3, time.Now(), 2)
	b.Update(bg)
	if got := backlog("ggd"); got != 8 {
		t.Fatalf("backlog %v after 3 more, want 8", got)
	}
	b.Polled("ggd", more[2])
	b.Update(bg)
	if got := backlog("ggd"); got != 0 {
		t.Fatalf("backlog %v after reading everything, want 0", got)
	}
	// An update with nothing new reads one page per institution.
	before := s.reads.Load()
	b.Update(bg)
	if n := s.reads.Load() - before; n != 2 {
		t.Fatalf("an idle update read %d times, want 2", n)
	}
}
