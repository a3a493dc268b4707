package pebblestore

import (
	"strconv"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns the store's Prometheus metrics, every name prefixed
// vindex_, labelled only by key ID:
//
//   - the store's size and Pebble's health: vindex_store_disk_bytes,
//     vindex_store_l0_tables, vindex_store_read_amplification,
//     vindex_store_compaction_debt_bytes,
//     vindex_store_compactions_in_progress, vindex_store_memtable_bytes,
//     vindex_store_wal_bytes, vindex_store_flushes_total,
//     vindex_store_block_cache_hits_total and
//     vindex_store_block_cache_misses_total;
//   - while the store watches its free disk space (Options.MinFreeBytes
//     not negative, on the operating system's file system):
//     vindex_store_disk_free_bytes, the bytes available on the data
//     directory's file system as of the last check (at most 200 ms old),
//     and vindex_store_disk_min_free_bytes, below which writes are
//     refused;
//   - commits: vindex_store_commits_total, the updates and audit
//     appends the store has committed (not a replicated store's, nor a
//     load's, which commit otherwise), and vindex_store_commit_groups_total,
//     the Pebble batches they were applied in (concurrent commits are
//     applied together; the ratio is the mean group's size);
//   - key use: vindex_key_live_registrations{key_id}, the live
//     registrations held under pseudonyms of each PRF key (a key with none
//     can be retired), and vindex_key_client_refs{key_id}, the
//     registrations whose client reference is sealed under each reference
//     key (see LiveByKey and RefsByKey).
//
// A scrape reads Pebble's in-memory metrics and the key-use counts the
// store keeps as it commits: it reads nothing from disk, and its cost does
// not depend on how much the store holds.
func (s *Store) Collector() prometheus.Collector {
	return &collector{s: s}
}

type pebbleGauge struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*pebble.Metrics) float64
}

func newPebbleGauge(name, help string, kind prometheus.ValueType, value func(*pebble.Metrics) float64) pebbleGauge {
	return pebbleGauge{prometheus.NewDesc(name, help, nil, nil), kind, value}
}

var pebbleGauges = []pebbleGauge{
	newPebbleGauge("vindex_store_disk_bytes", "Disk space used by the store.", prometheus.GaugeValue,
		func(p *pebble.Metrics) float64 { return float64(p.DiskSpaceUsage()) }),
	newPebbleGauge("vindex_store_l0_tables", "Tables in Pebble's level 0 (many means writes outpace compaction).", prometheus.GaugeValue,
		func(p *pebble.Metrics) float64 { return float64(p.Levels[0].TablesCount) }),
	newPebbleGauge("vindex_store_read_amplification", "Pebble's read amplification.", prometheus.GaugeValue,
		func(p *pebble.Metrics) float64 { return float64(p.ReadAmp()) }),
	newPebbleGauge("vindex_store_compaction_debt_bytes", "Pebble's estimate of the bytes to compact to reach a stable state.", prometheus.GaugeValue,
		func(p *pebble.Metrics) float64 { return float64(p.Compact.EstimatedDebt) }),
	newPebbleGauge("vindex_store_compactions_in_progress", "Pebble compactions running.", prometheus.GaugeValue,
		func(p *pebble.Metrics) float64 { return float64(p.Compact.NumInProgress) }),
	newPebbleGauge("vindex_store_memtable_bytes", "Bytes allocated by Pebble's memtables.", prometheus.GaugeValue,
		func(p *pebble.Metrics) float64 { return float64(p.MemTable.Size) }),
	newPebbleGauge("vindex_store_wal_bytes", "Live bytes in Pebble's write-ahead log.", prometheus.GaugeValue,
		func(p *pebble.Metrics) float64 { return float64(p.WAL.Size) }),
	newPebbleGauge("vindex_store_flushes_total", "Pebble memtable flushes.", prometheus.CounterValue,
		func(p *pebble.Metrics) float64 { return float64(p.Flush.Count) }),
	newPebbleGauge("vindex_store_block_cache_hits_total", "Pebble block cache hits.", prometheus.CounterValue,
		func(p *pebble.Metrics) float64 { return float64(p.BlockCache.Hits) }),
	newPebbleGauge("vindex_store_block_cache_misses_total", "Pebble block cache misses.", prometheus.CounterValue,
		func(p *pebble.Metrics) float64 { return float64(p.BlockCache.Misses) }),
}

var (
	liveByKeyDesc = prometheus.NewDesc("vindex_key_live_registrations",
		"Live registrations held under pseudonyms of each key.", []string{"key_id"}, nil)
	refsByKeyDesc = prometheus.NewDesc("vindex_key_client_refs",
		"Registrations (live or ended) whose client reference is sealed under each reference key.", []string{"key_id"}, nil)
)

var (
	diskFreeDesc = prometheus.NewDesc("vindex_store_disk_free_bytes",
		"Bytes available on the data directory's file system, as of the last check (every 200 ms).", nil, nil)
	diskMinFreeDesc = prometheus.NewDesc("vindex_store_disk_min_free_bytes",
		"Free bytes on the data directory's file system below which the store refuses writes.", nil, nil)
)

var (
	commitsDesc = prometheus.NewDesc("vindex_store_commits_total",
		"Updates and audit appends the store committed (not in a replicated store or a load).", nil, nil)
	commitGroupsDesc = prometheus.NewDesc("vindex_store_commit_groups_total",
		"Pebble batches the store's commits were applied in: concurrent commits are applied together.", nil, nil)
)

type collector struct{ s *Store }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range pebbleGauges {
		ch <- g.desc
	}
	ch <- liveByKeyDesc
	ch <- refsByKeyDesc
	ch <- diskFreeDesc
	ch <- diskMinFreeDesc
	ch <- commitsDesc
	ch <- commitGroupsDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	// A closed store has no Pebble metrics; its key use stays readable.
	if c.s.enter() == nil {
		pm := c.s.db.Metrics()
		c.s.leave()
		for _, g := range pebbleGauges {
			ch <- prometheus.MustNewConstMetric(g.desc, g.kind, g.value(pm))
		}
	}
	ch <- prometheus.MustNewConstMetric(commitsDesc, prometheus.CounterValue, float64(c.s.group.commits.Load()))
	ch <- prometheus.MustNewConstMetric(commitGroupsDesc, prometheus.CounterValue, float64(c.s.group.groups.Load()))
	if g := c.s.disk; g != nil {
		ch <- prometheus.MustNewConstMetric(diskFreeDesc, prometheus.GaugeValue, float64(g.lastFree.Load()))
		ch <- prometheus.MustNewConstMetric(diskMinFreeDesc, prometheus.GaugeValue, float64(g.min))
	}
	for id, n := range c.s.LiveByKey() {
		ch <- prometheus.MustNewConstMetric(liveByKeyDesc, prometheus.GaugeValue, float64(n), strconv.FormatUint(uint64(id), 10))
	}
	for id, n := range c.s.RefsByKey() {
		ch <- prometheus.MustNewConstMetric(refsByKeyDesc, prometheus.GaugeValue, float64(n), strconv.FormatUint(uint64(id), 10))
	}
}
