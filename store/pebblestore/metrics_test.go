package pebblestore_test

import (
	"math"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// TestCollector: the store's collector gives Pebble's gauges and the live
// registrations and client references per key, as the store commits them.
func TestCollector(t *testing.T) {
	s, err := pebblestore.Open("db", &pebblestore.Options{FS: vfs.NewMem(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collector())

	youth := pseudonym.Pseudonym{KeyID: 7, Sum: [pseudonym.Size]byte{1, 2, 3}}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, ref := range [][]byte{{1, 0, 0, 0, 9, 0xaa}, nil} {
		r := store.Registration{ID: store.NewID(), Youth: youth, Institution: "school", Kind: store.KindSignal,
			CreatedAt: now, UpdatedAt: now, EndsOn: now.AddDate(2, 0, 0).Truncate(24 * time.Hour), ClientRef: ref}
		if err := s.Update(ctx, []pseudonym.Pseudonym{youth}, func(tx store.Tx) error { tx.Put(r); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP vindex_key_client_refs Registrations (live or ended) whose client reference is sealed under each reference key.
# TYPE vindex_key_client_refs gauge
vindex_key_client_refs{key_id="9"} 1
# HELP vindex_key_live_registrations Live registrations held under pseudonyms of each key.
# TYPE vindex_key_live_registrations gauge
vindex_key_live_registrations{key_id="7"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vindex_key_live_registrations", "vindex_key_client_refs"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, name := range []string{"vindex_store_disk_bytes", "vindex_store_l0_tables", "vindex_store_read_amplification",
		"vindex_store_compaction_debt_bytes", "vindex_store_memtable_bytes", "vindex_store_wal_bytes",
		"vindex_store_flushes_total", "vindex_store_block_cache_hits_total", "vindex_store_block_cache_misses_total",
		"vindex_store_commits_total", "vindex_store_commit_groups_total"} {
		if !got[name] {
			t.Errorf("no %s", name)
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	// A closed store is scraped without a panic.
	s.Close()
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorDiskFree: while the store watches its free disk space, the
// collector gives the free bytes (as the file system reports them) and the
// minimum below which writes are refused; with the check off, neither.
func TestCollectorDiskFree(t *testing.T) {
	for _, min := range []int64{1 << 10, -1} {
		dir := t.TempDir()
		s, err := pebblestore.Open(filepath.Join(dir, "db"), &pebblestore.Options{Logger: quiet(), MinFreeBytes: min})
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(s.Collector())
		got := gauges(t, reg)
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		free, watched := got["vindex_store_disk_free_bytes"]
		switch {
		case min < 0 && (watched || got["vindex_store_disk_min_free_bytes"] != 0):
			t.Errorf("free disk check off, yet %v", got)
		case min > 0 && got["vindex_store_disk_min_free_bytes"] != float64(min):
			t.Errorf("vindex_store_disk_min_free_bytes %v, want %d", got["vindex_store_disk_min_free_bytes"], min)
		case min > 0 && (free <= 0 || math.Abs(free-float64(int64(st.Bavail)*st.Bsize)) > 256<<20):
			t.Errorf("vindex_store_disk_free_bytes %v, the file system says %d", free, int64(st.Bavail)*st.Bsize)
		}
		if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %v", problems, err)
		}
		s.Close()
	}
}

// gauges gathers reg's unlabelled gauges by name.
func gauges(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if m := mf.GetMetric(); len(m) == 1 && len(m[0].GetLabel()) == 0 && m[0].GetGauge() != nil {
			out[mf.GetName()] = m[0].GetGauge().GetValue()
		}
	}
	return out
}
