package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/store"
)

// The management figures' counters (store.FigureCounter), under 'f', month
// first so that a period is one range:
//
//	'f' month 'c' measure municipality type kind code -> count (8 bytes)
//	'f' month 'd' municipality type kind code days    -> count (8 bytes)
//
// month is "2006-01" (7 bytes), every other string length-prefixed
// (uvarint), days 4 bytes big-endian. A key holds covenant codes and a
// date, never an identity; a value a number.
//
// A counter is read, added to and written back inside the commit that
// counts (read-modify-write), under one lock (Store.figuresMu) held from
// the read until the batch is applied, or queued for a group commit in
// the order of the lock (groupcommit.go), with the value it writes kept
// until it is applied: the next commit that counts reads that value, and
// its batch follows this one in the log, so no count is lost however many
// commits count in the same cell at once.
// Pebble's merge operator would avoid the read, but a store's merger is
// named in its files and Open refuses a store written with another name:
// stores written before the counters (with Pebble's default merger) could
// then no longer be opened.
const (
	prefixFigures = 'f'
	tagCount      = 'c'
	tagDuration   = 'd'
	monthSize     = 7
)

// figureKey is the key of a counter of measure m (a duration's, in bucket
// days, if m is empty) in cell at.
func figureKey(m figures.Measure, at figures.Coords, days int) []byte {
	k := make([]byte, 0, 2+monthSize+6*maxLenPrefix+len(m)+4)
	k = append(k, prefixFigures)
	k = append(k, at[figures.Month]...)
	if m != "" {
		k = append(k, tagCount)
		k = appendLenString(k, string(m))
	} else {
		k = append(k, tagDuration)
	}
	for d := figures.Municipality; d < figures.NumDims; d++ {
		k = appendLenString(k, at[d])
	}
	if m == "" {
		k = binary.BigEndian.AppendUint32(k, uint32(days))
	}
	return k
}

// parseFigureKey is figureKey's inverse.
func parseFigureKey(k []byte) (m figures.Measure, at figures.Coords, days int, ok bool) {
	if len(k) < 2+monthSize || k[0] != prefixFigures {
		return m, at, 0, false
	}
	at[figures.Month] = string(k[1 : 1+monthSize])
	tag, rest := k[1+monthSize], k[2+monthSize:]
	next := func() (string, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return "", false
		}
		s := string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
		return s, true
	}
	switch tag {
	case tagCount:
		s, ok := next()
		if !ok || s == "" {
			return m, at, 0, false
		}
		m = figures.Measure(s)
	case tagDuration:
	default:
		return m, at, 0, false
	}
	for d := figures.Municipality; d < figures.NumDims; d++ {
		if at[d], ok = next(); !ok {
			return m, at, 0, false
		}
	}
	switch {
	case tag == tagCount && len(rest) == 0:
		return m, at, 0, true
	case tag == tagDuration && len(rest) == 4:
		return m, at, int(binary.BigEndian.Uint32(rest)), true
	}
	return m, at, 0, false
}

// Count implements store.FigureCounter.
func (t *tx) Count(m figures.Measure, at figures.Coords) {
	if m == "" {
		t.fail(fmt.Errorf("%w: figures count without a measure", store.ErrInvalid))
		return
	}
	t.addFigure(m, at, 0)
}

// CountDuration implements store.FigureCounter.
func (t *tx) CountDuration(at figures.Coords, days int) {
	if days < 0 || days > 1<<20 {
		t.fail(fmt.Errorf("%w: figures duration of %d days", store.ErrInvalid, days))
		return
	}
	t.addFigure("", at, days)
}

func (t *tx) addFigure(m figures.Measure, at figures.Coords, days int) {
	if !t.mustWrite() {
		return
	}
	if err := store.CheckFigureCell(m, at); err != nil {
		t.fail(err)
		return
	}
	if t.figures == nil {
		t.figures = make(map[string]uint64)
	}
	t.figures[string(figureKey(m, at, days))]++
}

// stageFigures adds t's counts to the counters, into t.figuresWritten,
// which the batch's way into the store writes: the group commit writes
// each counter once for its group, with the value of the group's last
// commit to count it (applyGroup); a replicated store's batch takes its
// own (applyBatchLogged). It takes the counters' lock, which the caller
// releases (unlock) once t's batch is applied or, in a group commit, queued
// (groupcommit.go): a counter a queued batch writes is read from
// s.figuresQueued until that batch is applied. A load adds the counts
// itself, when it takes the batch (Loader.take).
func (s *Store) stageFigures(t *tx) (unlock func(), err error) {
	if len(t.figures) == 0 || s.loader() != nil {
		return func() {}, nil
	}
	s.figuresMu.Lock()
	written := make([]queuedCount, 0, len(t.figures))
	for k := range t.figures {
		written = append(written, queuedCount{key: k})
	}
	slices.SortFunc(written, func(a, b queuedCount) int { return strings.Compare(a.key, b.key) })
	for i := range written {
		k := written[i].key
		n, err := s.figure(k)
		if err != nil {
			s.figuresMu.Unlock()
			return nil, err
		}
		written[i].n = n + t.figures[k]
	}
	s.figuresGen++
	t.figuresGen, t.figuresWritten = s.figuresGen, written
	return s.figuresMu.Unlock, nil
}

// setFigures writes counters into b.
func setFigures(b *pebble.Batch, counts []queuedCount) {
	var v [8]byte
	for _, c := range counts {
		binary.BigEndian.PutUint64(v[:], c.n)
		b.Set([]byte(c.key), v[:], nil)
	}
}

// groupFigures is the counters the commits of group write, each once, with
// the value of the last commit (in queue order, which is the order they
// counted in) to write it. The commits of a group often count in the same
// counter (an institution's registrations of the day), and the group's
// batch is applied as one: the earlier values would never be seen, and
// would only add a record each to the memtable and the WAL.
func groupFigures(group []*commitReq) []queuedCount {
	if len(group) == 1 {
		return group[0].t.figuresWritten
	}
	var out []queuedCount
	var at map[string]int // the counter's index in out
	for _, o := range group {
		for _, c := range o.t.figuresWritten {
			if i, ok := at[c.key]; ok {
				out[i].n = c.n
				continue
			}
			if at == nil {
				at = make(map[string]int)
			}
			at[c.key] = len(out)
			out = append(out, c)
		}
	}
	return out
}

// queueFigures keeps the counters t's batch writes readable until it is
// applied (figuresApplied). Only the group commit calls it, with the
// figures' lock held since stageFigures: a batch applied at once (a
// replicated store's, a load's) leaves no value behind.
func (s *Store) queueFigures(t *tx) {
	if t.figuresGen == 0 {
		return
	}
	if s.figuresQueued == nil {
		s.figuresQueued = make(map[string]queuedFigure)
	}
	for _, c := range t.figuresWritten {
		s.figuresQueued[c.key] = queuedFigure{n: c.n, gen: t.figuresGen}
	}
}

// queuedCount is the value a commit writes to the counter at key.
type queuedCount struct {
	key string
	n   uint64
}

// queuedFigure is a counter's value as a batch not yet applied writes it,
// and the figures generation of the commit that staged it.
type queuedFigure struct {
	n, gen uint64
}

// figuresApplied forgets the queued counters of the commits ts, whose
// batches are applied: a counter written since by another commit stays.
func (s *Store) figuresApplied(ts []*tx) {
	s.figuresMu.Lock()
	defer s.figuresMu.Unlock()
	for _, t := range ts {
		for k := range t.figures {
			if q, ok := s.figuresQueued[k]; ok && q.gen == t.figuresGen {
				delete(s.figuresQueued, k)
			}
		}
	}
}

// figure reads the counter at k as the last commit that counted left it:
// queued, or else committed; 0 if there is none. The caller holds
// figuresMu.
func (s *Store) figure(k string) (uint64, error) {
	if q, ok := s.figuresQueued[k]; ok {
		return q.n, nil
	}
	return s.figureCommitted(k)
}

// figureCommitted reads the committed counter at k; 0 if there is none.
func (s *Store) figureCommitted(k string) (uint64, error) {
	v, closer, err := s.db.Get([]byte(k))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pebblestore: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("pebblestore: figures counter: %w", store.ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

var _ store.FigureReader = (*Store)(nil)

// Figures implements store.FigureReader.
func (s *Store) Figures(ctx context.Context, from, to string) (store.FigureCounts, error) {
	var out store.FigureCounts
	if err := ctx.Err(); err != nil {
		return out, err
	}
	for _, m := range []string{from, to} {
		if err := store.CheckFigureMonth(m); err != nil {
			return out, err
		}
	}
	if err := s.enter(); err != nil {
		return out, err
	}
	defer s.leave()
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: append([]byte{prefixFigures}, from...),
		UpperBound: append(append([]byte{prefixFigures}, to...), 0xff),
	})
	if err != nil {
		return out, fmt.Errorf("pebblestore: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		m, at, days, ok := parseFigureKey(it.Key())
		v := it.Value()
		if !ok || len(v) != 8 {
			return store.FigureCounts{}, closeIter(it, fmt.Errorf("pebblestore: figures counter: %w", store.ErrCorrupt))
		}
		n := int64(binary.BigEndian.Uint64(v))
		if m != "" {
			out.Counts = append(out.Counts, store.FigureCount{Measure: m, At: at, N: n})
		} else {
			out.Durations = append(out.Durations, store.FigureDuration{At: at, Days: days, N: n})
		}
	}
	if err := it.Error(); err != nil {
		return store.FigureCounts{}, closeIter(it, fmt.Errorf("pebblestore: %w", err))
	}
	if err := closeIter(it, nil); err != nil {
		return store.FigureCounts{}, err
	}
	return out, nil
}
