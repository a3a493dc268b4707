package pebblestore_test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/benchcpu"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
	"github.com/vindex-nl/vindex/store/storetest"
)

// BenchmarkRawPebbleSyncedSet is the baseline: one synced Pebble write of a
// registration-sized value per operation, 64 concurrent writers, nothing
// else. It is the ceiling the store and the matcher are measured against.
func BenchmarkRawPebbleSyncedSet(b *testing.B) {
	db, err := pebble.Open(b.TempDir(), &pebble.Options{MemTableSize: 64 << 20, Logger: pebbleQuiet{}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, 300)
	b.SetParallelism(64 / runtime.GOMAXPROCS(0))
	cpu := benchcpu.Start()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := make([]byte, 37)
		for pb.Next() {
			rand.Read(key)
			if err := db.Set(key, val, pebble.Sync); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	cpu.Report(b)
}

// BenchmarkRawPebbleSyncedRegistration is the second baseline: what one
// registration writes, as bare Pebble writes, with nothing else. Each
// operation is one synced batch of the seven records a new youth's
// registration commits, in their sizes (the youth record, the ID index,
// the expiry index, one figures counter, the outbox event, the audit entry
// and its youth index), under random pseudonyms and IDs, with sequence
// numbers for the event and the entry; 64 concurrent writers, as in
// BenchmarkRawPebbleSyncedSet. The store's own work is what
// matcher.BenchmarkRegisterParallel takes beyond this; the key count is
// what this takes beyond BenchmarkRawPebbleSyncedSet.
func BenchmarkRawPebbleSyncedRegistration(b *testing.B) {
	benchSyncedRecords(b, registrationRecords, "regs/s")
}

// BenchmarkRawPebbleSyncedRecords is BenchmarkRawPebbleSyncedRegistration
// with the batch cut to its first n records, n from 1 to 7, in the order a
// registration could least do without them: the youth record, the audit
// entry, the outbox event, the ID index, the expiry index, the audit
// entry's youth index and the figures counter. It is the ceiling of a
// registration that writes n records, with no work of its own: what fewer
// records per registration could give at most. Each run reports the
// process's CPU time per batch (cpu-µs/op), Pebble's flushes and
// compactions included.
func BenchmarkRawPebbleSyncedRecords(b *testing.B) {
	for n := 1; n <= registrationRecords; n++ {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			benchSyncedRecords(b, n, "batches/s")
		})
	}
}

// registrationRecords is how many records a new youth's registration
// commits.
const registrationRecords = 7

// benchSyncedRecords writes the first n records of a new youth's
// registration as one synced batch per operation, 64 writers, and
// reports the rate in unit and the CPU time per batch.
func benchSyncedRecords(b *testing.B, n int, unit string) {
	db, err := pebble.Open(b.TempDir(), &pebble.Options{MemTableSize: 64 << 20, Logger: pebbleQuiet{}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var seq atomic.Uint64
	b.SetParallelism(64 / runtime.GOMAXPROCS(0))
	cpu := benchcpu.Start()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var youth, id [32]byte
		val := make([]byte, 275)
		counter := []byte("f2026-03c\rregistrations\x06GM0014\bwij-team\vinvolvement\x01-")
		for pb.Next() {
			rand.Read(youth[:])
			rand.Read(id[:16])
			rand.Read(val)
			s := seq.Add(1)
			batch := db.NewBatch()
			for i := range n {
				switch i {
				case 0: // the youth record
					batch.Set(append([]byte{'y'}, youth[:]...), val, nil)
				case 1: // the audit entry
					batch.Set(binary.BigEndian.AppendUint64([]byte{'a'}, s), val[:81], nil)
				case 2: // the outbox event
					batch.Set(binary.BigEndian.AppendUint64([]byte("e\rwij-groningen"), s), val[:48], nil)
				case 3: // the ID index
					batch.Set(append([]byte{'i'}, id[:16]...), youth[:], nil)
				case 4: // the expiry index
					batch.Set(append(append([]byte{'x', 0, 0, 'R', 0xfd}, youth[:]...), id[:16]...), nil, nil)
				case 5: // the audit entry's youth index
					batch.Set(binary.BigEndian.AppendUint64(append([]byte{'v'}, youth[:]...), s), nil, nil)
				case 6: // the figures counter
					batch.Set(counter, val[:8], nil)
				}
			}
			if err := batch.Commit(pebble.Sync); err != nil {
				b.Error(err)
				return
			}
			batch.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
	cpu.Report(b)
}

// BenchmarkUpdateParallel: the store alone, 64 concurrent updates, each a new
// youth with one registration and one outbox event.
func BenchmarkUpdateParallel(b *testing.B) {
	s, err := pebblestore.Open(b.TempDir(), &pebblestore.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var next atomic.Int64
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	b.SetParallelism(64 / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			y := storetest.Youth(1, int(next.Add(1)))
			err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
				tx.Put(storetest.Reg(y, "ggd", at))
				tx.Append(store.Event{Type: store.EventNoMatch, At: at, Recipient: "ggd"})
				return nil
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

type pebbleQuiet struct{}

func (pebbleQuiet) Infof(string, ...any)  {}
func (pebbleQuiet) Errorf(string, ...any) {}
func (pebbleQuiet) Fatalf(format string, args ...any) {
	panic("pebble fatal")
}

// BenchmarkAppendAuditParallel: what a read's audit entry costs, 64
// concurrent callers each appending one entry and waiting until it is
// durable (the entry a lookup will write before it answers). Their synced
// writes share the store's group commit.
func BenchmarkAppendAuditParallel(b *testing.B) {
	s, err := pebblestore.Open(b.TempDir(), &pebblestore.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	e := store.AuditEntry{At: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC), Institution: "school-example-lyceum",
		Credential: "token:7f3a9c2e", Verb: store.AuditLookup, Youth: storetest.Youth(9, 1), Outcome: "not_involved"}
	b.SetParallelism(64 / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.AppendAudit(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
