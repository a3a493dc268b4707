package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
)

// loadID is the registration ID of youth n's k-th registration in the
// load tests, the same in every store.
func loadID(n, k int) store.ID {
	var id store.ID
	binary.BigEndian.PutUint64(id[:], uint64(n))
	id[8] = byte(k)
	return id
}

// loadSteps are youth n's updates: a registration by each of two
// institutions (a case, events, audit entries, figures), a refresh that
// moves the first one's end day, and for every third youth the end of
// the second registration (history and purge index) or, for every
// seventh, its removal.
func loadSteps(n, round int) []func(store.Tx) error {
	y := storetest.Youth(1, n)
	reg := func(k int, inst string) store.Registration {
		r := storetest.Reg(y, inst, replAt)
		r.ID = loadID(n, 10*round+k)
		return r
	}
	first, second := reg(1, "ggd"), reg(2, "wij")
	steps := []func(store.Tx) error{
		func(tx store.Tx) error {
			tx.PutNew(first)
			tx.PutCase(store.Case{Youth: y, Age: 12, Municipality: "GM0014"})
			tx.Append(store.Event{Type: store.EventNoMatch, Recipient: "ggd", Registration: first.ID, At: replAt})
			tx.Audit(store.AuditEntry{At: replAt, Institution: "ggd", Verb: store.AuditRegister, Registration: first.ID, Youth: y, Outcome: "ok"})
			tx.(store.FigureCounter).Count(figures.Registrations, storetest.Cell("2026-03", "GM0014", "involvement"))
			return nil
		},
		func(tx store.Tx) error {
			if _, ok := tx.Case(); !ok {
				return fmt.Errorf("youth %d: no case after the first registration", n)
			}
			tx.PutNew(second)
			c, _ := tx.Case()
			c.Matched, c.Coordinator = true, "wij"
			tx.PutCase(c)
			for _, inst := range []string{"ggd", "wij"} {
				tx.Append(store.Event{Type: store.EventMatch, Recipient: inst, Registration: second.ID, At: replAt})
			}
			tx.Audit(store.AuditEntry{At: replAt, Institution: "wij", Verb: store.AuditRegister, Registration: second.ID, Youth: y, Outcome: "ok"})
			tx.(store.FigureCounter).Count(figures.Matches, storetest.Cell("2026-03", "GM0014", "involvement"))
			return nil
		},
		func(tx store.Tx) error {
			r := tx.Registrations()[0]
			if r.ID != first.ID && round == 0 {
				return fmt.Errorf("youth %d: first registration %v, want %v", n, r.ID, first.ID)
			}
			r.EndsOn = r.EndsOn.AddDate(0, 1, n%5)
			tx.Put(r)
			tx.Audit(store.AuditEntry{At: replAt, Institution: "ggd", Verb: store.AuditRefresh, Registration: r.ID, Youth: y, Outcome: "ok"})
			return nil
		},
	}
	switch {
	case n%11 == 0:
		// Everything removed, then a new registration: the second step
		// must read the youth as gone, not as the store held it.
		steps = append(steps, func(tx store.Tx) error {
			for _, r := range tx.Registrations() {
				tx.Delete(r.ID)
			}
			tx.DeleteCase()
			return nil
		}, func(tx store.Tx) error {
			if _, had := tx.Case(); len(tx.Registrations()) != 0 || had {
				return fmt.Errorf("youth %d: read after its removal: %d registrations", n, len(tx.Registrations()))
			}
			tx.PutNew(reg(3, "ggd"))
			tx.PutCase(store.Case{Youth: y, Age: 13, Municipality: "GM0014"})
			return nil
		})
	case n%7 == 0:
		steps = append(steps, func(tx store.Tx) error {
			tx.Delete(second.ID)
			return nil
		})
	case n%3 == 0:
		steps = append(steps, func(tx store.Tx) error {
			for _, r := range tx.Registrations() {
				if r.ID == second.ID {
					r.EndedAt, r.EndReason, r.PurgeOn = replAt, store.EndedByInstitution, r.EndsOn
					tx.Put(r)
				}
			}
			tx.Append(store.Event{Type: store.EventEnded, Recipient: "ggd", Registration: second.ID, At: replAt})
			return nil
		})
	}
	return steps
}

// runSteps gives the youths' updates (of round) to s, youth after youth;
// between youths it calls between.
func runSteps(t *testing.T, s *Store, round int, youths []int, between func()) {
	t.Helper()
	for _, n := range youths {
		y := []pseudonym.Pseudonym{storetest.Youth(1, n)}
		for i, step := range loadSteps(n, round) {
			if err := s.Update(bg, y, step); err != nil {
				t.Fatalf("youth %d, update %d: %v", n, i, err)
			}
		}
		between()
	}
}

// TestLoadEqualsUpdates: the same updates, given one by one to one store
// and loaded into another (spilling every few youths, into a store that
// holds some of the youths already), leave the two stores with the same
// records, byte for byte; both go on numbering events and audit entries
// alike after a reopen; nothing of the load is left beside the store.
func TestLoadEqualsUpdates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		memory int
	}{
		{"spilling", 8 << 10},
		{"one run", 64 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dirA, dirB := t.TempDir(), t.TempDir()
			a, b := openAt(t, nil, dirA, false), openAt(t, nil, filepath.Join(dirB, "store"), false)
			var before, loaded []int
			for n := 1; n <= 30; n++ {
				before = append(before, n)
			}
			for n := 20; n <= 400; n++ { // 20 to 30 are in the stores already
				loaded = append(loaded, n)
			}
			runSteps(t, a, 0, before, func() {})
			runSteps(t, b, 0, before, func() {})
			runSteps(t, a, 1, loaded, func() {})

			l, err := b.Load(LoadOptions{Memory: tc.memory})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.UpdateByID(bg, loadID(1, 1), func(store.Tx) error { return nil }); !errors.Is(err, ErrLoading) {
				t.Errorf("UpdateByID while loading: %v, want ErrLoading", err)
			}
			runSteps(t, b, 1, loaded, func() {
				if l.Due() {
					if err := l.Spill(); err != nil {
						t.Fatal(err)
					}
				}
			})
			stats, err := l.Finish(bg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.memory < 1<<20 && stats.Runs < 10 {
				t.Errorf("%d runs with %d bytes of memory: the test does not spill", stats.Runs, tc.memory)
			}
			// The audit log is written past the runs. The youths come in
			// no order: with spills, the tables written of them before
			// the first spill out of order are merged with the runs; in
			// one run, every table is written past the runs.
			if !slices.Contains(directTables(l), "a") {
				t.Errorf("direct tables %v: want the audit log's", directTables(l))
			}
			if d := &l.direct[prefixYouth]; tc.memory < 1<<20 && (!d.merged || len(d.files) == 0) {
				t.Errorf("the youths' direct tables: %d, merged %v; want some, merged", len(d.files), d.merged)
			}
			if tc.memory >= 1<<20 && stats.Direct != stats.Tables {
				t.Errorf("in one run, %d of %d tables direct", stats.Direct, stats.Tables)
			}
			t.Logf("%+v", stats)
			sameRecords(t, "updates and load", records(t, a), records(t, b))
			if names, _ := os.ReadDir(dirB); len(names) != 1 {
				t.Errorf("beside the store after the load: %v", names)
			}

			// After a reopen, both go on alike.
			a.Close()
			b.Close()
			a, b = openAt(t, nil, dirA, false), openAt(t, nil, filepath.Join(dirB, "store"), false)
			runSteps(t, a, 2, []int{401, 25}, func() {})
			runSteps(t, b, 2, []int{401, 25}, func() {})
			sameRecords(t, "after the load", records(t, a), records(t, b))
		})
	}
}

// TestLoadRefuses: a youth whose updates span a spill, and a ranged read
// of a table the load wrote, fail the update instead of reading older
// records; an aborted load leaves the store as it was and nothing beside
// it; a load's staging directory left by a crash goes at the next Open.
func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s := openAt(t, nil, path, false)
	runSteps(t, s, 0, []int{1, 2}, func() {})
	was := records(t, s)

	l, err := s.Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(LoadOptions{}); !errors.Is(err, ErrLoading) {
		t.Errorf("a second load: %v", err)
	}
	y := []pseudonym.Pseudonym{storetest.Youth(1, 3)}
	steps := loadSteps(3, 0)
	if err := s.Update(bg, y, steps[0]); err != nil {
		t.Fatal(err)
	}
	if err := l.Spill(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(bg, y, steps[1]); !errors.Is(err, ErrLoadRead) {
		t.Errorf("an update of a youth spilled: %v, want ErrLoadRead", err)
	}
	// A youth's history is a ranged read; the load wrote none: allowed.
	if err := s.Update(bg, []pseudonym.Pseudonym{storetest.Youth(1, 1)}, func(tx store.Tx) error {
		tx.History()
		return nil
	}); err != nil {
		t.Errorf("a history the load did not write: %v", err)
	}
	if err := s.Update(bg, []pseudonym.Pseudonym{storetest.Youth(1, 4)}, func(tx store.Tx) error {
		r := storetest.Reg(storetest.Youth(1, 4), "ggd", replAt)
		r.EndedAt, r.EndReason = replAt, store.EndedByInstitution
		tx.PutNew(r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(bg, []pseudonym.Pseudonym{storetest.Youth(1, 1)}, func(tx store.Tx) error {
		tx.History()
		return nil
	}); !errors.Is(err, ErrLoadRead) {
		t.Errorf("a history read after the load wrote one: %v, want ErrLoadRead", err)
	}
	l.Abort()
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Errorf("beside the store after the abort: %v", names)
	}
	sameRecords(t, "before the aborted load and after", was, records(t, s))
	// The store goes on as if the load had not been: youth 3's updates
	// number their events and audit entries as on a store without it.
	other := openAt(t, nil, t.TempDir(), false)
	runSteps(t, other, 0, []int{1, 2, 3}, func() {})
	runSteps(t, s, 0, []int{3}, func() {})
	sameRecords(t, "after an aborted load", records(t, other), records(t, s))
	s.Close()
	s = openAt(t, nil, path, false)
	was = records(t, s)

	// A crash during a load leaves its staging directory: Open removes it.
	if _, err := s.Load(LoadOptions{Memory: 1}); err != nil {
		t.Fatal(err)
	}
	runSteps(t, s, 0, []int{5}, func() {})
	if err := s.loader().Spill(); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(path + loadInfix + "*")
	if len(left) != 1 {
		t.Fatalf("staging directories: %v", left)
	}
	keep := t.TempDir()
	os.CopyFS(keep, os.DirFS(left[0]))
	s.loader().Abort()
	s.Close()
	os.Rename(keep, left[0])
	s = openAt(t, nil, path, false)
	if names, _ := os.ReadDir(dir); len(names) != 1 || !strings.HasSuffix(path, names[0].Name()) {
		t.Errorf("beside the store after a crashed load and Open: %v", names)
	}
	sameRecords(t, "after a crashed load", was, records(t, s))
}

// TestLoadSpillThenFinish: Finish right after a Spill, with nothing staged
// since and no figures counted, waits for the run written in the
// background and adds it.
func TestLoadSpillThenFinish(t *testing.T) {
	a, b := openAt(t, nil, t.TempDir(), false), openAt(t, nil, t.TempDir(), false)
	l, err := b.Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, b} {
		for n := range 3000 {
			y := storetest.Youth(1, n)
			if err := s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
				r := storetest.Reg(y, "ggd", replAt)
				r.ID = loadID(n, 1)
				tx.PutNew(r)
				tx.PutCase(store.Case{Youth: y, Age: 12, Municipality: "GM0014"})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Spill(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Finish(bg); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, "updates and a load finished after a spill", records(t, a), records(t, b))
}

// TestOpIndexCollision: a key whose hash another key has taken is found
// by its bytes, each key keeps its own last op, and the spill's hashes
// cover both keys.
func TestOpIndexCollision(t *testing.T) {
	b := &loadBuf{}
	stage := func(key string) int32 { return b.add([]byte(key), nil, false) }
	var x opIndex
	x.init()
	a, c := []byte("ya"), []byte("yc")
	if _, ok := x.put(b, a, stage("ya")); ok {
		t.Fatal("a first put replaced an op")
	}
	// c's hash taken by a's op: the collision a real seed makes one time
	// in 2^64.
	x.byHash[maphash.Bytes(x.seed, c)] = 0
	c1 := stage("yc")
	if _, ok := x.put(b, c, c1); ok {
		t.Fatal("c's first put replaced an op")
	}
	a2 := stage("ya")
	if was, ok := x.put(b, a, a2); !ok || was != 0 {
		t.Fatalf("a's second put replaced %d, %v; want 0, true", was, ok)
	}
	c2 := stage("yc")
	if was, ok := x.put(b, c, c2); !ok || was != c1 {
		t.Fatalf("c's second put replaced %d, %v; want %d, true", was, ok, c1)
	}
	for _, tc := range []struct {
		key  []byte
		want int32
	}{{a, a2}, {c, c2}} {
		if got, ok := x.get(b, tc.key); !ok || got != tc.want {
			t.Errorf("get(%s) = %d, %v; want %d", tc.key, got, ok, tc.want)
		}
	}
	if _, ok := x.get(b, []byte("yb")); ok {
		t.Error("a key never put was found")
	}
	hs := x.hashes()
	for _, k := range [][]byte{a, c} {
		if _, found := slices.BinarySearch(hs, maphash.Bytes(x.seed, k)); !found {
			t.Errorf("the spill's hashes miss %s", k)
		}
	}
}

// directTables names the tables a load wrote past the runs and did not
// merge.
func directTables(l *Loader) []string {
	var names []string
	for p := range l.direct {
		if d := &l.direct[p]; !d.merged && len(d.files) > 0 {
			names = append(names, string(rune(p)))
		}
	}
	return names
}

// TestSortPart: a table's ops sorted on chunks of their keys come in the
// order of a plain sort by key, and the ops of one key in the order they
// came; with keys that end inside a chunk, are prefixes of others, hold
// zero bytes, or share prefixes longer than a chunk.
func TestSortPart(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 1, 'a', 0xff}
	prefixes := [][]byte{nil, []byte("\x15school-example-lyceum"), []byte("\x03ggd\x00\x00\x00\x00\x00\x00\x00")}
	var ents []sortEntry
	for round := range 2000 {
		b := &loadBuf{}
		n := 1 + rng.IntN(60)
		for range n {
			key := []byte{'e'}
			key = append(key, prefixes[rng.IntN(len(prefixes))]...)
			for range rng.IntN(20) {
				key = append(key, alphabet[rng.IntN(len(alphabet))])
			}
			b.add(key, nil, false)
		}
		part := make([]int32, n)
		for i := range part {
			part[i] = int32(i)
		}
		want := slices.Clone(part)
		slices.SortStableFunc(want, func(x, y int32) int { return bytes.Compare(b.key(&b.ops[x]), b.key(&b.ops[y])) })
		ents = b.sortPart(part, ents)
		if !slices.Equal(part, want) {
			t.Fatalf("round %d: sorted %v, want %v", round, part, want)
		}
	}
}
