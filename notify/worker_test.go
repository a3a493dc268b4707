package notify_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
	"github.com/vindex-nl/vindex/store/storetest"
)

var bg = context.Background()

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// channel records what it is given and fails while fail says so.
type channel struct {
	name string
	mu   sync.Mutex
	got  map[uint64]int // seq -> deliveries taken
	fail func(e store.Event, attempt int) bool
	seen map[uint64]int // seq -> attempts
}

func newChannel(name string, fail func(store.Event, int) bool) *channel {
	return &channel{name: name, got: map[uint64]int{}, seen: map[uint64]int{}, fail: fail}
}

func (c *channel) Name() string { return c.name }
func (c *channel) Deliver(_ context.Context, e store.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[e.Seq]++
	if c.fail != nil && c.fail(e, c.seen[e.Seq]) {
		return &notify.HookError{Status: 500}
	}
	c.got[e.Seq]++
	return nil
}

func (c *channel) delivered() map[uint64]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[uint64]int{}
	for k, v := range c.got {
		out[k] = v
	}
	return out
}

func openStore(t testing.TB, dir string) *pebblestore.Store {
	t.Helper()
	s, err := pebblestore.Open(dir, &pebblestore.Options{Logger: slog.New(slog.DiscardHandler), MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// events appends n events for recipient and returns their sequence numbers.
func events(t *testing.T, s *pebblestore.Store, recipient string, n int, at time.Time, youth int) []uint64 {
	t.Helper()
	y := storetest.Youth(1, youth)
	if err := s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		for range n {
			tx.Append(store.Event{Type: store.EventNoMatch, At: at, Recipient: recipient})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(bg, recipient, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, e := range evs[len(evs)-n:] {
		out = append(out, e.Seq)
	}
	return out
}

func worker(t *testing.T, s *pebblestore.Store, c *clock, channels map[string][]notify.Channel) *notify.Worker {
	t.Helper()
	w, err := notify.NewWorker(notify.WorkerConfig{
		Store:        s,
		Channels:     func(inst string) []notify.Channel { return channels[inst] },
		Institutions: func() []string { return []string{"ggd", "wij"} },
		MinBackoff:   time.Minute, MaxBackoff: 10 * time.Minute, MaxAge: 24 * time.Hour,
		Clock: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func round(t *testing.T, w *notify.Worker) bool {
	t.Helper()
	worked, err := w.Round(bg)
	if err != nil {
		t.Fatal(err)
	}
	return worked
}

// Each event goes over each channel of its institution; a failed one is
// tried again only after its backoff, later ones do not wait for it, and
// the cursor moves over what is settled.
func TestWorkerRetriesWithBackoff(t *testing.T) {
	c := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	s := openStore(t, t.TempDir())
	defer s.Close()
	ggd := events(t, s, "ggd", 5, c.Now(), 1)
	wij := events(t, s, "wij", 2, c.Now(), 2)
	email := newChannel("email", func(e store.Event, attempt int) bool { return e.Seq == ggd[1] && attempt <= 2 })
	hook := newChannel("webhook", nil)
	wijMail := newChannel("email", nil)
	w := worker(t, s, c, map[string][]notify.Channel{"ggd": {email, hook}, "wij": {wijMail}})

	if !round(t, w) {
		t.Fatal("the first round did nothing")
	}
	if got := email.delivered(); len(got) != 4 || got[ggd[1]] != 0 {
		t.Fatalf("ggd email after one round: %v", got)
	}
	if len(hook.delivered()) != 5 || len(wijMail.delivered()) != 2 {
		t.Fatalf("webhook %v, wij %v", hook.delivered(), wijMail.delivered())
	}
	// The failed one does not hold the cursor: it waits for its retry.
	log, _ := s.DeliveryLog(bg, "ggd", "email")
	waiting, _ := s.Retries(bg, "ggd", "email", store.Forever, 10)
	if log.Cursor != ggd[4] || len(log.States) != 0 || log.Waiting != 1 || len(waiting) != 1 ||
		waiting[0].Seq != ggd[1] || waiting[0].Attempts != 1 || waiting[0].LastError != "http_500" {
		t.Fatalf("ggd email log: %+v, waiting %+v", log, waiting)
	}
	if log, _ := s.DeliveryLog(bg, "wij", "email"); log.Cursor != wij[1] || len(log.States) != 0 {
		t.Fatalf("wij email log: %+v", log)
	}
	if round(t, w) {
		t.Fatal("a round before the backoff attempted something")
	}
	c.Add(time.Minute + time.Second) // past the first backoff (30–60 s)
	round(t, w)                      // the second attempt fails
	c.Add(3 * time.Minute)           // past the second (1–2 min)
	round(t, w)
	if got := email.delivered(); len(got) != 5 || email.seen[ggd[1]] != 3 {
		t.Fatalf("after the retries: delivered %v, attempts %d", got, email.seen[ggd[1]])
	}
	for seq, n := range email.delivered() {
		if n != 1 {
			t.Errorf("event %d delivered %d times", seq, n)
		}
	}
	if log, _ := s.DeliveryLog(bg, "ggd", "email"); log.Cursor != ggd[4] || len(log.States) != 0 || log.Waiting != 0 {
		t.Fatalf("not all settled: %+v", log)
	}
}

// An event that keeps failing past the maximum age is dead: counted, in the
// dead list, out of the way of the cursor; RetryDead brings it back.
func TestWorkerGivesUpAndRetriesDead(t *testing.T) {
	c := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	s := openStore(t, t.TempDir())
	defer s.Close()
	old := events(t, s, "ggd", 1, c.Now().Add(-25*time.Hour), 1)
	fresh := events(t, s, "ggd", 1, c.Now(), 2)
	down := true
	var mu sync.Mutex
	ch := newChannel("webhook", func(store.Event, int) bool { mu.Lock(); defer mu.Unlock(); return down })
	var results []notify.Result
	w, err := notify.NewWorker(notify.WorkerConfig{
		Store: s, Channels: func(string) []notify.Channel { return []notify.Channel{ch} },
		Institutions: func() []string { return []string{"ggd"} }, MaxAge: 24 * time.Hour, Clock: c.Now,
		Observe: func(_, _ string, r notify.Result) { results = append(results, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	round(t, w)
	dead, _ := s.DeadDeliveries(bg, "ggd", "webhook")
	if len(dead) != 1 || dead[0].Seq != old[0] || len(results) != 2 {
		t.Fatalf("dead %+v, results %v", dead, results)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	c.Add(time.Hour)
	round(t, w)
	if log, _ := s.DeliveryLog(bg, "ggd", "webhook"); log.Cursor != fresh[0] {
		t.Fatalf("the cursor stays behind a dead event: %+v", log)
	}
	if n, err := s.RetryDead(bg, "ggd", "webhook"); n != 1 || err != nil {
		t.Fatalf("RetryDead: %d %v", n, err)
	}
	round(t, w)
	got := ch.delivered()
	if got[old[0]] != 1 || got[fresh[0]] != 1 {
		t.Fatalf("after RetryDead: %v", got)
	}
}

// The state is in the store: a new worker on the reopened store sends only
// what was not delivered.
func TestWorkerResumesAfterRestart(t *testing.T) {
	c := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s := openStore(t, dir)
	seqs := events(t, s, "ggd", 6, c.Now(), 1)
	failing := map[uint64]bool{seqs[1]: true, seqs[4]: true}
	first := newChannel("email", func(e store.Event, _ int) bool { return failing[e.Seq] })
	round(t, worker(t, s, c, map[string][]notify.Channel{"ggd": {first}}))
	s.Close()

	s = openStore(t, dir)
	defer s.Close()
	second := newChannel("email", nil)
	w := worker(t, s, c, map[string][]notify.Channel{"ggd": {second}})
	round(t, w) // within the backoff: nothing
	if n := len(second.delivered()); n != 0 {
		t.Fatalf("%d delivered again before the backoff", n)
	}
	c.Add(2 * time.Minute)
	round(t, w)
	got := second.delivered()
	if len(got) != 2 || got[seqs[1]] != 1 || got[seqs[4]] != 1 {
		t.Fatalf("after the restart: %v (want only the two that failed)", got)
	}
}

func TestErrorCodes(t *testing.T) {
	for err, want := range map[error]string{
		&notify.HookError{Status: 503}: "http_503",
		&notify.HookError{}:            "http_unreachable",
		context.DeadlineExceeded:       "timeout",
		errors.New("x"):                "error",
	} {
		if got := notify.ErrorCode(err); got != want {
			t.Errorf("ErrorCode(%v) = %q, want %q", err, got, want)
		}
	}
}

func youths(n int) []pseudonym.Pseudonym { return []pseudonym.Pseudonym{storetest.Youth(1, n)} }
