package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Status is the cluster as the stream and the buckets tell it, for
// `vindex cluster status`.
type Status struct {
	// Leader is the node holding the lease; "" if none does.
	Leader string
	// FirstSeq and LastSeq are the stream's first and last positions
	// (FirstSeq is LastSeq+1 when it holds none).
	FirstSeq, LastSeq uint64
	// Servers are the NATS servers holding the stream: its leader first.
	Servers []ServerStatus
	// Nodes are the nodes that have reported, by name.
	Nodes []NodeStatus
}

// ServerStatus is one NATS server's copy of the stream.
type ServerStatus struct {
	Name    string
	Leader  bool
	Current bool   // caught up with the stream's leader
	Offline bool   // not heard from
	Lag     uint64 // operations behind the stream's leader
}

// NodeStatus is a node's last report: it writes one every
// Config.StatusInterval.
type NodeStatus struct {
	Name    string    `json:"-"`
	Applied uint64    `json:"applied"`
	Leading bool      `json:"leading"`
	Updated time.Time `json:"updated"`
	// Lag is the stream's last position less Applied.
	Lag uint64 `json:"-"`
}

// ReadStatus connects to cfg's servers and reads the cluster's status
// (cfg's Name and EntryOf are not needed).
func ReadStatus(ctx context.Context, cfg Config) (*Status, error) {
	cfg.ensureDefaults()
	if len(cfg.URLs) == 0 {
		return nil, fmt.Errorf("%w: no NATS URL", ErrConfig)
	}
	nc, err := connect(&cfg, false)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	st, _, err := readStatus(ctx, js, cfg)
	return st, err
}

// readStatus is ReadStatus on an open connection; it returns the stream
// too.
func readStatus(ctx context.Context, js jetstream.JetStream, cfg Config) (*Status, jetstream.Stream, error) {
	s, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		return nil, nil, fmt.Errorf("replication: stream %s: %w", cfg.Stream, err)
	}
	st, err := statusOf(ctx, js, s, cfg)
	return st, s, err
}

func statusOf(ctx context.Context, js jetstream.JetStream, s jetstream.Stream, cfg Config) (*Status, error) {
	info := s.CachedInfo()
	st := &Status{FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq}
	if info.State.Msgs == 0 {
		st.FirstSeq = st.LastSeq + 1
	}
	if cl := info.Cluster; cl != nil {
		st.Servers = append(st.Servers, ServerStatus{Name: cl.Leader, Leader: true, Current: true})
		for _, p := range cl.Replicas {
			st.Servers = append(st.Servers, ServerStatus{Name: p.Name, Current: p.Current, Offline: p.Offline, Lag: p.Lag})
		}
	}
	leaseKV, err := js.KeyValue(ctx, cfg.LeaseBucket)
	if err != nil {
		return nil, fmt.Errorf("replication: lease bucket %s: %w", cfg.LeaseBucket, err)
	}
	switch e, err := leaseKV.Get(ctx, leaseKey); {
	case err == nil:
		st.Leader = string(e.Value())
	case !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrKeyDeleted):
		return nil, fmt.Errorf("replication: the lease: %w", err)
	}
	statusKV, err := js.KeyValue(ctx, cfg.StatusBucket)
	if err != nil {
		return nil, fmt.Errorf("replication: status bucket %s: %w", cfg.StatusBucket, err)
	}
	names, err := statusKV.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, fmt.Errorf("replication: the nodes' status: %w", err)
	}
	for _, name := range names {
		e, err := statusKV.Get(ctx, name)
		if err != nil {
			continue // deleted since listed
		}
		var ns NodeStatus
		if err := json.Unmarshal(e.Value(), &ns); err != nil {
			return nil, fmt.Errorf("replication: node %s's status: %w", name, err)
		}
		ns.Name = name
		if st.LastSeq > ns.Applied {
			ns.Lag = st.LastSeq - ns.Applied
		}
		st.Nodes = append(st.Nodes, ns)
	}
	slices.SortFunc(st.Nodes, func(a, b NodeStatus) int { return strings.Compare(a.Name, b.Name) })
	return st, nil
}

// reportStatus writes the node's status every StatusInterval and keeps
// the lag metric, until ctx ends.
func (n *Node) reportStatus(ctx context.Context, c *cluster, r Replica) {
	t := time.NewTicker(n.cfg.StatusInterval)
	defer t.Stop()
	for {
		n.reportOnce(ctx, c, r)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) reportOnce(ctx context.Context, c *cluster, r Replica) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.StatusInterval)
	defer cancel()
	a, err := r.Applied()
	if err != nil {
		return
	}
	// The position reported is one the replica's disk holds (a replica
	// that can sync what it applied does so first): Trim trusts it, and a
	// node that lost power after reporting must still find its next entry
	// in the stream.
	if s, ok := r.(interface{ SyncApplied() error }); ok && !n.leading.Load() {
		if err := s.SyncApplied(); err != nil {
			return
		}
	}
	if info, err := c.stream.Info(ctx); err == nil {
		lag := uint64(0)
		if info.State.LastSeq > a.Seq {
			lag = info.State.LastSeq - a.Seq
		}
		n.setLag(lag)
	} else {
		n.lag.Store(-1)
	}
	if n.leading.Load() {
		// A follower's gauge moves with each entry it applies (applyAll);
		// setting it here, from a read taken before the sync, could move
		// it back.
		n.metrics.applied.Set(float64(a.Seq))
	}
	b, _ := json.Marshal(NodeStatus{Applied: a.Seq, Leading: n.leading.Load(), Updated: time.Now().UTC()})
	if _, err := c.status.Put(ctx, n.cfg.Name, b); err != nil && ctx.Err() == nil {
		n.cfg.Logger.Warn("replication: writing the node's status", "err", err)
	}
}
