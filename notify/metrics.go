package notify

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vindex-nl/vindex/store"
)

// Metrics are the delivery worker's Prometheus metrics; give them to the
// worker in WorkerConfig.Metrics and register them (Metrics is a
// prometheus.Collector). Labelled only by channel and result:
//
//   - vindex_deliveries_total{channel,result}: delivery attempts, by result
//     (delivered, failed, dead); current, counted as each attempt ends.
//   - vindex_delivery_backlog_events{channel}: events not yet delivered
//     (neither delivered nor dead), summed over the institutions with the
//     channel;
//   - vindex_delivery_oldest_seconds{channel}: the age, at the scrape, of
//     the oldest of them;
//   - vindex_delivery_dead_events{channel}: events given up on, awaiting
//     vindex outbox retry.
//
// The three gauges are as of the worker's last look at each outbox and
// channel: at most WorkerConfig.Poll plus the length of one delivery round
// old. A channel appears once the worker has looked at it. They are kept by
// the worker as it works, from what it reads anyway, the counts the store
// keeps of the deliveries waiting for a retry and of the dead ones
// (store.DeliveryLog), and the events appended since its last look: a
// scrape reads nothing from the store, and neither a look nor a scrape
// costs more with a longer backlog. Only the worker's first look at an
// outbox (and its first after a cursor moved under it) counts the events
// above the cursor in full, once.
//
// When the oldest undelivered event lies beyond the events the worker read
// (every one of them was tried), its age is taken from the last of them:
// an upper bound, which the next round, at once, corrects.
type Metrics struct {
	deliveries *prometheus.CounterVec

	mu       sync.Mutex
	outboxes map[outbox]*deliveryFigures
}

type outbox struct{ institution, channel string }

// deliveryFigures are one institution's figures on one channel. Only the
// worker's goroutine for that outbox and channel writes them, under
// Metrics.mu.
type deliveryFigures struct {
	// tally counts the events above the cursor.
	tally tally
	// backlog counts the events not yet delivered: those above the
	// cursor never tried, and those waiting for a retry.
	backlog int64
	// oldest is when the oldest undelivered event was appended; zero if
	// none.
	oldest time.Time
	dead   int64
}

var (
	backlogDesc = prometheus.NewDesc("vindex_delivery_backlog_events",
		"Events not yet delivered on the channel, as of the worker's last look.", []string{"channel"}, nil)
	oldestDesc = prometheus.NewDesc("vindex_delivery_oldest_seconds",
		"Age of the oldest event not yet delivered on the channel.", []string{"channel"}, nil)
	deadDesc = prometheus.NewDesc("vindex_delivery_dead_events",
		"Events given up on the channel (vindex outbox retry).", []string{"channel"}, nil)
)

var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics returns delivery metrics with nothing counted yet.
func NewMetrics() *Metrics {
	return &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vindex_deliveries_total", Help: "Delivery attempts of outbox events, by channel (email, mailbox, webhook) and result (delivered, failed, dead).",
		}, []string{"channel", "result"}),
		outboxes: map[outbox]*deliveryFigures{},
	}
}

// attempted counts one delivery attempt.
func (m *Metrics) attempted(channel string, r Result) {
	m.deliveries.WithLabelValues(channel, string(r)).Inc()
}

// looked brings the figures of inst's outbox on channel up to date after a
// look of the worker, once its delivery state was recorded: before is the
// cursor the look began at, ahead the events it read after it, in order.
func (m *Metrics) looked(ctx context.Context, s Store, inst, channel string, before uint64, ahead []store.Event) error {
	key := outbox{inst, channel}
	m.mu.Lock()
	f, ok := m.outboxes[key]
	var cur deliveryFigures
	if ok {
		cur = *f
	}
	m.mu.Unlock()
	if !ok {
		for _, r := range []Result{Delivered, Failed, Dead} {
			m.deliveries.WithLabelValues(channel, string(r))
		}
	}
	log, err := s.DeliveryLog(ctx, inst, channel)
	if err != nil {
		return err
	}
	if !ok || cur.tally.pos != before {
		// First look, or the cursor moved under the worker: count the
		// events above the cursor afresh.
		cur = deliveryFigures{tally: tally{pos: before, seen: before}}
	}
	cur.tally.advanceKnown(log.Cursor, ahead)
	if err := cur.tally.catchUp(ctx, s, inst); err != nil {
		m.mu.Lock()
		delete(m.outboxes, key)
		m.mu.Unlock()
		return err
	}
	tried := make(map[uint64]bool, len(log.States))
	for _, d := range log.States {
		if d.Seq <= cur.tally.seen {
			tried[d.Seq] = true
		}
	}
	untried := cur.tally.n - int64(len(tried))
	cur.backlog, cur.dead = untried+int64(log.Waiting), int64(log.Dead)
	if cur.oldest, err = oldestUndelivered(ctx, s, inst, log, ahead, tried, untried > 0); err != nil {
		return err
	}
	m.mu.Lock()
	m.outboxes[key] = &cur
	m.mu.Unlock()
	return nil
}

// oldestUndelivered returns when the oldest undelivered event was appended:
// the first waiting for a retry, or the first never tried of ahead (if
// untried says there is one; if ahead was all tried, its last event's
// time, an upper bound), whichever is older; zero if none.
func oldestUndelivered(ctx context.Context, s Store, inst string, log store.DeliveryLog, ahead []store.Event, tried map[uint64]bool, untried bool) (time.Time, error) {
	var oldest time.Time
	if untried {
		for _, e := range ahead {
			if e.Seq > log.Cursor && !tried[e.Seq] {
				oldest = e.At
				break
			}
		}
		if oldest.IsZero() && len(ahead) > 0 {
			oldest = ahead[len(ahead)-1].At
		}
	}
	if log.FirstWaiting == 0 {
		return oldest, nil
	}
	evs, err := s.Events(ctx, inst, log.FirstWaiting-1, 1)
	if err != nil {
		return time.Time{}, err
	}
	if len(evs) == 1 && evs[0].Seq == log.FirstWaiting && (oldest.IsZero() || evs[0].At.Before(oldest)) {
		oldest = evs[0].At
	}
	return oldest, nil
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.deliveries.Describe(ch)
	ch <- backlogDesc
	ch <- oldestDesc
	ch <- deadDesc
}

// Collect implements prometheus.Collector. It reads only what the worker
// keeps in memory.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.deliveries.Collect(ch)
	type sums struct {
		backlog, dead int64
		oldest        time.Time
	}
	per := map[string]*sums{}
	m.mu.Lock()
	for k, f := range m.outboxes {
		s := per[k.channel]
		if s == nil {
			s = &sums{}
			per[k.channel] = s
		}
		s.backlog += max(f.backlog, 0)
		s.dead += f.dead
		if !f.oldest.IsZero() && (s.oldest.IsZero() || f.oldest.Before(s.oldest)) {
			s.oldest = f.oldest
		}
	}
	m.mu.Unlock()
	now := time.Now()
	for _, channel := range slices.Sorted(maps.Keys(per)) {
		s := per[channel]
		age := 0.0
		if !s.oldest.IsZero() {
			age = max(now.Sub(s.oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(s.backlog), channel)
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age, channel)
		ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(s.dead), channel)
	}
}
