package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// deliveryStore opens the store and returns it as a DeliveryStore, or
// skips the test for a backend without delivery state.
func deliveryStore(t *testing.T, open Opener) (store.Store, store.DeliveryStore) {
	t.Helper()
	s := openStore(t, open)
	ds, ok := s.(store.DeliveryStore)
	if !ok {
		t.Skip("the backend keeps no delivery state")
	}
	return s, ds
}

func deliveryLog(t *testing.T, ds store.DeliveryStore, recipient, channel string) store.DeliveryLog {
	t.Helper()
	log, err := ds.DeliveryLog(ctx, recipient, channel)
	if err != nil {
		t.Fatal(err)
	}
	return log
}

func seqs(ds []store.Delivery) []uint64 {
	var out []uint64
	for _, d := range ds {
		out = append(out, d.Seq)
	}
	return out
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// testDeliveries: the cursor moves forward only, states above it are kept
// as written and those at or below it dropped, dead ones go to the dead
// list, and channels and recipients are apart.
func testDeliveries(t *testing.T, open Opener) {
	_, ds := deliveryStore(t, open)
	if log := deliveryLog(t, ds, "ggd", "email"); log.Cursor != 0 || len(log.States) != 0 {
		t.Fatalf("a new log: %+v", log)
	}
	next := t0.Add(time.Minute)
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 3, []store.Delivery{
		{Seq: 5, Attempts: 1, FirstTry: t0, NextTry: next, LastError: "smtp_451"},
		{Seq: 7, Attempts: 1, FirstTry: t0, Delivered: true},
	}); err != nil {
		t.Fatal(err)
	}
	log := deliveryLog(t, ds, "ggd", "email")
	if log.Cursor != 3 || !equalSeqs(seqs(log.States), []uint64{5, 7}) || log.Waiting != 1 || log.FirstWaiting != 5 {
		t.Fatalf("after recording: %+v", log)
	}
	if d := log.States[0]; d.Attempts != 1 || !d.NextTry.Equal(next) || d.LastError != "smtp_451" || d.Settled() {
		t.Fatalf("state as read: %+v", d)
	}
	if other := deliveryLog(t, ds, "ggd", "webhook"); other.Cursor != 0 || len(other.States) != 0 {
		t.Fatalf("another channel sees %+v", other)
	}
	if other := deliveryLog(t, ds, "wij", "email"); other.Cursor != 0 || len(other.States) != 0 {
		t.Fatalf("another recipient sees %+v", other)
	}
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 7, []store.Delivery{{Seq: 5, Attempts: 2, FirstTry: t0, Delivered: true}}); err != nil {
		t.Fatal(err)
	}
	if log := deliveryLog(t, ds, "ggd", "email"); log.Cursor != 7 || len(log.States) != 0 || log.Waiting != 0 || log.FirstWaiting != 0 {
		t.Fatalf("settled states kept: %+v", log)
	}
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 6, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the cursor moved back: %v", err)
	}
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 9, []store.Delivery{{Seq: 9, Attempts: 12, FirstTry: t0, LastError: "timeout", Dead: true}}); err != nil {
		t.Fatal(err)
	}
	dead, err := ds.DeadDeliveries(ctx, "ggd", "email")
	if err != nil || !equalSeqs(seqs(dead), []uint64{9}) || dead[0].Attempts != 12 {
		t.Fatalf("dead list: %+v %v", dead, err)
	}
	if log := deliveryLog(t, ds, "ggd", "email"); log.Cursor != 9 || len(log.States) != 0 || log.Dead != 1 {
		t.Fatalf("after a dead one: %+v", log)
	}
}

// testRetryDead: the dead come back as waiting for a retry, due at once,
// with their attempts; the cursor stays where it is, so nothing delivered is
// sent again. The state survives a reopen.
func testRetryDead(t *testing.T, open Opener) {
	s, ds := deliveryStore(t, open)
	y := Youth(1, 40)
	appendEvents(t, s, y,
		store.Event{Type: store.EventMatch, At: t0, Recipient: "ggd"},
		store.Event{Type: store.EventMatch, At: t0, Recipient: "ggd"},
		store.Event{Type: store.EventMatch, At: t0, Recipient: "ggd"})
	evs, err := s.Events(ctx, "ggd", 0, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("events: %d, %v", len(evs), err)
	}
	first, third := evs[0].Seq, evs[2].Seq
	if err := ds.RecordDeliveries(ctx, "ggd", "webhook", third, []store.Delivery{
		{Seq: first, Attempts: 9, FirstTry: t0, LastError: "http_500", Dead: true},
	}); err != nil {
		t.Fatal(err)
	}
	if log := deliveryLog(t, ds, "ggd", "webhook"); log.Dead != 1 || log.Waiting != 0 {
		t.Fatalf("before the retry: %+v", log)
	}
	n, err := ds.RetryDead(ctx, "ggd", "webhook")
	if err != nil || n != 1 {
		t.Fatalf("RetryDead = %d, %v", n, err)
	}
	s.Close()
	s = openStore(t, open)
	ds = s.(store.DeliveryStore)
	log := deliveryLog(t, ds, "ggd", "webhook")
	if log.Cursor != third || len(log.States) != 0 || log.Waiting != 1 || log.FirstWaiting != first || log.Dead != 0 {
		t.Fatalf("after retry and reopen: %+v", log)
	}
	waiting, err := ds.Retries(ctx, "ggd", "webhook", time.Now(), 10)
	if err != nil || !equalSeqs(seqs(waiting), []uint64{first}) {
		t.Fatalf("the retried one is not due: %+v %v", waiting, err)
	}
	if d := waiting[0]; d.Dead || d.Delivered || d.Attempts != 9 {
		t.Fatalf("the retried one: %+v", d)
	}
	if dead, _ := ds.DeadDeliveries(ctx, "ggd", "webhook"); len(dead) != 0 {
		t.Fatalf("dead list not emptied: %+v", dead)
	}
	if n, err := ds.RetryDead(ctx, "ggd", "webhook"); n != 0 || err != nil {
		t.Fatalf("a second RetryDead = %d, %v", n, err)
	}
}

// testDeliveryRetries: a delivery that is not settled waits in the retry
// queue wherever it is (below the cursor or above it), holding the cursor
// back nowhere; Retries gives the due ones, urgent first and then by next
// try, at most the limit; a new state replaces the old one in the queue;
// settled ones leave it; the counts follow; all of it survives a reopen.
func testDeliveryRetries(t *testing.T, open Opener) {
	s, ds := deliveryStore(t, open)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 10, []store.Delivery{
		{Seq: 2, Attempts: 1, FirstTry: t0, NextTry: at(2 * time.Minute), LastError: "smtp_451"},
		{Seq: 4, Attempts: 1, FirstTry: t0, NextTry: at(time.Minute), LastError: "smtp_451"},
		{Seq: 6, Urgent: true, Attempts: 1, FirstTry: t0, NextTry: at(3 * time.Minute), LastError: "timeout"},
		{Seq: 8, Attempts: 1, FirstTry: t0, Delivered: true},
		{Seq: 12, Attempts: 1, FirstTry: t0, NextTry: at(30 * time.Second), LastError: "smtp_421"},
	}); err != nil {
		t.Fatal(err)
	}
	retries := func(due time.Time, limit int) []uint64 {
		t.Helper()
		ds, err := ds.Retries(ctx, "ggd", "email", due, limit)
		if err != nil {
			t.Fatal(err)
		}
		return seqs(ds)
	}
	log := deliveryLog(t, ds, "ggd", "email")
	if log.Cursor != 10 || !equalSeqs(seqs(log.States), []uint64{12}) || log.Waiting != 4 || log.FirstWaiting != 2 || log.Dead != 0 {
		t.Fatalf("after recording: %+v", log)
	}
	if got := retries(at(2*time.Minute), 10); !equalSeqs(got, []uint64{12, 4, 2}) {
		t.Fatalf("due at 2 min: %v, want 12 4 2", got)
	}
	if got := retries(store.Forever, 10); !equalSeqs(got, []uint64{6, 12, 4, 2}) {
		t.Fatalf("all: %v, want the urgent 6 first, then 12 4 2", got)
	}
	if got := retries(store.Forever, 2); !equalSeqs(got, []uint64{6, 12}) {
		t.Fatalf("limit 2: %v", got)
	}
	if got := retries(t0, 10); len(got) != 0 {
		t.Fatalf("due before any: %v", got)
	}
	if other, err := ds.Retries(ctx, "ggd", "webhook", store.Forever, 10); err != nil || len(other) != 0 {
		t.Fatalf("another channel's queue: %v %v", other, err)
	}
	// Tried again: it moves in the queue, not twice in it.
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 10, []store.Delivery{
		{Seq: 4, Attempts: 2, FirstTry: t0, NextTry: at(5 * time.Minute), LastError: "smtp_452"},
	}); err != nil {
		t.Fatal(err)
	}
	if got := retries(store.Forever, 10); !equalSeqs(got, []uint64{6, 12, 2, 4}) {
		t.Fatalf("after a retry of 4: %v, want 6 12 2 4", got)
	}
	if d, _ := ds.Retries(ctx, "ggd", "email", store.Forever, 10); d[3].Attempts != 2 || d[3].LastError != "smtp_452" {
		t.Fatalf("4 as read: %+v", d[3])
	}
	// Settled: out of the queue; dead: in the dead list.
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 10, []store.Delivery{
		{Seq: 2, Attempts: 2, FirstTry: t0, Delivered: true},
		{Seq: 6, Urgent: true, Attempts: 2, FirstTry: t0, LastError: "smtp_550", Dead: true},
	}); err != nil {
		t.Fatal(err)
	}
	if got := retries(store.Forever, 10); !equalSeqs(got, []uint64{12, 4}) {
		t.Fatalf("after settling 2 and 6: %v", got)
	}
	log = deliveryLog(t, ds, "ggd", "email")
	if log.Waiting != 2 || log.FirstWaiting != 4 || log.Dead != 1 {
		t.Fatalf("counts after settling: %+v", log)
	}
	// The cursor passes 12, still waiting: it stays in the queue.
	if err := ds.RecordDeliveries(ctx, "ggd", "email", 14, nil); err != nil {
		t.Fatal(err)
	}
	if log := deliveryLog(t, ds, "ggd", "email"); len(log.States) != 0 || log.Waiting != 2 {
		t.Fatalf("after the cursor passed a waiting one: %+v", log)
	}
	if n, err := ds.RetryDead(ctx, "ggd", "email"); n != 1 || err != nil {
		t.Fatalf("RetryDead = %d, %v", n, err)
	}
	s.Close()
	s = openStore(t, open)
	ds = s.(store.DeliveryStore)
	if got := retries(store.Forever, 10); !equalSeqs(got, []uint64{6, 12, 4}) {
		t.Fatalf("after RetryDead and reopen: %v, want 6 12 4", got)
	}
	if log := deliveryLog(t, ds, "ggd", "email"); log.Cursor != 14 || log.Waiting != 3 || log.FirstWaiting != 4 || log.Dead != 0 {
		t.Fatalf("after RetryDead and reopen: %+v", log)
	}
}

// testLastSeq: LastSeq is the recipient's last event's number, moves only
// when events of the recipient commit, survives a re-open, and a cursor
// moved to it skips exactly the events committed so far.
func testLastSeq(t *testing.T, open Opener) {
	s, ds := deliveryStore(t, open)
	if n := ds.LastSeq("ggd"); n != 0 {
		t.Fatalf("LastSeq of an empty outbox = %d, want 0", n)
	}
	y := Youth(1, 41)
	appendEvents(t, s, y,
		store.Event{Type: store.EventMatch, At: t0, Recipient: "ggd"},
		store.Event{Type: store.EventMatch, At: t0, Recipient: "wij"})
	appendEvents(t, s, y, store.Event{Type: store.EventCoordinator, At: t0, Recipient: "wij"})
	if n := ds.LastSeq("wij"); n != 2 {
		t.Fatalf("LastSeq(wij) = %d, want its last event's 2", n)
	}
	last := uint64(1)
	if n := ds.LastSeq("ggd"); n != last {
		t.Fatalf("LastSeq(ggd) = %d, want its last event's %d", n, last)
	}
	if n := ds.LastSeq("bureau"); n != 0 {
		t.Fatalf("LastSeq of a recipient without events = %d, want 0", n)
	}
	// No event committed: no change.
	put(t, s, []pseudonym.Pseudonym{y}, Reg(y, "ggd", t0))
	boom := errors.New("boom")
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.Append(store.Event{Type: store.EventMatch, At: t0, Recipient: "ggd"})
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failed update: %v", err)
	}
	if n := ds.LastSeq("ggd"); n != last {
		t.Fatalf("LastSeq after updates without events = %d, want %d", n, last)
	}
	// A cursor moved to LastSeq skips what is there, and nothing later.
	if err := ds.RecordDeliveries(ctx, "ggd", "email", ds.LastSeq("ggd"), nil); err != nil {
		t.Fatal(err)
	}
	if evs, _, err := store.Undelivered(ctx, undelivered{s, ds}, "ggd", "email", 100); err != nil || len(evs) != 0 {
		t.Fatalf("undelivered after moving the cursor to LastSeq: %v, %v", evs, err)
	}
	appendEvents(t, s, y, store.Event{Type: store.EventEnded, At: t0, Recipient: "ggd"})
	evs, _, err := store.Undelivered(ctx, undelivered{s, ds}, "ggd", "email", 100)
	if err != nil || len(evs) != 1 || evs[0].Seq != last+1 || evs[0].Type != store.EventEnded {
		t.Fatalf("undelivered after a new event: %v, %v", evs, err)
	}
	last = evs[0].Seq
	if n := ds.LastSeq("ggd"); n != last {
		t.Fatalf("LastSeq = %d, want %d", n, last)
	}
	s.Close()
	s = openStore(t, open)
	if n := s.(store.DeliveryStore).LastSeq("ggd"); n != last {
		t.Fatalf("LastSeq after re-open = %d, want %d", n, last)
	}
	appendEvents(t, s, y, store.Event{Type: store.EventEnded, At: t0, Recipient: "wij"})
	if n := s.(store.DeliveryStore).LastSeq("wij"); n != 3 {
		t.Fatalf("LastSeq(wij) after re-open and a new event = %d, want 3", n)
	}
	if n := s.(store.DeliveryStore).LastSeq("ggd"); n != last {
		t.Fatalf("LastSeq(ggd) moved with wij's event: %d, want %d", n, last)
	}
}

// undelivered joins a Store's Events and a DeliveryStore's DeliveryLog for
// store.Undelivered.
type undelivered struct {
	store.Store
	store.DeliveryStore
}

// testLastSeqConcurrent: while writers commit, every event of a recipient
// numbered up to what LastSeq returned for it is readable already: none at
// or below it fills in later.
func testLastSeqConcurrent(t *testing.T, open Opener) {
	s, ds := deliveryStore(t, open)
	const workers, each = 8, 40
	done := appendConcurrently(t, s, 4, workers, each)
	const total = workers * each
	type look struct {
		recipient string
		mark      uint64
		seen      map[uint64]bool
	}
	var looks []look
	prev := map[string]uint64{}
	for i, running := 0, true; running; i++ {
		select {
		case <-done:
			running = false
		default:
		}
		recipient := []string{"ggd", "wij"}[i%2]
		mark := ds.LastSeq(recipient)
		if mark < prev[recipient] {
			t.Fatalf("LastSeq(%s) went back from %d to %d", recipient, prev[recipient], mark)
		}
		prev[recipient] = mark
		evs, err := s.Events(ctx, recipient, 0, total)
		if err != nil {
			t.Fatal(err)
		}
		l := look{recipient: recipient, mark: mark, seen: map[uint64]bool{}}
		for _, e := range evs {
			l.seen[e.Seq] = true
		}
		looks = append(looks, l)
	}
	for _, recipient := range []string{"ggd", "wij"} {
		all, err := s.Events(ctx, recipient, 0, total+1)
		if err != nil || len(all) != total {
			t.Fatalf("%s: %d events, want %d (%v)", recipient, len(all), total, err)
		}
		if n := ds.LastSeq(recipient); n != total || all[total-1].Seq != total {
			t.Fatalf("LastSeq(%s) at rest = %d, last event %d, want %d", recipient, n, all[total-1].Seq, total)
		}
	}
	for _, l := range looks {
		for seq := uint64(1); seq <= l.mark; seq++ {
			if !l.seen[seq] {
				t.Fatalf("event %d of %s was not readable when LastSeq said %d", seq, l.recipient, l.mark)
			}
		}
	}
}
