package pebblestore

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
)

// TestGroupCommit queues commits behind a leader that has not yet applied
// its group, as concurrent commits queue in a busy store: updates that
// each register a youth, count in one figures cell and write an audit
// entry, and audit entries appended alone. Once released they are applied
// as one group; each commit returns with its records visible and then
// durable, no count is lost although every update read the counter before
// any batch was applied, and after a re-open all of it is there.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, nil, dir, false)
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	cell := storetest.Cell("2026-03", "GM0014", "signal")
	commits0, groups0 := s.group.commits.Load(), s.group.groups.Load()

	const updates, appends = 12, 4
	youths := apartYouths(s, 1, updates) // every update queues
	// A leader is busy: every commit from here on queues.
	release := holdGroup(t, s)
	regs := make([]store.Registration, updates)
	errs := make([]error, updates+appends)
	var wg sync.WaitGroup
	for i, y := range youths {
		regs[i] = storetest.Reg(y, "ggd", at)
		wg.Go(func() {
			errs[i] = s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
				tx.Put(regs[i])
				tx.Count(figures.Registrations, cell)
				tx.Audit(store.AuditEntry{At: at, Institution: "ggd", Verb: store.AuditRegister, Registration: regs[i].ID, Youth: y, Outcome: "ok"})
				return nil
			})
		})
	}
	for i := range appends {
		wg.Go(func() {
			errs[updates+i] = s.AppendAudit(bg, store.AuditEntry{At: at, Institution: "wij", Verb: store.AuditLookup, Youth: youths[i], Outcome: "ok"})
		})
	}
	waitQueued(t, s, updates+appends)
	// The updates write registrations, the appends do not.
	if n := s.group.writing.Load(); n != updates {
		t.Errorf("%d commits writing registrations in flight, want %d", n, updates)
	}
	// Queued, not applied: the next count reads the last queued value.
	s.figuresMu.Lock()
	var queued uint64
	for _, q := range s.figuresQueued {
		queued = max(queued, q.n)
	}
	s.figuresMu.Unlock()
	if queued != updates {
		t.Errorf("the queued counter is %d, want %d (one per update queued)", queued, updates)
	}
	if _, err := s.Registration(bg, regs[0].ID); err == nil {
		t.Error("a queued registration is visible before its group is applied")
	}

	// Released as a leader hands over to the first commit queued.
	release(updates + appends)
	waitFor(t, &wg, 30*time.Second, "queued commits")
	for i, err := range errs {
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if c, g := s.group.commits.Load()-commits0, s.group.groups.Load()-groups0; c != updates+appends || g != 1 {
		t.Errorf("%d commits in %d groups, want %d in 1", c, g, updates+appends)
	}
	if n := s.group.writing.Load(); n != 0 {
		t.Errorf("%d commits writing registrations in flight after all returned", n)
	}
	s.figuresMu.Lock()
	if len(s.figuresQueued) != 0 {
		t.Errorf("%d counters still queued after their batches were applied", len(s.figuresQueued))
	}
	s.figuresMu.Unlock()

	check := func(what string, s *Store) {
		t.Helper()
		for _, r := range regs {
			if _, err := s.Registration(bg, r.ID); err != nil {
				t.Errorf("%s: registration %d: %v", what, r.ID, err)
			}
		}
		got := storetest.FigureMap(t, s, "2026-03", "2026-03")
		if len(got) != 1 {
			t.Errorf("%s: figures %v, want one cell", what, got)
		}
		for k, n := range got {
			if n != updates {
				t.Errorf("%s: %v counted %d, want %d", what, k, n, updates)
			}
		}
		all := storetest.AuditAll(t, s)
		if len(all) != updates+appends {
			t.Errorf("%s: %d audit entries, want %d", what, len(all), updates+appends)
		}
		for i, e := range all {
			if e.Seq != uint64(i+1) {
				t.Errorf("%s: audit entry %d numbered %d", what, i, e.Seq)
			}
		}
		// Youths 0..appends-1 have their registration's entry and a lookup's.
		for i := range updates {
			want := 1
			if i < appends {
				want = 2
			}
			if got := storetest.AuditOf(t, s, youths[i]); len(got) != want {
				t.Errorf("%s: youth %d has %d audit entries, want %d", what, i, len(got), want)
			}
		}
	}
	check("after the group", s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("after a re-open", openAt(t, nil, dir, false))
}

// TestSyncInterval: the WAL waits between syncs only while enough commits
// that write registrations are in flight, never for a lone writer.
func TestSyncInterval(t *testing.T) {
	const d = 500 * time.Microsecond
	for _, c := range []struct {
		interval time.Duration
		writing  int64
		want     time.Duration
	}{
		{d, 0, 0},
		{d, 1, 0},
		{d, syncBusy - 1, 0},
		{d, syncBusy, d},
		{d, 64, d},
		{-1, 64, 0},
		{0, 64, 0},
	} {
		var g groupCommit
		g.writing.Store(c.writing)
		if got := g.syncInterval(c.interval); got != c.want {
			t.Errorf("interval %v with %d in flight: %v, want %v", c.interval, c.writing, got, c.want)
		}
	}
}

// TestWriting: commits count themselves among those writing registrations
// while in flight, and none is counted once all have returned.
func TestWriting(t *testing.T) {
	s := memStore(t)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			y := storetest.Youth(1, i)
			err := s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
				tx.Put(storetest.Reg(y, "ggd", time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)))
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := s.group.writing.Load(); n != 0 {
		t.Errorf("%d commits in flight after all returned", n)
	}
}

// TestFiguresAfterLeadershipMoves: a counter a leader wrote, then another
// leader added to (applied here as a follower), then this store leads
// again and adds one: every count is there. The counts a store keeps for
// its queued batches (figuresQueued) must not outlive the batch: a
// replicated store applies outside the group commit.
func TestFiguresAfterLeadershipMoves(t *testing.T) {
	log := &fakeLog{}
	a := leader(t, log)
	if _, err := register(a, 1); err != nil {
		t.Fatal(err)
	}
	a.Follow()

	b := openAt(t, nil, t.TempDir(), true)
	applyAll(t, b, log.all())
	if err := b.Lead(log); err != nil {
		t.Fatal(err)
	}
	if _, err := register(b, 2); err != nil {
		t.Fatal(err)
	}
	b.Follow()

	applyFrom(t, a, 2, log.all()[1:])
	if err := a.Lead(log); err != nil {
		t.Fatal(err)
	}
	if _, err := register(a, 3); err != nil {
		t.Fatal(err)
	}
	for k, n := range storetest.FigureMap(t, a, "2026-03", "2026-03") {
		if n != 3 {
			t.Errorf("%v counted %d, want 3 (one per registration, two leaders)", k, n)
		}
	}
}

// holdGroup makes every commit from now on queue, as behind a busy
// leader, and returns the function that waits until at least n are
// queued and no more come (two of the youths may share a lock stripe, and
// the second then waits for the first), and hands the queue over to its
// first commit, as a leader does.
func holdGroup(t *testing.T, s *Store) (release func(n int)) {
	s.group.mu.Lock()
	s.group.leading = true
	s.group.mu.Unlock()
	return func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		last, still := -1, 0
		for {
			s.group.mu.Lock()
			queued := len(s.group.queue)
			if queued >= n && queued == last && still >= 50 {
				s.group.queue[0].lead = true
				close(s.group.queue[0].ready)
				s.group.mu.Unlock()
				return
			}
			s.group.mu.Unlock()
			if queued == last {
				still++
			} else {
				last, still = queued, 0
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d commits queued after 10 s, want %d", queued, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// waitFor waits for wg, failing t rather than hanging if it takes longer
// than d.
func waitFor(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: not returned after %v (a queued commit never led nor was applied?)", what, d)
	}
}

// openSlowSync opens a store at "db" on mem whose every WAL sync first
// sleeps for delay, so that a wait that did not wait for its sync would
// return first.
func openSlowSync(t *testing.T, mem *vfs.MemFS, delay time.Duration) *Store {
	t.Helper()
	slowSync := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") && (op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData) {
			time.Sleep(delay)
		}
		return nil
	})
	s, err := Open("db", &Options{FS: errorfs.Wrap(mem, slowSync), Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGroupCommitCrash: commits applied as groups (more than one group's
// worth, so that a leader hands over to the next) are durable when they
// return: a crash of the machine right after (only what was synced
// survives), with every WAL sync slow so that a wait that did not wait
// for it would return first, loses none of them, nor a count.
func TestGroupCommitCrash(t *testing.T) {
	mem := vfs.NewCrashableMem()
	s := openSlowSync(t, mem, 20*time.Millisecond)
	// Not closed if the test fails: Close would wait for a commit that
	// hangs.
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	cell := storetest.Cell("2026-03", "GM0014", "signal")
	groups0 := s.group.groups.Load()

	// Youths of distinct lock stripes, so that every update queues at
	// once and none comes later to lead what a leader failed to hand
	// over.
	const n = groupMaxBatches + 20
	youths := apartYouths(s, 2, n)
	release := holdGroup(t, s)
	regs := make([]store.Registration, n)
	errs := make([]error, n)
	// The first commit to return takes a crash of the machine at once:
	// the sync its group shares is done, or it returned too early.
	var (
		first      sync.Once
		firstClone *vfs.MemFS
		firstReg   store.Registration
	)
	var wg sync.WaitGroup
	for i, y := range youths {
		regs[i] = storetest.Reg(y, "ggd", at)
		wg.Go(func() {
			errs[i] = s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
				tx.Put(regs[i])
				tx.Count(figures.Registrations, cell)
				tx.Append(store.Event{Type: store.EventMatch, Recipient: "ggd", At: at})
				return nil
			})
			if errs[i] == nil {
				first.Do(func() { firstClone, firstReg = mem.CrashClone(vfs.CrashCloneCfg{}), regs[i] })
			}
		})
	}
	release(n)
	waitFor(t, &wg, 30*time.Second, "queued updates")
	crashed := mem.CrashClone(vfs.CrashCloneCfg{}) // what was synced, nothing more
	for i, err := range errs {
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	if g := s.group.groups.Load() - groups0; g < 2 {
		t.Errorf("%d commits in %d group(s), want at least 2 (at most %d a group)", n, g, groupMaxBatches)
	}
	if in := s.group.writing.Load(); in != 0 {
		t.Errorf("%d commits writing registrations in flight after all returned", in)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fc := openAt(t, firstClone, "db", false)
	if _, err := fc.Registration(bg, firstReg.ID); err != nil {
		t.Errorf("a crash as the first commit returned: its registration is lost: %v", err)
	}
	c := openAt(t, crashed, "db", false)
	for i, r := range regs {
		if _, err := c.Registration(bg, r.ID); err != nil {
			t.Errorf("after a crash: update %d, acknowledged, is lost: %v", i, err)
		}
	}
	for k, got := range storetest.FigureMap(t, c, "2026-03", "2026-03") {
		if got != n {
			t.Errorf("after a crash: %v counted %d, want %d", k, got, n)
		}
	}
	if evs, err := c.Events(bg, "ggd", 0, 2*n); err != nil || len(evs) != n {
		t.Errorf("after a crash: %d events, %v; want %d", len(evs), err, n)
	}
}

// waitQueued waits until n commits are queued, failing t after 10 s.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.group.mu.Lock()
		queued := len(s.group.queue)
		s.group.mu.Unlock()
		if queued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d commits queued after 10 s, want %d", queued, n)
		}
	}
}

// TestGroupCommitPanic: a leader whose apply panics (here Pebble's, on a
// database closed under the store) panics in its own goroutine only: the
// store fails, the other commits of its group get that error, the queue
// is released, and a commit after it returns an error instead of waiting
// for a leader that will never come.
func TestGroupCommitPanic(t *testing.T) {
	s := openAt(t, nil, t.TempDir(), false)
	const n = 8
	youths := apartYouths(s, 3, n+1)
	update := func(y pseudonym.Pseudonym) error {
		return s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			tx.Put(storetest.Reg(y, "ggd", time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)))
			return nil
		})
	}
	release := holdGroup(t, s)
	errs := make([]error, n)
	panicked := make([]bool, n)
	var wg sync.WaitGroup
	for i, y := range youths[:n] {
		wg.Go(func() {
			defer func() { panicked[i] = recover() != nil }()
			errs[i] = update(y)
		})
	}
	waitQueued(t, s, n)
	if err := s.db.Close(); err != nil { // Pebble's apply now panics
		t.Fatal(err)
	}
	release(n)
	waitFor(t, &wg, 10*time.Second, "a group whose leader panicked")
	leaders := 0
	for i := range n {
		switch {
		case panicked[i]:
			leaders++
		case !errors.Is(errs[i], store.ErrUnavailable):
			t.Errorf("commit %d of the group: %v, want store.ErrUnavailable", i, errs[i])
		}
	}
	if leaders != 1 {
		t.Errorf("%d commits panicked, want 1 (the leader)", leaders)
	}
	s.group.mu.Lock()
	leading, queued := s.group.leading, len(s.group.queue)
	s.group.mu.Unlock()
	if leading || queued != 0 {
		t.Errorf("after the panic: leading %v, %d queued; want the queue released", leading, queued)
	}
	done := make(chan error, 1)
	go func() { done <- update(youths[n]) }()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("a commit after the panic: %v, want store.ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a commit after the panic waits for a leader")
	}
}

// apartYouths returns n test youths under keyID of distinct lock stripes
// of s: their updates never wait for one another's, so all of them queue
// behind a held group at once.
func apartYouths(s *Store, keyID uint32, n int) []pseudonym.Pseudonym {
	var youths []pseudonym.Pseudonym
	stripes := map[int]bool{}
	for i := 0; len(youths) < n; i++ {
		if y := storetest.Youth(keyID, i); !stripes[s.stripe(y)] {
			stripes[s.stripe(y)] = true
			youths = append(youths, y)
		}
	}
	return youths
}

// TestLoadWaitsForCommits: a load started while updates that count are
// queued (their counters read, their batches not yet applied) waits for
// them, so that the load, which keeps the counters of the updates taken
// during it and writes them when it finishes, starts from their counts
// and loses none.
func TestLoadWaitsForCommits(t *testing.T) {
	s := openAt(t, nil, t.TempDir(), false)
	const n = 8
	youths := apartYouths(s, 4, n+1)
	cell := storetest.Cell("2026-03", "GM0014", "signal")
	update := func(y pseudonym.Pseudonym) error {
		return s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			tx.Put(storetest.Reg(y, "ggd", time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)))
			tx.Count(figures.Registrations, cell)
			return nil
		})
	}
	release := holdGroup(t, s)
	var wg sync.WaitGroup
	for _, y := range youths[:n] {
		wg.Go(func() {
			if err := update(y); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(t, s, n)
	loaded := make(chan *Loader, 1)
	go func() {
		l, err := s.Load(LoadOptions{})
		if err != nil {
			t.Error(err)
		}
		loaded <- l
	}()
	var l *Loader
	select {
	case l = <-loaded:
		// The load began beside the queued updates: an update taken
		// by it now reads the counter they have not yet written.
		t.Error("the load began while updates were in flight")
		if err := update(youths[n]); err != nil {
			t.Fatal(err)
		}
	case <-time.After(100 * time.Millisecond):
	}
	release(n)
	waitFor(t, &wg, 10*time.Second, "the queued updates")
	if l == nil {
		l = <-loaded
		if err := update(youths[n]); err != nil {
			t.Fatal(err)
		}
	}
	if l == nil {
		t.FailNow()
	}
	if _, err := l.Finish(bg); err != nil {
		t.Fatal(err)
	}
	for k, got := range storetest.FigureMap(t, s, "2026-03", "2026-03") {
		if got != n+1 {
			t.Errorf("%v counted %d, want %d", k, got, n+1)
		}
	}
}

// TestGroupFigures: a group writes each counter its commits wrote once,
// with the value of the last commit in queue order to write it; a commit
// alone writes its own.
func TestGroupFigures(t *testing.T) {
	req := func(counts ...queuedCount) *commitReq {
		return &commitReq{t: &tx{figuresWritten: counts}}
	}
	c := func(key string, n uint64) queuedCount { return queuedCount{key: key, n: n} }
	tests := []struct {
		name  string
		group []*commitReq
		want  []queuedCount
	}{
		{"alone", []*commitReq{req(c("a", 3), c("b", 1))}, []queuedCount{c("a", 3), c("b", 1)}},
		{"none counts", []*commitReq{req(), req()}, nil},
		{"one counter", []*commitReq{req(c("a", 1)), req(c("a", 2)), req(c("a", 3))}, []queuedCount{c("a", 3)}},
		{"the last writer's value, not the largest", []*commitReq{req(c("a", 7)), req(c("a", 5))}, []queuedCount{c("a", 5)}},
		{"apart and shared", []*commitReq{
			req(c("a", 1), c("b", 10)),
			req(),
			req(c("c", 4)),
			req(c("a", 2), c("c", 5)),
		}, []queuedCount{c("a", 2), c("b", 10), c("c", 5)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := groupFigures(tc.group)
			if !slices.Equal(got, tc.want) {
				t.Errorf("groupFigures = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestGroupCommitAfterFailure: commits queued when the store fails (as
// when the group before them panicked or its sync failed) are not
// applied: each gets store.ErrUnavailable, and none of their
// registrations is there after a re-open.
func TestGroupCommitAfterFailure(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, nil, dir, false)
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	const n = 6
	youths := apartYouths(s, 4, n)
	release := holdGroup(t, s)
	regs := make([]store.Registration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	count := []countOp{{figures.Registrations, storetest.Cell("2026-03", "GM0014", "signal"), 0}}
	for i, y := range youths {
		regs[i] = storetest.Reg(y, "ggd", at)
		wg.Go(func() { errs[i] = countedUpdate(s, y, regs[i], count) })
	}
	waitQueued(t, s, n)
	s.fail(errors.New("the group before failed"))
	release(n)
	waitFor(t, &wg, 10*time.Second, "commits queued behind a failure")
	for i, err := range errs {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("commit %d: %v, want store.ErrUnavailable", i, err)
		}
	}
	s.Close() // a failed store leaves Pebble open; here its disk is fine
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, nil, dir, false)
	for i, r := range regs {
		if _, err := s.Registration(bg, r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("registration %d after a re-open: %v, want store.ErrNotFound", i, err)
		}
	}
	if got := storetest.FigureMap(t, s, "2026-03", "2026-03"); len(got) != 0 {
		t.Errorf("figures after a re-open: %v, want none", got)
	}
}
