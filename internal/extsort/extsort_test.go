package extsort

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

	"github.com/vindex-nl/vindex/internal/canary"
)

type rec struct{ k, v []byte }

// records returns n records with keys of up to maxKey bytes over a small
// alphabet (so many keys are equal) and values of up to maxValue bytes
// that number the records (so stability shows).
func records(seed uint64, n, maxKey, maxValue int) []rec {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]rec, n)
	for i := range out {
		k := make([]byte, rng.IntN(maxKey+1))
		for j := range k {
			k[j] = byte('a' + rng.IntN(3))
		}
		v := binary.BigEndian.AppendUint32(nil, uint32(i))
		for range rng.IntN(maxValue + 1) {
			v = append(v, byte(rng.Uint32()))
		}
		out[i] = rec{k, v}
	}
	return out
}

func reference(in []rec) []rec {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b rec) int { return bytes.Compare(a.k, b.k) })
	return out
}

func size(in []rec) int {
	n := 0
	for _, r := range in {
		n += len(r.k) + len(r.v) + entryOverhead
	}
	return n
}

func addAll(t testing.TB, s *Sorter, in []rec) {
	t.Helper()
	for _, r := range in {
		if err := s.Add(r.k, r.v); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
}

// sortsLike sorts s and fails t unless it yields in as the reference
// sort orders it; it returns the drained iterator.
func sortsLike(t *testing.T, s *Sorter, in []rec) *Iterator {
	t.Helper()
	it, err := s.Sort()
	if err != nil {
		t.Fatal(err)
	}
	got, err := drain(it)
	if err != nil {
		t.Fatal(err)
	}
	same(t, got, reference(in))
	return it
}

// drain returns what it yields (copied) and its error.
func drain(it *Iterator) ([]rec, error) {
	var out []rec
	for it.Next() {
		out = append(out, rec{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
	}
	return out, it.Err()
}

func same(t *testing.T, got, want []rec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].k, want[i].k) || !bytes.Equal(got[i].v, want[i].v) {
			t.Fatalf("record %d: got key %q value %x, want key %q value %x", i, got[i].k, got[i].v, want[i].k, want[i].v)
		}
	}
}

// prefix fails unless got is a prefix of want: no wrong record.
func prefix(t *testing.T, got, want []rec) {
	t.Helper()
	if len(got) > len(want) {
		t.Fatalf("got %d records, more than the %d added", len(got), len(want))
	}
	same(t, got, want[:len(got)])
}

func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestSort(t *testing.T) {
	big := records(7, 40, 2, 150<<10) // values cross 64 KiB blocks
	many := records(1, 5000, 3, 100)
	for _, tc := range []struct {
		name     string
		in       []rec
		memory   int
		runs     int // exactly, or at least if atLeast
		atLeast  bool
		inMemory bool
	}{
		{name: "zero records", in: nil, memory: 100},
		{name: "one record", in: records(2, 1, 3, 10), memory: 1 << 20},
		{name: "no spill", in: many, memory: size(many) + 1},
		{name: "one run and a tail", in: many, memory: size(many)*2/3 + 1, runs: 1},
		{name: "about 50 runs", in: many, memory: size(many) / 50, runs: 49, atLeast: true},
		{name: "a run per record", in: records(3, 300, 2, 20), memory: 1, runs: 300},
		{name: "equal keys", in: records(4, 2000, 0, 30), memory: 1000, runs: 20, atLeast: true},
		{name: "records across blocks", in: big, memory: 400 << 10, runs: 5, atLeast: true},
		{name: "default memory", in: many},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := New(Options{Dir: dir, Memory: tc.memory})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			addAll(t, s, tc.in)
			// The arenas stay within Memory, give or take a chunk and the
			// largest record.
			held, largest := 0, 0
			for _, c := range s.chunks {
				held += cap(c)
			}
			for _, r := range tc.in {
				largest = max(largest, len(r.k)+len(r.v))
			}
			if limit := s.memory + maxChunk + largest; held > limit {
				t.Errorf("arenas hold %d bytes, more than %d", held, limit)
			}
			runs, n := s.Spilled()
			if tc.atLeast && runs < tc.runs || !tc.atLeast && runs != tc.runs {
				t.Errorf("spilled %d runs, want %d (at least: %v)", runs, tc.runs, tc.atLeast)
			}
			if files := dirEntries(t, dir); len(files) != runs {
				t.Errorf("Dir holds %d files, %d runs spilled", len(files), runs)
			}
			if runs == 0 && n != 0 || runs > 0 && n <= int64(size(tc.in))/2 {
				t.Errorf("spilled %d bytes in %d runs", n, runs)
			}
			it := sortsLike(t, s, tc.in)
			if it.Next() || it.Err() != nil {
				t.Fatal("Next after the end")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if files := dirEntries(t, dir); len(files) != 0 {
				t.Fatalf("after Close Dir holds %q", files)
			}
		})
	}
}

// Keys and values handed to Add are copied; the slices an Iterator
// returns do not overlap.
func TestAddCopies(t *testing.T) {
	s, err := New(Options{Dir: t.TempDir(), Memory: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	buf := []byte("kkvv")
	for i := range 10 {
		buf[0], buf[2] = byte('a'+9-i), byte('0'+i)
		if err := s.Add(buf[:2], buf[2:]); err != nil {
			t.Fatal(err)
		}
	}
	it, err := s.Sort()
	if err != nil {
		t.Fatal(err)
	}
	for i := 9; it.Next(); i-- {
		k := append(it.Key(), 'X') // must not run into the value
		if string(k) != string(rune('a'+9-i))+"kX" || string(it.Value()) != string(rune('0'+i))+"v" {
			t.Fatalf("record %q %q", k, it.Value())
		}
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
}

// The run files hold none of the records in the clear; the control shows
// that the scan finds the canary in the same records framed as a run
// frames them, unsealed.
func TestRunsSealed(t *testing.T) {
	const bsn = "123456782"
	needles := canary.Needles{}
	needles.Bytes("bsn", []byte(bsn))
	needles.Bytes("canary", []byte("canary-value-never-on-disk"))
	in := records(5, 3000, 3, 60)
	for i := 0; i < len(in); i += 7 {
		in[i].v = append(in[i].v, "bsn="+bsn+";canary-value-never-on-disk"...)
		in[i].k = append(in[i].k, bsn...)
	}

	dir := t.TempDir()
	s, err := New(Options{Dir: dir, Memory: size(in) / 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addAll(t, s, in)
	it, err := s.Sort() // the runs exist until Close
	if err != nil {
		t.Fatal(err)
	}
	if runs, _ := s.Spilled(); runs < 19 {
		t.Fatalf("only %d runs", runs)
	}
	found, err := needles.ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 0 {
		t.Fatalf("run files hold record bytes in the clear: %q", found)
	}
	for _, e := range dirEntries(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, e))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("run file %s has mode %v", e, fi.Mode())
		}
	}
	got, err := drain(it)
	if err != nil {
		t.Fatal(err)
	}
	same(t, got, reference(in))

	// Control: the same records framed as in a run, not sealed.
	control := t.TempDir()
	var plain []byte
	for _, r := range reference(in) {
		plain = binary.AppendUvarint(plain, uint64(len(r.k)))
		plain = binary.AppendUvarint(plain, uint64(len(r.v)))
		plain = append(append(plain, r.k...), r.v...)
	}
	if err := os.WriteFile(filepath.Join(control, "plain.run"), plain, 0o600); err != nil {
		t.Fatal(err)
	}
	found, err = needles.ScanDir(control)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 {
		t.Fatalf("the scan does not find the canary in the plaintext: %q", found)
	}
}

// A run file altered, cut short, extended, reordered or swapped makes Sort
// or the Iterator fail with ErrCorrupt, after only correct records; Close
// then removes every file.
func TestTamper(t *testing.T) {
	const disk = hdrSize + blockSize + tagSize // a full block on disk
	flip := func(off func(n int) int) func(t *testing.T, runs []string) {
		return func(t *testing.T, runs []string) {
			b := read(t, runs[1])
			b[off(len(b))] ^= 0x20
			write(t, runs[1], b)
		}
	}
	cut := func(to func(n int) int) func(t *testing.T, runs []string) {
		return func(t *testing.T, runs []string) {
			if err := os.Truncate(runs[1], int64(to(int(fileSize(t, runs[1]))))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, runs []string)
	}{
		{"flag of the first block", flip(func(int) int { return 0 })},
		{"length of the first block", flip(func(int) int { return 2 })},
		{"first ciphertext byte", flip(func(int) int { return hdrSize })},
		{"a byte in the second block", flip(func(int) int { return disk + 1000 })},
		{"last tag byte", flip(func(n int) int { return n - 1 })},
		{"flag of the final block", flip(func(n int) int { return n / disk * disk })},
		{"cut to nothing", cut(func(int) int { return 0 })},
		{"cut inside a header", cut(func(int) int { return 3 })},
		{"cut after the first block", cut(func(int) int { return disk })},
		{"final block dropped", cut(func(n int) int { return n / disk * disk })},
		{"last byte dropped", cut(func(n int) int { return n - 1 })},
		{"a byte appended", func(t *testing.T, runs []string) {
			write(t, runs[1], append(read(t, runs[1]), 0))
		}},
		{"blocks swapped", func(t *testing.T, runs []string) {
			b := read(t, runs[1])
			first := bytes.Clone(b[:disk])
			copy(b, b[disk:2*disk])
			copy(b[disk:], first)
			write(t, runs[1], b)
		}},
		{"runs swapped", func(t *testing.T, runs []string) {
			a, b := read(t, runs[0]), read(t, runs[1])
			write(t, runs[0], b)
			write(t, runs[1], a)
		}},
		{"a run replayed", func(t *testing.T, runs []string) {
			write(t, runs[1], read(t, runs[0]))
		}},
		{"a block of another sorter", func(t *testing.T, runs []string) {
			// Same run number and block index, another key.
			other, _ := sorted(t, t.TempDir(), records(6, 12000, 3, 200), 300<<10)
			b := read(t, runs[1])
			copy(b[disk:2*disk], read(t, other.runs[1].path)[disk:2*disk])
			write(t, runs[1], b)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := records(6, 12000, 3, 200)
			s, n := sorted(t, dir, in, 300<<10)
			if n < 3 {
				t.Fatalf("%d runs, want 3 or more", n)
			}
			if fileSize(t, s.runs[1].path) < 3*disk {
				t.Fatalf("run 1 has fewer than 3 blocks")
			}
			tc.tamper(t, []string{s.runs[0].path, s.runs[1].path})
			var got []rec
			it, err := s.Sort()
			if err == nil {
				got, err = drain(it)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %d records and error %v, want ErrCorrupt", len(got), err)
			}
			prefix(t, got, reference(in))
			if it != nil && (it.Next() || it.Key() != nil) {
				t.Fatal("Next after an error")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if files := dirEntries(t, dir); len(files) != 0 {
				t.Fatalf("after Close Dir holds %q", files)
			}
		})
	}
}

// sorted returns a Sorter that holds in, spilled in runs, and the number
// of runs.
func sorted(t *testing.T, dir string, in []rec, memory int) (*Sorter, int) {
	t.Helper()
	s, err := New(Options{Dir: dir, Memory: memory})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addAll(t, s, in)
	n, _ := s.Spilled()
	return s, n
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// A spill that fails (here: its file cannot be written) is returned by Add
// and by every later Add and Sort; Close still removes every run,
// including the one that failed.
func TestSpillError(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{Dir: dir, Memory: 1000})
	if err != nil {
		t.Fatal(err)
	}
	spills := 0
	s.create = func(dir, pattern string) (*os.File, error) {
		f, err := os.CreateTemp(dir, pattern)
		if spills++; spills == 3 && err == nil {
			f.Close() // writes fail
		}
		return f, err
	}
	var addErr error
	for _, r := range records(8, 1000, 3, 50) {
		if addErr = s.Add(r.k, r.v); addErr != nil {
			break
		}
	}
	if addErr == nil || errors.Is(addErr, ErrCorrupt) {
		t.Fatalf("Add: %v, want a write error", addErr)
	}
	if err := s.Add([]byte("k"), nil); err != addErr {
		t.Fatalf("Add after a failed spill: %v", err)
	}
	if _, err := s.Sort(); err != addErr {
		t.Fatalf("Sort after a failed spill: %v", err)
	}
	if files := dirEntries(t, dir); len(files) != 3 {
		t.Fatalf("before Close Dir holds %q, want 3 runs", files)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if files := dirEntries(t, dir); len(files) != 0 {
		t.Fatalf("after Close Dir holds %q", files)
	}
}

func TestLifecycle(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{Dir: dir, Memory: 100})
	if err != nil {
		t.Fatal(err)
	}
	in := records(9, 100, 2, 20)
	addAll(t, s, in)
	it, err := s.Sort()
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() {
		t.Fatal(it.Err())
	}
	if err := s.Add(nil, nil); !errors.Is(err, ErrSorted) {
		t.Fatalf("Add after Sort: %v", err)
	}
	if _, err := s.Sort(); !errors.Is(err, ErrSorted) {
		t.Fatalf("Sort after Sort: %v", err)
	}
	// Close in the middle of the merge.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if it.Next() || !errors.Is(it.Err(), ErrClosed) || it.Key() != nil {
		t.Fatalf("Next after Close: %v", it.Err())
	}
	if files := dirEntries(t, dir); len(files) != 0 {
		t.Fatalf("after Close Dir holds %q", files)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Add(nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	if _, err := s.Sort(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sort after Close: %v", err)
	}
	if s.key != nil || s.aead != nil {
		t.Fatal("Close kept the key")
	}
}

func TestOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	write(t, file, nil)
	for _, o := range []Options{
		{Dir: t.TempDir(), Memory: -1},
		{Dir: filepath.Join(t.TempDir(), "missing")},
		{Dir: file},
	} {
		if _, err := New(o); !errors.Is(err, ErrOptions) {
			t.Errorf("New(%+v): %v, want ErrOptions", o, err)
		}
	}
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.memory != DefaultMemory || s.dir != os.TempDir() {
		t.Fatalf("defaults: memory %d dir %s", s.memory, s.dir)
	}
}

// Two sorters draw different keys.
func TestFreshKey(t *testing.T) {
	a, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if len(a.key) != 32 || bytes.Equal(a.key, b.key) || bytes.Equal(a.key, make([]byte, 32)) {
		t.Fatal("keys are not fresh 256-bit keys")
	}
}

// FuzzSorter: any records come out sorted and stable, however small the
// memory.
func FuzzSorter(f *testing.F) {
	f.Add([]byte("\x01a\x01x\x01a\x01y\x00\x00\x01b\x02zz\x01a\x00"), uint16(3))
	f.Add([]byte("\x03abc\x05hello\x03abc\x05world\x02ab\x00"), uint16(0))
	f.Add(bytes.Repeat([]byte("\x01k\x01v"), 50), uint16(40))
	f.Fuzz(func(t *testing.T, data []byte, memory uint16) {
		var in []rec
		for len(data) > 0 {
			kl := min(int(data[0]%8), len(data)-1)
			k := data[1 : 1+kl]
			data = data[1+kl:]
			var v []byte
			if len(data) > 0 {
				vl := min(int(data[0]), len(data)-1)
				v = data[1 : 1+vl]
				data = data[1+vl:]
			}
			// Number the values so that stability shows.
			in = append(in, rec{k, binary.AppendUvarint(bytes.Clone(v), uint64(len(in)))})
		}
		dir := t.TempDir()
		s, err := New(Options{Dir: dir, Memory: int(memory%512) + 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		addAll(t, s, in)
		sortsLike(t, s, in)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if files := dirEntries(t, dir); len(files) != 0 {
			t.Fatalf("after Close Dir holds %q", files)
		}
	})
}

// BenchmarkSort sorts 1,000,000 records of a 40-byte key and an 80-byte
// value in 16 MiB.
func BenchmarkSort(b *testing.B) {
	const n, kl, vl = 1_000_000, 40, 80
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, n*(kl+vl))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	b.SetBytes(n * (kl + vl))
	b.ReportAllocs()
	var runs int
	var spilled int64
	for b.Loop() {
		s, err := New(Options{Dir: b.TempDir(), Memory: 16 << 20})
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			r := data[i*(kl+vl) : (i+1)*(kl+vl)]
			if err := s.Add(r[:kl], r[kl:]); err != nil {
				b.Fatal(err)
			}
		}
		it, err := s.Sort()
		if err != nil {
			b.Fatal(err)
		}
		count := 0
		for it.Next() {
			count++
		}
		if it.Err() != nil || count != n {
			b.Fatalf("%d records, %v", count, it.Err())
		}
		runs, spilled = s.Spilled()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	b.ReportMetric(float64(runs), "runs")
	b.ReportMetric(float64(spilled)/(1<<20), "MiB-spilled")
}

func ExampleSorter() {
	s, err := New(Options{Dir: os.TempDir(), Memory: 1 << 20})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	for _, r := range [][2]string{{"b", "1"}, {"a", "2"}, {"b", "3"}, {"a", "4"}} {
		if err := s.Add([]byte(r[0]), []byte(r[1])); err != nil {
			panic(err)
		}
	}
	it, err := s.Sort()
	if err != nil {
		panic(err)
	}
	for it.Next() {
		fmt.Printf("%s=%s ", it.Key(), it.Value())
	}
	if err := it.Err(); err != nil {
		panic(err)
	}
	fmt.Println()
	// Output: a=2 a=4 b=1 b=3
}
