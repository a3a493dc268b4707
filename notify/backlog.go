package notify

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vindex-nl/vindex/store"
)

// PollBacklog keeps vindex_outbox_backlog_events{institution}: per
// institution of the covenant, the outbox events after the highest position
// it has polled GET /v1/events with (the after parameter; since this process
// started, and from 0 before its first poll), for institutions that fetch
// their events rather than have them delivered. Tell it each poll
// (Polled) and run it (Run); register it (it is a prometheus.Collector).
//
// The gauge is as of its last update, at most Every old. An update reads
// the events appended since the last one and, for an institution that
// polled, the events between its old and new positions: its work grows with
// what was appended and fetched, not with the backlog, and a scrape reads
// nothing from the store. The first update counts each institution's
// outbox in full, once.
type PollBacklog struct {
	src   EventSource
	every time.Duration
	insts []string
	per   map[string]*pollFigures

	updating sync.Mutex
}

// EventSource reads the outbox (store.Store.Events).
type EventSource interface {
	Events(ctx context.Context, recipient string, after uint64, limit int) ([]store.Event, error)
}

type pollFigures struct {
	polled atomic.Uint64 // the highest after polled with
	n      atomic.Int64  // the backlog as of the last update
	tally  tally         // only Update reads and writes it
}

var pollBacklogDesc = prometheus.NewDesc("vindex_outbox_backlog_events",
	"Outbox events after the institution's last poll of GET /v1/events, as of the last update.", []string{"institution"}, nil)

var _ prometheus.Collector = (*PollBacklog)(nil)

// NewPollBacklog returns a PollBacklog of the given institutions' outboxes
// in src, updated every every (zero: one second) once running.
func NewPollBacklog(src EventSource, institutions []string, every time.Duration) *PollBacklog {
	if every <= 0 {
		every = time.Second
	}
	b := &PollBacklog{src: src, every: every, insts: slices.Clone(institutions), per: map[string]*pollFigures{}}
	for _, inst := range institutions {
		b.per[inst] = &pollFigures{}
	}
	return b
}

// Polled records that institution polled its events after the sequence
// number after. It is quick: the next update does the counting.
func (b *PollBacklog) Polled(institution string, after uint64) {
	f := b.per[institution]
	if f == nil {
		return
	}
	for {
		old := f.polled.Load()
		if after <= old || f.polled.CompareAndSwap(old, after) {
			return
		}
	}
}

// Run updates the gauge at once and then every Every, until ctx ends. A
// failed update is logged to logger (nil: discarded) and the gauge keeps
// its last figures until an update succeeds.
func (b *PollBacklog) Run(ctx context.Context, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(b.every)
	defer t.Stop()
	for {
		if err := b.Update(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("outbox backlog not updated; vindex_outbox_backlog_events keeps its last figures", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Update brings the gauge up to date with the outbox and the polls
// recorded. An institution whose outbox could not be read keeps its last
// figure and is counted on at the next update.
func (b *PollBacklog) Update(ctx context.Context) error {
	b.updating.Lock()
	defer b.updating.Unlock()
	var errs []error
	for _, inst := range b.insts {
		f := b.per[inst]
		t := f.tally
		err := t.advance(ctx, b.src, inst, f.polled.Load())
		if err == nil {
			err = t.catchUp(ctx, b.src, inst)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.tally = t
		f.n.Store(t.n)
	}
	return errors.Join(errs...)
}

// Describe implements prometheus.Collector.
func (b *PollBacklog) Describe(ch chan<- *prometheus.Desc) { ch <- pollBacklogDesc }

// Collect implements prometheus.Collector.
func (b *PollBacklog) Collect(ch chan<- prometheus.Metric) {
	for _, inst := range b.insts {
		ch <- prometheus.MustNewConstMetric(pollBacklogDesc, prometheus.GaugeValue, float64(b.per[inst].n.Load()), inst)
	}
}

// tally counts one institution's outbox events after a consumer's position
// without rereading the backlog: it counts each event once as it is
// appended (catchUp) and once as the position passes it (advance).
type tally struct {
	// pos is the consumer's position: the events at or below it are
	// consumed.
	pos uint64
	// seen is the last sequence number counted.
	seen uint64
	// n is the number of events in (pos, seen].
	n int64
}

// countPage is how many events one read of a count takes.
const countPage = 4096

// catchUp counts the events appended after seen.
func (t *tally) catchUp(ctx context.Context, src EventSource, inst string) error {
	n, last, err := countEvents(ctx, src, inst, max(t.seen, t.pos), math.MaxUint64)
	if err != nil {
		return err
	}
	t.n += n
	t.seen = max(t.seen, t.pos, last)
	return nil
}

// advance moves the position forward to p, uncounting the counted events it
// passes, which it reads from src.
func (t *tally) advance(ctx context.Context, src EventSource, inst string, p uint64) error {
	if p <= t.pos {
		return nil
	}
	if upto := min(p, t.seen); upto > t.pos {
		n, _, err := countEvents(ctx, src, inst, t.pos, upto)
		if err != nil {
			return err
		}
		t.n -= n
	}
	t.pos, t.seen = p, max(t.seen, p)
	return nil
}

// advanceKnown is advance for a consumer that has just read batch, the
// events after pos in order: it needs no read.
func (t *tally) advanceKnown(p uint64, batch []store.Event) {
	if p <= t.pos {
		return
	}
	for _, e := range batch {
		if e.Seq > t.pos && e.Seq <= min(p, t.seen) {
			t.n--
		}
	}
	t.pos, t.seen = p, max(t.seen, p)
}

// countEvents counts inst's events in (after, upto] and returns the last
// sequence number it met.
func countEvents(ctx context.Context, src EventSource, inst string, after, upto uint64) (n int64, last uint64, err error) {
	for {
		evs, err := src.Events(ctx, inst, after, countPage)
		if err != nil {
			return n, last, err
		}
		for _, e := range evs {
			if e.Seq > upto {
				return n, last, nil
			}
			n++
			last = e.Seq
		}
		if len(evs) < countPage {
			return n, last, nil
		}
		after = evs[len(evs)-1].Seq
	}
}
