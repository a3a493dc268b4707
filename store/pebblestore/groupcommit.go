package pebblestore

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/store"
)

// Group commit. Pebble shares one WAL sync among the batches that wait for
// it, but takes each batch through its commit pipeline alone: a sequence
// number, a WAL record, a memtable apply and a publish in order, each a
// hand-over between goroutines. With many concurrent commits on few cores
// those hand-overs, not the disk, bound the rate. So the store queues the
// batches of concurrent commits (registrations, audit entries) and one of
// them, the leader, applies the queue as one Pebble batch: one trip
// through the pipeline and one WAL record for all. The first batch of a
// group is the group's batch; the others are copied onto it, in queue
// order, and closed.
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
	// inflight counts the commits between their queueing and the end of
	// their wait for the sync (see syncInterval).
	inflight atomic.Int64
	// commits and groups count the batches applied and the groups they
	// were applied in (vindex_store_commits_total and
	// vindex_store_commit_groups_total).
	commits, groups atomic.Uint64
}

// Limits of one group: the batches and the bytes applied as one.
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
	g.inflight.Add(1)
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

	s.applyGroup(group)
	for _, o := range group {
		if o != r {
			close(o.ready)
		}
	}

	g.mu.Lock()
	if len(g.queue) > 0 {
		// The next group is led by its first commit, which has waited
		// longest; this one returns.
		g.queue[0].lead = true
		close(g.queue[0].ready)
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return r.result(s)
}

// take removes the next group from the queue: its first commit, and those
// after it within the limits. The caller holds g.mu.
func (g *groupCommit) take() []*commitReq {
	n, size := 1, len(g.queue[0].b.Repr())
	for n < len(g.queue) && n < groupMaxBatches {
		size += len(g.queue[n].b.Repr())
		if size > groupMaxBytes {
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

// result is r's outcome once its group is applied: the error, or the wait
// for the group's WAL sync, which the first caller waits for and the
// others share.
func (r *commitReq) result(s *Store) (wait func() error, err error) {
	if r.err != nil {
		s.group.inflight.Add(-1)
		return nil, r.err
	}
	cg := r.g
	return func() error {
		defer s.group.inflight.Add(-1)
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

// syncBusy is the number of commits in flight from which the WAL waits
// out Options.SyncInterval between syncs: fewer, and each sync is asked
// for by a commit that would only wait longer, with no other to share it.
const syncBusy = 8

// syncInterval is the least time between two WAL syncs as Pebble asks for
// it after each sync: the store's SyncInterval while at least syncBusy
// commits are in flight, so that the next sync carries more of them;
// none otherwise, so that a lone writer (an expiry run, a migration, a
// quiet service) is not slowed.
func (g *groupCommit) syncInterval(interval time.Duration) time.Duration {
	if interval <= 0 || g.inflight.Load() < syncBusy {
		return 0
	}
	return interval
}
