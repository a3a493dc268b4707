package pebblestore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/store"
)

// Group commit. Under load a registration spends most of its time waiting
// for the WAL's sync (88% in a trace of 64 callers), so the rate is how
// many commits share a sync. Pebble shares one sync among the batches
// waiting for it, but takes each batch through its commit pipeline alone:
// a sequence number, a WAL record, a memtable apply and a publish in
// order, each a hand-over between goroutines, CPU the commits of the next
// sync could have used. So the store queues the batches of concurrent
// commits (registrations, audit entries) and one of them, the leader,
// applies the queue as one Pebble batch: one trip through the pipeline and
// one WAL record for all. The first batch of a group is the group's batch;
// the others are copied onto it, in queue order, and closed; a figures
// counter that several of them write is written once, with the last value
// (groupFigures). And while many commits are in flight, the WAL waits a
// little between syncs so that more of them share the next
// (syncInterval).
//
// What a commit promises does not change: when its wait returns, its
// records are durable; when commit returns, they are visible (the group's
// batch is applied). A commit alone, with none queued, is its own leader
// and applies its batch as before, with no copy.
//
// Order: a commit that counts figures queues its batch while it holds the
// figures' lock, so batches that write one counter are applied in the
// order they read it (figures.go); keys of the same youth are written by
// one commit at a time (the youth's lock is held until the commit
// returns, and the batch is applied by then). The key-use counts are
// taken by the leader in queue order, after the group is applied.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*commitReq
	leading bool // a leader is applying a group; the queue waits for it
	// maxBytes bounds a group's bytes: groupMaxBytes, or a quarter of
	// the memtable if less (set by Open).
	maxBytes int
	// writing counts the commits that write registrations, between their
	// queueing and the end of their wait for the sync (see syncInterval).
	writing atomic.Int64
	// commits and groups count the batches applied and the groups they
	// were applied in (vindex_store_commits_total and
	// vindex_store_commit_groups_total).
	commits, groups atomic.Uint64
}

// Limits of one group: the batches and the bytes applied as one. A group
// takes at most a quarter of a memtable (groupCommit.maxBytes), far below
// the half from which Pebble would apply it as a memtable of its own.
const (
	groupMaxBatches = 128
	groupMaxBytes   = 4 << 20
)

// commitReq is one commit's batch in the queue.
type commitReq struct {
	b             *pebble.Batch
	t             *tx
	before, after []store.Registration
	// ready is closed when the batch is applied (or failed), or when the
	// commit is to lead the next group (lead).
	ready chan struct{}
	lead  bool
	g     *commitGroup
	err   error
}

// commitGroup is the batch a group applied, and its WAL sync.
type commitGroup struct {
	b    *pebble.Batch
	sync sync.Once
	err  error
}

// commit queues r and returns once its batch is applied, with the wait for
// its sync. unlock (the figures' lock) is called once r is queued.
func (g *groupCommit) commit(s *Store, r *commitReq, unlock func()) (wait func() error, err error) {
	r.ready = make(chan struct{})
	if r.writes() {
		g.writing.Add(1)
	}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	unlock()
	if g.leading {
		g.mu.Unlock()
		<-r.ready
		if !r.lead {
			return r.result(s)
		}
		g.mu.Lock()
	}
	g.leading = true
	group := g.take()
	g.mu.Unlock()
	g.lead(s, r, group)
	return r.result(s)
}

// lead applies group, r's, and releases its other commits and the queue's
// next leader. If the apply panics, the store fails, the group's commits
// get that error and the queue goes on before the panic does: a panic in
// one commit must not leave every writer waiting for a leader.
func (g *groupCommit) lead(s *Store, r *commitReq, group []*commitReq) {
	applied := false
	defer func() {
		if !applied {
			err := s.fail(errGroupPanic)
			for _, o := range group {
				o.g, o.err = nil, err
			}
		}
		for _, o := range group {
			if o != r {
				close(o.ready)
			}
		}
		g.mu.Lock()
		if len(g.queue) > 0 {
			// The next group is led by its first commit, which has
			// waited longest; this one returns.
			g.queue[0].lead = true
			close(g.queue[0].ready)
		} else {
			g.leading = false
		}
		g.mu.Unlock()
	}()
	s.applyGroup(group)
	applied = true
}

// errGroupPanic fails the commits of a group whose apply panicked.
var errGroupPanic = errors.New("commit: the apply of a group of commits panicked")

// take removes the next group from the queue: its first commit, and those
// after it within the limits. The caller holds g.mu.
func (g *groupCommit) take() []*commitReq {
	n, size := 1, g.queue[0].size()
	for n < len(g.queue) && n < groupMaxBatches {
		size += g.queue[n].size()
		if size > g.maxBytes {
			break
		}
		n++
	}
	group := make([]*commitReq, n)
	copy(group, g.queue)
	rest := copy(g.queue, g.queue[n:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	return group
}

// applyGroup applies the batches of group as one, and then, for each
// commit in order, completes its sequence numbers and counts its key use.
// Every commit of the group gets the outcome.
func (s *Store) applyGroup(group []*commitReq) {
	cg := &commitGroup{b: group[0].b}
	var err error
	for _, o := range group[1:] {
		if err == nil {
			err = cg.b.Apply(o.b, nil)
		}
		o.b.Close()
	}
	setFigures(cg.b, groupFigures(group))
	if err == nil {
		// A store that failed while the group waited (a group before
		// it panicked, a sync failed) applies nothing more: what it
		// acknowledged stays, nothing new is acknowledged.
		err = s.failure()
	}
	if err == nil {
		err = recoverFatal(func() error { return s.db.ApplyNoSyncWait(cg.b, pebble.Sync) })
	}
	counted := make([]*tx, 0, len(group))
	for _, o := range group {
		if len(o.t.events) > 0 {
			s.seqs.complete(o.t.events)
		}
		s.audit.complete(o.t.audit)
		if o.t.figuresGen != 0 {
			counted = append(counted, o.t)
		}
	}
	if err != nil {
		// A batch whose apply failed may be half in the pipeline: it is
		// left to the garbage collector rather than closed.
		err = s.fail(fmt.Errorf("commit: %w", err))
	} else {
		// Counted in queue order; if the sync fails, the store fails
		// and the counts no longer matter.
		for _, o := range group {
			if len(o.t.staged) > 0 {
				s.keyUse.apply(o.before, o.after)
			}
		}
	}
	if len(counted) > 0 {
		s.figuresApplied(counted)
	}
	for _, o := range group {
		o.g, o.err = cg, err
	}
	s.group.commits.Add(uint64(len(group)))
	s.group.groups.Add(1)
}

// size is the bytes r adds to a group at most: its batch, and the
// counters it counted, which the group writes for it (groupFigures).
func (r *commitReq) size() int {
	n := len(r.b.Repr())
	for _, c := range r.t.figuresWritten {
		n += len(c.key) + 8 + 16 // the key, the value, a record's header
	}
	return n
}

// writes reports whether r writes registrations (see syncInterval).
func (r *commitReq) writes() bool { return len(r.t.staged) > 0 }

// done ends r's time in flight.
func (r *commitReq) done(s *Store) {
	if r.writes() {
		s.group.writing.Add(-1)
	}
}

// result is r's outcome once its group is applied: the error, or the wait
// for the group's WAL sync, which the first caller waits for and the
// others share.
func (r *commitReq) result(s *Store) (wait func() error, err error) {
	if r.err != nil {
		r.done(s)
		return nil, r.err
	}
	cg := r.g
	return func() error {
		defer r.done(s)
		cg.sync.Do(func() {
			if err := cg.b.SyncWait(); err != nil {
				// The batch is in the memtable, visible, but not
				// durable: the store must not answer from it.
				cg.err = s.fail(fmt.Errorf("sync: %w", err))
				return
			}
			cg.b.Close()
		})
		return cg.err
	}, nil
}

// syncBusy is the number of commits writing registrations in flight from
// which the WAL waits out Options.SyncInterval between syncs.
const syncBusy = 8

// syncInterval is the least time between two WAL syncs as Pebble asks for
// it after each sync: the store's SyncInterval while at least syncBusy
// commits that write registrations are in flight, none otherwise.
//
// Such a commit takes long to prepare (its youth read, checked and
// encoded, seven records or more), so under load the next few arrive
// over a millisecond or two: a sync that waits for them carries more, and
// with fewer syncs each is quicker. Measured with 64 callers, with the
// group commit: RegisterParallel +12 to +30% (docs/benchmarks.md). A commit of an audit entry alone (a lookup's)
// is ready at once, and a wait only delays it (AppendAuditParallel lost
// a third); and a lone writer (an expiry run, a migration, a quiet
// service) would only be slowed.
func (g *groupCommit) syncInterval(interval time.Duration) time.Duration {
	if interval <= 0 || g.writing.Load() < syncBusy {
		return 0
	}
	return interval
}
