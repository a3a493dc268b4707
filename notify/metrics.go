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
// the worker as it works, from what it reads anyway and the events appended
// since its last look: a scrape reads nothing from the store, and neither a
// look nor a scrape costs more with a longer backlog. Only the worker's
// first look at an outbox (and its first after a cursor moved under it, as
// vindex outbox retry does) counts the backlog above the cursor and the dead
// list in full, once.
//
// When the oldest undelivered event lies beyond the batch the worker read
// (every event in the batch was settled), its age is taken from the batch's
// last event: an upper bound, which the next round, at once, corrects.
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
	tally tally
	// settled counts the settled (delivered or dead) events above the
	// cursor; the backlog is tally.n - settled.
	settled int64
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
			Name: "vindex_deliveries_total", Help: "Delivery attempts of outbox events, by channel (email, webhook) and result (delivered, failed, dead).",
		}, []string{"channel", "result"}),
		outboxes: map[outbox]*deliveryFigures{},
	}
}

// attempted counts one delivery attempt.
func (m *Metrics) attempted(channel string, r Result) {
	m.deliveries.WithLabelValues(channel, string(r)).Inc()
}

// look is what the worker saw and did in one look at an outbox on a
// channel.
type look struct {
	// before and after are the delivery cursor before and after the look.
	before, after uint64
	// batch are the events read above before, in order.
	batch []store.Event
	// states are the delivery states of the events above after that were
	// ever tried (settled or not), by sequence number.
	states map[uint64]store.Delivery
	// died is how many events the look gave up on.
	died int
}

// looked brings the figures of inst's outbox on channel up to date after a
// look of the worker (after its delivery state was recorded).
func (m *Metrics) looked(ctx context.Context, s Store, inst, channel string, l look) error {
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
	if !ok || cur.tally.pos != l.before {
		// First look, or the cursor moved under the worker: count afresh.
		// Dead events are in the dead list once the cursor has passed
		// them, and in the delivery states above it until then.
		listed, err := s.DeadDeliveries(ctx, inst, channel)
		if err != nil {
			return err
		}
		cur = deliveryFigures{tally: tally{pos: l.before, seen: l.before}, dead: int64(len(listed))}
		for seq, d := range l.states {
			if seq > l.after && d.Dead {
				cur.dead++
			}
		}
	} else {
		cur.dead += int64(l.died)
	}
	cur.tally.advanceKnown(l.after, l.batch)
	if err := cur.tally.catchUp(ctx, s, inst); err != nil {
		// This look's figures (its dead events among them) are lost: the
		// next look counts afresh.
		m.mu.Lock()
		delete(m.outboxes, key)
		m.mu.Unlock()
		return err
	}
	cur.settled, cur.oldest = 0, time.Time{}
	for seq, d := range l.states {
		if seq > l.after && seq <= cur.tally.seen && d.Settled() {
			cur.settled++
		}
	}
	if cur.tally.n > cur.settled {
		cur.oldest = oldestUnsettled(l)
	}
	m.mu.Lock()
	m.outboxes[key] = &cur
	m.mu.Unlock()
	return nil
}

// oldestUnsettled returns when the first unsettled event of the batch above
// the cursor was appended, or, if there is none in the batch, the batch's
// last event's (the oldest undelivered event is younger).
func oldestUnsettled(l look) time.Time {
	for _, e := range l.batch {
		if e.Seq > l.after && !l.states[e.Seq].Settled() {
			return e.At
		}
	}
	if len(l.batch) > 0 {
		return l.batch[len(l.batch)-1].At
	}
	return time.Time{}
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
		s.backlog += max(f.tally.n-f.settled, 0)
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
