// Package extsort sorts records that may not fit in memory: an external
// merge sort whose spilled runs only the running process can read.
//
// A [Sorter] collects (key, value) records and returns them ordered by key
// ([bytes.Compare]); records with equal keys come out in the order they
// were added (the sort is stable).
//
// # Memory
//
// A Sorter holds at most [Options.Memory] bytes of records (their key and
// value bytes plus a fixed overhead per record) before it sorts them and
// spills them to a run file; a single record larger than that is spilled
// on its own. The records are kept in a few large arenas, not one
// allocation per record. While the runs are merged, memory is bounded by
// the records still in memory plus, for each run, one block (64 KiB) and
// the largest record that crosses a block boundary. If nothing was spilled,
// the sort happens in memory and no file is created.
//
// # What is on disk
//
// Run files are created with mode 0600 under unique names in [Options.Dir].
// A run is a sequence of blocks, each holding up to 64 KiB of framed
// records sealed with AES-256-GCM under a key that [New] draws from
// crypto/rand and that lives only in the Sorter's memory: no record byte
// reaches the disk in the clear. A run left behind by a process that died
// before Close stays in Dir (the caller owns Dir and may clear it), but
// nobody can read it: the key died with the process. Each block's nonce is
// its run number and block index (never reused under one key); the run
// number, block index, block length and a final-block flag are
// authenticated with it, so a block that is altered, moved to another place
// or run, or cut off (a truncated run) makes [Sorter.Sort] or the
// [Iterator] fail with [ErrCorrupt]; it never yields a wrong record.
//
// [Sorter.Close] removes every run file, also after an error (a failed
// spill, a failed or abandoned merge), and overwrites the key and the
// records held in memory. The AES key schedule inside crypto/cipher cannot
// be overwritten from outside; Close drops it for the garbage collector.
//
// Errors name runs and blocks, never key or value bytes. The package does
// not log.
//
// A Sorter and its Iterator are not safe for concurrent use.
package extsort

import (
	"bytes"
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
)

var (
	// ErrCorrupt is returned (wrapped, with the run and block) when a run
	// file does not authenticate: it was altered, reordered, truncated or
	// extended after it was written.
	ErrCorrupt = errors.New("extsort: run file corrupt or tampered with")
	// ErrSorted is returned by Add and Sort after Sort.
	ErrSorted = errors.New("extsort: already sorted")
	// ErrClosed is returned by Add and Sort after Close, and by an
	// Iterator whose Sorter was closed.
	ErrClosed = errors.New("extsort: sorter closed")
	// ErrTooLarge is returned by Add for a key or value of 4 GiB or more.
	ErrTooLarge = errors.New("extsort: record too large")
	// ErrOptions is returned (wrapped) by New for invalid Options.
	ErrOptions = errors.New("extsort: invalid options")
)

// DefaultMemory is the Memory of Options whose Memory is zero: 64 MiB.
const DefaultMemory = 64 << 20

// entryOverhead is what each record costs in memory besides its key and
// value bytes: its entry.
const entryOverhead = 16

// maxChunk is the size of an arena chunk (smaller if Memory is).
const maxChunk = 1 << 20

// Options configures a Sorter. The zero value of a field means its
// documented default.
type Options struct {
	// Dir is the directory in which runs are spilled, as files of mode 0600
	// with unique names. It must exist; the caller owns it, and the Sorter
	// removes only the files it created. Default: os.TempDir().
	Dir string
	// Memory is how many bytes of records (key and value bytes plus 16 per
	// record) are held in memory before they are spilled as a sorted run.
	// Default: DefaultMemory (64 MiB). It must not be negative.
	Memory int
}

// Sorter collects records and returns them sorted by key (bytes.Compare),
// records with equal keys in the order they were added (stable). Create
// one with New and always Close it.
type Sorter struct {
	dir    string
	memory int

	key  []byte      // the 256-bit sealing key, only ever in memory
	aead cipher.AEAD // AES-256-GCM under key

	// The records not yet spilled: their bytes in chunks (arenas), one
	// entry each, used bytes counted as Memory counts them.
	chunks  [][]byte
	chunk   int // the chunk being filled
	entries []entry
	used    int

	runs  []run
	bytes int64 // bytes written to run files

	w  blockWriter // reused for each run
	it *Iterator   // after Sort

	err    error // sticky: a failed spill
	sorted bool
	closed bool

	// create makes a run file; tests replace it to make writes fail.
	create func(dir, pattern string) (*os.File, error)
}

// entry places one record in the chunks.
type entry struct {
	chunk, off, klen, vlen uint32
}

// run is one spilled run file.
type run struct {
	path string
	size int64
}

// New returns an empty Sorter with a fresh random 256-bit key from
// crypto/rand, held only in memory.
func New(o Options) (*Sorter, error) {
	if o.Memory < 0 {
		return nil, fmt.Errorf("%w: Memory %d is negative", ErrOptions, o.Memory)
	}
	if o.Memory == 0 {
		o.Memory = DefaultMemory
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	if fi, err := os.Stat(o.Dir); err != nil {
		return nil, fmt.Errorf("%w: Dir: %w", ErrOptions, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%w: Dir %s is not a directory", ErrOptions, o.Dir)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("extsort: key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("extsort: key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("extsort: key: %w", err)
	}
	return &Sorter{dir: o.Dir, memory: o.Memory, key: key, aead: aead, create: os.CreateTemp}, nil
}

func (s *Sorter) usable() error {
	switch {
	case s.closed:
		return ErrClosed
	case s.err != nil:
		return s.err
	case s.sorted:
		return ErrSorted
	}
	return nil
}

// Add adds a record. It copies key and value; the caller may reuse them.
// When the records held reach Options.Memory, Add sorts them and writes
// them to a run file; an error doing so is returned, and by every later
// Add and Sort.
func (s *Sorter) Add(key, value []byte) error {
	if err := s.usable(); err != nil {
		return err
	}
	if uint64(len(key)) > math.MaxUint32 || uint64(len(value)) > math.MaxUint32 {
		return ErrTooLarge
	}
	n := len(key) + len(value)
	if len(s.chunks) == 0 {
		s.chunks = append(s.chunks, make([]byte, 0, max(min(s.memory, maxChunk), n)))
	}
	if c := s.chunks[s.chunk]; cap(c)-len(c) < n {
		s.chunk++
		switch {
		case s.chunk == len(s.chunks):
			s.chunks = append(s.chunks, make([]byte, 0, max(min(s.memory, maxChunk), n)))
		case cap(s.chunks[s.chunk]) < n:
			s.chunks[s.chunk] = make([]byte, 0, n)
		}
	}
	c := s.chunks[s.chunk]
	off := len(c)
	if uint64(off) > math.MaxUint32 || uint64(s.chunk) > math.MaxUint32 {
		return ErrTooLarge // not reached: chunks are at most maxChunk or one record
	}
	c = append(c, key...)
	s.chunks[s.chunk] = append(c, value...)
	s.entries = append(s.entries, entry{chunk: uint32(s.chunk), off: uint32(off), klen: uint32(len(key)), vlen: uint32(len(value))})
	s.used += n + entryOverhead
	if s.used >= s.memory {
		if err := s.spill(); err != nil {
			s.err = err
			return err
		}
	}
	return nil
}

// record returns e's key and value (capped, so that appending to one
// cannot overwrite the other).
func (s *Sorter) record(e entry) (key, value []byte) {
	c := s.chunks[e.chunk]
	k := int(e.off) + int(e.klen)
	v := k + int(e.vlen)
	return c[e.off:k:k], c[k:v:v]
}

// sortEntries orders the records in memory by key and, on equal keys, by
// the order they were added (which is their order in the chunks).
func (s *Sorter) sortEntries() {
	slices.SortFunc(s.entries, func(a, b entry) int {
		ka, _ := s.record(a)
		kb, _ := s.record(b)
		if c := bytes.Compare(ka, kb); c != 0 {
			return c
		}
		if c := cmp.Compare(a.chunk, b.chunk); c != 0 {
			return c
		}
		return cmp.Compare(a.off, b.off)
	})
}

// spill sorts the records in memory and writes them as the next run.
func (s *Sorter) spill() error {
	if uint64(len(s.runs)) >= math.MaxUint32 {
		return fmt.Errorf("extsort: too many runs")
	}
	s.sortEntries()
	num := uint32(len(s.runs))
	f, err := s.create(s.dir, "extsort-*.run")
	if err != nil {
		return fmt.Errorf("extsort: creating run %d: %w", num, err)
	}
	s.runs = append(s.runs, run{path: f.Name()})
	r := &s.runs[len(s.runs)-1]
	s.w.reset(f, s.aead, num)
	for _, e := range s.entries {
		k, v := s.record(e)
		if err = s.w.add(k, v); err != nil {
			break
		}
	}
	if err == nil {
		err = s.w.finish()
	}
	r.size = s.w.written
	s.bytes += s.w.written
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extsort: writing run %d: %w", num, err)
	}
	s.resetMemory()
	return nil
}

// resetMemory empties the chunks and entries, keeping their storage.
func (s *Sorter) resetMemory() {
	for i := range s.chunks {
		s.chunks[i] = s.chunks[i][:0]
	}
	s.chunk = 0
	s.entries = s.entries[:0]
	s.used = 0
}

// Sort ends the adding and returns an Iterator over all records in order.
// If nothing was spilled, the records are sorted in memory; otherwise the
// records still in memory are merged with the runs (the runs' first blocks
// are read and checked here). After Sort, Add and Sort return ErrSorted.
// On an error the Sorter must still be closed, which removes the runs.
func (s *Sorter) Sort() (*Iterator, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	s.sorted = true
	s.sortEntries()
	it := &Iterator{s: s}
	s.it = it
	for i, r := range s.runs {
		f, err := os.Open(r.path)
		if err != nil {
			return nil, fmt.Errorf("extsort: opening run %d: %w", i, err)
		}
		rr := newRunReader(f, s.aead, uint32(i))
		it.files = append(it.files, rr)
		it.srcs = append(it.srcs, &source{order: i, next: rr.next})
	}
	if len(s.entries) > 0 {
		m := &memSource{s: s}
		it.srcs = append(it.srcs, &source{order: len(s.runs), next: m.next})
	}
	// Load each source's first record and order the sources.
	srcs := it.srcs[:0]
	for _, src := range it.srcs {
		ok, err := src.advance()
		if err != nil {
			return nil, err
		}
		if ok {
			srcs = append(srcs, src)
		}
	}
	it.srcs = srcs
	for i := len(it.srcs)/2 - 1; i >= 0; i-- {
		it.down(i)
	}
	return it, nil
}

// Spilled reports how many runs were written and their total size in
// bytes (sealed, as on disk), for reports.
func (s *Sorter) Spilled() (runs int, bytes int64) {
	return len(s.runs), s.bytes
}

// Close removes every run file, closes the files an Iterator has open,
// overwrites the key and the records held in memory, and makes the Sorter
// and its Iterator unusable. It is idempotent; it returns the first error
// removing a file (a file already gone is not one).
func (s *Sorter) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var first error
	if s.it != nil {
		for _, rr := range s.it.files {
			rr.close()
		}
		s.it.key, s.it.value = nil, nil
	}
	for _, r := range s.runs {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = fmt.Errorf("extsort: removing a run: %w", err)
		}
	}
	for _, c := range s.chunks {
		clear(c[:cap(c)])
	}
	s.chunks, s.entries = nil, nil
	clear(s.w.buf)
	clear(s.key)
	s.key, s.aead = nil, nil
	return first
}

// memSource yields the sorted records still in memory.
type memSource struct {
	s *Sorter
	i int
}

func (m *memSource) next() (key, value []byte, ok bool, err error) {
	if m.i == len(m.s.entries) {
		return nil, nil, false, nil
	}
	key, value = m.s.record(m.s.entries[m.i])
	m.i++
	return key, value, true, nil
}

// source is one sorted input of the merge with its current record.
type source struct {
	order      int // the run's number; on equal keys the lower goes first
	key, value []byte
	next       func() (key, value []byte, ok bool, err error)
}

func (src *source) advance() (bool, error) {
	k, v, ok, err := src.next()
	src.key, src.value = k, v
	return ok, err
}

// Iterator returns the sorted records of a Sorter, one per Next.
type Iterator struct {
	s     *Sorter
	srcs  []*source // a min-heap by (key, order)
	files []*runReader
	cur   *source // whose record is current (srcs[0]); advanced on Next
	key   []byte
	value []byte
	err   error
}

func (it *Iterator) less(i, j int) bool {
	a, b := it.srcs[i], it.srcs[j]
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c < 0
	}
	return a.order < b.order
}

func (it *Iterator) down(i int) {
	n := len(it.srcs)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && it.less(r, l) {
			m = r
		}
		if !it.less(m, i) {
			return
		}
		it.srcs[i], it.srcs[m] = it.srcs[m], it.srcs[i]
		i = m
	}
}

// Next moves to the next record and reports whether there is one. It
// returns false at the end and on an error (see Err).
func (it *Iterator) Next() bool {
	if it.err != nil {
		return false
	}
	if it.s.closed {
		it.fail(ErrClosed)
		return false
	}
	if it.cur != nil {
		it.cur = nil
		ok, err := it.srcs[0].advance()
		if err != nil {
			it.fail(err)
			return false
		}
		if !ok {
			last := len(it.srcs) - 1
			it.srcs[0] = it.srcs[last]
			it.srcs[last] = nil
			it.srcs = it.srcs[:last]
		}
		it.down(0)
	}
	if len(it.srcs) == 0 {
		it.key, it.value = nil, nil
		return false
	}
	it.cur = it.srcs[0]
	it.key, it.value = it.cur.key, it.cur.value
	return true
}

func (it *Iterator) fail(err error) {
	it.err = err
	it.key, it.value = nil, nil
	it.srcs = nil
}

// Key returns the current record's key. It is valid until the next call
// of Next, and must not be modified.
func (it *Iterator) Key() []byte { return it.key }

// Value returns the current record's value. It is valid until the next
// call of Next, and must not be modified.
func (it *Iterator) Value() []byte { return it.value }

// Err returns the error that ended the iteration, or nil if it ended (or
// has not yet ended) normally. A run that does not authenticate gives an
// error wrapping ErrCorrupt; the records returned before it were correct.
func (it *Iterator) Err() error { return it.err }
