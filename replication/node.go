package replication

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vindex-nl/vindex/store"
)

// Replica is what a Node drives: a store that applies the log's entries
// in order while it follows, and appends its own writes to the log while
// it leads. Applied is called from other goroutines while the rest runs,
// and must be safe for that; the other methods are called from one
// goroutine at a time.
type Replica interface {
	// Applied returns the last entry the replica applied or, leading,
	// appended and wrote; the zero EntryID if none.
	Applied() (store.EntryID, error)
	// ApplyEntry applies the log's entry seq, the one after the last
	// applied (store.ErrGap otherwise), in one atomic write with the
	// record that it is the last applied.
	ApplyEntry(seq uint64, entry []byte) error
	// Lead makes the replica the leader: it takes writes, each appended
	// to log after the last applied entry, until Follow.
	Lead(log store.Log) error
	// Follow makes the replica refuse writes (store.ErrNotLeader) from
	// now on; writes whose append is in flight still end as the log
	// says.
	Follow()
	// Rewind takes back the last entry the replica applied, one it
	// appended as leader that the log never acknowledged, restoring
	// exactly what it held before, and returns the entry now last
	// applied; an error if it cannot (an entry it applied as follower,
	// or one it cannot undo). Called only while the replica follows.
	Rewind() (store.EntryID, error)
	// Settled says that a, the replica's last applied entry, is the
	// log's: none of its entries will be taken back, and it may forget
	// how (what its own entries replaced, records since destroyed among
	// them). Called each time the replica passes the check against the
	// stream, before it follows.
	Settled(a store.EntryID) error
}

// ErrTrimmed: the stream no longer holds the entries after the replica's
// last applied one; the node must be restored from a backup taken after
// the stream's first position.
var ErrTrimmed = errors.New("replication: the stream no longer holds the entries this node lacks: restore it from a newer backup")

// leaseKey is the lease bucket's key naming the leader.
const leaseKey = "leader"

// A Node runs one replica in a cluster: it follows the stream, applying
// each entry to the replica in order, takes the leader lease when it is
// free, and leads until the lease or an append fails. Make one with
// NewNode and start it with Run.
type Node struct {
	cfg     Config
	metrics *Metrics

	applied atomic.Uint64 // the replica's last applied position, as last seen
	leading atomic.Bool
	leader  atomic.Pointer[string] // the lease holder, as last seen
	lag     atomic.Int64           // the stream's last position less applied; -1 unknown

	// noRenew, for tests, keeps a leader from renewing its lease (and so
	// from noticing it lost it) and from stepping down when an append
	// fails.
	noRenew atomic.Bool
	// conn is Run's connection, for tests that cut it.
	conn atomic.Pointer[nats.Conn]
	// checked is closed once the replica has first passed the check
	// against the stream (see Checked).
	checked     chan struct{}
	checkedOnce sync.Once
}

// Checked is closed once Run has first checked the replica against the
// stream and found it the stream's (neither diverged nor behind a trimmed
// stream): a server should answer nothing from the replica before, since a
// diverged replica holds writes the log never took. If the check fails, Run
// returns its error instead and Checked stays open.
func (n *Node) Checked() <-chan struct{} { return n.checked }

// NewNode returns a node for cfg, or cfg's problem.
func NewNode(cfg Config) (*Node, error) {
	cfg.ensureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, metrics: newMetrics(), checked: make(chan struct{})}
	n.lag.Store(-1)
	return n, nil
}

// Leader returns the name of the node holding the leader lease, as this
// node last saw it (its own name while it leads; while it follows, as
// the lease bucket last told it): "" if none or not known. For a store
// that refuses a write to name the node that takes it.
func (n *Node) Leader() string {
	if n.leading.Load() {
		return n.cfg.Name
	}
	if p := n.leader.Load(); p != nil {
		return *p
	}
	return ""
}

// Lag returns how many entries the stream holds that the replica has not
// applied, as of the node's last look (at most Config.StatusInterval
// old, or as of the last entry applied), and false if the node has not
// looked yet or lost sight of the stream. For a store that serves reads
// only while it is caught up within a bound.
func (n *Node) Lag() (uint64, bool) {
	l := n.lag.Load()
	return uint64(max(l, 0)), l >= 0
}

func (n *Node) setLag(lag uint64) {
	n.lag.Store(int64(lag))
	n.metrics.lag.Set(float64(lag))
}

func (n *Node) setLeader(name string) { n.leader.Store(&name) }

// Collector returns the node's metrics (see Metrics).
func (n *Node) Collector() prometheus.Collector { return n.metrics }

// cluster is what a running node uses of JetStream.
type cluster struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	lease  jetstream.KeyValue
	status jetstream.KeyValue
}

// connect connects to cfg's servers, reconnecting for ever.
func connect(cfg *Config, retry bool) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("vindex " + cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(retry),
		// No publish is kept to be sent after a reconnect: one the log
		// has given up on must never land later, after another leader's
		// entries (it would fence that leader's next append).
		nats.ReconnectBufSize(-1),
		// Only the servers the operator named: a node given only its
		// own machine's server is cut off with it.
		nats.IgnoreDiscoveredServers(),
	}
	if cfg.TLS != nil {
		opts = append(opts, nats.Secure(cfg.TLS.Clone()))
	}
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("replication: connect: %w", err)
	}
	return nc, nil
}

// Run runs the node until ctx ends (it then steps down if it leads, and
// returns ctx's error) or the replica cannot go on: store.ErrDiverged
// (its last entry is not the stream's), ErrTrimmed, or an error of the
// replica's. At the start, and each time it goes back to following, it
// checks the replica against the stream (see the package doc).
func (n *Node) Run(ctx context.Context, r Replica) error {
	nc, err := connect(&n.cfg, true)
	if err != nil {
		return err
	}
	defer nc.Close()
	n.conn.Store(nc)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("replication: %w", err)
	}
	c, err := n.setup(ctx, nc, js)
	if err != nil {
		return err
	}
	statusDone := make(chan struct{})
	sctx, stopStatus := context.WithCancel(ctx)
	go func() {
		defer close(statusDone)
		n.reportStatus(sctx, c, r)
	}()
	defer func() {
		stopStatus()
		<-statusDone
	}()
	for {
		l, err := n.follow(ctx, c, r)
		if err != nil {
			return err
		}
		if err := n.lead(ctx, c, r, l); err != nil {
			return err
		}
	}
}

// setup finds or makes the stream and the buckets, retrying while
// JetStream is not ready (a cluster still electing its leaders).
func (n *Node) setup(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) (*cluster, error) {
	for {
		c, err := n.trySetup(ctx, js)
		if err == nil {
			c.nc = nc
			return c, nil
		}
		if errors.Is(err, ErrConfig) || errors.Is(err, jetstream.ErrBucketExists) {
			return nil, err
		}
		n.cfg.Logger.Warn("replication: JetStream not ready", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (n *Node) streamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        n.cfg.Stream,
		Description: "vindex replicated log: store entries (pseudonyms and that-information only)",
		Subjects:    []string{n.cfg.subject()},
		Storage:     jetstream.FileStorage,
		Replicas:    n.cfg.Replicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		DenyDelete:  true,
		// Entries appended while a publish is in flight go as one batch.
		AllowAtomicPublish: true,
	}
}

func (n *Node) trySetup(ctx context.Context, js jetstream.JetStream) (*cluster, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	want := n.streamConfig()
	s, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, want.Name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("replication: stream %s: %w", want.Name, err)
	}
	got := s.CachedInfo().Config
	if len(got.Subjects) != 1 || got.Subjects[0] != want.Subjects[0] || got.Storage != want.Storage || got.Replicas != want.Replicas || !got.AllowAtomicPublish {
		return nil, fmt.Errorf("%w: stream %s has subjects %v, storage %v, %d replicas, atomic publish %v; want %v, %v, %d, true",
			ErrConfig, want.Name, got.Subjects, got.Storage, got.Replicas, got.AllowAtomicPublish, want.Subjects, want.Storage, want.Replicas)
	}
	lease, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: n.cfg.LeaseBucket, Description: "vindex leader lease",
		History: 1, TTL: n.cfg.LeaseTTL, Storage: jetstream.FileStorage, Replicas: n.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("replication: lease bucket %s (is its TTL %v on every node?): %w", n.cfg.LeaseBucket, n.cfg.LeaseTTL, err)
	}
	status, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: n.cfg.StatusBucket, Description: "vindex nodes' applied positions",
		History: 1, Storage: jetstream.FileStorage, Replicas: n.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("replication: status bucket %s: %w", n.cfg.StatusBucket, err)
	}
	return &cluster{js: js, stream: s, lease: lease, status: status}, nil
}

// follow checks the replica against the stream and applies the stream's
// entries to it until the node wins the lease and has applied every
// entry the stream had when it won; it returns the lease, with the
// consumer stopped.
func (n *Node) follow(ctx context.Context, c *cluster, r Replica) (*lease, error) {
	wait := n.cfg.LeaseTTL
	var rewound, from uint64 // entries taken back, from position from down
	for {
		a, err := r.Applied()
		if err != nil {
			return nil, fmt.Errorf("replication: the replica's last applied entry: %w", err)
		}
		err = n.check(ctx, c, a, wait)
		if errors.Is(err, store.ErrDiverged) {
			// Its own appends that the stream never took: taken back
			// one by one, until the last entry is the stream's. One the
			// stream still takes later is applied again as the
			// stream's, on the same state.
			_, rerr := r.Rewind()
			if rerr == nil {
				n.metrics.rewound.Inc()
				if rewound++; rewound == 1 {
					from = a.Seq
				}
				wait = 0 // the stream's end was waited for once
				continue
			}
			err = fmt.Errorf("%w; the replica cannot take it back: %w", err, rerr)
		}
		if rewound > 0 {
			n.cfg.Logger.Warn("replication: took back entries of its own the stream does not hold", "node", n.cfg.Name,
				"entries", rewound, "from", from, "applied", a.Seq)
			rewound = 0
		}
		if err == nil {
			err = r.Settled(a)
		}
		var l *lease
		if err == nil {
			n.checkedOnce.Do(func() { close(n.checked) })
			n.applied.Store(a.Seq)
			n.metrics.applied.Set(float64(a.Seq))
			l, err = n.followFrom(ctx, c, r, a)
		}
		if errors.Is(err, errRestart) && ctx.Err() == nil {
			n.cfg.Logger.Warn("replication: following again", "err", err)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		return l, err
	}
}

// errRestart: JetStream did not answer, or the consumer failed:
// following starts again, from the check.
var errRestart = errors.New("replication: JetStream unavailable")

func (n *Node) followFrom(ctx context.Context, c *cluster, r Replica, applied store.EntryID) (*lease, error) {
	cons, err := c.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   applied.Seq + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRestart, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRestart, err)
	}
	applyErr := make(chan error, 1)
	applyDone := make(chan struct{})
	go func() {
		defer close(applyDone)
		applyErr <- n.applyAll(it, r, applied)
	}()
	stop := func() {
		it.Stop()
		<-applyDone
	}

	watch, err := c.lease.Watch(ctx, leaseKey)
	if err != nil {
		stop()
		return nil, fmt.Errorf("%w: watching the lease: %w", errRestart, err)
	}
	defer func() { _ = watch.Stop() }()
	updates := watch.Updates()
	tick := time.NewTicker(n.cfg.LeaseTTL / 4)
	defer tick.Stop()
	var held *lease   // the lease, won and catching up
	var target uint64 // the stream's last position when it was won
	for {
		if held != nil && n.applied.Load() >= target {
			// Caught up. Entries a leader that did not step down cleanly
			// had in flight may still land: look again after a pause, and
			// lead only once the stream's last position holds still.
			last, err := n.settledLast(ctx, c, target)
			switch {
			case err != nil:
				n.cfg.Logger.Warn("replication: won the lease but cannot read the stream's position", "err", err)
				held.release()
				held = nil
			case last == target:
				stop()
				return held, nil
			default:
				target = last
				continue
			}
		}
		select {
		case <-ctx.Done():
			stop()
			if held != nil {
				held.release()
			}
			return nil, ctx.Err()
		case err := <-applyErr:
			stop()
			if held != nil {
				held.release()
			}
			return nil, err
		case e, ok := <-updates:
			if !ok {
				// The watch ended (the connection dropped): the ticker
				// still tries the lease.
				updates = nil
				continue
			}
			if e == nil {
				continue // the end of the initial values
			}
			if e.Operation() == jetstream.KeyValuePut {
				n.setLeader(string(e.Value()))
				continue
			}
			n.setLeader("")
			if held != nil {
				continue
			}
			held, target = n.tryLease(ctx, c)
		case <-tick.C:
			if held != nil {
				if held.lostSignal() {
					n.cfg.Logger.Warn("replication: lost the lease while catching up")
					held.release()
					held = nil
				}
				continue
			}
			held, target = n.tryLease(ctx, c)
		}
	}
}

// applyAll applies the consumer's messages in order until it stops. Each
// entry must name the one applied before it (its Vindex-Prev header), so
// that a node never applies an entry that the stream holds at another
// position than its leader appended it at, or after another entry than
// the one its leader had: it stops with store.ErrDiverged instead.
func (n *Node) applyAll(it jetstream.MessagesContext, r Replica, prev store.EntryID) error {
	for {
		msg, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			// Stopped by followFrom, which then does not read this, or
			// by the consumer itself.
			return fmt.Errorf("%w: the consumer stopped", errRestart)
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errRestart, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("%w: %w", errRestart, err)
		}
		seq := md.Sequence.Stream
		if seq != prev.Seq+1 {
			return fmt.Errorf("replication: the stream gave entry %d after %d (trimmed?): %w", seq, prev.Seq, store.ErrGap)
		}
		if got := msg.Headers().Get(hdrPrev); got != prevHeader(prev) {
			return fmt.Errorf("replication: the stream's entry %d follows %q, not the entry %d applied (%q): %w", seq, got, prev.Seq, prevHeader(prev), store.ErrDiverged)
		}
		id, err := n.cfg.EntryOf(msg.Data())
		if err != nil {
			return fmt.Errorf("replication: the stream's entry %d: %w", seq, err)
		}
		if err := r.ApplyEntry(seq, msg.Data()); err != nil {
			return fmt.Errorf("replication: applying entry %d: %w", seq, err)
		}
		prev = id
		n.applied.Store(seq)
		n.metrics.applied.Set(float64(seq))
		n.setLag(md.NumPending)
	}
}

// tryLease takes the lease if it is free, and returns it with the
// stream's last position, which the node must reach before it leads.
func (n *Node) tryLease(ctx context.Context, c *cluster) (*lease, uint64) {
	actx, cancel := context.WithTimeout(ctx, n.cfg.LeaseTTL/4)
	defer cancel()
	rev, err := c.lease.Create(actx, leaseKey, []byte(n.cfg.Name))
	if err != nil {
		return nil, 0
	}
	info, err := c.stream.Info(actx)
	if err != nil {
		n.cfg.Logger.Warn("replication: won the lease but cannot read the stream's position", "err", err)
		l := newLease(n, c.lease, rev)
		l.release()
		return nil, 0
	}
	n.cfg.Logger.Info("replication: won the lease; catching up", "node", n.cfg.Name, "applied", n.applied.Load(), "last", info.State.LastSeq)
	return newLease(n, c.lease, rev), info.State.LastSeq
}

// settledLast waits a moment and returns the stream's last position.
func (n *Node) settledLast(ctx context.Context, c *cluster, target uint64) (uint64, error) {
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(min(n.cfg.LeaseTTL/8, 250*time.Millisecond)):
	}
	ictx, cancel := context.WithTimeout(ctx, n.cfg.LeaseTTL/4)
	defer cancel()
	info, err := c.stream.Info(ictx)
	if err != nil {
		return 0, err
	}
	return max(info.State.LastSeq, target), nil
}

// lead makes the replica lead until the lease or an append fails, or ctx
// ends; then it steps down.
func (n *Node) lead(ctx context.Context, c *cluster, r Replica, l *lease) error {
	prev, err := r.Applied()
	if err != nil {
		l.release()
		return fmt.Errorf("replication: the replica's last applied entry: %w", err)
	}
	log := newLog(c.nc, c.js, n.cfg.subject(), n.cfg.EntryOf, n.cfg.AckTimeout, n.metrics, prev)
	if err := r.Lead(log); err != nil {
		log.close()
		l.release()
		return fmt.Errorf("replication: the replica cannot lead: %w", err)
	}
	n.leading.Store(true)
	n.metrics.elections.Inc()
	n.metrics.leader.Set(1)
	n.setLag(0)
	n.cfg.Logger.Info("replication: leading", "node", n.cfg.Name, "after", prev.Seq)

	var reason string
	failed := log.failed
	for reason == "" {
		select {
		case <-ctx.Done():
			reason = "stopping"
		case <-l.lost:
			reason = "lease lost"
		case <-failed:
			if n.noRenew.Load() {
				failed = nil
				continue
			}
			reason = "append failed"
			if log.wasFenced() {
				reason = "fenced"
			}
		}
	}
	// The lease is released only once the entries in flight are settled
	// (or cannot be), so that the next leader does not catch up to a
	// position they then land after, and find its first append fenced.
	// The replica stops taking writes first: a write taken after the log
	// closed would be applied to the replica and then fail to append,
	// leaving it an entry ahead of the stream (diverged).
	n.leading.Store(false)
	r.Follow()
	log.close()
	select {
	case <-log.drained:
	case <-time.After(n.cfg.AckTimeout + time.Second):
	}
	l.release()
	n.metrics.leader.Set(0)
	n.metrics.stepDowns.Inc()
	n.cfg.Logger.Warn("replication: stepped down", "node", n.cfg.Name, "reason", reason)
	return ctx.Err()
}
