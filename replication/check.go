package replication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vindex-nl/vindex/store"
)

// check says whether the replica, whose last applied entry is a, can
// follow the stream: nil if the stream's entry at a.Seq is a (or a.Seq
// is 0 and the stream holds every entry from 1), store.ErrDiverged if it
// is another or the stream ends before a.Seq, ErrTrimmed if the stream
// no longer holds entry a.Seq+1.
//
// When the stream was trimmed up to and including a.Seq (its first
// entry is a.Seq+1), the entry at a.Seq is gone, but the stream's first
// entry names it (its Vindex-Prev header). When the stream ends before
// a.Seq, the replica's last entries may be a leader's appends still in
// flight (their acknowledgement lost): check waits up to wait for the
// stream to reach a.Seq before it says ErrDiverged.
func (n *Node) check(ctx context.Context, c *cluster, a store.EntryID, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := n.checkOnce(ctx, c, a)
		if !errors.Is(err, errAhead) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (%w)", store.ErrDiverged, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// errAhead: the replica holds entries past the stream's last.
var errAhead = errors.New("replication: the replica holds entries the stream does not")

func (n *Node) checkOnce(ctx context.Context, c *cluster, a store.EntryID) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := c.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("%w: reading the stream's positions: %w", errRestart, err)
	}
	first, last := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 {
		first = last + 1
	}
	switch {
	case a.Seq > last:
		return fmt.Errorf("%w: applied %d, the stream's last is %d", errAhead, a.Seq, last)
	case a.Seq == 0 && first > 1:
		return fmt.Errorf("%w: the replica is empty and the stream starts at %d", ErrTrimmed, first)
	case a.Seq == 0:
		return nil
	case a.Seq+1 < first:
		return fmt.Errorf("%w: applied %d, the stream starts at %d", ErrTrimmed, a.Seq, first)
	case a.Seq+1 == first:
		m, err := c.stream.GetMsg(ctx, first)
		if err != nil {
			return fmt.Errorf("%w: reading entry %d: %w", errRestart, first, err)
		}
		if got := m.Header.Get(hdrPrev); got != hexID(a.ID) {
			return fmt.Errorf("%w: applied %d is %s, the stream's entry %d follows %q", store.ErrDiverged, a.Seq, hexID(a.ID), first, got)
		}
		return nil
	}
	m, err := c.stream.GetMsg(ctx, a.Seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		// Trimmed since the positions were read: look again.
		return n.checkOnce(ctx, c, a)
	}
	if err != nil {
		return fmt.Errorf("%w: reading entry %d: %w", errRestart, a.Seq, err)
	}
	got, err := n.cfg.EntryOf(m.Data)
	if err != nil {
		return fmt.Errorf("replication: the stream's entry %d: %w", a.Seq, err)
	}
	if got != a {
		return fmt.Errorf("%w: applied %d is %s, the stream's is %s (at %d)", store.ErrDiverged, a.Seq, hexID(a.ID), hexID(got.ID), got.Seq)
	}
	return nil
}
