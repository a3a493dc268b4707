package pebblestore

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vindex-nl/vindex/store"
)

// Bulk loading (Store.Load). A load takes many youths' updates past the
// memtable and the write-ahead log: every batch an update commits is
// staged in the loader's memory instead, spilled to a sorted run in a
// staging directory beside the store when the memory is full, and Finish
// merges the runs into sorted tables and adds them to the store in one
// atomic step (Pebble's ingestion). Tables that overlap nothing in the
// store go to its last level whole, so a load into an empty store is
// never compacted again; and no record is written twice on the way (the
// WAL and each compaction level), which is what makes a load of millions
// of registrations fast.
//
// An update in a load runs as any other: the same code reads the youth,
// the matcher decides, and the same code stages the batch. What differs:
//   - Nothing is durable, or visible to a reader of the store's files,
//     before Finish: a load that fails or is abandoned (Abort) leaves the
//     store as it was, and the store reads its numbering of events and
//     audit entries, its youth filter and its key-use counts from its
//     files again.
//   - An update reads the writes the load staged since its last spill,
//     over the store's files. The caller keeps to the contract that makes
//     this enough: it spills (Spill) only while no update runs, and loads
//     all updates of one youth between two spills. A read of a record the
//     load spilled (a youth split across spills) fails the update rather
//     than read the record's older value; so does a ranged read of a table
//     the load has written (a youth's history, a family index, an
//     idempotency index).
//   - The counters of the management figures are kept in the loader's
//     memory from their first use, so they count across spills.
//   - UpdateByID, which finds a youth through the ID index, is refused
//     (ErrLoading); so is every other write that is not an update or an
//     audit entry.
//
// The runs and tables hold the same records as the store's files
// (pseudonyms, never a clear identity). Finish and Abort delete them, and
// Open deletes what a crash left (the staging directory is named
// <store>.load-<random>), so no copy of a record outlives the load: a
// record the load wrote and a later erasure destroys is not kept in a
// forgotten run.

// ErrLoading is returned for a call a loading store does not take.
var ErrLoading = errors.New("pebblestore: the store is loading")

// errLoadRead: an update read what the load cannot answer.
var errLoadRead = errors.New("pebblestore: a load cannot read this")

// loadInfix names the staging directory of a load, beside the store's.
const loadInfix = ".load-"

// DefaultLoadMemory is the default LoadOptions.Memory: 256 MiB.
const DefaultLoadMemory = 256 << 20

// LoadOptions configure a load.
type LoadOptions struct {
	// Memory is how many bytes of staged records the loader holds before
	// Due says to spill. If zero, DefaultLoadMemory.
	Memory int
}

// LoadStats say what a load wrote.
type LoadStats struct {
	Runs       int   // sorted runs spilled
	RunBytes   int64 // bytes written to runs
	Records    int64 // records (keys) in the tables added
	Tables     int   // tables added to the store
	TableBytes int64 // their size
}

// Loader stages the updates of a load (see Store.Load).
type Loader struct {
	s      *Store
	dir    string
	memory int
	seed   maphash.Seed

	mu      sync.Mutex
	err     error
	arena   chunkArena
	ops     []loadOp
	latest  map[string]int32 // key -> its last op since the last spill, for point reads
	written [256]bool        // tables the load has written to
	spilled []uint64         // sorted hashes of the point-read keys spilled so far
	runs    []string
	figures map[string]uint64 // the counters as the load leaves them
	stats   LoadStats
	done    bool
}

// pointRead are the tables an update reads by key (loadOp keeps them in
// latest): youth records, history, idempotency records, family notes.
var pointRead = [256]bool{prefixYouth: true, prefixHistory: true, prefixIdempotency: true, prefixFamilyNote: true}

type loadOp struct {
	key, value []byte // in the arena
	del        bool
}

// Load switches the store to loading (see the package's section on bulk
// loading) until Finish or Abort. It refuses a replicated store: the log
// must carry every write.
func (s *Store) Load(o LoadOptions) (*Loader, error) {
	if s.repl.on {
		return nil, fmt.Errorf("%w: a replicated store takes no load", ErrLoading)
	}
	if err := s.enterWrite(); err != nil {
		return nil, err
	}
	defer s.leave()
	var suffix [8]byte
	rand.Read(suffix[:])
	dir := s.dir + loadInfix + hex.EncodeToString(suffix[:])
	if err := s.fs.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pebblestore: load: %w", err)
	}
	l := &Loader{s: s, dir: dir, memory: o.Memory, seed: maphash.MakeSeed(),
		latest: make(map[string]int32), figures: make(map[string]uint64)}
	if l.memory <= 0 {
		l.memory = DefaultLoadMemory
	}
	if !s.loading.CompareAndSwap(nil, l) {
		s.fs.RemoveAll(dir)
		return nil, fmt.Errorf("%w: a load is running", ErrLoading)
	}
	return l, nil
}

// loader returns the running load, or nil.
func (s *Store) loader() *Loader { return s.loading.Load() }

// reader is what an update reads through: the store, or the load's
// staged writes over it.
func (s *Store) reader() pebble.Reader {
	if l := s.loader(); l != nil {
		return l
	}
	return s.db
}

// Due reports whether the staged records fill the loader's memory: the
// caller should Spill at its next pause between youths.
func (l *Loader) Due() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.arena.size >= l.memory
}

// take stages b, which an update committed, in place of applying it.
func (l *Loader) take(b *pebble.Batch, t *tx, before, after []store.Registration) (wait func() error, err error) {
	s := l.s
	defer func() {
		if len(t.events) > 0 {
			s.seqs.complete(t.events)
		}
		s.audit.complete(t.audit)
		b.Close()
	}()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || l.done {
		return nil, cmpErr(l.err, ErrLoading)
	}
	r := b.Reader()
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil {
			return nil, l.failLocked(fmt.Errorf("pebblestore: load: %w", err))
		}
		if !ok {
			break
		}
		if len(k) == 0 {
			return nil, l.failLocked(fmt.Errorf("pebblestore: load: empty key: %w", store.ErrInvalid))
		}
		switch kind {
		case pebble.InternalKeyKindSet:
		case pebble.InternalKeyKindDelete:
		default:
			// A range deletion (an audit cut) is never part of an update.
			return nil, l.failLocked(fmt.Errorf("pebblestore: load: record kind %v: %w", kind, store.ErrInvalid))
		}
		del := kind == pebble.InternalKeyKindDelete
		if k[0] == prefixFigures && !del {
			l.figures[string(k)] = binary.BigEndian.Uint64(v)
		}
		op := loadOp{key: l.arena.add(k), del: del}
		if !del {
			op.value = l.arena.add(v)
		}
		if pointRead[k[0]] {
			l.latest[unsafe.String(unsafe.SliceData(op.key), len(op.key))] = int32(len(l.ops))
		}
		l.written[k[0]] = true
		l.ops = append(l.ops, op)
	}
	if len(t.staged) > 0 {
		s.keyUse.apply(before, after)
	}
	return nothingToWait, nil
}

func cmpErr(err, or error) error {
	if err != nil {
		return err
	}
	return or
}

// failLocked records the load's first failure: the load can no longer
// finish.
func (l *Loader) failLocked(err error) error {
	if l.err == nil {
		l.err = err
	}
	return l.err
}

// Get implements pebble.Reader for an update: what the load staged since
// its last spill, else the store's record.
func (l *Loader) Get(key []byte) ([]byte, io.Closer, error) {
	l.mu.Lock()
	if len(key) == 0 || !pointRead[key[0]] && l.written[key[0]] {
		l.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: table %q written by the load", errLoadRead, prefixName(key))
	}
	if i, ok := l.latest[string(key)]; ok {
		op := l.ops[i]
		l.mu.Unlock()
		if op.del {
			return nil, nil, pebble.ErrNotFound
		}
		return slices.Clone(op.value), io.NopCloser(nil), nil
	}
	if l.written[key[0]] && l.wasSpilled(key) {
		l.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: a record spilled (the youth's updates span a spill)", errLoadRead)
	}
	l.mu.Unlock()
	return l.s.db.Get(key)
}

func prefixName(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	return string(key[:1])
}

// wasSpilled reports whether key may be in a run (one in 2^64 says yes
// wrongly, and fails an update that could have gone on).
func (l *Loader) wasSpilled(key []byte) bool {
	_, found := slices.BinarySearch(l.spilled, maphash.Bytes(l.seed, key))
	return found
}

// NewIter implements pebble.Reader: a range of a table the load has not
// written, from the store.
func (l *Loader) NewIter(o *pebble.IterOptions) (*pebble.Iterator, error) {
	return l.NewIterWithContext(context.Background(), o)
}

// NewIterWithContext implements pebble.Reader (see NewIter).
func (l *Loader) NewIterWithContext(ctx context.Context, o *pebble.IterOptions) (*pebble.Iterator, error) {
	if o == nil || len(o.LowerBound) == 0 || len(o.UpperBound) == 0 || o.UpperBound[0] > o.LowerBound[0]+1 ||
		o.UpperBound[0] == o.LowerBound[0]+1 && len(o.UpperBound) > 1 {
		return nil, fmt.Errorf("%w: a range across tables", errLoadRead)
	}
	l.mu.Lock()
	written := l.written[o.LowerBound[0]]
	l.mu.Unlock()
	if written {
		return nil, fmt.Errorf("%w: a range of table %q, which the load wrote", errLoadRead, prefixName(o.LowerBound))
	}
	return l.s.db.NewIterWithContext(ctx, o)
}

// Close implements pebble.Reader; the loader is closed by Finish or Abort.
func (l *Loader) Close() error { return nil }

// figure returns counter k as the load leaves it, reading the store's on
// first use.
func (l *Loader) figure(k []byte) (uint64, error) {
	l.mu.Lock()
	n, ok := l.figures[string(k)]
	l.mu.Unlock()
	if ok {
		return n, nil
	}
	return l.s.storedFigure(k)
}

// Spill writes what the load staged to a sorted run and empties the
// memory. No update may run meanwhile, and none of a youth whose updates
// came before it may come after it (see the package's section).
func (l *Loader) Spill() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || l.done {
		return cmpErr(l.err, ErrLoading)
	}
	return l.spillLocked()
}

func (l *Loader) spillLocked() error {
	if len(l.ops) == 0 {
		return nil
	}
	order := l.sorted()
	name := l.s.fs.PathJoin(l.dir, fmt.Sprintf("run-%06d", len(l.runs)))
	f, err := l.s.fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return l.failLocked(fmt.Errorf("pebblestore: load: %w", err))
	}
	l.runs = append(l.runs, name)
	w := bufio.NewWriterSize(f, 1<<20)
	var hdr [1 + 2*binary.MaxVarintLen32]byte
	var n int64
	hashes := make([]uint64, 0, len(l.latest))
	for _, i := range order {
		op := &l.ops[i]
		h := hdr[:1]
		h[0] = 0
		if op.del {
			h[0] = 1
		}
		h = binary.AppendUvarint(h, uint64(len(op.key)))
		h = binary.AppendUvarint(h, uint64(len(op.value)))
		w.Write(h)
		w.Write(op.key)
		w.Write(op.value)
		n += int64(len(h) + len(op.key) + len(op.value))
		if pointRead[op.key[0]] {
			hashes = append(hashes, maphash.Bytes(l.seed, op.key))
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return l.failLocked(fmt.Errorf("pebblestore: load: %w", err))
	}
	if err := f.Close(); err != nil {
		return l.failLocked(fmt.Errorf("pebblestore: load: %w", err))
	}
	l.stats.Runs++
	l.stats.RunBytes += n
	l.spilled = append(l.spilled, hashes...)
	slices.Sort(l.spilled)
	l.ops = l.ops[:0]
	clear(l.latest)
	l.arena.reset()
	return nil
}

// sorted returns the indexes of the staged ops in key order, each key's
// last op only.
func (l *Loader) sorted() []int32 {
	// By table first (one pass), then each table by key: most tables'
	// keys come nearly in order (the audit log's, and the youths' when
	// the caller goes through them in order), which the sort is quick on.
	var count [257]int
	for i := range l.ops {
		count[int(l.ops[i].key[0])+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	order := make([]int32, len(l.ops))
	next := count
	for i := range l.ops {
		p := l.ops[i].key[0]
		order[next[p]] = int32(i)
		next[p]++
	}
	for p := range 256 {
		part := order[count[p]:count[p+1]]
		slices.SortFunc(part, func(a, b int32) int {
			if c := bytes.Compare(l.ops[a].key, l.ops[b].key); c != 0 {
				return c
			}
			return int(a - b)
		})
	}
	// Keep each key's last op.
	out := order[:0]
	for i, o := range order {
		if i+1 < len(order) && bytes.Equal(l.ops[o].key, l.ops[order[i+1]].key) {
			continue
		}
		out = append(out, o)
	}
	return out
}

// Finish spills what is staged, merges the runs into sorted tables, adds
// them to the store in one atomic step, and ends the load. No update may
// run meanwhile.
func (l *Loader) Finish(ctx context.Context) (LoadStats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || l.done {
		return l.stats, cmpErr(l.err, ErrLoading)
	}
	defer l.endLocked()
	if err := l.spillLocked(); err != nil {
		return l.stats, err
	}
	tables, err := l.merge(ctx)
	if err != nil {
		return l.stats, l.failLocked(err)
	}
	if len(tables) > 0 {
		if err := l.s.db.Ingest(ctx, tables); err != nil {
			return l.stats, l.failLocked(fmt.Errorf("pebblestore: load: ingest: %w", err))
		}
	}
	return l.stats, nil
}

// Abort ends the load without adding anything to the store. No update
// may run meanwhile.
func (l *Loader) Abort() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return
	}
	l.failLocked(fmt.Errorf("%w: aborted", ErrLoading))
	l.endLocked()
}

// endLocked removes the staging directory and leaves loading. A load
// that did not finish left the store's numbering, youth filter and
// key-use counts ahead of its files: they are read from the files again
// (if that fails, the store serves nothing more).
func (l *Loader) endLocked() {
	l.done = true
	s := l.s
	if err := s.fs.RemoveAll(l.dir); err != nil {
		l.failLocked(fmt.Errorf("pebblestore: load: removing %s: %w", l.dir, err))
	}
	l.ops, l.latest, l.spilled = nil, nil, nil
	l.arena = chunkArena{}
	s.loading.CompareAndSwap(l, nil)
	if l.err == nil {
		return
	}
	err := s.loadAuditSeq(true)
	if err == nil {
		err = s.loadOutboxSeqs()
	}
	if err == nil {
		_, err = s.loadYouths()
	}
	if err != nil {
		s.fail(fmt.Errorf("pebblestore: after a load: %w", err))
	}
}

// maxTableBytes bounds one table a load writes.
const maxTableBytes = 256 << 20

// merge merges the runs (a later run's op of a key wins) into tables in
// the staging directory and returns their paths.
func (l *Loader) merge(ctx context.Context) ([]string, error) {
	h := make(runHeap, 0, len(l.runs))
	defer func() {
		for _, r := range h {
			r.f.Close()
		}
	}()
	for i, name := range l.runs {
		f, err := l.s.fs.Open(name)
		if err != nil {
			return nil, fmt.Errorf("pebblestore: load: %w", err)
		}
		r := &runReader{f: f, r: bufio.NewReaderSize(f, 1<<20), run: i}
		ok, err := r.next()
		if err != nil {
			f.Close()
			return nil, err
		}
		if !ok {
			f.Close()
			continue
		}
		h = append(h, r)
	}
	heap.Init(&h)
	var tables []string
	var w *sstable.Writer
	closeTable := func() error {
		if w == nil {
			return nil
		}
		err := w.Close()
		w = nil
		if err != nil {
			return fmt.Errorf("pebblestore: load: %w", err)
		}
		st, err := l.s.fs.Stat(tables[len(tables)-1])
		if err != nil {
			return fmt.Errorf("pebblestore: load: %w", err)
		}
		l.stats.Tables++
		l.stats.TableBytes += st.Size()
		return nil
	}
	format := l.s.db.FormatMajorVersion().MaxTableFormat()
	var last []byte
	for n := 0; len(h) > 0; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		top := h[0]
		// The same key in several runs: the last run's op wins; the
		// others are skipped.
		if last != nil && bytes.Equal(top.key, last) {
			if err := advance(&h); err != nil {
				return nil, err
			}
			continue
		}
		if w != nil && w.Raw().EstimatedSize() >= maxTableBytes {
			if err := closeTable(); err != nil {
				return nil, err
			}
		}
		if w == nil {
			name := l.s.fs.PathJoin(l.dir, fmt.Sprintf("table-%06d.sst", len(tables)))
			f, err := l.s.fs.Create(name, vfs.WriteCategoryUnspecified)
			if err != nil {
				return nil, fmt.Errorf("pebblestore: load: %w", err)
			}
			tables = append(tables, name)
			w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), l.s.po.MakeWriterOptions(0, format))
		}
		var err error
		if top.del {
			err = w.Delete(top.key)
		} else {
			err = w.Set(top.key, top.value)
		}
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("pebblestore: load: %w", err)
		}
		l.stats.Records++
		last = append(last[:0], top.key...)
		if err := advance(&h); err != nil {
			return nil, err
		}
	}
	if err := closeTable(); err != nil {
		return nil, err
	}
	return tables, nil
}

// advance moves the heap's top run to its next op.
func advance(h *runHeap) error {
	top := (*h)[0]
	ok, err := top.next()
	if err != nil {
		return err
	}
	if ok {
		heap.Fix(h, 0)
		return nil
	}
	top.f.Close()
	heap.Pop(h)
	return nil
}

// runReader reads one run's ops in order.
type runReader struct {
	f          vfs.File
	r          *bufio.Reader
	run        int
	key, value []byte
	del        bool
}

func (r *runReader) next() (bool, error) {
	kind, err := r.r.ReadByte()
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pebblestore: load: run: %w", err)
	}
	klen, err := binary.ReadUvarint(r.r)
	if err != nil {
		return false, fmt.Errorf("pebblestore: load: run: %w", err)
	}
	vlen, err := binary.ReadUvarint(r.r)
	if err != nil || kind > 1 || klen == 0 || klen > 1<<30 || vlen > 1<<30 {
		return false, fmt.Errorf("pebblestore: load: run: %w", store.ErrCorrupt)
	}
	r.del = kind == 1
	r.key = slices.Grow(r.key[:0], int(klen))[:klen]
	r.value = slices.Grow(r.value[:0], int(vlen))[:vlen]
	if _, err := io.ReadFull(r.r, r.key); err != nil {
		return false, fmt.Errorf("pebblestore: load: run: %w", err)
	}
	if _, err := io.ReadFull(r.r, r.value); err != nil {
		return false, fmt.Errorf("pebblestore: load: run: %w", err)
	}
	return true, nil
}

// runHeap orders runs by their next key; on equal keys the later run
// first (its op wins).
type runHeap []*runReader

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].key, h[j].key); c != 0 {
		return c < 0
	}
	return h[i].run > h[j].run
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// chunkArena keeps byte strings in chunks that never move, so that a
// string made from one stays valid until reset.
type chunkArena struct {
	chunks [][]byte
	size   int
}

const arenaChunk = 1 << 20

func (a *chunkArena) add(b []byte) []byte {
	if len(a.chunks) == 0 || cap(a.chunks[len(a.chunks)-1])-len(a.chunks[len(a.chunks)-1]) < len(b) {
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(b))))
	}
	c := &a.chunks[len(a.chunks)-1]
	start := len(*c)
	*c = append(*c, b...)
	a.size += len(b)
	return (*c)[start:len(*c):len(*c)]
}

func (a *chunkArena) reset() {
	a.chunks = nil
	a.size = 0
}

// removeLoads removes the staging directories of loads a crash
// interrupted, beside the store's directory dir.
func removeLoads(fsys vfs.FS, dir string) error {
	parent, base := fsys.PathDir(dir), fsys.PathBase(dir)
	names, err := fsys.List(parent)
	if err != nil {
		return nil
	}
	for _, name := range names {
		if strings.HasPrefix(name, base+loadInfix) {
			if err := fsys.RemoveAll(fsys.PathJoin(parent, name)); err != nil {
				return fmt.Errorf("pebblestore: removing an interrupted load: %w", err)
			}
		}
	}
	return nil
}
