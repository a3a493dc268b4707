package main

import (
	"context"
	varint "encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/extsort"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// A bulk import (the default) reads the whole file first: it checks each
// row as the API checks a report, and sorts the rows by the youth's
// pseudonym in bounded memory (internal/extsort: what does not fit is
// spilled to runs sealed under a key that lives only in the import's
// memory, since the rows hold BSNs). It then registers the youths one
// after another, each youth's rows in the order of the file, on a store
// that is loading (pebblestore.Store.Load): the records go to sorted
// tables that are added to the store in one step at the end, past the
// memtable and the write-ahead log. The result is what the rows one by
// one would give (the same registrations, matches, coordinators, events
// and figures; only the events' and audit entries' numbers follow the
// youths' order instead of the file's), and it is all or nothing: an
// import that stops leaves the store as it was.

// sortDirPrefix names the directory of an import's sorted runs, in the
// data directory.
const sortDirPrefix = ".import-sort-"

// bulkMemory is the default --memory: what the sort and the load each
// hold before spilling.
const bulkMemory = 256 << 20

// importBulk imports rows in bulk (see above) into imp's store, which
// must be a Pebble store.
func (imp *importer) importBulk(rows rowSource, file string, dataDir string, memory, workers int, stderr io.Writer, size int64, read func() int64) {
	t := &imp.tally
	imp.start = time.Now()
	defer func() { t.elapsed = time.Since(imp.start) }()
	ps, ok := imp.st.(*pebblestore.Store)
	if !ok {
		t.fatal = errors.New("a bulk import needs the Pebble store; use --bulk=false")
		return
	}
	removeStaleSorts(dataDir)
	dir, err := os.MkdirTemp(dataDir, sortDirPrefix)
	if err != nil {
		t.fatal = err
		return
	}
	defer os.RemoveAll(dir)
	sorter, err := extsort.New(extsort.Options{Dir: dir, Memory: memory})
	if err != nil {
		t.fatal = err
		return
	}
	defer sorter.Close()

	// Read, check and sort.
	var sorted atomic.Int64
	stop := startProgress(stderr, progress{label: "read", verb: "read", size: size, bytes: true, done: read, counts: func() (int64, int64) {
		_, rejected := t.counts()
		return sorted.Load(), rejected
	}})
	imp.readSorted(rows, sorter, workers, &sorted)
	stop()
	if t.fatal != nil || t.readErr != nil {
		return
	}
	it, err := sorter.Sort()
	if err != nil {
		t.fatal = fmt.Errorf("sorting the rows: %w", err)
		return
	}
	runs, runBytes := sorter.Spilled()

	// Register youth after youth on the loading store.
	l, err := ps.Load(pebblestore.LoadOptions{Memory: memory})
	if err != nil {
		t.fatal = err
		return
	}
	var done atomic.Int64
	readTime := time.Since(imp.start)
	stop = startProgress(stderr, progress{label: "load", verb: "imported", size: sorted.Load(), done: done.Load, counts: t.counts})
	imp.loadSorted(it, l, file, workers, &done)
	stop()
	if errors.Is(t.fatal, pebblestore.ErrLoadRead) {
		// A report read what the load has changed and not yet written
		// (a family index, a youth's history): row by row reads it.
		t.fatal = fmt.Errorf("%w; nothing was imported: import this file with --bulk=false", t.fatal)
	}
	if t.fatal != nil || it.Err() != nil {
		if t.fatal == nil {
			t.fatal = fmt.Errorf("reading the sorted rows: %w", it.Err())
		}
		l.Abort()
		t.imported.Store(0)
		t.matched.Store(0)
		return
	}
	loadTime := time.Since(imp.start) - readTime
	fmt.Fprintf(stderr, "writing the store's tables…\n")
	stats, err := l.Finish(context.Background())
	if err != nil {
		t.fatal = err
		t.imported.Store(0)
		t.matched.Store(0)
		return
	}
	imp.bulkNote = fmt.Sprintf("read and sorted %d rows in %v (%d runs, %d MiB, sealed); loaded them in %v; wrote %d tables in %v (%d MiB, %d of them while loading; %d runs, %d MiB, on the way)",
		sorted.Load(), readTime.Round(time.Millisecond), runs, runBytes>>20, loadTime.Round(time.Millisecond),
		stats.Tables, (time.Since(imp.start) - readTime - loadTime).Round(time.Millisecond), stats.TableBytes>>20, stats.Direct, stats.Runs, stats.RunBytes>>20)
}

// readSorted reads the rows, checks each as the API checks a report
// (workers of them at once: the pseudonyms and the checks are most of
// the cost), and adds the good ones to sorter under their youth's order
// key and line, so that a youth's rows come out together, in the order of
// the file, however the workers interleave. The rows that fail are
// rejected.
func (imp *importer) readSorted(rows rowSource, sorter *extsort.Sorter, workers int, sorted *atomic.Int64) {
	t := &imp.tally
	const batch = 256
	batches := make(chan []importRow, 2*workers)
	var mu sync.Mutex // the sorter's
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var keys, vals []byte
			var ends []int
			for rows := range batches {
				keys, vals, ends = keys[:0], vals[:0], ends[:0]
				for _, row := range rows {
					reg, err := parseRow(imp.m, row)
					if err != nil {
						t.reject(rejection{row.line, err.Error()})
						continue
					}
					keys = reg.Youth.AppendOrder(keys)
					keys = varint.BigEndian.AppendUint64(keys, uint64(row.line))
					vals = encodeRow(vals, row)
					ends = append(ends, len(keys), len(vals))
				}
				mu.Lock()
				k, v := 0, 0
				for i := 0; i < len(ends); i += 2 {
					if err := sorter.Add(keys[k:ends[i]], vals[v:ends[i+1]]); err != nil {
						t.stop(fmt.Errorf("sorting the rows: %w", err))
						break
					}
					k, v = ends[i], ends[i+1]
					sorted.Add(1)
				}
				mu.Unlock()
			}
		})
	}
	var next []importRow
	t.readRows(rows, func() bool { return t.failed() != nil }, func(row importRow) {
		if next = append(next, row); len(next) == batch {
			batches <- next
			next = make([]importRow, 0, batch)
		}
	})
	if len(next) > 0 {
		batches <- next
	}
	close(batches)
	wg.Wait()
}

// orderSize is the size of a sorted row's key: its youth's order key
// (matcher.Youth.AppendOrder) and its line.
const orderSize = 4 + pseudonym.Size + 8

// loadSorted registers the sorted rows with workers concurrent writers,
// a youth's rows (equal keys) all by one, in order; between youths,
// when the load's memory is full, it waits for the writers and spills.
func (imp *importer) loadSorted(it *extsort.Iterator, l *pebblestore.Loader, file string, workers int, done *atomic.Int64) {
	t := &imp.tally
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	youths := make(chan [][]byte, 2*workers) // a youth's rows, encoded
	var inflight, wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			// One row's map, filled again for each: nothing keeps it.
			row := importRow{fields: make(map[string]string, len(importColumns))}
			for rows := range youths {
				for _, enc := range rows {
					if ctx.Err() != nil {
						break
					}
					if err := decodeRowInto(enc, &row); err != nil {
						t.stop(fmt.Errorf("reading the sorted rows: %w", err))
						cancel()
						break
					}
					res, err := importOne(ctx, imp.m, row)
					if t.add(file, row.line, res, err) {
						cancel()
					}
					done.Add(1)
				}
				inflight.Done()
			}
		})
	}
	var last []byte
	var group [][]byte
	send := func() {
		if len(group) == 0 {
			return
		}
		if l.Due() {
			inflight.Wait()
			if err := l.Spill(); err != nil {
				t.stop(err)
				cancel()
				return
			}
		}
		inflight.Add(1)
		youths <- group
		group = nil
	}
	for ctx.Err() == nil && it.Next() {
		youth := it.Key()[:orderSize-8]
		if last == nil || string(youth) != string(last) {
			send()
			last = append(last[:0], youth...)
		}
		group = append(group, slices.Clone(it.Value()))
	}
	if ctx.Err() == nil {
		send()
	}
	close(youths)
	wg.Wait()
}

// encodeRow appends row (its line, and the columns it has) to dst.
func encodeRow(dst []byte, row importRow) []byte {
	dst = varint.AppendUvarint(dst, uint64(row.line))
	var has uint32
	for i, c := range importColumns {
		if _, ok := row.fields[c]; ok {
			has |= 1 << i
		}
	}
	dst = varint.AppendUvarint(dst, uint64(has))
	for i, c := range importColumns {
		if has&(1<<i) != 0 {
			v := row.fields[c]
			dst = varint.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
		}
	}
	return dst
}

var errRowEncoding = errors.New("a sorted row does not decode")

// decodeRowInto is encodeRow's inverse, into row (its map emptied first).
func decodeRowInto(b []byte, row *importRow) error {
	clear(row.fields)
	line, n := varint.Uvarint(b)
	if n <= 0 {
		return errRowEncoding
	}
	b = b[n:]
	has, n := varint.Uvarint(b)
	if n <= 0 || has >= 1<<len(importColumns) {
		return errRowEncoding
	}
	b = b[n:]
	row.line = int(line)
	for i, c := range importColumns {
		if has&(1<<i) == 0 {
			continue
		}
		size, n := varint.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < size {
			return errRowEncoding
		}
		row.fields[c] = string(b[n : n+int(size)])
		b = b[n+int(size):]
	}
	if len(b) != 0 {
		return errRowEncoding
	}
	return nil
}

// removeStaleSorts removes the sort directories of imports that were
// killed: their runs are sealed under keys that died with them, so
// nothing in them can be read, but they take space.
func removeStaleSorts(dataDir string) {
	names, _ := filepath.Glob(filepath.Join(dataDir, sortDirPrefix+"*"))
	for _, name := range names {
		os.RemoveAll(name)
	}
}
