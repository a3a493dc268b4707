package pebblestore

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
)

// The tests here check that the counters a group of commits writes once
// (groupFigures) hold every count: commits that count in the same and in
// other cells, several counters per commit, a counter counted twice in one
// commit, commits that count nothing in between, a crash at any moment, a
// load between groups, a leader and its followers.

// countOp is one count of an update: measure m in cell at, or a duration
// of days if m is empty.
type countOp struct {
	m    figures.Measure
	at   figures.Coords
	days int
}

// key names the counter op counts in, as storetest.FigureMap does.
func (op countOp) key() storetest.FigureKey {
	if op.m == "" {
		return storetest.FigureKey{What: fmt.Sprintf("days=%d", op.days), At: op.at}
	}
	return storetest.FigureKey{What: string(op.m), At: op.at}
}

// mixedCounts is what update i counts: always one registration in cell a;
// every second a match in another municipality; every third a duration;
// every fifth the registration in a again (two in one commit); every
// seventh a closure in the next month.
func mixedCounts(i int) []countOp {
	a := storetest.Cell("2026-03", "GM0014", "signal")
	b := storetest.Cell("2026-03", "GM0363", "involvement")
	c := storetest.Cell("2026-04", "GM0014", "signal")
	ops := []countOp{{figures.Registrations, a, 0}}
	if i%2 == 0 {
		ops = append(ops, countOp{figures.Matches, b, 0})
	}
	if i%3 == 0 {
		ops = append(ops, countOp{"", a, i % 4})
	}
	if i%5 == 0 {
		ops = append(ops, countOp{figures.Registrations, a, 0})
	}
	if i%7 == 0 {
		ops = append(ops, countOp{figures.Closures, c, 0})
	}
	return ops
}

// wantMixed is the counters after the updates is, each counting
// mixedCounts, added to into.
func wantMixed(into map[storetest.FigureKey]int64, is ...int) map[storetest.FigureKey]int64 {
	if into == nil {
		into = map[storetest.FigureKey]int64{}
	}
	for _, i := range is {
		for _, op := range mixedCounts(i) {
			into[op.key()]++
		}
	}
	return into
}

// countedUpdate registers youth y (unless reg is the zero registration:
// an update that only counts) and counts ops, in one update.
func countedUpdate(s *Store, y pseudonym.Pseudonym, reg store.Registration, ops []countOp) error {
	return s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		if reg.ID != (store.ID{}) {
			tx.Put(reg)
		}
		fc := tx.(store.FigureCounter)
		for _, op := range ops {
			if op.m == "" {
				fc.CountDuration(op.at, op.days)
			} else {
				fc.Count(op.m, op.at)
			}
		}
		return nil
	})
}

// counterMap reads s's counters of March and April 2026.
func counterMap(t testing.TB, s *Store) map[storetest.FigureKey]int64 {
	return storetest.FigureMap(t, s, "2026-03", "2026-04")
}

func sameCounters(t testing.TB, what string, got, want map[storetest.FigureKey]int64) {
	t.Helper()
	if maps.Equal(got, want) {
		return
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %v counted %d, want %d", what, k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %v counted %d, want none", what, k, n)
		}
	}
}

// noneQueued fails t if a counter is still kept for a queued batch.
func noneQueued(t testing.TB, s *Store) {
	t.Helper()
	s.figuresMu.Lock()
	n := len(s.figuresQueued)
	s.figuresMu.Unlock()
	if n != 0 {
		t.Errorf("%d counters still queued with no commit in flight", n)
	}
}

// TestReviewFiguresGroupCells: one group of updates that count in several
// counters each (shared by some of the group, one counted twice in a
// commit, others by one commit alone; some write nothing but counts,
// their own batches empty), with commits between them that count
// nothing, holds every count once applied and after a re-open; so do
// many updates applied in the groups concurrent writers make.
func TestReviewFiguresGroupCells(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, nil, dir, false)
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

	const updates, plain, appends = 24, 3, 3
	youths := apartYouths(s, 6, updates+plain)
	groups0 := s.group.groups.Load()
	release := holdGroup(t, s)
	var wg sync.WaitGroup
	errs := make([]error, updates+plain+appends)
	for i, y := range youths {
		wg.Go(func() {
			var ops []countOp
			if i < updates {
				ops = mixedCounts(i)
			}
			reg := storetest.Reg(y, "ggd", at)
			if i%4 == 0 && i < updates {
				reg = store.Registration{}
			}
			errs[i] = countedUpdate(s, y, reg, ops)
		})
	}
	for i := range appends {
		wg.Go(func() {
			errs[updates+plain+i] = s.AppendAudit(bg, store.AuditEntry{At: at, Institution: "wij", Verb: store.AuditLookup, Youth: youths[i], Outcome: "ok"})
		})
	}
	waitQueued(t, s, updates+plain+appends)
	if got := counterMap(t, s); len(got) != 0 {
		t.Errorf("counters %v visible before their group is applied", got)
	}
	release(updates + plain + appends)
	waitFor(t, &wg, 30*time.Second, "queued commits")
	for i, err := range errs {
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if g := s.group.groups.Load() - groups0; g != 1 {
		t.Errorf("%d groups, want 1", g)
	}
	var is []int
	for i := range updates {
		is = append(is, i)
	}
	want := wantMixed(nil, is...)
	sameCounters(t, "after one group", counterMap(t, s), want)
	noneQueued(t, s)

	// Concurrent writers, no group held: the groups they make.
	const writers, each = 8, 30
	wg = sync.WaitGroup{}
	for w := range writers {
		wg.Go(func() {
			for j := range each {
				n := 1000 + w*each + j
				y := storetest.Youth(6, n)
				reg := storetest.Reg(y, "ggd", at)
				if n%9 == 0 {
					reg = store.Registration{}
				}
				if err := countedUpdate(s, y, reg, mixedCounts(n)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	waitFor(t, &wg, 60*time.Second, "concurrent writers")
	for w := range writers {
		for j := range each {
			wantMixed(want, 1000+w*each+j)
		}
	}
	sameCounters(t, "after concurrent writers", counterMap(t, s), want)
	noneQueued(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sameCounters(t, "after a re-open", counterMap(t, openAt(t, nil, dir, false)), want)
}

// TestReviewFiguresCrashConsistent: a crash of the machine at any moment
// while many updates are applied in groups (only what was synced
// survives) leaves each counter equal to the registrations that survived
// and counted in it: a group writes the counters of all its commits in
// the one WAL record that holds their registrations, and a group's
// values count every commit queued before it.
func TestReviewFiguresCrashConsistent(t *testing.T) {
	mem := vfs.NewCrashableMem()
	s := openSlowSync(t, mem, 3*time.Millisecond)
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	a := storetest.Cell("2026-03", "GM0014", "signal")
	b := storetest.Cell("2026-03", "GM0363", "involvement")

	const writers, each = 12, 20
	regs := make([]store.Registration, writers*each)
	for n := range regs {
		regs[n] = storetest.Reg(storetest.Youth(8, n), "ggd", at)
	}
	var clones []*vfs.MemFS
	stop := make(chan struct{})
	cloned := make(chan struct{})
	go func() {
		defer close(cloned)
		for {
			select {
			case <-stop:
				return
			case <-time.After(7 * time.Millisecond):
				clones = append(clones, mem.CrashClone(vfs.CrashCloneCfg{}))
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for j := range each {
				n := w*each + j
				ops := []countOp{{figures.Registrations, a, 0}}
				if n%2 == 0 {
					ops = append(ops, countOp{figures.Matches, b, 0})
				}
				if err := countedUpdate(s, regs[n].Youth, regs[n], ops); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	waitFor(t, &wg, 60*time.Second, "writers")
	close(stop)
	<-cloned
	clones = append(clones, mem.CrashClone(vfs.CrashCloneCfg{}))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	partial := 0
	for ci, fs := range clones {
		c, err := Open("db", &Options{FS: fs, Logger: discard()})
		if err != nil {
			t.Fatalf("crash %d: open: %v", ci, err)
		}
		var regsN, even int64
		for n, r := range regs {
			if _, err := c.Registration(bg, r.ID); err == nil {
				regsN++
				if n%2 == 0 {
					even++
				}
			}
		}
		if regsN > 0 && regsN < int64(len(regs)) {
			partial++
		}
		want := map[storetest.FigureKey]int64{}
		if regsN > 0 {
			want[countOp{figures.Registrations, a, 0}.key()] = regsN
		}
		if even > 0 {
			want[countOp{figures.Matches, b, 0}.key()] = even
		}
		sameCounters(t, fmt.Sprintf("crash %d (%d registrations survived)", ci, regsN), counterMap(t, c), want)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d crash points, %d in the middle of the writes", len(clones), partial)
}

// TestReviewFiguresLoadBetweenGroups: groups of counting updates, then a
// load whose updates count (the loader keeps their counters), then groups
// again: every count is there, also after a re-open; a load aborted in
// between leaves the counters as the groups before it left them, and the
// groups after it count on from there.
func TestReviewFiguresLoadBetweenGroups(t *testing.T) {
	for _, finish := range []bool{true, false} {
		t.Run(fmt.Sprintf("finish=%v", finish), func(t *testing.T) {
			dir := t.TempDir()
			s := openAt(t, nil, dir, false)
			at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
			const n = 8
			youths := apartYouths(s, 9, 3*n)
			group := func(first int) {
				t.Helper()
				release := holdGroup(t, s)
				var wg sync.WaitGroup
				for i := first; i < first+n; i++ {
					wg.Go(func() {
						if err := countedUpdate(s, youths[i], storetest.Reg(youths[i], "ggd", at), mixedCounts(i)); err != nil {
							t.Error(err)
						}
					})
				}
				waitQueued(t, s, n)
				release(n)
				waitFor(t, &wg, 30*time.Second, "a group")
				noneQueued(t, s)
			}
			group(0)
			want := wantMixed(nil, 0, 1, 2, 3, 4, 5, 6, 7)
			sameCounters(t, "before the load", counterMap(t, s), want)

			l, err := s.Load(LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i := n; i < 2*n; i++ {
				reg := storetest.Reg(youths[i], "ggd", at)
				if i == n {
					reg = store.Registration{} // counts only
				}
				if err := countedUpdate(s, youths[i], reg, mixedCounts(i)); err != nil {
					t.Fatalf("update %d in the load: %v", i, err)
				}
			}
			if finish {
				if _, err := l.Finish(bg); err != nil {
					t.Fatal(err)
				}
				wantMixed(want, 8, 9, 10, 11, 12, 13, 14, 15)
			} else {
				l.Abort()
			}
			sameCounters(t, "after the load", counterMap(t, s), want)

			group(2 * n)
			wantMixed(want, 16, 17, 18, 19, 20, 21, 22, 23)
			sameCounters(t, "after the groups after the load", counterMap(t, s), want)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			sameCounters(t, "after a re-open", counterMap(t, openAt(t, nil, dir, false)), want)
		})
	}
}

// TestReviewFiguresReplicatedCells: a leader's concurrent updates, each
// counting in several counters (some only counting), give the leader and a follower the same
// records and every count.
func TestReviewFiguresReplicatedCells(t *testing.T) {
	log := &fakeLog{}
	l := leader(t, log)
	f := openAt(t, nil, t.TempDir(), true)
	const writers, each = 8, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for j := range each {
				n := w*each + j
				y := storetest.Youth(10, n)
				reg := storetest.Reg(y, "ggd", replAt)
				if n%9 == 0 {
					reg = store.Registration{}
				}
				if err := countedUpdate(l, y, reg, mixedCounts(n)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	waitFor(t, &wg, 60*time.Second, "writers")
	var is []int
	for n := range writers * each {
		is = append(is, n)
	}
	want := wantMixed(nil, is...)
	applyAll(t, f, log.all())
	sameRecords(t, "leader and follower", records(t, l), records(t, f))
	sameCounters(t, "leader", counterMap(t, l), want)
	sameCounters(t, "follower", counterMap(t, f), want)
	noneQueued(t, l)
}

// TestReviewFiguresAfterPanic: a group whose apply panicked (its database
// closed under it) wrote none of its counters: after a re-open the
// counters are those of the commits applied before it.
func TestReviewFiguresAfterPanic(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, nil, dir, false)
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	const before, n = 5, 6
	youths := apartYouths(s, 11, before+n)
	for i := range before {
		if err := countedUpdate(s, youths[i], storetest.Reg(youths[i], "ggd", at), mixedCounts(i)); err != nil {
			t.Fatal(err)
		}
	}
	release := holdGroup(t, s)
	var wg sync.WaitGroup
	for i := before; i < before+n; i++ {
		wg.Go(func() {
			defer func() { recover() }()
			if err := countedUpdate(s, youths[i], storetest.Reg(youths[i], "ggd", at), mixedCounts(i)); err == nil {
				t.Errorf("update %d of a group that panicked: no error", i)
			}
		})
	}
	waitQueued(t, s, n)
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	release(n)
	waitFor(t, &wg, 10*time.Second, "a group whose leader panicked")
	r := openAt(t, nil, dir, false)
	sameCounters(t, "after a re-open", counterMap(t, r), wantMixed(nil, 0, 1, 2, 3, 4))
}

// TestReviewFiguresGroupWAL: the group's WAL record is its commits'
// batches and one record per counter they count in, however many of them
// count in it: the bytes the WAL takes for the group are exactly that.
func TestReviewFiguresGroupWAL(t *testing.T) {
	s := openAt(t, nil, t.TempDir(), false)
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	a := storetest.Cell("2026-03", "GM0014", "signal")
	b := storetest.Cell("2026-03", "GM0363", "involvement")
	const n = 16
	youths := apartYouths(s, 12, n)
	release := holdGroup(t, s)
	var wg sync.WaitGroup
	for i, y := range youths {
		wg.Go(func() {
			ops := []countOp{{figures.Registrations, a, 0}}
			if i%2 == 0 {
				ops = append(ops, countOp{figures.Matches, b, 0})
			}
			if err := countedUpdate(s, y, storetest.Reg(y, "ggd", at), ops); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(t, s, n)
	const header = 12 // a batch's sequence number and count
	want := header
	s.group.mu.Lock()
	queued := len(s.group.queue)
	for _, r := range s.group.queue {
		want += len(r.b.Repr()) - header
	}
	s.group.mu.Unlock()
	if queued != n {
		t.Fatalf("%d commits queued, want %d", queued, n)
	}
	counters := s.db.NewBatch()
	setFigures(counters, []queuedCount{
		{key: string(figureKey(figures.Registrations, a, 0)), n: n},
		{key: string(figureKey(figures.Matches, b, 0)), n: n / 2},
	})
	want += len(counters.Repr()) - header
	counters.Close()
	in0 := s.db.Metrics().WAL.BytesIn
	release(n)
	waitFor(t, &wg, 30*time.Second, "queued updates")
	if got := s.db.Metrics().WAL.BytesIn - in0; got != uint64(want) {
		t.Errorf("the group took %d bytes of WAL, want %d (its batches and one record per counter)", got, want)
	}
}
