package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// Channel delivers an institution's events one way: e-mail, a webhook.
type Channel interface {
	// Name is the channel's name in the delivery state and metrics.
	Name() string
	// Deliver sends e. nil means the channel took it; an error, that it
	// may not have arrived (it will be sent again, with the same ID).
	Deliver(ctx context.Context, e store.Event) error
}

// Store is what the worker needs of the store: the outbox and the delivery
// state beside it.
type Store interface {
	Events(ctx context.Context, recipient string, after uint64, limit int) ([]store.Event, error)
	store.DeliveryStore
}

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	Store Store
	// Channels returns the channels of an institution; none: its events
	// are not delivered (they stay in the outbox, readable over the API).
	Channels func(institution string) []Channel
	// Institutions lists the institutions whose outboxes are drained.
	Institutions func() []string
	// Poll is how long the worker waits when it found nothing to do; zero:
	// one second.
	Poll time.Duration
	// Batch is how many deliveries of one outbox and channel a round
	// attempts at most; zero: 32. A round takes the due retries from the
	// whole queue and looks for urgent events among the next 8 batches
	// after the cursor. A crash loses the record of at most one batch of
	// attempts per outbox and channel: those are delivered again (same
	// ID).
	Batch int
	// MinBackoff and MaxBackoff bound the wait before another attempt; it
	// doubles per attempt, with jitter. Zero: 5 s and 1 h.
	MinBackoff, MaxBackoff time.Duration
	// MaxAge is how long an event is tried before it is given up (dead);
	// zero: 72 h. A delivery refused for good (an SMTP server's 5xx to the
	// address or the message) is dead at once.
	MaxAge time.Duration
	// Clock returns the time; nil: time.Now.
	Clock func() time.Time
	// Logger gets one line per failed attempt and per dead event: the
	// institution, channel, event ID and error code, never content.
	Logger *slog.Logger
	// Observe, if set, is told the result of every attempt.
	Observe func(institution, channel string, result Result)
	// Metrics, if set, are kept up to date as the worker works: attempts
	// by result, and per channel the backlog, the age of its oldest event
	// and the dead events (see Metrics).
	Metrics *Metrics
}

// Result is the outcome of one attempt.
type Result string

// The results.
const (
	Delivered Result = "delivered"
	Failed    Result = "failed"
	Dead      Result = "dead"
)

// Worker drains the outbox: each event of each institution goes over each
// of its channels at least once. A failed delivery waits for its retry
// apart (store.DeliveryStore.Retries) and holds back no other event or
// channel; urgent deliveries go first. Its state is in the store, so a
// restart resumes where it stopped.
type Worker struct {
	c WorkerConfig
}

// NewWorker checks c and returns a Worker.
func NewWorker(c WorkerConfig) (*Worker, error) {
	if c.Store == nil || c.Channels == nil || c.Institutions == nil {
		return nil, errors.New("notify: a worker needs a store, channels and institutions")
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.Batch == 0 {
		c.Batch = 32
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 5 * time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Hour
	}
	if c.MaxAge == 0 {
		c.MaxAge = 72 * time.Hour
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{c: c}, nil
}

// Run drains the outbox until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	for ctx.Err() == nil {
		worked, err := w.Round(ctx)
		if err != nil && ctx.Err() == nil {
			w.c.Logger.Error("delivery round failed", slog.String("error", err.Error()))
		}
		if worked {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.c.Poll):
		}
	}
}

// Round looks once at every outbox and channel, attempting what is due, in
// parallel per institution and channel. It reports whether it attempted
// anything.
func (w *Worker) Round(ctx context.Context) (worked bool, err error) {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, inst := range w.c.Institutions() {
		for _, ch := range w.c.Channels(inst) {
			wg.Go(func() {
				n, err := w.drain(ctx, inst, ch)
				mu.Lock()
				defer mu.Unlock()
				if n > 0 {
					worked = true
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s/%s: %w", inst, ch.Name(), err))
				}
			})
		}
	}
	wg.Wait()
	return worked, errors.Join(errs...)
}

// lookahead is how many batches of events after the cursor a round looks
// at for urgent events never tried.
const lookahead = 8

// drain attempts what is due of one outbox on one channel, at most Batch:
// the deliveries waiting for a retry whose time has come (from the whole
// queue) and the events never tried after the cursor, urgent ones first and
// otherwise oldest first. It records the outcomes with the cursor moved over
// every event tried: a failed delivery waits for its retry in the queue,
// holding back no later event.
func (w *Worker) drain(ctx context.Context, inst string, ch Channel) (attempted int, err error) {
	log, err := w.c.Store.DeliveryLog(ctx, inst, ch.Name())
	if err != nil {
		return 0, err
	}
	retries, err := w.c.Store.Retries(ctx, inst, ch.Name(), w.c.Clock(), w.c.Batch)
	if err != nil {
		return 0, err
	}
	ahead, err := w.c.Store.Events(ctx, inst, log.Cursor, lookahead*w.c.Batch)
	if err != nil {
		return 0, err
	}
	tried := make(map[uint64]bool, len(log.States))
	for _, d := range log.States {
		tried[d.Seq] = true
	}
	due, gone, err := w.due(ctx, inst, retries, ahead, tried)
	if err != nil {
		return 0, err
	}
	changed := gone
	for _, c := range due {
		if ctx.Err() != nil {
			break
		}
		st := w.attempt(ctx, inst, ch, c.event, c.state)
		tried[st.Seq] = true
		changed = append(changed, st)
	}
	cursor := log.Cursor
	for _, e := range ahead {
		if !tried[e.Seq] {
			break
		}
		cursor = e.Seq
	}
	if len(changed) > 0 || cursor != log.Cursor {
		if err := w.c.Store.RecordDeliveries(context.WithoutCancel(ctx), inst, ch.Name(), cursor, changed); err != nil {
			return len(changed), err
		}
	}
	if w.c.Metrics != nil {
		if err := w.c.Metrics.looked(ctx, w.c.Store, inst, ch.Name(), log.Cursor, ahead); err != nil {
			return len(changed), fmt.Errorf("metrics: %w", err)
		}
	}
	return len(changed), nil
}

// candidate is an event due for an attempt and its delivery state so far.
type candidate struct {
	event store.Event
	state store.Delivery
}

// due returns what to attempt, at most Batch: the retries and the events
// of ahead never tried, urgent ones first and otherwise in outbox order.
// A retry whose event is no longer in the outbox is returned in gone, dead,
// so that it leaves the queue.
func (w *Worker) due(ctx context.Context, inst string, retries []store.Delivery, ahead []store.Event, tried map[uint64]bool) (due []candidate, gone []store.Delivery, err error) {
	due = make([]candidate, 0, len(retries)+len(ahead))
	for _, d := range retries {
		evs, err := w.c.Store.Events(ctx, inst, d.Seq-1, 1)
		if err != nil {
			return nil, nil, err
		}
		if len(evs) == 1 && evs[0].Seq == d.Seq {
			due = append(due, candidate{evs[0], d})
			continue
		}
		d.Dead, d.LastError = true, "event_gone"
		gone = append(gone, d)
	}
	for _, e := range ahead {
		if !tried[e.Seq] {
			due = append(due, candidate{e, store.Delivery{Seq: e.Seq}})
		}
	}
	slices.SortStableFunc(due, func(a, b candidate) int {
		if a.event.Urgent != b.event.Urgent {
			if a.event.Urgent {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.event.Seq, b.event.Seq)
	})
	return due[:min(len(due), w.c.Batch)], gone, nil
}

// attempt delivers e once on ch and returns its new state.
func (w *Worker) attempt(ctx context.Context, inst string, ch Channel, e store.Event, st store.Delivery) store.Delivery {
	now := w.c.Clock()
	if st.Attempts == 0 {
		st.FirstTry = now
	}
	st.Attempts++
	st.Urgent = e.Urgent
	id := EventID(inst, e.Seq)
	result := Delivered
	if derr := ch.Deliver(ctx, e); derr == nil {
		st.Delivered, st.LastError = true, ""
	} else {
		st.LastError = ErrorCode(derr)
		if permanent(derr) || now.Sub(e.At) >= w.c.MaxAge {
			st.Dead, result = true, Dead
			w.c.Logger.Error("event given up", slog.String("institution", inst), slog.String("channel", ch.Name()),
				slog.String("event", id), slog.Int("attempts", st.Attempts), slog.String("error", st.LastError))
		} else {
			st.NextTry, result = now.Add(w.backoff(st.Attempts)), Failed
			w.c.Logger.Warn("delivery failed", slog.String("institution", inst), slog.String("channel", ch.Name()),
				slog.String("event", id), slog.Int("attempt", st.Attempts), slog.String("error", st.LastError))
		}
	}
	if w.c.Observe != nil {
		w.c.Observe(inst, ch.Name(), result)
	}
	if w.c.Metrics != nil {
		w.c.Metrics.attempted(ch.Name(), result)
	}
	return st
}

// backoff is the wait before attempt n+1: MinBackoff doubled per attempt,
// at most MaxBackoff, between half and all of it (jitter), so that many
// failed deliveries do not come back at once.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.c.MinBackoff
	for i := 1; i < attempts && d < w.c.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.c.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// permanent reports whether err says that the delivery will never succeed
// as it is (an SMTP server refused the address or the message for good):
// the delivery is dead at once rather than retried until MaxAge.
func permanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// ErrorCode is the stable code of a delivery error, for the delivery state,
// logs and metrics: never its message, which could quote content.
func ErrorCode(err error) string {
	var se *SMTPError
	var he *HookError
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &he) && he.Status != 0:
		return fmt.Sprintf("http_%d", he.Status)
	case errors.As(err, &he):
		return "http_unreachable"
	case errors.As(err, &se) && se.Code() != 0:
		return fmt.Sprintf("smtp_%d", se.Code())
	case errors.As(err, &se):
		return "smtp_unreachable"
	}
	return "error"
}
