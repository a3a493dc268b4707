package pebblestore

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
)

// youthFilter is an in-memory Bloom filter over every youth key the store
// holds, so that the read of a youth never seen (most reports) skips the
// memtable search, which Pebble's per-table Bloom filters do not cover.
//
// It may answer "maybe" for a youth that is not there (about 1 in 100),
// never "no" for one that is: Open adds every youth key on disk before the
// store is used, and commit adds a key before the batch that writes it is
// applied, while the youth's lock is held. Deleted keys stay in the filter.
// It grows by adding filters twice the size of the last one.
type youthFilter struct {
	seed maphash.Seed
	mu   sync.RWMutex
	fs   []*bitFilter
}

const (
	filterBitsPerKey = 10
	filterProbes     = 7
	filterMinKeys    = 1 << 20
)

type bitFilter struct {
	words []atomic.Uint64
	mask  uint64 // bits-1; the bit count is a power of two
	keys  atomic.Int64
	cap   int64
}

func newBitFilter(capacity int64) *bitFilter {
	n := uint64(1) << bits.Len64(uint64(capacity*filterBitsPerKey-1))
	return &bitFilter{words: make([]atomic.Uint64, n/64), mask: n - 1, cap: capacity}
}

func newYouthFilter(capacity int64) *youthFilter {
	return &youthFilter{seed: maphash.MakeSeed(), fs: []*bitFilter{newBitFilter(capacity)}}
}

func (f *youthFilter) hash(p pseudonym.Pseudonym) (uint64, uint64) {
	var buf [youthSize]byte
	h1 := maphash.Bytes(f.seed, appendYouth(buf[:0], p))
	return h1, bits.RotateLeft64(h1, 32) | 1
}

// add records that the store may hold a record for p.
func (f *youthFilter) add(p pseudonym.Pseudonym) {
	h1, h2 := f.hash(p)
	f.mu.RLock()
	b := f.fs[len(f.fs)-1]
	full := b.keys.Add(1) > b.cap
	if !full {
		b.set(h1, h2)
		f.mu.RUnlock()
		return
	}
	f.mu.RUnlock()
	f.mu.Lock()
	last := f.fs[len(f.fs)-1]
	if last.keys.Load() > last.cap {
		last = newBitFilter(last.cap * 2)
		f.fs = append(f.fs, last)
	}
	last.keys.Add(1)
	last.set(h1, h2)
	f.mu.Unlock()
}

// mayContain reports whether the store may hold a record for p; false
// means it certainly does not.
func (f *youthFilter) mayContain(p pseudonym.Pseudonym) bool {
	h1, h2 := f.hash(p)
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, b := range f.fs {
		if b.has(h1, h2) {
			return true
		}
	}
	return false
}

func (b *bitFilter) set(h1, h2 uint64) {
	for i := uint64(0); i < filterProbes; i++ {
		bit := (h1 + i*h2) & b.mask
		b.words[bit/64].Or(1 << (bit % 64))
	}
}

func (b *bitFilter) has(h1, h2 uint64) bool {
	for i := uint64(0); i < filterProbes; i++ {
		bit := (h1 + i*h2) & b.mask
		if b.words[bit/64].Load()&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// loadYouthFilter builds the filter from every youth key in db, and counts
// the live registrations per key ID and the client references of all
// registrations, live and ended, per reference key into use. It returns the number of
// youth records.
func loadYouthFilter(db *pebble.DB, use *keyUse) (*youthFilter, int64, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixYouth}, UpperBound: []byte{prefixYouth + 1}})
	if err != nil {
		return nil, 0, err
	}
	f := newYouthFilter(filterMinKeys) // grows as it fills
	var n int64
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 1+youthSize {
			it.Close()
			return nil, 0, ErrSchema
		}
		f.add(parseYouth(k[1:]))
		n++
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, 0, err
		}
		rec, err := decodeYouth(v)
		if err != nil {
			it.Close()
			return nil, 0, err
		}
		use.apply(nil, rec.regs)
	}
	if err := it.Close(); err != nil {
		return nil, 0, err
	}
	if err := countHistoryRefs(db, use); err != nil {
		return nil, 0, err
	}
	return f, n, nil
}
