package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// Metrics are the service's Prometheus metrics, on their own registry, every
// name prefixed vindex_. Labels are bounded: route, status class, kind,
// outcome, event type, institution (from the covenant) and key ID. Never a
// pseudonym, a registration ID or a contact.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	registrations *prometheus.CounterVec
	matches       prometheus.Counter
	assignments   prometheus.Counter
	events        *prometheus.CounterVec
	deliveries    *prometheus.CounterVec

	mu      sync.Mutex
	cursors map[string]uint64 // institution → last after polled
}

// NewMetrics returns the metrics on a new registry, with the Go runtime and
// process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), cursors: map[string]uint64{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vindex_http_requests_total", Help: "HTTP requests served, by route pattern and status class.",
	}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "vindex_http_request_duration_seconds", Help: "Time to serve an HTTP request, by route pattern and status class.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "code"})
	m.registrations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vindex_registrations_total", Help: "Reports accepted, by kind and outcome (new, refreshed, replayed).",
	}, []string{"kind", "outcome"})
	m.matches = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vindex_matches_total", Help: "Committed changes that made a match (an institution joined a youth another institution is involved with).",
	})
	m.assignments = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vindex_coordinator_assignments_total", Help: "Committed changes that assigned a coordinator (first assignment or reassignment).",
	})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vindex_outbox_events_total", Help: "Outbox events committed, by type.",
	}, []string{"type"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vindex_deliveries_total", Help: "Delivery attempts of outbox events, by channel (email, webhook) and result (delivered, failed, dead).",
	}, []string{"channel", "result"})
	m.reg.MustRegister(m.requests, m.duration, m.registrations, m.matches, m.assignments, m.events, m.deliveries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, to add collectors of one's own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *Metrics) request(route string, status int, d time.Duration) {
	class := strconv.Itoa(status/100) + "xx"
	m.requests.WithLabelValues(route, class).Inc()
	m.duration.WithLabelValues(route, class).Observe(d.Seconds())
}

func (m *Metrics) registered(kind string, r matcher.Result) {
	outcome := "new"
	switch {
	case r.Replayed:
		outcome = "replayed"
	case r.Refreshed:
		outcome = "refreshed"
	}
	m.registrations.WithLabelValues(kind, outcome).Inc()
}

func (m *Metrics) polled(institution string, after uint64) {
	m.mu.Lock()
	if after > m.cursors[institution] {
		m.cursors[institution] = after
	}
	m.mu.Unlock()
}

// WrapStore returns s with its committed changes counted: matches,
// coordinator assignments and outbox events by type. Give the matcher the
// wrapped store.
func (m *Metrics) WrapStore(s store.Store) store.Store { return &countingStore{Store: s, m: m} }

type countingStore struct {
	store.Store
	m *Metrics
}

type countingTx struct {
	store.Tx
	counts [8]int
}

func (t *countingTx) Append(e store.Event) {
	if int(e.Type) < len(t.counts) {
		t.counts[e.Type]++
	}
	t.Tx.Append(e)
}

func (s *countingStore) count(c *countingTx) {
	if c.counts[store.EventMatch] > 0 {
		s.m.matches.Inc()
	}
	if c.counts[store.EventCoordinator] > 0 {
		s.m.assignments.Inc()
	}
	for t, n := range c.counts {
		if n > 0 {
			s.m.events.WithLabelValues(store.EventType(t).String()).Add(float64(n))
		}
	}
}

func (s *countingStore) Update(ctx context.Context, youth []pseudonym.Pseudonym, fn func(store.Tx) error) error {
	return s.counted(fn, func(f func(store.Tx) error) error { return s.Store.Update(ctx, youth, f) })
}

func (s *countingStore) UpdateByID(ctx context.Context, id store.ID, fn func(store.Tx) error) error {
	return s.counted(fn, func(f func(store.Tx) error) error { return s.Store.UpdateByID(ctx, id, f) })
}

// counted runs fn through update with the Tx counting what it appends,
// and counts it once the update has committed.
func (s *countingStore) counted(fn func(store.Tx) error, update func(func(store.Tx) error) error) error {
	var c *countingTx
	err := update(func(tx store.Tx) error {
		c = &countingTx{Tx: tx}
		return fn(c)
	})
	if err == nil && c != nil {
		s.count(c)
	}
	return err
}

// backlogCap bounds the events counted per institution per scrape.
const backlogCap = 10000

// WatchOutbox adds vindex_outbox_backlog_events: per institution of the
// covenant, the events after the last sequence number it polled
// GET /v1/events with (since this process started; from 0 before its first
// poll), counted up to 10,000 at each scrape.
func (m *Metrics) WatchOutbox(s store.Store, cov *rules.Covenant) {
	desc := prometheus.NewDesc("vindex_outbox_backlog_events",
		"Outbox events after the institution's last poll (counted up to 10000).", []string{"institution"}, nil)
	m.reg.MustRegister(collectorFunc{desc: []*prometheus.Desc{desc}, collect: func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, inst := range cov.Institutions {
			m.mu.Lock()
			after := m.cursors[inst.ID]
			m.mu.Unlock()
			evs, err := s.Events(ctx, inst.ID, after, backlogCap)
			if err != nil {
				ch <- prometheus.NewInvalidMetric(desc, err)
				return
			}
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(len(evs)), inst.ID)
		}
	}})
}

// ObserveDelivery counts one delivery attempt in
// vindex_deliveries_total{channel, result}.
func (m *Metrics) ObserveDelivery(channel, result string) {
	m.deliveries.WithLabelValues(channel, result).Inc()
}

// DeliveryState is what WatchDeliveries reads: the outbox and the delivery
// state beside it.
type DeliveryState interface {
	Events(ctx context.Context, recipient string, after uint64, limit int) ([]store.Event, error)
	DeliveryLog(ctx context.Context, recipient, channel string) (store.DeliveryLog, error)
	DeadDeliveries(ctx context.Context, recipient, channel string) ([]store.Delivery, error)
}

// WatchDeliveries adds, per channel, summed over the institutions that
// have it (channels gives an institution's channels):
// vindex_delivery_backlog_events (events not yet delivered, counted up to
// 10000 per institution), vindex_delivery_oldest_seconds (age of the oldest
// of them) and vindex_delivery_dead_events (given up, awaiting vindex outbox
// retry).
func (m *Metrics) WatchDeliveries(s DeliveryState, institutions []string, channels func(institution string) []string) {
	backlog := prometheus.NewDesc("vindex_delivery_backlog_events", "Events not yet delivered on the channel (counted up to 10000 per institution).", []string{"channel"}, nil)
	oldest := prometheus.NewDesc("vindex_delivery_oldest_seconds", "Age of the oldest event not yet delivered on the channel.", []string{"channel"}, nil)
	dead := prometheus.NewDesc("vindex_delivery_dead_events", "Events given up on the channel (vindex outbox retry).", []string{"channel"}, nil)
	type figures struct {
		backlog, dead int
		oldest        time.Duration
	}
	m.reg.MustRegister(collectorFunc{desc: []*prometheus.Desc{backlog, oldest, dead}, collect: func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		now := time.Now()
		per := map[string]*figures{}
		var order []string
		for _, inst := range institutions {
			for _, channel := range channels(inst) {
				f := per[channel]
				if f == nil {
					f = &figures{}
					per[channel] = f
					order = append(order, channel)
				}
				evs, _, err := store.Undelivered(ctx, s, inst, channel, backlogCap)
				if err != nil {
					ch <- prometheus.NewInvalidMetric(backlog, err)
					return
				}
				f.backlog += len(evs)
				for _, e := range evs {
					f.oldest = max(f.oldest, now.Sub(e.At))
				}
				d, err := s.DeadDeliveries(ctx, inst, channel)
				if err != nil {
					ch <- prometheus.NewInvalidMetric(dead, err)
					return
				}
				f.dead += len(d)
			}
		}
		for _, channel := range order {
			f := per[channel]
			ch <- prometheus.MustNewConstMetric(backlog, prometheus.GaugeValue, float64(f.backlog), channel)
			ch <- prometheus.MustNewConstMetric(oldest, prometheus.GaugeValue, f.oldest.Seconds(), channel)
			ch <- prometheus.MustNewConstMetric(dead, prometheus.GaugeValue, float64(f.dead), channel)
		}
	}})
}

// WatchKeys adds vindex_keys_in_use (the number of enabled PRF keys) and
// vindex_key_info{key_id, primary} for each of them.
func (m *Metrics) WatchKeys(p *pseudonym.Pseudonymiser) {
	inUse := prometheus.NewDesc("vindex_keys_in_use", "Enabled PRF keys pseudonyms are computed under.", nil, nil)
	info := prometheus.NewDesc("vindex_key_info", "An enabled PRF key, by key ID; primary is true for the key new records are written under.", []string{"key_id", "primary"}, nil)
	m.reg.MustRegister(collectorFunc{desc: []*prometheus.Desc{inUse, info}, collect: func(ch chan<- prometheus.Metric) {
		ids := p.KeyIDs()
		ch <- prometheus.MustNewConstMetric(inUse, prometheus.GaugeValue, float64(len(ids)))
		for _, id := range ids {
			ch <- prometheus.MustNewConstMetric(info, prometheus.GaugeValue, 1,
				strconv.FormatUint(uint64(id), 10), strconv.FormatBool(id == p.PrimaryKeyID()))
		}
	}})
}

// WatchKeyUse adds vindex_key_live_registrations{key_id}: how many live
// registrations each key still holds (a key with none can be retired).
func (m *Metrics) WatchKeyUse(s interface{ LiveByKey() map[uint32]int64 }) {
	desc := prometheus.NewDesc("vindex_key_live_registrations", "Live registrations held under pseudonyms of each key.", []string{"key_id"}, nil)
	m.reg.MustRegister(collectorFunc{desc: []*prometheus.Desc{desc}, collect: func(ch chan<- prometheus.Metric) {
		for id, n := range s.LiveByKey() {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), strconv.FormatUint(uint64(id), 10))
		}
	}})
}

// WatchPebble adds the store's size and Pebble's health: disk use,
// level-0 files, read amplification, compaction debt, memtable and WAL
// sizes, and block cache hits and misses.
func (m *Metrics) WatchPebble(s interface{ Metrics() *pebble.Metrics }) {
	type gauge struct {
		d *prometheus.Desc
		f func(*pebble.Metrics) float64
		t prometheus.ValueType
	}
	g := func(name, help string, t prometheus.ValueType, f func(*pebble.Metrics) float64) gauge {
		return gauge{prometheus.NewDesc(name, help, nil, nil), f, t}
	}
	gs := []gauge{
		g("vindex_store_disk_bytes", "Disk space used by the store.", prometheus.GaugeValue, func(p *pebble.Metrics) float64 { return float64(p.DiskSpaceUsage()) }),
		g("vindex_store_l0_tables", "Tables in Pebble's level 0 (many means writes outpace compaction).", prometheus.GaugeValue, func(p *pebble.Metrics) float64 { return float64(p.Levels[0].TablesCount) }),
		g("vindex_store_read_amplification", "Pebble's read amplification.", prometheus.GaugeValue, func(p *pebble.Metrics) float64 { return float64(p.ReadAmp()) }),
		g("vindex_store_compaction_debt_bytes", "Pebble's estimate of the bytes to compact to reach a stable state.", prometheus.GaugeValue, func(p *pebble.Metrics) float64 { return float64(p.Compact.EstimatedDebt) }),
		g("vindex_store_compactions_in_progress", "Pebble compactions running.", prometheus.GaugeValue, func(p *pebble.Metrics) float64 { return float64(p.Compact.NumInProgress) }),
		g("vindex_store_memtable_bytes", "Bytes allocated by Pebble's memtables.", prometheus.GaugeValue, func(p *pebble.Metrics) float64 { return float64(p.MemTable.Size) }),
		g("vindex_store_wal_bytes", "Live bytes in Pebble's write-ahead log.", prometheus.GaugeValue, func(p *pebble.Metrics) float64 { return float64(p.WAL.Size) }),
		g("vindex_store_flushes_total", "Pebble memtable flushes.", prometheus.CounterValue, func(p *pebble.Metrics) float64 { return float64(p.Flush.Count) }),
		g("vindex_store_block_cache_hits_total", "Pebble block cache hits.", prometheus.CounterValue, func(p *pebble.Metrics) float64 { return float64(p.BlockCache.Hits) }),
		g("vindex_store_block_cache_misses_total", "Pebble block cache misses.", prometheus.CounterValue, func(p *pebble.Metrics) float64 { return float64(p.BlockCache.Misses) }),
	}
	var descs []*prometheus.Desc
	for _, x := range gs {
		descs = append(descs, x.d)
	}
	m.reg.MustRegister(collectorFunc{desc: descs, collect: func(ch chan<- prometheus.Metric) {
		pm := s.Metrics()
		for _, x := range gs {
			ch <- prometheus.MustNewConstMetric(x.d, x.t, x.f(pm))
		}
	}})
}

type collectorFunc struct {
	desc    []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.desc {
		ch <- d
	}
}

func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
