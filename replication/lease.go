package replication

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// lease is a held leader lease: the lease bucket's key, written by this
// node at revision rev. It is renewed every LeaseTTL/4 with the revision
// it was last written at, so that a renewal fails if anyone else wrote
// the key, or the key expired; a renewal that fails (or takes longer
// than LeaseTTL/4) closes lost.
type lease struct {
	n  *Node
	kv jetstream.KeyValue

	mu  sync.Mutex
	rev uint64

	lost     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

func newLease(n *Node, kv jetstream.KeyValue, rev uint64) *lease {
	l := &lease{n: n, kv: kv, rev: rev, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.renew()
	return l
}

func (l *lease) renew() {
	defer close(l.done)
	period := l.n.cfg.LeaseTTL / 4
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		if l.n.noRenew.Load() {
			continue
		}
		l.mu.Lock()
		rev := l.rev
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), period)
		next, err := l.kv.Update(ctx, leaseKey, []byte(l.n.cfg.Name), rev)
		cancel()
		if err != nil {
			l.n.cfg.Logger.Warn("replication: lease renewal failed", "node", l.n.cfg.Name, "err", err)
			close(l.lost)
			return
		}
		l.mu.Lock()
		l.rev = next
		l.mu.Unlock()
	}
}

// lostSignal reports whether a renewal failed.
func (l *lease) lostSignal() bool {
	select {
	case <-l.lost:
		return true
	default:
		return false
	}
}

// release stops renewing and deletes the key if it is still this
// lease's, so that another node need not wait for it to expire.
func (l *lease) release() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), l.n.cfg.LeaseTTL/4)
	defer cancel()
	_ = l.kv.Delete(ctx, leaseKey, jetstream.LastRevision(rev))
}
