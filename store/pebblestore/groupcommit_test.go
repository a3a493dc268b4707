package pebblestore

import (
	"sync"
	"testing"
	"time"

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
	open := func() *Store {
		s, err := Open(dir, &Options{Logger: discard(), MinFreeBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	cell := storetest.Cell("2026-03", "GM0014", "signal")
	commits0, groups0 := s.group.commits.Load(), s.group.groups.Load()

	// A leader is busy: every commit from here on queues.
	s.group.mu.Lock()
	s.group.leading = true
	s.group.mu.Unlock()

	const updates, appends = 12, 4
	regs := make([]store.Registration, updates)
	errs := make([]error, updates+appends)
	var wg sync.WaitGroup
	for i := range updates {
		y := storetest.Youth(1, i)
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
			errs[updates+i] = s.AppendAudit(bg, store.AuditEntry{At: at, Institution: "wij", Verb: store.AuditLookup, Youth: storetest.Youth(1, i), Outcome: "ok"})
		})
	}
	for queued := 0; queued < updates+appends; {
		time.Sleep(time.Millisecond)
		s.group.mu.Lock()
		queued = len(s.group.queue)
		s.group.mu.Unlock()
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
	s.group.mu.Lock()
	s.group.queue[0].lead = true
	close(s.group.queue[0].ready)
	s.group.mu.Unlock()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if c, g := s.group.commits.Load()-commits0, s.group.groups.Load()-groups0; c != updates+appends || g != 1 {
		t.Errorf("%d commits in %d groups, want %d in 1", c, g, updates+appends)
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
			if got := storetest.AuditOf(t, s, storetest.Youth(1, i)); len(got) != want {
				t.Errorf("%s: youth %d has %d audit entries, want %d", what, i, len(got), want)
			}
		}
	}
	check("after the group", s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	check("after a re-open", s)
}

// TestSyncInterval: the WAL waits between syncs only while enough commits
// are in flight to share the next one, never for a lone writer.
func TestSyncInterval(t *testing.T) {
	const d = 500 * time.Microsecond
	for _, c := range []struct {
		interval time.Duration
		inflight int64
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
		g.inflight.Store(c.inflight)
		if got := g.syncInterval(c.interval); got != c.want {
			t.Errorf("interval %v with %d in flight: %v, want %v", c.interval, c.inflight, got, c.want)
		}
	}
}

// TestInflight: every commit leaves the count of commits in flight as it
// found it, once its wait has returned.
func TestInflight(t *testing.T) {
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
	if n := s.group.inflight.Load(); n != 0 {
		t.Errorf("%d commits in flight after all returned", n)
	}
}
