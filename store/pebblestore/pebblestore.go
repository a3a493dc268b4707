// Package pebblestore implements store.Store on Pebble, an LSM key-value
// store, on disk or on any vfs.FS.
//
// Every acknowledged write is synced to Pebble's write-ahead log before
// Update returns. Concurrent commits are applied together (group commit,
// groupcommit.go): they queue, one of them applies the queue as one Pebble
// batch, and all share its WAL sync; while many are in flight the WAL
// waits up to Options.SyncInterval between syncs, so that each carries
// more. Updates of one youth are serialised by a striped lock held from
// the first read until the batch is applied (see update); updates of
// different youths proceed in parallel. Outbox sequence numbers are assigned per
// recipient under a short commit lock, so each recipient's events are
// numbered 1, 2, 3, … in commit order.
//
// Besides store.Store it implements the optional store.DeliveryStore,
// store.KeyUse and store.Checker. The key-use counts and each recipient's
// last outbox sequence number are kept in memory, updated at each commit, and rebuilt
// from the data at Open (which reads every youth record once for that).
//
// On the operating system's file system, everything the store creates is
// private to its user, whatever the process umask: directories 0700
// (including missing parents of the store's directory), files 0600.
// Directories and files that exist already keep their modes.
//
// Store.Checkpoint writes a consistent, independent copy of a running
// store (a backup); Verify opens a copy read-only, decodes every record and
// checks the indexes against the records. Verify's errors name a bad record
// by its kind and position (and registration ID), never by a key or value:
// Pebble's own corruption errors, which quote a damaged table's first and
// last key, are replaced by the file's name.
//
// # Bulk loading
//
// Store.Load takes many youths' updates (vindex import) past the memtable
// and the write-ahead log: each batch is staged in memory, spilled to
// sorted runs beside the store (or, for a table whose records come in
// order, straight to sorted tables), and Finish adds the tables in one
// atomic ingestion; nothing is visible or durable before, and a load that
// fails or is killed leaves the store as it was. load.go says what an
// update in a load may read, and what it leaves on the disk (nothing,
// once it ends or the store is next opened).
//
// # Replication
//
// A store opened with Options.Replicated is one node of a replicated
// store (see store.Log). It takes writes only while it leads (Lead):
// then every batch it commits, whichever method commits it, is applied
// to its own Pebble and appended, in the same order, to the replicated
// log, and the call that made it returns success only once the batch is
// synced to the local WAL and the log holds it on a quorum of its nodes.
// So an acknowledged write survives the loss of the leader's machine
// while a quorum of the log's nodes survives, and, the log fencing every
// append on the one before, no two leaders both acknowledge a write.
// A write the log did not take (another leader fenced it, or the log
// could not say within Options.ReplicationTimeout) returns an error and
// ends the leadership at once: the store's disk then holds an entry the
// log may not, which the log side detects (store.ErrDiverged). Concurrent
// writes are appended one after another without waiting, each waiting
// for its own acknowledgement afterwards, so they share the round trip as
// they share the WAL sync. Events and audit entries a leader writes
// become readable on it once the log holds them.
//
// While the store does not lead, every write method returns
// store.ErrNotLeader before it reads or stages anything; reads go on, and
// the store changes only by ApplyEntry, which applies the log's entries in
// order, each at most once: the last entry applied (Applied) is written
// in the same batch as the entry's data, so a crash leaves the store as
// it was after some entry, which Applied names. A follower's reads see
// the entries applied so far.
//
// A log entry is the Pebble batch the leader applied, unchanged: the
// records of one write exactly as the store holds them (pseudonyms and
// that-information, never a clear identity) and the replication record
// (the entry's position and random ID). It holds nothing the store does
// not hold. Schema migrations run at Open on every node alone (every node
// runs the same version). A store opened without Replicated writes no
// replication record and behaves as if replication did not exist; it
// refuses to open a store written replicated (ErrReplicated) unless told
// to leave replication.
//
// The key schema is documented in keys.go and the record encoding in
// codec.go: both are versioned. Pebble's own log lines go to the slog.Logger
// in Options; they name files and levels, never a key or a value.
package pebblestore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// DefaultSyncInterval is Options.SyncInterval's default, Pebble's own
// suggestion for its WALMinSyncInterval.
const DefaultSyncInterval = 500 * time.Microsecond

// Options configure a Store. The zero value is valid.
type Options struct {
	// FS is the file system the store lives on. If nil (or vfs.Default),
	// the operating system's file system, on which the store creates
	// directories 0700 and files 0600. Any other FS decides its own
	// modes. Tests may pass vfs.NewMem().
	FS vfs.FS
	// Logger receives Pebble's log lines (Info and Error). If nil,
	// slog.Default().
	Logger *slog.Logger
	// CacheSize is the block cache size in bytes. If zero, 64 MiB.
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes. If zero, 16 MiB:
	// every read seeks the memtable, and a seek in a larger one costs
	// more than the tables it would spare (measured: LookupParallel among
	// 200,000 youths 28.7k/s at 16 MiB against 20.8k/s at 64 MiB, and
	// RegisterParallel 22.7k/s against 19.7k/s; 4 MiB flushes too often
	// for registrations; docs/benchmarks.md).
	MemTableSize uint64
	// SyncInterval is the least time between two syncs of the WAL while
	// eight or more commits that write registrations are in flight: a
	// commit that comes less than this after a sync then waits out the
	// rest of it, so that more commits share the next sync. With fewer
	// (a lone writer, lookups' audit entries) the WAL syncs as soon as
	// asked. If zero, DefaultSyncInterval; negative never waits.
	SyncInterval time.Duration
	// MinFreeBytes is the free disk space below which the store refuses
	// writes with store.ErrUnavailable (reads go on), before the disk
	// fills and a write fails half-way. It is checked every 200 ms on
	// the file system of the store's directory, so it must cover what the
	// service writes in that time plus Pebble's flushes and compactions.
	// If zero, DefaultMinFreeBytes; negative turns the check off. Only
	// on the operating system's file system (FS nil or vfs.Default).
	MinFreeBytes int64
	// Replicated opens a replicated store (see the package
	// documentation): it takes writes only while it leads (Lead), each
	// acknowledged only once the replicated log holds it, and otherwise
	// applies the log's entries (ApplyEntry). Every write method of a
	// replicated store that does not lead returns store.ErrNotLeader.
	// A store written replicated is opened replicated: Open refuses it
	// otherwise (ErrReplicated), unless LeaveReplication.
	Replicated bool
	// LeaveReplication opens a store written replicated (a node's data,
	// or a copy of it) as a store of its own: Open deletes its record of
	// the last log entry applied, after which it can join a replicated
	// store again only as a new node would. Without Replicated only.
	LeaveReplication bool
	// ReplicationTimeout bounds a leader's wait for the log's answer to
	// one write; a write without an answer by then fails and the store
	// stops leading. If zero, DefaultReplicationTimeout.
	ReplicationTimeout time.Duration
}

// DefaultMinFreeBytes is the default Options.MinFreeBytes: 256 MiB.
const DefaultMinFreeBytes = 256 << 20

// Store is a store.Store on Pebble.
type Store struct {
	db     *pebble.DB
	dir    string // the store's directory on fs
	fs     vfs.FS
	logger *slog.Logger
	seed   maphash.Seed
	locks  [lockStripes]sync.Mutex

	seqs outboxSeqs
	// audit numbers the audit log's entries.
	audit auditSeq
	// sealing serialises the audit tree's seals and cuts (audittree.go).
	sealing sync.Mutex
	// youths filters out reads of youths the store has never held.
	youths *youthFilter
	// keyUse counts live registrations per key ID.
	keyUse keyUse

	closed atomic.Bool
	mu     sync.RWMutex // Close takes it exclusively

	// failed is set once a write to disk has failed: from then on the
	// store serves nothing (its memtable may hold a write that is not
	// durable) until it is opened again.
	failed atomic.Pointer[error]
	disk   *diskGuard
	// deliveryMu serialises the writes of delivery state.
	deliveryMu sync.Mutex
	// figuresMu is held from the read of the figures' counters a commit
	// adds to until its batch is applied or queued (see figures.go); it
	// guards figuresGen and figuresQueued.
	figuresMu     sync.Mutex
	figuresGen    uint64
	figuresQueued map[string]queuedFigure
	// group applies concurrent commits' batches together (groupcommit.go).
	group groupCommit
	// repl is the replication state (replication.go).
	repl replication
	// loading is the running load, if any (load.go).
	loading atomic.Pointer[Loader]
	// po are the store's Pebble options, for the tables a load writes.
	po *pebble.Options
}

const lockStripes = 4096

// maxPseudonyms bounds the pseudonyms (enabled keys) of one youth in one
// update.
const maxPseudonyms = 64

var (
	_ store.Store   = (*Store)(nil)
	_ store.KeyUse  = (*Store)(nil)
	_ store.Checker = (*Store)(nil)
)

// ErrSchema is returned by Open for a data directory written by an unknown
// schema version.
var ErrSchema = errors.New("pebblestore: unknown schema version")

// Open opens (creating if needed) the store in dir.
func Open(dir string, o *Options) (*Store, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 64 << 20
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = 16 << 20
	}
	if opts.SyncInterval == 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	onOS := opts.FS == nil || opts.FS == vfs.Default
	fsys := opts.FS
	if onOS {
		fsys = privateFS{vfs.Default}
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	s := &Store{dir: dir, fs: fsys, logger: opts.Logger, seed: maphash.MakeSeed()}
	s.group.maxBytes = int(min(groupMaxBytes, opts.MemTableSize/4))
	po := &pebble.Options{
		FS:           fsys,
		Cache:        cache,
		Logger:       slogLogger{l: opts.Logger},
		MemTableSize: opts.MemTableSize,
		// Writes stall once this many memtables wait for their flush:
		// with the smaller memtable, the same 128 MiB as four times the
		// size and Pebble's default of two.
		MemTableStopWritesThreshold: max(2, int((128<<20)/opts.MemTableSize)),
		// The manifest names the first and last key of every table it
		// ever listed, a youth's pseudonym among them; a small limit lets
		// it be rewritten (keeping only the tables there are) once the
		// edits since its last rewrite list as many tables as there are,
		// as after Compact, instead of after 128 MiB of edits.
		MaxManifestFileSize: 64 << 10,
		// Asked for after every sync of the WAL (groupcommit.go).
		WALMinSyncInterval: func() time.Duration { return s.group.syncInterval(opts.SyncInterval) },
		// Pebble's default reports a damaged file fatally with the first
		// and last key of the table (a youth's pseudonym): the same,
		// naming the file only.
		EventListener: &pebble.EventListener{DataCorruption: func(info pebble.DataCorruptionInfo) {
			slogLogger{l: opts.Logger}.Fatalf("on-disk corruption: %s", filepath.Base(info.Path))
		}},
	}
	// Bloom filters let a point read of a youth never seen (most reports)
	// skip every table that cannot hold it.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	// Only the lock holder may remove what a checkpoint interrupted by a
	// crash left: its hard links would keep destroyed records on the disk.
	removeStaging(fsys, dir, opts.Logger)
	if err := removeLoads(fsys, dir); err != nil {
		db.Close()
		return nil, err
	}
	// The options as Pebble completes them, for the tables a load writes.
	wo := po.Clone()
	wo.EnsureDefaults()
	s.db, s.po = db, wo
	s.repl.on = opts.Replicated
	s.repl.timeout = cmp.Or(opts.ReplicationTimeout, DefaultReplicationTimeout)
	s.repl.idle.L = &s.repl.mu
	if !opts.Replicated {
		if err := s.checkNotReplica(opts.LeaveReplication); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	n, err := s.loadYouths()
	if err != nil {
		db.Close()
		return nil, err
	}
	if onOS && opts.MinFreeBytes >= 0 {
		min := opts.MinFreeBytes
		if min == 0 {
			min = DefaultMinFreeBytes
		}
		s.disk = startDiskGuard(dir, min, s.logger)
	}
	s.logger.Info("store opened", slog.String("component", "pebblestore"), slog.Int64("youth_records", n))
	return s, nil
}

func (s *Store) init() error {
	v, closer, err := s.db.Get(schemaKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		if err := s.db.Set(schemaKey, []byte{schemaV3}, pebble.Sync); err != nil {
			return fmt.Errorf("pebblestore: write schema: %w", err)
		}
	case err != nil:
		return fmt.Errorf("pebblestore: read schema: %w", err)
	default:
		version := byte(0)
		if len(v) == 1 {
			version = v[0]
		}
		closer.Close()
		if version < schemaV1 || version > schemaV3 {
			return ErrSchema
		}
		if version == schemaV1 {
			if err := s.migrateHistory(); err != nil {
				return err
			}
		}
		if version < schemaV3 {
			if err := s.migrateAuditIndex(); err != nil {
				return err
			}
		}
	}
	if err := s.loadAuditSeq(!s.repl.on); err != nil {
		return err
	}
	return s.loadOutboxSeqs()
}

// loadYouths reads every youth record once: the youth filter and the
// key-use counts derived from them, put in place of what the store held
// (at Open, and again when a replicated store begins to lead). It
// returns the number of youth records.
func (s *Store) loadYouths() (int64, error) {
	var use keyUse
	youths, n, err := loadYouthFilter(s.db, &use)
	if err != nil {
		return 0, fmt.Errorf("pebblestore: loading the youth filter: %w", err)
	}
	s.youths = youths
	s.keyUse.mu.Lock()
	s.keyUse.live, s.keyUse.refs = use.live, use.refs
	s.keyUse.mu.Unlock()
	return n, nil
}

// loadOutboxSeqs sets each recipient's next sequence number after its last
// event in the outbox.
func (s *Store) loadOutboxSeqs() error {
	s.seqs.reset()
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixRecipient},
		UpperBound: []byte{prefixRecipient + 1},
	})
	if err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	defer it.Close()
	for valid := it.First(); valid; {
		prefix, _, ok := splitRecipientKey(it.Key())
		if !ok {
			return fmt.Errorf("pebblestore: outbox key: %w", store.ErrCorrupt)
		}
		recipient := recipientOf(prefix)
		end := prefixEnd(prefix)
		if it.SeekLT(end) {
			_, seq, ok := splitRecipientKey(it.Key())
			if !ok {
				return fmt.Errorf("pebblestore: outbox key: %w", store.ErrCorrupt)
			}
			s.seqs.load(recipient, seq)
		}
		valid = it.SeekGE(end)
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	return nil
}

// Close closes the store after in-flight calls have finished.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return store.ErrClosed
	}
	if s.disk != nil {
		s.disk.stop()
	}
	if err := s.failure(); err != nil {
		// Pebble's commit pipeline is broken after a failed WAL write;
		// closing it could block. What is durable is in the WAL, and the
		// process is expected to exit.
		return err
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("pebblestore: close: %w", err)
	}
	return nil
}

// Compact writes what is in memory to the store's files and rewrites them
// whole, so that what was deleted (destroyed registrations, a dead youth's
// records, purged archives) no longer lies in a file below its deletion:
// until a compaction reaches it, a deleted record's bytes stay in the
// files that held it. It blocks until done, reading and writing every
// file once, and may run while the store serves (writes go on meanwhile).
// The write-ahead log of the deletions themselves holds their keys until
// the log is reused or the store is next opened, which removes the logs
// it no longer needs.
func (s *Store) Compact(ctx context.Context) error {
	if s.loader() != nil {
		return ErrLoading
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("pebblestore: compact: %w", err)
	}
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff, 0xff}, true); err != nil {
		return fmt.Errorf("pebblestore: compact: %w", err)
	}
	return nil
}

// enter marks a call in flight; it fails once the store is closed or has
// failed.
func (s *Store) enter() error {
	s.mu.RLock()
	if err := s.usable(); err != nil {
		s.mu.RUnlock()
		return err
	}
	return nil
}

// enterAlone is enter for a call that must be the only one in flight (it
// changes what every other call does: Load, Lead): it waits for the calls
// in flight to leave, and keeps others from entering until leaveAlone.
func (s *Store) enterAlone() error {
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	return nil
}

func (s *Store) leaveAlone() { s.mu.Unlock() }

// usable is why the store takes no call (closed, or failed), or nil.
func (s *Store) usable() error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return s.failure()
}

// enterRead is enter for a read of up to limit items. It returns false,
// and the reason if there is one, when there is nothing to read (ctx done,
// limit not positive, the store closed or failed); the caller leaves only
// after true.
func (s *Store) enterRead(ctx context.Context, limit int) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if limit <= 0 {
		return false, nil
	}
	if err := s.enter(); err != nil {
		return false, err
	}
	return true, nil
}

// enterWrite is enter for a write: it also fails while disk space is low.
func (s *Store) enterWrite() error {
	if err := s.enter(); err != nil {
		return err
	}
	if err := s.lowDisk(); err != nil {
		s.mu.RUnlock()
		return err
	}
	return nil
}

// lowDisk is why disk space refuses writes, or nil.
func (s *Store) lowDisk() error {
	if s.disk == nil {
		return nil
	}
	return s.disk.err()
}

// Health reports why the store takes no writes (store.ErrUnavailable:
// disk space low, or a failed write), or nil: what Check reports, from
// what the store knows, without writing. It is not part of the store
// contract.
func (s *Store) Health() error {
	if err := s.failure(); err != nil {
		return err
	}
	return s.lowDisk()
}

func (s *Store) failure() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// fail puts the store out of service after a failed write to disk.
func (s *Store) fail(cause error) error {
	err := fmt.Errorf("pebblestore: a write to disk failed, restart the service (acknowledged writes are safe): %v: %w", cause, store.ErrUnavailable)
	if s.failed.CompareAndSwap(nil, &err) {
		s.logger.Error("store failed; it serves nothing until restarted", slog.String("component", "pebblestore"), slog.String("cause", cause.Error()))
	}
	return s.failure()
}

func (s *Store) leave() { s.mu.RUnlock() }

// Check implements store.Checker: it syncs an empty batch to the
// write-ahead log. A failing disk shows here before it shows on a report.
func (s *Store) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.lowDisk(); err != nil {
		return err
	}
	if err := recoverFatal(func() error { return s.db.LogData(nil, pebble.Sync) }); err != nil {
		return s.fail(fmt.Errorf("check: %w", err))
	}
	return nil
}

func (s *Store) stripe(p pseudonym.Pseudonym) int {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var b [youthSize]byte
	h.Write(appendYouth(b[:0], p))
	return int(h.Sum64() % lockStripes)
}

// lock takes the stripes of all pseudonyms in ascending order and returns the
// function that releases them.
func (s *Store) lock(youth []pseudonym.Pseudonym) func() {
	var buf [4]int
	stripes := buf[:0]
	for _, p := range youth {
		st := s.stripe(p)
		if !slices.Contains(stripes, st) {
			stripes = append(stripes, st)
		}
	}
	slices.Sort(stripes)
	for _, st := range stripes {
		s.locks[st].Lock()
	}
	return func() {
		for i := len(stripes) - 1; i >= 0; i-- {
			s.locks[stripes[i]].Unlock()
		}
	}
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, youth []pseudonym.Pseudonym, fn func(store.Tx) error) error {
	if err := s.notLeader(); err != nil {
		return err
	}
	if len(youth) == 0 {
		return fmt.Errorf("pebblestore: update without a pseudonym: %w", store.ErrConflict)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enterWrite(); err != nil {
		return err
	}
	defer s.leave()
	return s.update(youth, s.lock(youth), fn)
}

// UpdateFamily implements store.Store: the stripes of the youth's
// pseudonyms and of the family keys are taken together, in ascending
// order, as every update takes its stripes, so no two updates deadlock.
func (s *Store) UpdateFamily(ctx context.Context, youth, family []pseudonym.Pseudonym, fn func(store.Tx) error) error {
	if err := s.notLeader(); err != nil {
		return err
	}
	if len(youth) == 0 {
		return fmt.Errorf("pebblestore: update without a pseudonym: %w", store.ErrConflict)
	}
	if len(family) > maxFamilyKeys {
		return fmt.Errorf("pebblestore: %d family keys, at most %d: %w", len(family), maxFamilyKeys, store.ErrConflict)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enterWrite(); err != nil {
		return err
	}
	defer s.leave()
	held := make([]pseudonym.Pseudonym, 0, len(youth)+len(family))
	held = append(append(held, youth...), family...)
	return s.update(youth, s.lock(held), fn)
}

// maxFamilyKeys bounds the family keys of one update: a few relations
// (two parents and an address) under each enabled key.
const maxFamilyKeys = 4 * maxPseudonyms

// UpdateByID implements store.Store.
func (s *Store) UpdateByID(ctx context.Context, id store.ID, fn func(store.Tx) error) error {
	if err := s.notLeaderNorLoading(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enterWrite(); err != nil {
		return err
	}
	defer s.leave()
	for {
		p, err := s.youthOf(id)
		if err != nil {
			return err
		}
		held := []pseudonym.Pseudonym{p}
		unlock := s.lock(held)
		// The registration may have moved to another key (or gone) between
		// the look-up and the lock: look again under the lock.
		again, err := s.youthOf(id)
		if err != nil || again != p {
			unlock()
			if err != nil {
				return err
			}
			continue
		}
		return s.update(held, unlock, fn)
	}
}

func (s *Store) youthOf(id store.ID) (pseudonym.Pseudonym, error) {
	v, closer, err := s.db.Get(byIDKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return pseudonym.Pseudonym{}, store.ErrNotFound
	}
	if err != nil {
		return pseudonym.Pseudonym{}, fmt.Errorf("pebblestore: %w", err)
	}
	defer closer.Close()
	if len(v) != youthSize {
		return pseudonym.Pseudonym{}, fmt.Errorf("pebblestore: id index: %w", store.ErrCorrupt)
	}
	return parseYouth(v), nil
}

// update runs fn over the youth's records and commits; the caller holds the
// youth's locks, which unlock releases.
//
// The locks are released once the batch is applied, before its WAL sync
// (early lock release): the next update of the youth reads the applied
// state and its own batch follows this one in the WAL, so it cannot be
// durable, nor acknowledged, unless this one is; and if the sync fails, the
// store fails and both get an error. A hot youth's updates then share
// fsyncs instead of waiting for one each.
func (s *Store) update(youth []pseudonym.Pseudonym, unlock func(), fn func(store.Tx) error) error {
	wait, err := s.apply(youth, fn)
	unlock()
	if err != nil {
		return err
	}
	return wait()
}

// apply reads, runs fn and applies what it staged, returning the wait for
// the WAL sync.
func (s *Store) apply(youth []pseudonym.Pseudonym, fn func(store.Tx) error) (wait func() error, err error) {
	tx, err := s.read(youth, false)
	if err != nil {
		return nil, err
	}
	tx.writable = true
	if err := fn(tx); err != nil {
		return nil, err
	}
	if tx.err != nil {
		return nil, tx.err
	}
	return s.commit(tx)
}

func nothingToWait() error { return nil }

// View implements store.Store.
func (s *Store) View(ctx context.Context, youth []pseudonym.Pseudonym, fn func(store.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	tx, err := s.read(youth, true)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	// A read fn made (the history, an ended registration) that failed:
	// what fn saw was not all there is.
	return tx.err
}

// read loads one youth's records: one record per pseudonym held. With more
// than one pseudonym (after a key rotation) the reads go through a snapshot,
// so a concurrent migration is seen whole or not at all. A view reads the
// same way whether or not the youth is known (see readYouth).
func (s *Store) read(youth []pseudonym.Pseudonym, view bool) (*tx, error) {
	if len(youth) > maxPseudonyms {
		return nil, fmt.Errorf("pebblestore: %d pseudonyms for one youth, at most %d (one per enabled key): %w", len(youth), maxPseudonyms, store.ErrConflict)
	}
	t := &tx{s: s, youth: youth}
	r := s.reader()
	if len(youth) > 1 && s.loader() == nil {
		snap := s.db.NewSnapshot()
		defer snap.Close()
		r = snap
	}
	for i, p := range youth {
		rec, ok, err := s.readYouth(r, p, view)
		if err != nil {
			return nil, err
		}
		if !ok {
			// A view of a youth not there read another's record: it
			// is copied as the youth's would be (Registrations copies
			// it again), and never shown.
			t.decoy = append(t.decoy, rec.regs...)
			t.decoyCase = rec.kase
			continue
		}
		t.had |= 1 << i
		if rec.hasCase {
			if !view && !rec.kase.WakeAt.IsZero() { // only an update moves it
				t.wakes = append(t.wakes, wakeKey(rec.kase.WakeAt, p))
			}
			if !t.hasCase {
				t.kase, t.hasCase = rec.kase, true
			}
		}
		t.orig = append(t.orig, rec.regs...)
	}
	if len(youth) > 1 {
		sortRegistrations(t.orig)
	}
	return t, nil
}

// readYouth reads p's record through r; false if there is none (a view
// then returns the record it read in p's stead). An update
// skips the read of a youth the filter has never seen. A view does not: its
// time must not tell an uninvolved caller whether the youth is known, so it
// seeks p's key among the youth records and reads and decodes the record
// it lands on whether or not that is p's (for a youth not there, the next
// one's: a record as typical, as likely cached, as a known youth's).
func (s *Store) readYouth(r pebble.Reader, p pseudonym.Pseudonym, view bool) (youthRecord, bool, error) {
	if view {
		return seekYouth(r, p)
	}
	if !s.youths.mayContain(p) {
		return youthRecord{}, false, nil // never held
	}
	v, closer, err := r.Get(youthKey(p))
	if errors.Is(err, pebble.ErrNotFound) {
		return youthRecord{}, false, nil
	}
	if err != nil {
		return youthRecord{}, false, fmt.Errorf("pebblestore: %w", err)
	}
	defer closer.Close()
	rec, err := decodeYouth(v)
	return rec, err == nil, err
}

// seekYouth reads the first youth record at or after p's key (or, past the
// last, the first record), and returns it, and whether it is p's.
func seekYouth(r pebble.Reader, p pseudonym.Pseudonym) (youthRecord, bool, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixYouth}, UpperBound: []byte{prefixYouth + 1}})
	if err != nil {
		return youthRecord{}, false, fmt.Errorf("pebblestore: %w", err)
	}
	k := youthKey(p)
	if !it.SeekGE(k) && !it.First() {
		return youthRecord{}, false, closeIter(it, nil) // no youth at all
	}
	found := bytes.Equal(it.Key(), k)
	v, err := it.ValueAndErr()
	if err != nil {
		return youthRecord{}, false, closeIter(it, fmt.Errorf("pebblestore: %w", err))
	}
	rec, err := decodeYouth(v)
	if err = closeIter(it, err); err != nil {
		return youthRecord{}, false, err
	}
	return rec, found, nil
}

// closeIter closes it and returns err, or the closing's error if err is nil.
func closeIter(it *pebble.Iterator, err error) error {
	if cerr := it.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("pebblestore: %w", cerr)
	}
	return err
}

// tx is the store.Tx of one update (or the store.Reader of one view).
type tx struct {
	s        *Store
	youth    []pseudonym.Pseudonym
	writable bool
	err      error

	orig        []store.Registration             // live ones as read, in Registrations order
	hist        map[store.ID]*store.Registration // ended ones read so far by ID (nil value: none)
	decoy       []store.Registration             // a view's stand-in for a youth not there, never shown
	decoyCopy   []store.Registration             // Registrations' copy of decoy
	decoyCase   store.Case                       // the decoy's case, copied as a youth's is
	staged      map[store.ID]*store.Registration // nil value: deleted
	had         uint64                           // bit i: a record existed under youth[i]
	hasCase     bool
	kase        store.Case
	caseChanged bool
	wakes       [][]byte // wake index keys of the cases as read

	events []store.Event
	idem   map[string]*idemEntry // by encoded key
	audit  []store.AuditEntry
	// figures are the counts to add, by counter key (see figures.go);
	// figuresGen numbers the commit among those that count, and
	// figuresWritten are the counters' values its batch writes.
	figures        map[string]uint64
	figuresGen     uint64
	figuresWritten []queuedCount
	// notes are the family pair notes staged (NoteFamily), as keys.
	notes [][]byte
}

type idemEntry struct {
	rec store.Idempotency
	del bool
}

var _ store.Tx = (*tx)(nil)

func (t *tx) Registrations() []store.Registration {
	if len(t.staged) == 0 {
		if t.decoy != nil {
			t.decoyCopy = slices.Clone(t.decoy) // as long as a known youth's copy takes
		}
		if t.writable {
			// Room for the registration an update mostly adds.
			return append(make([]store.Registration, 0, len(t.orig)+1), t.orig...)
		}
		return slices.Clone(t.orig)
	}
	out := make([]store.Registration, 0, len(t.orig)+len(t.staged))
	for _, r := range t.orig {
		if _, ok := t.staged[r.ID]; !ok {
			out = append(out, r)
		}
	}
	for _, r := range t.staged {
		if r != nil && r.IsLive() {
			out = append(out, *r)
		}
	}
	sortRegistrations(out)
	return out
}

func (t *tx) Ended(id store.ID) (store.Registration, bool) {
	if r, ok := t.staged[id]; ok {
		if r == nil || r.IsLive() {
			return store.Registration{}, false
		}
		return *r, true
	}
	if _, live := t.origByID(id); live {
		return store.Registration{}, false
	}
	if r := t.storedEnded(id); r != nil {
		return *r, true
	}
	return store.Registration{}, false
}

// storedEnded reads the committed ended registration id under the
// pseudonyms held, once per Tx; nil if there is none.
func (t *tx) storedEnded(id store.ID) *store.Registration {
	if r, ok := t.hist[id]; ok {
		return r
	}
	if t.hist == nil {
		t.hist = make(map[store.ID]*store.Registration)
	}
	t.hist[id] = nil
	for _, p := range t.youth {
		r, ok, err := readEnded(t.s.reader(), p, id)
		if err != nil {
			t.fail(err)
			return nil
		}
		if ok {
			t.hist[id] = &r
			return &r
		}
	}
	return nil
}

// readEnded reads p's ended registration id through r; false if there is
// none.
func readEnded(r pebble.Reader, p pseudonym.Pseudonym, id store.ID) (store.Registration, bool, error) {
	v, closer, err := r.Get(historyKey(p, id))
	if errors.Is(err, pebble.ErrNotFound) {
		return store.Registration{}, false, nil
	}
	if err != nil {
		return store.Registration{}, false, fmt.Errorf("pebblestore: %w", err)
	}
	defer closer.Close()
	reg, err := decodeRegistration(v)
	return reg, err == nil, err
}

func (t *tx) History() []store.Registration {
	var out []store.Registration
	for _, p := range t.youth {
		prefix := historyPrefix(p)
		it, err := t.s.reader().NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
		if err != nil {
			t.fail(fmt.Errorf("pebblestore: %w", err))
			return nil
		}
		for it.First(); it.Valid(); it.Next() {
			r, err := decodeRegistration(it.Value())
			if err != nil {
				it.Close()
				t.fail(err)
				return nil
			}
			if _, staged := t.staged[r.ID]; !staged {
				out = append(out, r)
			}
		}
		if err := closeIter(it, nil); err != nil {
			t.fail(err)
			return nil
		}
	}
	for _, r := range t.staged {
		if r != nil && !r.IsLive() {
			out = append(out, *r)
		}
	}
	sortRegistrations(out)
	return out
}

// sortRegistrations orders by CreatedAt, then ID: the order records are
// written in, and the order Registrations promises.
func sortRegistrations(regs []store.Registration) {
	slices.SortFunc(regs, func(a, b store.Registration) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
}

// origByID returns the live registration id as read, if any.
func (t *tx) origByID(id store.ID) (store.Registration, bool) {
	for _, r := range t.orig {
		if r.ID == id {
			return r, true
		}
	}
	return store.Registration{}, false
}

// committed returns registration id as committed, live or ended, if any.
func (t *tx) committed(id store.ID) (store.Registration, bool) {
	if r, ok := t.origByID(id); ok {
		return r, true
	}
	if r := t.storedEnded(id); r != nil {
		return *r, true
	}
	return store.Registration{}, false
}

func (t *tx) Case() (store.Case, bool) { return t.kase, t.hasCase }

func (t *tx) Idempotency(key pseudonym.Pseudonym) (store.Idempotency, bool) {
	return t.idemAt(idempotencyKey(key))
}

// idemAt reads the idempotency record at key k, as staged or committed.
func (t *tx) idemAt(k []byte) (store.Idempotency, bool) {
	if e, ok := t.idem[string(k)]; ok {
		return e.rec, !e.del
	}
	v, closer, err := t.s.reader().Get(k)
	if err != nil {
		if !errors.Is(err, pebble.ErrNotFound) {
			t.fail(fmt.Errorf("pebblestore: %w", err))
		}
		return store.Idempotency{}, false
	}
	defer closer.Close()
	rec, err := decodeIdempotency(v)
	if err != nil {
		t.fail(err)
		return store.Idempotency{}, false
	}
	return rec, true
}

func (t *tx) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

func (t *tx) holds(p pseudonym.Pseudonym) bool { return slices.Contains(t.youth, p) }

func (t *tx) mustWrite() bool {
	if !t.writable {
		t.fail(errors.New("pebblestore: write in a read-only view"))
		return false
	}
	return true
}

func (t *tx) Put(r store.Registration) {
	if !t.mustWrite() {
		return
	}
	if !t.holds(r.Youth) {
		t.fail(fmt.Errorf("pebblestore: registration under a pseudonym the update does not hold: %w", store.ErrConflict))
		return
	}
	if r.ID.IsZero() {
		t.fail(fmt.Errorf("pebblestore: registration without an id: %w", store.ErrConflict))
		return
	}
	if t.staged == nil {
		t.staged = make(map[store.ID]*store.Registration)
	}
	t.staged[r.ID] = &r
}

// PutNew implements store.Tx: the ID is known to be in no history, so
// neither the matcher's lookup by ID nor the commit reads one.
func (t *tx) PutNew(r store.Registration) {
	if t.hist == nil {
		t.hist = make(map[store.ID]*store.Registration)
	}
	t.hist[r.ID] = nil
	t.Put(r)
}

func (t *tx) Delete(id store.ID) {
	if !t.mustWrite() {
		return
	}
	if t.staged == nil {
		t.staged = make(map[store.ID]*store.Registration)
	}
	t.staged[id] = nil
}

func (t *tx) PutCase(c store.Case) {
	if !t.mustWrite() {
		return
	}
	if !t.holds(c.Youth) {
		t.fail(fmt.Errorf("pebblestore: case under a pseudonym the update does not hold: %w", store.ErrConflict))
		return
	}
	t.kase, t.hasCase, t.caseChanged = c, true, true
}

func (t *tx) DeleteCase() {
	if !t.mustWrite() {
		return
	}
	t.kase, t.hasCase, t.caseChanged = store.Case{}, false, true
}

func (t *tx) Append(e store.Event) {
	if !t.mustWrite() {
		return
	}
	if len(e.Recipient) == 0 {
		t.fail(errors.New("pebblestore: event without a recipient"))
		return
	}
	t.events = append(t.events, e)
}

func (t *tx) PutIdempotency(key pseudonym.Pseudonym, rec store.Idempotency) {
	if !t.mustWrite() {
		return
	}
	if t.idem == nil {
		t.idem = make(map[string]*idemEntry)
	}
	t.idem[string(idempotencyKey(key))] = &idemEntry{rec: rec}
}

func (t *tx) DeleteIdempotency(key pseudonym.Pseudonym) {
	if !t.mustWrite() {
		return
	}
	if t.idem == nil {
		t.idem = make(map[string]*idemEntry)
	}
	t.idem[string(idempotencyKey(key))] = &idemEntry{del: true}
}

func (t *tx) DeleteIdempotencyOf(id store.ID) {
	if !t.mustWrite() {
		return
	}
	if t.idem == nil {
		t.idem = make(map[string]*idemEntry)
	}
	for k, e := range t.idem {
		if !e.del && e.rec.Registration == id {
			t.idem[k] = &idemEntry{del: true}
		}
	}
	p := idemRegPrefix(id)
	it, err := t.s.reader().NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		t.fail(fmt.Errorf("pebblestore: %w", err))
		return
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k, ok := splitIdemRegKey(it.Key())
		if !ok {
			t.fail(fmt.Errorf("pebblestore: idempotency index: %w", store.ErrCorrupt))
			return
		}
		if _, staged := t.idem[string(k)]; staged {
			continue // staged in this Tx: handled above
		}
		if rec, ok := t.idemAt(k); ok && rec.Registration == id {
			t.idem[string(k)] = &idemEntry{del: true}
		}
	}
	if err := it.Error(); err != nil {
		t.fail(fmt.Errorf("pebblestore: %w", err))
	}
}

// Family implements store.Tx.
func (t *tx) Family(keys []pseudonym.Pseudonym, limit int) []store.FamilyMember {
	var out []store.FamilyMember
	for _, key := range keys {
		if len(out) >= limit {
			break
		}
		prefix := familyPrefix(key)
		it, err := t.s.reader().NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
		if err != nil {
			t.fail(fmt.Errorf("pebblestore: %w", err))
			return nil
		}
		for it.First(); it.Valid() && len(out) < limit; it.Next() {
			k := it.Key()
			if len(k) != len(prefix)+store.IDSize {
				it.Close()
				t.fail(fmt.Errorf("pebblestore: family index: %w", store.ErrCorrupt))
				return nil
			}
			m, err := decodeFamily(it.Value())
			if err != nil {
				it.Close()
				t.fail(err)
				return nil
			}
			if t.holds(m.Youth) {
				continue
			}
			copy(m.Registration[:], k[len(prefix):])
			m.Key = key
			out = append(out, m)
		}
		if err := closeIter(it, nil); err != nil {
			t.fail(err)
			return nil
		}
	}
	return out
}

// FamilyYouth implements store.Tx.
func (t *tx) FamilyYouth(youth pseudonym.Pseudonym) (store.Case, []store.Registration, bool) {
	if t.holds(youth) {
		return t.kase, t.Registrations(), t.hasCase
	}
	rec, ok, err := t.s.readYouth(t.s.reader(), youth, false)
	if err != nil {
		t.fail(err)
		return store.Case{}, nil, false
	}
	if !ok {
		return store.Case{}, nil, false
	}
	return rec.kase, rec.regs, rec.hasCase
}

// FamilyNoticed implements store.Tx.
func (t *tx) FamilyNoticed(a, b store.ID) bool {
	k := familyNoteKey(a, b)
	for _, n := range t.notes {
		if bytes.Equal(n, k) || bytes.Equal(n, familyNoteKey(b, a)) {
			return true
		}
	}
	_, closer, err := t.s.reader().Get(k)
	if err == nil {
		closer.Close()
		return true
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		t.fail(fmt.Errorf("pebblestore: %w", err))
	}
	return false
}

// NoteFamily implements store.Tx.
func (t *tx) NoteFamily(a, b store.ID) {
	if !t.mustWrite() {
		return
	}
	t.notes = append(t.notes, familyNoteKey(a, b), familyNoteKey(b, a))
}

// stageFamily keeps the family index of registration id, changed from old
// (had: it existed) to r (nil: deleted), and drops the family pair notes
// of a registration that ends or goes.
func stageFamily(b *pebble.Batch, t *tx, id store.ID, old store.Registration, had bool, r *store.Registration, buf []byte) []byte {
	wasLive := had && old.IsLive()
	if wasLive {
		for _, rel := range old.Relations {
			b.Delete(familyKey(rel.Key, id), nil)
		}
	}
	if r != nil && r.IsLive() {
		for i := range r.Relations {
			buf = encodeFamily(buf[:0], r, &r.Relations[i])
			b.Set(familyKey(r.Relations[i].Key, id), buf, nil)
		}
		return buf
	}
	if !wasLive {
		return buf // its notes went when it ended
	}
	prefix := append([]byte{prefixFamilyNote}, id[:]...)
	it, err := t.s.reader().NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		t.fail(fmt.Errorf("pebblestore: %w", err))
		return buf
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 1+2*store.IDSize {
			t.fail(fmt.Errorf("pebblestore: family note: %w", store.ErrCorrupt))
			break
		}
		var other store.ID
		copy(other[:], k[1+store.IDSize:])
		b.Delete(k, nil)
		b.Delete(familyNoteKey(other, id), nil)
	}
	if err := closeIter(it, nil); err != nil {
		t.fail(err)
	}
	return buf
}

// commit writes what t staged in one synced batch.
func (s *Store) commit(t *tx) (wait func() error, err error) {
	if len(t.staged) == 0 && !t.caseChanged && len(t.events) == 0 && len(t.idem) == 0 && len(t.audit) == 0 && len(t.figures) == 0 && len(t.notes) == 0 {
		return nothingToWait, nil
	}
	b := s.db.NewBatch()
	applied := false
	defer func() {
		if !applied {
			b.Close()
		}
	}()
	// buf is the scratch space every encoding below reuses: the batch
	// copies what it is given, so it goes back to the pool after.
	bp := scratchBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= maxScratch {
			*bp = buf[:0]
			scratchBufs.Put(bp)
		}
	}()
	for _, k := range t.notes {
		b.Set(k, nil, nil)
	}
	before, after, buf := stageRegistrations(b, t, buf)
	if t.err != nil {
		return nil, t.err
	}
	if len(t.staged) > 0 || t.caseChanged {
		buf = s.stageYouthRecords(b, t, buf)
	}
	if buf, err = s.stageIdempotency(b, t, buf); err != nil {
		return nil, err
	}
	unlock, err := s.stageFigures(t)
	if err != nil {
		return nil, err
	}
	// No return from here on leaves a reserved sequence number
	// uncompleted: that would hold the published mark back for good.
	buf = s.stageEvents(b, t, buf)
	buf = s.stageAudit(b, t.audit, buf)
	applied = true
	return s.applyBatch(b, t, before, after, unlock)
}

// scratchBufs are the commits' encoding buffers; one grown past
// maxScratch (a youth with many registrations) is left to the collector.
var scratchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxScratch = 64 << 10

// stageRegistrations stages the history records and the by-ID and day
// indexes of the registrations t changed (the live ones are written with
// the youth record). before and after are their old and new versions, for
// the key-use counts. It returns buf, grown.
func stageRegistrations(b *pebble.Batch, t *tx, buf []byte) (before, after []store.Registration, _ []byte) {
	for id, r := range t.staged {
		old, had := t.committed(id)
		buf = stageFamily(b, t, id, old, had, r, buf)
		if had {
			before = append(before, old)
			if k := dayIndex(&old); k != nil && (r == nil || !bytes.Equal(k, dayIndex(r))) {
				b.Delete(k, nil)
			}
			if !old.IsLive() && (r == nil || r.IsLive() || r.Youth != old.Youth) {
				b.Delete(historyKey(old.Youth, id), nil)
			}
		}
		if r == nil {
			if had {
				b.Delete(byIDKey(id), nil)
			}
			continue
		}
		after = append(after, *r)
		if !had || old.Youth != r.Youth {
			b.Set(byIDKey(id), appendYouth(nil, r.Youth), nil)
		}
		if k := dayIndex(r); k != nil {
			b.Set(k, nil, nil)
		}
		if !r.IsLive() {
			buf = encodeRegistration(buf[:0], r)
			b.Set(historyKey(r.Youth, id), buf, nil)
		}
	}
	return before, after, buf
}

// stageYouthRecords stages the youth's record under each pseudonym held:
// its live registrations, and the case under the pseudonym the case names.
// A record left empty is deleted. It returns buf, grown.
func (s *Store) stageYouthRecords(b *pebble.Batch, t *tx, buf []byte) []byte {
	if t.caseChanged {
		next := wakeKey(t.kase.WakeAt, t.kase.Youth)
		if !t.hasCase {
			next = nil
		}
		for _, k := range t.wakes {
			if !bytes.Equal(k, next) {
				b.Delete(k, nil)
			}
		}
		if next != nil {
			b.Set(next, nil, nil)
		}
	}
	regs := t.Registrations() // a copy of its own
	for i, p := range t.youth {
		var rec youthRecord
		if len(t.youth) == 1 {
			// The only record: p's registrations are filtered in
			// place, as no other record reads them.
			rec.regs = slices.DeleteFunc(regs, func(r store.Registration) bool { return r.Youth != p })
		} else {
			for _, r := range regs {
				if r.Youth == p {
					rec.regs = append(rec.regs, r)
				}
			}
		}
		if t.hasCase && t.kase.Youth == p {
			rec.hasCase, rec.kase = true, t.kase
		}
		switch {
		case len(rec.regs) > 0 || rec.hasCase:
			buf = encodeYouth(buf[:0], &rec)
			// Into the filter before any reader can see the record.
			s.youths.add(p)
			b.Set(youthKey(p), buf, nil)
		case t.had&(1<<i) != 0:
			b.Delete(youthKey(p), nil)
		}
	}
	return buf
}

// stageIdempotency stages the idempotency records t put or deleted, with
// their day and registration indexes. It returns buf, grown.
func (s *Store) stageIdempotency(b *pebble.Batch, t *tx, buf []byte) ([]byte, error) {
	for k, e := range t.idem {
		key := []byte(k)
		// Replace or drop the indexes of a record already there.
		if v, closer, err := s.reader().Get(key); err == nil {
			old, derr := decodeIdempotency(v)
			closer.Close()
			if derr == nil {
				b.Delete(idemDayKey(dayNumber(old.CreatedAt), key), nil)
				b.Delete(idemRegKey(old.Registration, key), nil)
			}
		} else if !errors.Is(err, pebble.ErrNotFound) {
			return buf, fmt.Errorf("pebblestore: %w", err)
		}
		if e.del {
			b.Delete(key, nil)
			continue
		}
		buf = encodeIdempotency(buf[:0], &e.rec)
		b.Set(key, buf, nil)
		b.Set(idemDayKey(dayNumber(e.rec.CreatedAt), key), nil, nil)
		b.Set(idemRegKey(e.rec.Registration, key), nil, nil)
	}
	return buf, nil
}

// stageEvents numbers t's events, each in its recipient's sequence, and
// stages them in the outbox; the caller must complete the numbers whatever
// becomes of the batch. It returns buf, grown.
func (s *Store) stageEvents(b *pebble.Batch, t *tx, buf []byte) []byte {
	if len(t.events) == 0 {
		return buf
	}
	s.seqs.reserve(t.events)
	for i := range t.events {
		e := &t.events[i]
		buf = encodeEvent(buf[:0], e)
		b.Set(recipientKey(e.Recipient, e.Seq), buf, nil)
	}
	return buf
}

// applyBatch applies b, which it takes over, to the memtable; publishes the
// sequence numbers of t's events and counts the key use of the changed
// registrations; and returns the wait for the WAL sync. It calls unlock
// (the figures' lock, see stageFigures) once b is applied, or queued for
// the group commit.
func (s *Store) applyBatch(b *pebble.Batch, t *tx, before, after []store.Registration, unlock func()) (wait func() error, err error) {
	if l := s.loader(); l != nil {
		defer unlock()
		return l.take(b, t, before, after)
	}
	if s.repl.on {
		defer unlock()
		return s.applyBatchLogged(b, t, before, after)
	}
	s.queueFigures(t)
	return s.group.commit(s, &commitReq{b: b, t: t, before: before, after: after}, unlock)
}

// dayIndex returns the expiry or purge index key of r, or nil.
func dayIndex(r *store.Registration) []byte {
	if r.IsLive() {
		if r.EndsOn.IsZero() {
			return nil
		}
		return dayIndexKey(prefixExpiry, dayNumber(r.EndsOn), r.Youth, r.ID)
	}
	if r.PurgeOn.IsZero() {
		return nil
	}
	return dayIndexKey(prefixPurge, dayNumber(r.PurgeOn), r.Youth, r.ID)
}

// Registration implements store.Store.
func (s *Store) Registration(ctx context.Context, id store.ID) (store.Registration, error) {
	if err := ctx.Err(); err != nil {
		return store.Registration{}, err
	}
	if err := s.enter(); err != nil {
		return store.Registration{}, err
	}
	defer s.leave()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	v, closer, err := snap.Get(byIDKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return store.Registration{}, store.ErrNotFound
	}
	if err != nil {
		return store.Registration{}, fmt.Errorf("pebblestore: %w", err)
	}
	if len(v) != youthSize {
		closer.Close()
		return store.Registration{}, fmt.Errorf("pebblestore: id index: %w", store.ErrCorrupt)
	}
	p := parseYouth(v)
	closer.Close()
	v, closer, err = snap.Get(youthKey(p))
	if errors.Is(err, pebble.ErrNotFound) {
		return endedByID(snap, p, id)
	}
	if err != nil {
		return store.Registration{}, fmt.Errorf("pebblestore: %w", err)
	}
	defer closer.Close()
	rec, err := decodeYouth(v)
	if err != nil {
		return store.Registration{}, err
	}
	for _, r := range rec.regs {
		if r.ID == id {
			return r, nil
		}
	}
	return endedByID(snap, p, id)
}

// endedByID reads p's ended registration id through r, which the by-ID
// index says is there.
func endedByID(r pebble.Reader, p pseudonym.Pseudonym, id store.ID) (store.Registration, error) {
	reg, ok, err := readEnded(r, p, id)
	if err == nil && !ok {
		err = fmt.Errorf("pebblestore: id index points nowhere: %w", store.ErrCorrupt)
	}
	return reg, err
}

// LastSeq implements store.DeliveryStore: recipient's published mark, up
// to which every event of recipient has been applied and Events reads.
func (s *Store) LastSeq(recipient string) uint64 { return s.seqs.visible(recipient) }

// Events implements store.Store.
func (s *Store) Events(ctx context.Context, recipient string, after uint64, limit int) ([]store.Event, error) {
	if ok, err := s.enterRead(ctx, limit); !ok {
		return nil, err
	}
	defer s.leave()
	// Only events up to the recipient's published mark are read: a later
	// one may be visible while an earlier one is still being applied. The
	// marks are taken before the iterator, so everything up to them is in
	// the iterator's view.
	var upto uint64
	var marks map[string]uint64
	if recipient != "" {
		upto = s.seqs.visible(recipient)
	} else {
		marks = s.seqs.marks()
	}
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	defer it.Close()
	if recipient != "" {
		return s.recipientEvents(it, recipientPrefix(recipient), after, upto, limit)
	}
	// All recipients: up to limit from each stream, merged by sequence
	// number (then recipient).
	var out []store.Event
	for valid := it.SeekGE([]byte{prefixRecipient}); valid && it.Key()[0] == prefixRecipient; {
		prefix, _, ok := splitRecipientKey(it.Key())
		if !ok {
			return nil, fmt.Errorf("pebblestore: outbox key: %w", store.ErrCorrupt)
		}
		prefix = bytes.Clone(prefix)
		evs, err := s.recipientEvents(it, prefix, after, marks[recipientOf(prefix)], limit)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
		valid = it.SeekGE(prefixEnd(prefix))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	slices.SortFunc(out, func(a, b store.Event) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Recipient, b.Recipient))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// recipientEvents reads up to limit events of one recipient stream with a
// sequence number in (after, upto].
func (s *Store) recipientEvents(it *pebble.Iterator, prefix []byte, after, upto uint64, limit int) ([]store.Event, error) {
	var out []store.Event
	start := binary.BigEndian.AppendUint64(bytes.Clone(prefix), after+1)
	for it.SeekGE(start); it.Valid() && bytes.HasPrefix(it.Key(), prefix) && len(out) < limit; it.Next() {
		_, seq, ok := splitRecipientKey(it.Key())
		if !ok || len(it.Key()) != len(prefix)+seqSize {
			return nil, fmt.Errorf("pebblestore: outbox key: %w", store.ErrCorrupt)
		}
		if seq > upto {
			break
		}
		e, err := decodeEventValue(it)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	return out, nil
}

func decodeEventValue(it *pebble.Iterator) (store.Event, error) {
	v, err := it.ValueAndErr()
	if err != nil {
		return store.Event{}, fmt.Errorf("pebblestore: %w", err)
	}
	return decodeEvent(v)
}

// Due implements store.Store.
func (s *Store) Due(ctx context.Context, day time.Time, limit int) ([]store.DueItem, error) {
	if ok, err := s.enterRead(ctx, limit); !ok {
		return nil, err
	}
	defer s.leave()
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	defer it.Close()
	upto := dayNumber(day)
	var out []store.DueItem
	for _, prefix := range []byte{prefixExpiry, prefixPurge} {
		n := 0
		for it.SeekGE([]byte{prefix}); it.Valid() && it.Key()[0] == prefix && n < limit; it.Next() {
			d, p, id, ok := parseDayIndexKey(it.Key())
			if !ok {
				return nil, fmt.Errorf("pebblestore: day index: %w", store.ErrCorrupt)
			}
			if d > upto {
				break
			}
			out = append(out, store.DueItem{ID: id, Youth: p, Day: dayTime(d), Purge: prefix == prefixPurge})
			n++
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Day.Before(out[j].Day) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Wakeups implements store.Store.
func (s *Store) Wakeups(ctx context.Context, t time.Time, limit int) ([]pseudonym.Pseudonym, error) {
	if ok, err := s.enterRead(ctx, limit); !ok {
		return nil, err
	}
	defer s.leave()
	upper := wakeKey(t.Add(time.Nanosecond), pseudonym.Pseudonym{})
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixWake}, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	defer it.Close()
	var out []pseudonym.Pseudonym
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		_, p, ok := parseWakeKey(it.Key())
		if !ok {
			return nil, fmt.Errorf("pebblestore: wake index: %w", store.ErrCorrupt)
		}
		out = append(out, p)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	return out, nil
}

// Youths implements store.Store: it merges the youth records ('y') and the
// histories ('h'), both ordered by pseudonym.
func (s *Store) Youths(ctx context.Context, after pseudonym.Pseudonym, limit int) ([]pseudonym.Pseudonym, error) {
	if ok, err := s.enterRead(ctx, limit); !ok {
		return nil, err
	}
	defer s.leave()
	var out []pseudonym.Pseudonym
	next := func(prefix byte) ([]pseudonym.Pseudonym, error) {
		lower := []byte{prefix}
		if !after.IsZero() {
			// After every key of after: its history keys are longer.
			lower = append(appendYouth([]byte{prefix}, after), 0xff)
			for len(lower) < 1+youthSize+store.IDSize+1 {
				lower = append(lower, 0xff)
			}
		}
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{prefix + 1}})
		if err != nil {
			return nil, fmt.Errorf("pebblestore: %w", err)
		}
		defer it.Close()
		var ps []pseudonym.Pseudonym
		for it.First(); it.Valid() && len(ps) < limit; {
			k := it.Key()
			if len(k) < 1+youthSize {
				return nil, fmt.Errorf("pebblestore: youth key: %w", store.ErrCorrupt)
			}
			p := parseYouth(k[1:])
			ps = append(ps, p)
			// Skip the rest of p's keys (its other ended registrations).
			it.SeekGE(append(appendYouth([]byte{prefix}, p), bytes.Repeat([]byte{0xff}, store.IDSize+1)...))
		}
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("pebblestore: %w", err)
		}
		return ps, nil
	}
	live, err := next(prefixYouth)
	if err != nil {
		return nil, err
	}
	ended, err := next(prefixHistory)
	if err != nil {
		return nil, err
	}
	// Merge the two sorted lists, each pseudonym once, and keep the first
	// limit: neither list is cut before a pseudonym the other would give.
	for len(out) < limit && (len(live) > 0 || len(ended) > 0) {
		switch {
		case len(ended) == 0 || len(live) > 0 && youthLess(live[0], ended[0]):
			out, live = append(out, live[0]), live[1:]
		case len(live) == 0 || youthLess(ended[0], live[0]):
			out, ended = append(out, ended[0]), ended[1:]
		default:
			out, live, ended = append(out, live[0]), live[1:], ended[1:]
		}
	}
	return out, nil
}

// youthLess orders pseudonyms as their keys are ordered.
func youthLess(a, b pseudonym.Pseudonym) bool {
	return bytes.Compare(appendYouth(nil, a), appendYouth(nil, b)) < 0
}

// PurgeIdempotency implements store.Store.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := s.notLeaderNorLoading(); err != nil {
		return 0, err
	}
	if ok, err := s.enterRead(ctx, limit); !ok {
		return 0, err
	}
	defer s.leave()
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixIdemByDay},
		UpperBound: binary.BigEndian.AppendUint32([]byte{prefixIdemByDay}, dayNumber(before)),
	})
	if err != nil {
		return 0, fmt.Errorf("pebblestore: %w", err)
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()
	n := 0
	for it.First(); it.Valid() && n < limit; it.Next() {
		day, key, ok := splitIdemDayKey(it.Key())
		if !ok {
			return 0, fmt.Errorf("pebblestore: idempotency index: %w", store.ErrCorrupt)
		}
		b.Delete(it.Key(), nil)
		// Only if the record is still the one the index names: a record
		// made again since has its own, later, index entry.
		if v, closer, err := s.db.Get(key); err == nil {
			rec, derr := decodeIdempotency(v)
			closer.Close()
			if derr == nil && dayNumber(rec.CreatedAt) == day {
				b.Delete(key, nil)
				b.Delete(idemRegKey(rec.Registration, key), nil)
				n++
			}
		}
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("pebblestore: %w", err)
	}
	if b.Empty() {
		return 0, nil
	}
	if s.repl.on {
		if err := s.commitBatch(b); err != nil {
			return 0, err
		}
		return n, nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("pebblestore: %w", err)
	}
	return n, nil
}

// recoverFatal runs f, turning a fatal error that Pebble reports through
// its logger's Fatalf (a failed WAL write) into an error. Other panics go
// on.
func recoverFatal(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			msg, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			err = errors.New(string(msg))
		}
	}()
	return f()
}

// fatal is what slogLogger.Fatalf panics with.
type fatal string

// slogLogger routes Pebble's log lines to slog.
type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Infof(format string, args ...any) {
	l.l.Info(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l slogLogger) Errorf(format string, args ...any) {
	l.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l slogLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.l.Error(msg, "component", "pebble", "fatal", true)
	panic(fatal("pebblestore: fatal: " + msg))
}

// keyUse counts the live registrations under each PRF key ID, and the
// values (client references, elements, relations' elements) of
// registrations live or ended sealed under each reference key ID.
type keyUse struct {
	mu   sync.Mutex
	live map[uint32]int64
	refs map[uint32]int64
}

// relationKeys returns the key IDs of r's family relations other than its
// youth's key, each once: a live registration needs them too (see
// store.KeyUse.LiveByKey).
func relationKeys(r store.Registration) []uint32 {
	var out []uint32
	for _, rel := range r.Relations {
		if id := rel.Key.KeyID; id != r.Youth.KeyID && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func (k *keyUse) apply(before, after []store.Registration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.live == nil {
		k.live = map[uint32]int64{}
		k.refs = map[uint32]int64{}
	}
	for _, r := range before {
		if r.IsLive() {
			k.live[r.Youth.KeyID]--
			for _, id := range relationKeys(r) {
				k.live[id]--
			}
		}
		if id, ok := store.RefKeyID(r.ClientRef); ok {
			k.refs[id]--
		}
		if id, ok := store.RefKeyID(r.Element); ok {
			k.refs[id]--
		}
		for _, rel := range r.Relations {
			if id, ok := store.RefKeyID(rel.Element); ok {
				k.refs[id]--
			}
		}
	}
	for _, r := range after {
		if r.IsLive() {
			k.live[r.Youth.KeyID]++
			for _, id := range relationKeys(r) {
				k.live[id]++
			}
		}
		if id, ok := store.RefKeyID(r.ClientRef); ok {
			k.refs[id]++
		}
		if id, ok := store.RefKeyID(r.Element); ok {
			k.refs[id]++
		}
		for _, rel := range r.Relations {
			if id, ok := store.RefKeyID(rel.Element); ok {
				k.refs[id]++
			}
		}
	}
	for _, m := range []map[uint32]int64{k.live, k.refs} {
		for id, n := range m {
			if n == 0 {
				delete(m, id)
			}
		}
	}
}

// RefsByKey implements store.KeyUse: the registrations, live or ended,
// whose client reference is sealed under each reference key ID.
func (s *Store) RefsByKey() map[uint32]int64 {
	s.keyUse.mu.Lock()
	defer s.keyUse.mu.Unlock()
	return counts(s.keyUse.refs)
}

// LiveByKey implements store.KeyUse: the live registrations under each key
// ID. Ended registrations are kept under the key they were made with; they
// need it no more (they no longer match).
func (s *Store) LiveByKey() map[uint32]int64 {
	s.keyUse.mu.Lock()
	defer s.keyUse.mu.Unlock()
	return counts(s.keyUse.live)
}

// counts copies m; never nil, so that "none" reads as zero counts.
func counts(m map[uint32]int64) map[uint32]int64 {
	out := make(map[uint32]int64, len(m))
	maps.Copy(out, m)
	return out
}
