package pebblestore

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
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
// atomic step (Pebble's ingestion). A table whose records each spill
// brings after the last spill's (the audit log's; the youths' records
// when the caller loads youths in their order) skips the runs: the spill
// writes its records straight to sorted tables (directTable). Tables that
// overlap nothing in the store go to its last level whole, so a load into
// an empty store is never compacted again; and no record is written twice
// on the way (the WAL and each compaction level), which is what makes a
// load of millions of registrations fast.
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
//     memory from their first use, so they count across spills, and are
//     written once, by Finish; the commits of a load do not take the
//     counters' lock.
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

// ErrLoadRead: an update read what a load cannot answer (see the package's
// section on bulk loading): the update fails, and the load can go on.
var ErrLoadRead = errors.New("pebblestore: a load cannot read this")

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
	Direct     int   // of which written past the runs (see directTable)
	TableBytes int64 // their size
}

// Loader stages the updates of a load (see Store.Load).
type Loader struct {
	s      *Store
	dir    string
	memory int

	mu      sync.Mutex
	err     error
	buf     *loadBuf     // what was staged since the last spill
	latest  opIndex      // the point-read keys' last ops in buf
	staged  atomic.Int64 // buf's bytes (arena and ops), for Due without the lock
	written [256]bool    // tables the load has written to
	spilled [][]uint64   // per spill, the sorted hashes of its point-read keys
	runs    []*loadRun
	direct  [256]directTable  // the tables written past the runs
	figures map[string]uint64 // the counters as the load leaves them
	stats   LoadStats
	done    bool
	// writing is closed when the run being written in the background
	// is written, with its buffer (emptied) in spare.
	writing chan struct{}
	spare   *loadBuf
}

// loadRun is a run written: its file, and where each table's records
// begin in it (table p's are at [at[p], at[p+1])).
type loadRun struct {
	name string
	at   [257]int64
}

// loadBuf holds staged writes: their keys and values in the arena, the
// ops in the order they came.
type loadBuf struct {
	arena []byte
	ops   []loadOp
}

// pointRead are the tables an update reads by key (loadOp keeps them in
// latest): youth records, history, idempotency records, family notes.
var pointRead = [256]bool{prefixYouth: true, prefixHistory: true, prefixIdempotency: true, prefixFamilyNote: true}

// loadOp is a staged write: its key and value are in the arena, at off.
type loadOp struct {
	off, klen, vlen uint32
	del             bool // a deletion
	dead            bool // written again later: skipped
}

// opIndex finds the last op of a point-read key in the buffer. It keys
// the ops by their key's hash (no string is made of a key, and the hashes
// are at hand for the spill's record of what it spilled); a key whose
// hash another key has taken (one in 2^64) is kept by its bytes.
type opIndex struct {
	seed    maphash.Seed
	byHash  map[uint64]int32
	collide map[string]int32
}

func (x *opIndex) init() {
	x.seed = maphash.MakeSeed()
	x.byHash = make(map[uint64]int32)
	x.collide = make(map[string]int32)
}

// get returns the index of key's last op in b.
func (x *opIndex) get(b *loadBuf, key []byte) (int32, bool) {
	if i, ok := x.byHash[maphash.Bytes(x.seed, key)]; ok && bytes.Equal(b.key(&b.ops[i]), key) {
		return i, true
	}
	i, ok := x.collide[string(key)]
	return i, ok
}

// put makes op i key's last op in b, and returns the one it replaces.
func (x *opIndex) put(b *loadBuf, key []byte, i int32) (int32, bool) {
	h := maphash.Bytes(x.seed, key)
	was, ok := x.byHash[h]
	if !ok || bytes.Equal(b.key(&b.ops[was]), key) {
		x.byHash[h] = i
		return was, ok
	}
	was, ok = x.collide[string(key)]
	x.collide[string(key)] = i
	return was, ok
}

// hashes returns the keys' hashes, sorted.
func (x *opIndex) hashes() []uint64 {
	hs := make([]uint64, 0, len(x.byHash)+len(x.collide))
	for h := range x.byHash {
		hs = append(hs, h)
	}
	for k := range x.collide {
		hs = append(hs, maphash.String(x.seed, k))
	}
	slices.Sort(hs)
	return hs
}

func (x *opIndex) reset() {
	clear(x.byHash)
	clear(x.collide)
}

// add stages an op, a deletion of key if del, else a set of key to
// value, and returns its index.
func (b *loadBuf) add(key, value []byte, del bool) int32 {
	op := loadOp{off: uint32(len(b.arena)), klen: uint32(len(key)), del: del}
	b.arena = append(b.arena, key...)
	if !del {
		op.vlen = uint32(len(value))
		b.arena = append(b.arena, value...)
	}
	b.ops = append(b.ops, op)
	return int32(len(b.ops) - 1)
}

func (b *loadBuf) key(op *loadOp) []byte { return b.arena[op.off : op.off+op.klen] }
func (b *loadBuf) value(op *loadOp) []byte {
	return b.arena[op.off+op.klen : op.off+op.klen+op.vlen]
}

// Load switches the store to loading (see the package's section on bulk
// loading) until Finish or Abort. It refuses a replicated store: the log
// must carry every write. It waits for the updates in flight to end
// (enterAlone), so that none began before the load and commits during it:
// such a commit would write its figures' counters past the load, which
// keeps the counters itself.
func (s *Store) Load(o LoadOptions) (*Loader, error) {
	if s.repl.on {
		return nil, fmt.Errorf("%w: a replicated store takes no load", ErrLoading)
	}
	if err := s.enterAlone(); err != nil {
		return nil, err
	}
	defer s.leaveAlone()
	if err := s.lowDisk(); err != nil {
		return nil, err
	}
	var suffix [8]byte
	rand.Read(suffix[:])
	dir := s.dir + loadInfix + hex.EncodeToString(suffix[:])
	if err := s.fs.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pebblestore: load: %w", err)
	}
	l := &Loader{s: s, dir: dir, memory: o.Memory, buf: &loadBuf{},
		figures: make(map[string]uint64)}
	l.latest.init()
	if l.memory <= 0 {
		l.memory = DefaultLoadMemory
	}
	// Two buffers: one taking updates while the other is written.
	l.memory = min(l.memory/2, math.MaxUint32/2)
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
	return l.staged.Load() >= int64(l.memory)
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
		return nil, cmp.Or(l.err, ErrLoading)
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
		l.written[k[0]] = true
		if k[0] == prefixFigures {
			// Counted below, from t; never staged.
			return nil, l.failLocked(fmt.Errorf("pebblestore: load: a figures counter staged: %w", store.ErrInvalid))
		}
		buf := l.buf
		if len(buf.arena)+len(k)+len(v) > math.MaxUint32 {
			return nil, l.failLocked(fmt.Errorf("pebblestore: load: %d bytes staged without a spill", len(buf.arena)))
		}
		if buf.arena == nil {
			buf.arena = make([]byte, 0, l.memory+l.memory/8)
		}
		i := buf.add(k, v, del)
		if pointRead[k[0]] {
			if was, ok := l.latest.put(buf, k, i); ok {
				buf.ops[was].dead = true
			}
		}
	}
	l.staged.Store(int64(len(l.buf.arena) + len(l.buf.ops)*int(unsafe.Sizeof(loadOp{}))))
	// The figures' counts, kept here (from the store's counter on first
	// use) and written once, by Finish: no lock across the update's
	// commit, and no record per count.
	for k, n := range t.figures {
		base, ok := l.figures[k]
		if !ok {
			var err error
			if base, err = s.figureCommitted(k); err != nil {
				return nil, l.failLocked(err)
			}
			l.written[prefixFigures] = true
		}
		l.figures[k] = base + n
	}
	if len(t.staged) > 0 {
		s.keyUse.apply(before, after)
	}
	return nothingToWait, nil
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
		return nil, nil, fmt.Errorf("%w: table %q written by the load", ErrLoadRead, prefixName(key))
	}
	if i, ok := l.latest.get(l.buf, key); ok {
		op := &l.buf.ops[i]
		if op.del {
			l.mu.Unlock()
			return nil, nil, pebble.ErrNotFound
		}
		v := slices.Clone(l.buf.value(op))
		l.mu.Unlock()
		return v, io.NopCloser(nil), nil
	}
	if l.written[key[0]] && l.wasSpilled(key) {
		l.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: a record spilled (the youth's updates span a spill)", ErrLoadRead)
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
	h := maphash.Bytes(l.latest.seed, key)
	for _, hashes := range l.spilled {
		if _, found := slices.BinarySearch(hashes, h); found {
			return true
		}
	}
	return false
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
		return nil, fmt.Errorf("%w: a range across tables", ErrLoadRead)
	}
	l.mu.Lock()
	written := l.written[o.LowerBound[0]]
	l.mu.Unlock()
	if written {
		return nil, fmt.Errorf("%w: a range of table %q, which the load wrote", ErrLoadRead, prefixName(o.LowerBound))
	}
	return l.s.db.NewIterWithContext(ctx, o)
}

// Close implements pebble.Reader; the loader is closed by Finish or Abort.
func (l *Loader) Close() error { return nil }

// Spill starts writing what the load staged to a sorted run, and empties
// the memory; the run is written in the background, while updates go on
// into the other buffer (Spill waits for the run before last). No update
// may run meanwhile, and none of a youth whose updates came before it may
// come after it (see the package's section).
func (l *Loader) Spill() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || l.done {
		return cmp.Or(l.err, ErrLoading)
	}
	return l.spillLocked(true)
}

// spillLocked spills the buffer, in the background or not; either way
// after the run before it is written.
func (l *Loader) spillLocked(background bool) error {
	if err := l.waitLocked(); err != nil {
		return err
	}
	if len(l.buf.ops) == 0 {
		return nil
	}
	// The point-read keys' hashes, before any update reads again.
	l.spilled = append(l.spilled, l.latest.hashes())
	l.latest.reset()
	l.staged.Store(0)
	buf := l.buf
	l.buf, l.spare = cmp.Or(l.spare, &loadBuf{}), nil
	run := &loadRun{name: l.s.fs.PathJoin(l.dir, fmt.Sprintf("run-%06d", len(l.runs)))}
	l.runs = append(l.runs, run)
	if !background {
		n, err := l.writeRun(run, buf)
		l.countRun(n)
		buf.reset()
		l.spare = buf
		if err != nil {
			return l.failLocked(err)
		}
		return nil
	}
	done := make(chan struct{})
	l.writing = done
	go func() {
		n, err := l.writeRun(run, buf)
		buf.reset()
		l.mu.Lock()
		l.countRun(n)
		l.spare = buf
		if err != nil {
			l.failLocked(err)
		}
		l.mu.Unlock()
		close(done)
	}()
	return nil
}

// waitLocked waits for the run being written in the background, if any.
// The run stays l.writing until it is written, so that a caller who takes
// the lock while another waits (an Abort during a Spill) waits too.
func (l *Loader) waitLocked() error {
	for l.writing != nil {
		done := l.writing
		l.mu.Unlock()
		<-done
		l.mu.Lock()
		if l.writing == done {
			l.writing = nil
		}
	}
	return l.err
}

// countRun counts a run of n bytes written (none if every table went to
// its direct tables: no file).
func (l *Loader) countRun(n int64) {
	if n > 0 {
		l.stats.Runs++
		l.stats.RunBytes += n
	}
}

func (b *loadBuf) reset() {
	b.arena = b.arena[:0]
	b.ops = b.ops[:0]
}

// writeRun writes buf's ops sorted, each key's last only. A table's ops
// that all come after every op the load wrote of that table before go to
// the table's direct tables (writeDirect); the others go to run's file,
// where writeRun notes where each table begins. It returns the bytes
// written to the run (whose file is made only if it has any).
func (l *Loader) writeRun(run *loadRun, buf *loadBuf) (int64, error) {
	order := buf.sorted()
	var f vfs.File
	var w *bufio.Writer
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var hdr [1 + 2*binary.MaxVarintLen32]byte
	var n int64
	table := 0
	for len(order) > 0 {
		p := int(buf.arena[buf.ops[order[0]].off])
		end := 1
		for end < len(order) && int(buf.arena[buf.ops[order[end]].off]) == p {
			end++
		}
		part := order[:end]
		order = order[end:]
		for ; table <= p; table++ {
			run.at[table] = n
		}
		if d := &l.direct[p]; d.takes(buf.key(&buf.ops[part[0]])) {
			if err := l.writeDirect(d, p, buf, part); err != nil {
				return n, err
			}
			continue
		}
		if f == nil {
			var err error
			if f, err = l.s.fs.Create(run.name, vfs.WriteCategoryUnspecified); err != nil {
				return n, fmt.Errorf("pebblestore: load: %w", err)
			}
			w = bufio.NewWriterSize(f, 1<<20)
		}
		for _, i := range part {
			op := &buf.ops[i]
			h := hdr[:1]
			h[0] = 0
			if op.del {
				h[0] = 1
			}
			h = binary.AppendUvarint(h, uint64(op.klen))
			h = binary.AppendUvarint(h, uint64(op.vlen))
			w.Write(h)
			w.Write(buf.arena[op.off : op.off+op.klen+op.vlen])
			n += int64(len(h)) + int64(op.klen+op.vlen)
		}
	}
	for ; table <= 256; table++ {
		run.at[table] = n
	}
	if f == nil {
		return 0, nil
	}
	if err := w.Flush(); err != nil {
		return n, fmt.Errorf("pebblestore: load: %w", err)
	}
	err := f.Close()
	f = nil
	if err != nil {
		return n, fmt.Errorf("pebblestore: load: %w", err)
	}
	return n, nil
}

// directTable is one of the store's tables as a load writes it past the
// runs. While each spill's records of the table all come after the
// records the load wrote of it before (the audit log's always, the
// youths' records when the caller loads youths in their order), they go
// straight to sorted tables that Finish adds to the store as they are:
// they are not written to a run, read back and merged. Once a spill's
// records of the table do not (the load's ops of the table come in no
// order), the tables written so far are merged with the runs, and the
// table's later records go to the runs.
type directTable struct {
	last    []byte          // the last key written
	w       *sstable.Writer // the table being written, if any
	files   []string        // the tables written, in key order
	records int64
	merged  bool // the table's records go to the runs
}

// takes reports whether a spill's records of the table, the first of
// which has key first, go to the table's direct tables, and marks the
// table merged if they do not.
func (d *directTable) takes(first []byte) bool {
	if d.merged {
		return false
	}
	if d.last == nil || bytes.Compare(first, d.last) > 0 {
		return true
	}
	d.merged = true
	return false
}

// writeDirect writes part (ops of table p in key order) to d's tables.
func (l *Loader) writeDirect(d *directTable, p int, buf *loadBuf, part []int32) error {
	for _, i := range part {
		if d.w != nil && d.w.Raw().EstimatedSize() >= maxTableBytes {
			if err := d.close(); err != nil {
				return err
			}
		}
		if d.w == nil {
			name := l.s.fs.PathJoin(l.dir, fmt.Sprintf("direct-%02x-%06d.sst", p, len(d.files)))
			w, err := l.newTable(name)
			if err != nil {
				return err
			}
			d.w = w
			d.files = append(d.files, name)
		}
		op := &buf.ops[i]
		var err error
		if op.del {
			err = d.w.Delete(buf.key(op))
		} else {
			err = d.w.Set(buf.key(op), buf.value(op))
		}
		if err != nil {
			return fmt.Errorf("pebblestore: load: %w", err)
		}
		d.records++
	}
	d.last = append(d.last[:0], buf.key(&buf.ops[part[len(part)-1]])...)
	return nil
}

// close finishes the table being written, if any.
func (d *directTable) close() error {
	if d.w == nil {
		return nil
	}
	err := d.w.Close()
	d.w = nil
	if err != nil {
		return fmt.Errorf("pebblestore: load: %w", err)
	}
	return nil
}

// newTable creates a table file for the store's ingestion.
func (l *Loader) newTable(name string) (*sstable.Writer, error) {
	f, err := l.s.fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: load: %w", err)
	}
	format := l.s.db.FormatMajorVersion().MaxTableFormat()
	return sstable.NewWriter(objstorageprovider.NewFileWritable(f), l.s.po.MakeWriterOptions(0, format)), nil
}

// sorted returns the indexes of the buffer's ops in key order, each key's
// last op only.
func (b *loadBuf) sorted() []int32 {
	// By table first (one pass), then each table by key: most tables'
	// keys come nearly in order (the audit log's, and the youths' when
	// the caller goes through them in order); a table whose keys came in
	// order is not sorted at all.
	var count [257]int
	live := 0
	for i := range b.ops {
		if op := &b.ops[i]; !op.dead {
			count[int(b.arena[op.off])+1]++
			live++
		}
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	order := make([]int32, live)
	next := count
	for i := range b.ops {
		if op := &b.ops[i]; !op.dead {
			p := b.arena[op.off]
			order[next[p]] = int32(i)
			next[p]++
		}
	}
	less := func(a, c int32) int {
		if d := bytes.Compare(b.key(&b.ops[a]), b.key(&b.ops[c])); d != 0 {
			return d
		}
		return int(a - c)
	}
	var ents []sortEntry
	for p := range 256 {
		if part := order[count[p]:count[p+1]]; !slices.IsSortedFunc(part, less) {
			ents = b.sortPart(part, ents)
		}
	}
	// Keep each key's last op.
	out := order[:0]
	for i, o := range order {
		if i+1 < len(order) && bytes.Equal(b.key(&b.ops[o]), b.key(&b.ops[order[i+1]])) {
			continue
		}
		out = append(out, o)
	}
	return out
}

// sortEntry is an op in a sort: 8 bytes of its key (a chunk), how the
// key ends against the chunk (tie), and the op's index.
type sortEntry struct {
	abbr uint64
	tie  uint32
	i    int32
}

// sortPart sorts part (the indexes of one table's ops) by key, and the
// ops of one key in the order they came. It sorts on 8-byte chunks of
// the keys, after the prefix they all share: the ops by their first
// chunk, then the ops whose first chunks are alike by their next, and so
// on (most-significant-digit first). So nearly every comparison is of
// two integers, also where many keys share a long prefix past the first
// chunk (an event's recipient: every event of one institution). It
// returns ents, grown, for reuse.
func (b *loadBuf) sortPart(part []int32, ents []sortEntry) []sortEntry {
	first := b.key(&b.ops[part[0]])
	lcp := len(first)
	for _, o := range part[1:] {
		k := b.key(&b.ops[o])
		n := 0
		for n < lcp && n < len(k) && k[n] == first[n] {
			n++
		}
		lcp = n
	}
	ents = slices.Grow(ents[:0], len(part))[:len(part)]
	for j, o := range part {
		ents[j] = sortEntry{i: o}
	}
	b.sortChunks(ents, lcp)
	for j := range ents {
		part[j] = ents[j].i
	}
	return ents
}

// continues is the tie of a key that goes on past the chunk.
const continues = math.MaxUint32

// sortChunks sorts ents, whose keys agree before off, by their keys from
// off on, and equal keys by index. A key that ends within the chunk
// (padded with zeros) comes before every longer key of the same chunk,
// which it is a prefix of, and two such keys are ordered by length; the
// keys that go on past a chunk they share are sorted by the next.
func (b *loadBuf) sortChunks(ents []sortEntry, off int) {
	for j := range ents {
		k := b.key(&b.ops[ents[j].i])
		var c [8]byte
		if off < len(k) {
			copy(c[:], k[off:])
		}
		ents[j].abbr = binary.BigEndian.Uint64(c[:])
		ents[j].tie = continues
		if len(k) <= off+8 {
			ents[j].tie = uint32(len(k))
		}
	}
	slices.SortFunc(ents, func(x, y sortEntry) int {
		if x.abbr != y.abbr {
			return cmp.Compare(x.abbr, y.abbr)
		}
		if x.tie != y.tie {
			return cmp.Compare(x.tie, y.tie)
		}
		return cmp.Compare(x.i, y.i)
	})
	for lo := 0; lo < len(ents); {
		hi := lo + 1
		for hi < len(ents) && ents[hi].abbr == ents[lo].abbr && ents[hi].tie == ents[lo].tie {
			hi++
		}
		if ents[lo].tie == continues && hi-lo > 1 {
			b.sortChunks(ents[lo:hi], off+8)
		}
		lo = hi
	}
}

// Finish spills what is staged, merges the runs into sorted tables, adds
// them to the store in one atomic step, and ends the load. No update may
// run meanwhile.
func (l *Loader) Finish(ctx context.Context) (_ LoadStats, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || l.done {
		return l.stats, cmp.Or(l.err, ErrLoading)
	}
	defer func() {
		l.endLocked()
		// The staging directory not removed: its runs hold the store's
		// records beside it (until the next Open).
		err = cmp.Or(err, l.err)
	}()
	if err := l.spillLocked(false); err != nil {
		return l.stats, err
	}
	// The figures' counters, as the load leaves them, in a spill of
	// their own after every other (no update writes their table: take
	// refuses it, so the table goes to its direct tables).
	var v [8]byte
	for k, n := range l.figures {
		binary.BigEndian.PutUint64(v[:], n)
		l.buf.add([]byte(k), v[:], false)
	}
	if err := l.spillLocked(false); err != nil {
		return l.stats, err
	}
	for p := range l.direct {
		if err := l.direct[p].close(); err != nil {
			return l.stats, l.failLocked(err)
		}
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
	l.waitLocked()
	for p := range l.direct {
		l.direct[p].close()
	}
	s := l.s
	if err := s.fs.RemoveAll(l.dir); err != nil {
		l.failLocked(fmt.Errorf("pebblestore: load: removing %s: %w", l.dir, err))
	}
	// The index keeps its seed: a view that took the loader as its
	// reader during the load reads the store through it (empty maps).
	l.buf, l.spare, l.latest, l.spilled = nil, nil, opIndex{seed: l.latest.seed}, nil
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

// merge merges the runs (a later run's op of a key wins), and the direct
// tables of the store's tables that went to the runs after them, into
// tables in the staging directory, and returns these with the other
// direct tables: the paths of every table to add to the store. The
// store's tables are split into ranges of about equal size, merged side
// by side, one per CPU: each range's tables hold keys no other's do.
func (l *Loader) merge(ctx context.Context) ([]string, error) {
	var out []string
	var size [256]int64
	var total int64
	for p := range l.direct {
		d := &l.direct[p]
		for _, name := range d.files {
			st, err := l.s.fs.Stat(name)
			if err != nil {
				return nil, fmt.Errorf("pebblestore: load: %w", err)
			}
			if d.merged {
				size[p] += st.Size()
				total += st.Size()
				continue
			}
			out = append(out, name)
			l.stats.Tables++
			l.stats.Direct++
			l.stats.TableBytes += st.Size()
		}
		if !d.merged {
			l.stats.Records += d.records
		}
	}
	for _, run := range l.runs {
		for p := range 256 {
			size[p] += run.at[p+1] - run.at[p]
			total += run.at[p+1] - run.at[p]
		}
	}
	parts := max(1, min(runtime.GOMAXPROCS(0), 8))
	if total == 0 {
		return out, nil // every table direct
	}
	var ranges [][2]int
	lo, acc := 0, int64(0)
	for p := range 256 {
		acc += size[p]
		if acc*int64(parts) >= total*int64(len(ranges)+1) || p == 255 {
			ranges = append(ranges, [2]int{lo, p + 1})
			lo = p + 1
		}
	}
	tables := make([][]string, len(ranges))
	stats := make([]LoadStats, len(ranges))
	errs := make([]error, len(ranges))
	var wg sync.WaitGroup
	for i, rg := range ranges {
		wg.Go(func() {
			tables[i], errs[i] = l.mergeRange(ctx, rg[0], rg[1], i, &stats[i])
		})
	}
	wg.Wait()
	for i := range ranges {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, tables[i]...)
		l.stats.Tables += stats[i].Tables
		l.stats.TableBytes += stats[i].TableBytes
		l.stats.Records += stats[i].Records
	}
	return out, nil
}

// mergeRange merges the runs' records of tables lo to hi-1 into tables
// named after part, and counts them in stats.
func (l *Loader) mergeRange(ctx context.Context, lo, hi, part int, stats *LoadStats) ([]string, error) {
	h := make(runHeap, 0, len(l.runs))
	defer func() {
		for _, r := range h {
			r.f.Close()
		}
	}()
	for i, run := range l.runs {
		if run.at[hi] == run.at[lo] {
			continue
		}
		f, err := l.s.fs.Open(run.name)
		if err != nil {
			return nil, fmt.Errorf("pebblestore: load: %w", err)
		}
		section := io.NewSectionReader(f, run.at[lo], run.at[hi]-run.at[lo])
		r := &runReader{f: f, r: bufio.NewReaderSize(section, 1<<20), run: i}
		if err := r.start("run"); err != nil {
			return nil, err
		}
		h = append(h, r)
	}
	// The direct tables of a store's table that went to the runs: their
	// records came before any run's of that table.
	for p := lo; p < hi; p++ {
		if !l.direct[p].merged {
			continue
		}
		for _, name := range l.direct[p].files {
			r, err := l.openTable(ctx, name)
			if err != nil {
				return nil, err
			}
			if err := r.start("table " + name); err != nil {
				return nil, err
			}
			h = append(h, r)
		}
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
		stats.Tables++
		stats.TableBytes += st.Size()
		return nil
	}
	defer func() {
		if w != nil {
			w.Close()
		}
	}()
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
		// A table ends at the size limit, and before a key past a direct
		// table's range: tables the store ingests in one step may not
		// overlap.
		if w != nil && (w.Raw().EstimatedSize() >= maxTableBytes || l.directBetween(last[0], top.key[0])) {
			if err := closeTable(); err != nil {
				return nil, err
			}
		}
		if w == nil {
			name := l.s.fs.PathJoin(l.dir, fmt.Sprintf("table-%02d-%06d.sst", part, len(tables)))
			var err error
			if w, err = l.newTable(name); err != nil {
				return nil, err
			}
			tables = append(tables, name)
		}
		var err error
		if top.del {
			err = w.Delete(top.key)
		} else {
			err = w.Set(top.key, top.value)
		}
		if err != nil {
			return nil, fmt.Errorf("pebblestore: load: %w", err)
		}
		stats.Records++
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

// directBetween reports whether a direct table that is not merged holds
// keys between table a's and table b's.
func (l *Loader) directBetween(a, b byte) bool {
	for p := int(a) + 1; p < int(b); p++ {
		if d := &l.direct[p]; !d.merged && len(d.files) > 0 {
			return true
		}
	}
	return false
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

// runReader reads one run's ops in order, or a direct table's records.
type runReader struct {
	f          io.Closer
	r          *bufio.Reader
	run        int // the run's index; -1 for a direct table
	key, value []byte
	del        bool
	// A direct table's iterator, and whether it is at its first record.
	it      sstable.Iterator
	started bool
}

// openTable opens a direct table for the merge, as a run before all
// others.
func (l *Loader) openTable(ctx context.Context, name string) (*runReader, error) {
	f, err := l.s.fs.Open(name)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: load: %w", err)
	}
	readable, err := sstable.NewSimpleReadable(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pebblestore: load: %w", err)
	}
	rd, err := sstable.NewReader(ctx, readable, l.s.po.MakeReaderOptions())
	if err != nil {
		readable.Close()
		return nil, fmt.Errorf("pebblestore: load: table %s: %w", name, err)
	}
	it, err := rd.NewIter(sstable.NoTransforms, nil, nil, sstable.AssertNoBlobHandles)
	if err != nil {
		rd.Close()
		return nil, fmt.Errorf("pebblestore: load: table %s: %w", name, err)
	}
	return &runReader{f: tableCloser{it, rd}, run: -1, it: it}, nil
}

// tableCloser closes a direct table's iterator, then its reader (and
// file).
type tableCloser struct {
	it sstable.Iterator
	rd *sstable.Reader
}

func (c tableCloser) Close() error { return errors.Join(c.it.Close(), c.rd.Close()) }

// start reads r's first op, and closes r if that fails: what the merge
// reads (a run's section with bytes, a direct table) is never empty, so
// an empty one is corrupt.
func (r *runReader) start(what string) error {
	ok, err := r.next()
	if err == nil && !ok {
		err = fmt.Errorf("pebblestore: load: %s: %w", what, store.ErrCorrupt)
	}
	if err != nil {
		r.f.Close()
	}
	return err
}

func (r *runReader) next() (bool, error) {
	if r.it != nil {
		return r.nextRecord()
	}
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

// nextRecord moves to the direct table's next record.
func (r *runReader) nextRecord() (bool, error) {
	next := r.it.Next
	if !r.started {
		next, r.started = r.it.First, true
	}
	kv := next()
	if kv == nil {
		return false, r.it.Error()
	}
	switch kv.Kind() {
	case pebble.InternalKeyKindSet:
		r.del = false
	case pebble.InternalKeyKindDelete:
		r.del = true
	default:
		return false, fmt.Errorf("pebblestore: load: direct table record kind %v: %w", kv.Kind(), store.ErrCorrupt)
	}
	v, _, err := kv.Value(nil)
	if err != nil {
		return false, fmt.Errorf("pebblestore: load: %w", err)
	}
	r.key, r.value = kv.K.UserKey, v
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

// removeLoads removes the staging directories of loads a crash
// interrupted, beside the store's directory dir.
func removeLoads(fsys vfs.FS, dir string) error {
	for _, path := range besideStore(fsys, dir, loadInfix) {
		if err := fsys.RemoveAll(path); err != nil {
			return fmt.Errorf("pebblestore: removing an interrupted load: %w", err)
		}
	}
	return nil
}
