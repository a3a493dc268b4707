package replication

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vindex-nl/vindex/store"
)

// The error codes with which JetStream refuses a publish whose expected
// last sequence (10071, or 10164 on a replicated stream) or expected last
// message ID (10070) is not the stream's: another leader appended.
const (
	codeWrongLastSequence         jetstream.ErrorCode = 10071
	codeWrongLastSequenceConstant jetstream.ErrorCode = 10164
	codeWrongLastMsgID            jetstream.ErrorCode = 10070
)

// Log is a store.Log on a JetStream stream: the stream sequence is the
// log position (the stream starts empty, position 1 is the first entry),
// and each entry is one message on the stream's one subject, its data the
// entry as the store gave it.
//
// Append publishes at once, without waiting for the previous entry's
// acknowledgement, with three conditions the stream checks: the stream's
// last sequence is seq-1 (Nats-Expected-Last-Sequence, checked by the
// stream's leader against the entries proposed so far, so that entries
// in flight follow one another), the stream's last message is the entry
// this log appended before (Nats-Expected-Last-Msg-Id: the message IDs
// are the entries' random IDs, checked as each entry is stored, on every
// replica), and no retry: an entry is published once. The second
// condition is what makes pipelining safe: when a deposed leader's entry
// seq loses to a new leader's, its entry seq+1, already in flight and
// expecting seq-as-the-stream-now-has-it, would pass the sequence check
// alone and land on the new leader's entry; its expected message ID (its
// own entry seq) refuses it.
//
// wait returns nil once the stream has acknowledged the entry, which a
// replicated stream does once a quorum of its servers has it (durably as
// far as the servers' sync_interval says: see the package doc);
// store.ErrFenced (wrapped) when the stream refused it for a wrong last
// sequence or message ID; another error when the log could not say: the
// acknowledgement did not come within Config.AckTimeout, the connection
// dropped, the context ended. Such an entry may be in the stream all the
// same: the store stops leading, the node steps down, and the divergence
// check it makes before following again settles it (the entry is the
// stream's at its position, or the node refuses to follow with
// store.ErrDiverged). An entry after a failed one fails too, whatever the
// stream answered for it; and once the log has failed or was closed, it
// publishes nothing more.
type Log struct {
	js         jetstream.JetStream
	subject    string
	entryOf    func([]byte) (store.EntryID, error)
	ackTimeout time.Duration
	metrics    *Metrics

	// mu serialises Append and close.
	mu     sync.Mutex
	next   uint64 // the position the next Append must have
	prevID string // the message ID of the entry at next-1 ("" if none)
	closed bool
	queue  chan *pending // entries published, in order, for the resolver

	errMu  sync.Mutex
	err    error         // the first failure; every later entry fails with it
	errSeq uint64        // the position of the entry that failed first
	fenced bool          // the first failure was a fence
	failed chan struct{} // closed at the first failure
}

var _ store.Log = (*Log)(nil)

// pending is one published entry awaiting its acknowledgement.
type pending struct {
	seq  uint64
	paf  jetstream.PubAckFuture
	err  error         // set before done is closed
	done chan struct{} // closed once the outcome is known
}

// maxInFlight bounds the entries published and not yet resolved; an
// Append beyond it waits for room.
const maxInFlight = 4096

// newLog returns a log whose next entry is prev.Seq+1, following the
// entry prev (the zero EntryID for an empty stream).
func newLog(js jetstream.JetStream, subject string, entryOf func([]byte) (store.EntryID, error), ackTimeout time.Duration, m *Metrics, prev store.EntryID) *Log {
	l := &Log{
		js: js, subject: subject, entryOf: entryOf, ackTimeout: ackTimeout, metrics: m,
		next:   prev.Seq + 1,
		queue:  make(chan *pending, maxInFlight),
		failed: make(chan struct{}),
	}
	if prev.Seq > 0 {
		l.prevID = msgID(prev.ID)
	}
	go l.resolve()
	return l
}

// msgID is the stream's message ID of an entry: its random ID in hex.
func msgID(id [16]byte) string { return hex.EncodeToString(id[:]) }

// Append implements store.Log.
func (l *Log) Append(seq uint64, entry []byte) func(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return failedWait(fmt.Errorf("replication: append of entry %d: %w", seq, store.ErrNotLeader))
	}
	if err := l.firstErr(seq); err != nil {
		return failedWait(fmt.Errorf("replication: append of entry %d after a failed one: %w", seq, err))
	}
	if seq != l.next {
		return failedWait(l.fail(seq, fmt.Errorf("replication: append of entry %d, want entry %d: %w", seq, l.next, store.ErrGap)))
	}
	id, err := l.entryOf(entry)
	if err != nil {
		return failedWait(l.fail(seq, fmt.Errorf("replication: entry %d: %w", seq, err)))
	}
	if id.Seq != seq {
		return failedWait(l.fail(seq, fmt.Errorf("replication: entry %d names position %d: %w", seq, id.Seq, store.ErrGap)))
	}
	mid := msgID(id.ID)
	opts := []jetstream.PublishOpt{
		jetstream.WithExpectLastSequence(seq - 1),
		jetstream.WithMsgID(mid),
		jetstream.WithRetryAttempts(0),
	}
	if l.prevID != "" {
		opts = append(opts, jetstream.WithExpectLastMsgID(l.prevID))
	}
	paf, err := l.js.PublishMsgAsync(&nats.Msg{Subject: l.subject, Data: entry}, opts...)
	if err != nil {
		return failedWait(l.fail(seq, fmt.Errorf("replication: publish of entry %d: %w", seq, err)))
	}
	p := &pending{seq: seq, paf: paf, done: make(chan struct{})}
	l.next, l.prevID = seq+1, mid
	l.queue <- p
	return p.wait
}

func (p *pending) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("replication: waiting for entry %d: %w", p.seq, ctx.Err())
	}
}

func failedWait(err error) func(context.Context) error {
	return func(context.Context) error { return err }
}

// firstErr returns the log's first failure if it was at a position
// before seq.
func (l *Log) firstErr(seq uint64) error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if l.err != nil && l.errSeq < seq {
		return l.err
	}
	return nil
}

// fail records err, of the entry at seq, as the log's first failure (if
// it is) and returns it.
func (l *Log) fail(seq uint64, err error) error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if l.err == nil {
		l.err, l.errSeq = err, seq
		l.fenced = errors.Is(err, store.ErrFenced)
		if l.fenced {
			l.metrics.fenced()
		}
		close(l.failed)
	}
	return err
}

// resolve takes the published entries in order and settles each: an
// entry after a failed one fails with the first failure.
func (l *Log) resolve() {
	for p := range l.queue {
		err := l.outcome(p)
		if first := l.firstErr(p.seq); first != nil {
			err = fmt.Errorf("replication: entry %d after a failed one: %w", p.seq, first)
		} else if err != nil {
			l.fail(p.seq, err)
		}
		p.err = err
		close(p.done)
	}
}

// outcome waits for one entry's acknowledgement.
func (l *Log) outcome(p *pending) error {
	// The publisher times the acknowledgement out after ackTimeout; this
	// is a backstop.
	t := time.NewTimer(l.ackTimeout + time.Second)
	defer t.Stop()
	select {
	case ack := <-p.paf.Ok():
		if ack.Sequence != p.seq || ack.Duplicate {
			return fmt.Errorf("replication: entry %d acknowledged at position %d (duplicate %v): %w", p.seq, ack.Sequence, ack.Duplicate, store.ErrFenced)
		}
		return nil
	case err := <-p.paf.Err():
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			switch apiErr.ErrorCode {
			case codeWrongLastSequence, codeWrongLastSequenceConstant, codeWrongLastMsgID:
				return fmt.Errorf("replication: entry %d refused (%s): %w", p.seq, apiErr.Description, store.ErrFenced)
			}
		}
		return fmt.Errorf("replication: entry %d not acknowledged: %w", p.seq, err)
	case <-t.C:
		return fmt.Errorf("replication: entry %d not acknowledged within %v", p.seq, l.ackTimeout)
	}
}

// wasFenced says whether the log's first failure was a fence.
func (l *Log) wasFenced() bool {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.fenced
}

// close makes every later Append fail with store.ErrNotLeader; entries
// already published are still settled by their acknowledgements.
func (l *Log) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
}
