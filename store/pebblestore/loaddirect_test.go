package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// rawOp is one write of a raw load test.
type rawOp struct {
	key, val []byte
	del      bool
}

// loadRaw applies the batches of every spill to a (one by one) and
// loads them into b, spilling between the spills; it returns b's stats.
func loadRaw(t *testing.T, a, b *Store, spills [][][]rawOp, background bool) LoadStats {
	t.Helper()
	l, err := b.Load(LoadOptions{Memory: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for si, spill := range spills {
		for _, batch := range spill {
			ba, bb := a.db.NewBatch(), b.db.NewBatch()
			for _, op := range batch {
				if op.del {
					ba.Delete(op.key, nil)
					bb.Delete(op.key, nil)
				} else {
					ba.Set(op.key, op.val, nil)
					bb.Set(op.key, op.val, nil)
				}
			}
			if err := a.db.Apply(ba, pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			ba.Close()
			if _, err := l.take(bb, &tx{s: b}, nil, nil); err != nil {
				t.Fatalf("spill %d: take: %v", si, err)
			}
		}
		if si == len(spills)-1 {
			break
		}
		if background {
			err = l.Spill()
		} else {
			l.mu.Lock()
			err = l.spillLocked(false)
			l.mu.Unlock()
		}
		if err != nil {
			t.Fatalf("spill %d: %v", si, err)
		}
	}
	stats, err := l.Finish(bg)
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	return stats
}

func k(p byte, s string) []byte { return append([]byte{p}, s...) }

// TestLoadDirectBreaks: a table written direct that breaks order in a
// later spill with keys equal to its direct tables', deletes of keys
// written direct, a merged table between two direct ones, a table merged
// in the very spill that breaks it: the loaded store equals the one
// updated write by write.
func TestLoadDirectBreaks(t *testing.T) {
	for _, background := range []bool{false, true} {
		t.Run(fmt.Sprint("background=", background), func(t *testing.T) {
			a, b := openAt(t, nil, t.TempDir(), false), openAt(t, nil, t.TempDir(), false)
			spills := [][][]rawOp{
				{ // spill 0: everything in order
					{{key: k('A', "10"), val: []byte("a10")}, {key: k('A', "20"), val: []byte("a20")}},
					{{key: k('B', "10"), val: []byte("b10")}, {key: k('C', "10"), val: []byte("c10")}},
					{{key: k('D', "10"), val: []byte("d10")}, {key: k('y', "10"), val: []byte("y10")}},
				},
				{ // spill 1: A after its last (direct), B breaks with an equal key, y deletes one written direct
					{{key: k('A', "30"), val: []byte("a30")}, {key: k('B', "10"), val: []byte("b10'")}},
					{{key: k('B', "05"), val: []byte("b05")}, {key: k('C', "20"), val: []byte("c20")}},
					{{key: k('y', "10"), del: true}, {key: k('D', "20"), val: []byte("d20")}},
				},
				{ // spill 2: A breaks (equal and delete), C stays direct, D breaks
					{{key: k('A', "20"), del: true}, {key: k('A', "30"), val: []byte("a30'")}, {key: k('A', "40"), val: []byte("a40")}},
					{{key: k('C', "30"), val: []byte("c30")}, {key: k('D', "15"), val: []byte("d15")}},
					{{key: k('B', "10"), val: []byte("b10''")}, {key: k('y', "20"), val: []byte("y20")}},
				},
				{ // spill 3 (Finish): more of all
					{{key: k('A', "10"), val: []byte("a10'")}, {key: k('B', "99"), del: true}, {key: k('C', "40"), val: []byte("c40")}},
					{{key: k('D', "10"), del: true}, {key: k('y', "10"), val: []byte("y10'")}},
				},
			}
			stats := loadRaw(t, a, b, spills, background)
			t.Logf("%+v", stats)
			sameRecords(t, "direct breaks", records(t, a), records(t, b))
		})
	}
}

// TestLoadDirectRandom: random loads of a few tables, some in order and
// some not, with equal keys, deletes, zero bytes and empty tails, many
// spills: the loaded store equals the one updated write by write, and the
// stats count what was added.
func TestLoadDirectRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	prefixes := []byte{'A', 'B', 'C', 'D', 'E', 'y', 'h'}
	rounds := 60
	if testing.Short() {
		rounds = 10
	}
	for round := range rounds {
		a, b := openAt(t, nil, t.TempDir(), false), openAt(t, nil, t.TempDir(), false)
		var seen [256][][]byte
		var counter [256]uint64
		unique := map[string]bool{}
		nspills := 1 + rng.IntN(8)
		spills := make([][][]rawOp, nspills)
		for si := range spills {
			for range 1 + rng.IntN(40) {
				var batch []rawOp
				for range 1 + rng.IntN(4) {
					p := prefixes[rng.IntN(len(prefixes))]
					var key []byte
					switch mode := (int(p) + round + si) % 3; {
					case mode == 0 || rng.IntN(10) == 0 && len(seen[p]) == 0:
						// In order: past everything of the table.
						counter[p]++
						key = binary.BigEndian.AppendUint64([]byte{p}, counter[p]<<8)
						for range rng.IntN(3) {
							key = append(key, []byte{0, 1, 0xff}[rng.IntN(3)])
						}
					case mode == 1 && len(seen[p]) > 0 && rng.IntN(2) == 0:
						key = slices.Clone(seen[p][rng.IntN(len(seen[p]))])
					default:
						key = []byte{p}
						for range rng.IntN(12) {
							key = append(key, []byte{0, 1, 'a', 0xff}[rng.IntN(4)])
						}
					}
					seen[p] = append(seen[p], key)
					unique[string(key)] = true
					op := rawOp{key: key, val: []byte(fmt.Sprintf("v%d-%d", round, rng.IntN(1000)))}
					op.del = rng.IntN(5) == 0
					batch = append(batch, op)
				}
				spills[si] = append(spills[si], batch)
			}
		}
		stats := loadRaw(t, a, b, spills, rng.IntN(2) == 0)
		ra, rb := records(t, a), records(t, b)
		if !slices.Equal(ra, rb) {
			for i := range min(len(ra), len(rb)) {
				if ra[i] != rb[i] {
					t.Fatalf("round %d: %d and %d records; first difference at %d: %q=%q / %q=%q", round, len(ra), len(rb), i, ra[i].k, ra[i].v, rb[i].k, rb[i].v)
				}
			}
			t.Fatalf("round %d: %d and %d records", round, len(ra), len(rb))
		}
		if stats.Records != int64(len(unique)) {
			t.Errorf("round %d: stats.Records %d, want %d keys written", round, stats.Records, len(unique))
		}
		a.Close()
		b.Close()
	}
}

// TestLoadAbortAfterDirect: a load aborted after it wrote direct tables
// (some merged, one writer left open in the spill that broke it) leaves
// the store as it was and nothing beside it.
func TestLoadAbortAfterDirect(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s := openAt(t, nil, path, false)
	was := records(t, s)
	l, err := s.Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	take := func(ops ...rawOp) {
		bb := s.db.NewBatch()
		for _, op := range ops {
			if op.del {
				bb.Delete(op.key, nil)
			} else {
				bb.Set(op.key, op.val, nil)
			}
		}
		if _, err := l.take(bb, &tx{s: s}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	take(rawOp{key: k('A', "1"), val: []byte("x")}, rawOp{key: k('B', "1"), val: []byte("x")})
	if err := l.Spill(); err != nil {
		t.Fatal(err)
	}
	take(rawOp{key: k('A', "0"), val: []byte("x")}, rawOp{key: k('B', "2"), val: []byte("x")})
	if err := l.Spill(); err != nil {
		t.Fatal(err)
	}
	take(rawOp{key: k('A', "3"), val: []byte("x")})
	l.mu.Lock()
	l.waitLocked()
	files := len(l.direct['A'].files) + len(l.direct['B'].files)
	l.mu.Unlock()
	if files != 2 {
		t.Fatalf("%d direct files, want 2", files)
	}
	l.Abort()
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Errorf("beside the store after the abort: %v", names)
	}
	sameRecords(t, "before the aborted load and after", was, records(t, s))
	if _, err := l.Finish(bg); !errors.Is(err, ErrLoading) {
		t.Errorf("Finish after Abort: %v", err)
	}
}

// TestLoadGetAfterFinish: a reader that took the loader as the store's
// reader before the load ended reads the store after it, as it did
// before the opIndex; it must not panic.
func TestLoadGetAfterFinish(t *testing.T) {
	s := openAt(t, nil, t.TempDir(), false)
	l, err := s.Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := s.reader() // a view that began during the load
	if _, err := l.Finish(bg); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Get on the loader after Finish panicked: %v", p)
		}
	}()
	if _, _, err := r.Get(k('y', "nobody")); !errors.Is(err, pebble.ErrNotFound) {
		t.Errorf("Get after Finish: %v, want ErrNotFound", err)
	}
}

// TestSortPartDuplicatesAndDepth: many equal long keys (deep recursion),
// keys that differ only past 8-byte boundaries, trailing zero bytes and
// keys of exactly the shared prefix's length; the order is bytes.Compare
// then op index, with parts in any op order.
func TestSortPartDuplicatesAndDepth(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var ents []sortEntry
	for round := range 3000 {
		b := &loadBuf{}
		n := 2 + rng.IntN(80)
		base := bytes.Repeat([]byte{0}, rng.IntN(40))
		for i := range base {
			if rng.IntN(3) == 0 {
				base[i] = byte(rng.IntN(3))
			}
		}
		for range n {
			key := append([]byte{'e'}, base[:rng.IntN(len(base)+1)]...)
			if rng.IntN(3) == 0 {
				key = append([]byte{'e'}, base...)
			}
			for range rng.IntN(18) {
				key = append(key, []byte{0, 0, 1, 0x80, 0xff}[rng.IntN(5)])
			}
			b.add(key, nil, false)
		}
		part := make([]int32, n)
		for i := range part {
			part[i] = int32(i)
		}
		rng.Shuffle(len(part), func(i, j int) { part[i], part[j] = part[j], part[i] })
		want := slices.Clone(part)
		slices.SortFunc(want, func(x, y int32) int {
			if c := bytes.Compare(b.key(&b.ops[x]), b.key(&b.ops[y])); c != 0 {
				return c
			}
			return int(x - y)
		})
		ents = b.sortPart(part, ents)
		if !slices.Equal(part, want) {
			t.Fatalf("round %d: sorted %v, want %v", round, part, want)
		}
	}
	// Deep: 200 equal keys of 64 KiB.
	b := &loadBuf{}
	key := append([]byte{'e'}, bytes.Repeat([]byte{7}, 64<<10)...)
	for range 200 {
		b.add(key, nil, false)
	}
	// One shorter key, to make the lcp end before the long tail.
	b.add([]byte{'e'}, nil, false)
	part := make([]int32, len(b.ops))
	for i := range part {
		part[i] = int32(len(part) - 1 - i)
	}
	b.sortPart(part, nil)
	if part[0] != int32(len(part)-1) {
		t.Fatalf("the shortest key is not first: %d", part[0])
	}
	for i := 1; i < len(part)-1; i++ {
		if part[i] >= part[i+1] {
			t.Fatalf("equal keys out of op order at %d: %d, %d", i, part[i], part[i+1])
		}
	}
}

// TestLoadAbortDuringSpillWait: an Abort while a Spill waits for the run
// before it (waitLocked has let go of the lock) must wait for that run
// too, before it closes the direct tables' writers and removes the
// staging directory.
func TestLoadAbortDuringSpillWait(t *testing.T) {
	s := openAt(t, nil, t.TempDir(), false)
	l, err := s.Load(LoadOptions{Memory: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	stage := func(records int) {
		bb := s.db.NewBatch()
		for range records {
			n++
			bb.Set(binary.BigEndian.AppendUint64([]byte{'A'}, n), bytes.Repeat([]byte{1}, 64), nil)
		}
		if _, err := l.take(bb, &tx{s: s}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	stage(400000)
	t.Logf("staged in %v", time.Since(t0))
	if err := l.Spill(); err != nil { // writes 'A' direct in the background
		t.Fatal(err)
	}
	stage(1)
	t.Logf("spilled, staged again at %v", time.Since(t0))
	done := make(chan struct{})
	var spillErr error
	go func() {
		spillErr = l.Spill() // waits for the first run, without the lock
		close(done)
	}()
	// Let the goroutine's Spill begin to wait for the first run, which
	// takes far longer than this. (Should it not have begun, the Abort
	// waits for the run itself, and the test passes without testing.)
	time.Sleep(5 * time.Millisecond)
	first := time.Now()
	l.Abort()
	t.Logf("abort took %v", time.Since(first))
	<-done
	// The run's writer hands its buffer back as its last step; an Abort
	// that waited for it has dropped that buffer since.
	l.mu.Lock()
	handedBack := l.spare != nil
	l.mu.Unlock()
	if handedBack {
		t.Error("Abort returned while the run before the waiting Spill was still being written (its direct tables' writers closed and the staging directory removed under it)")
	}
	t.Logf("the spill waiting returned %v after the abort began: %v; load error %v", time.Since(first), spillErr, l.err)
}
