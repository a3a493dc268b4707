package replication

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vindex-nl/vindex/store"
)

// The error codes with which JetStream refuses a publish whose expected
// last sequence is not the stream's (10071, or 10164 on a replicated
// stream): another leader appended.
const (
	codeWrongLastSequence         jetstream.ErrorCode = 10071
	codeWrongLastSequenceConstant jetstream.ErrorCode = 10164
)

// hdrPrev is the header in which each entry names the one before it (its
// random ID in hex), so that the entry before a trimmed stream's first
// can still be checked.
const hdrPrev = "Vindex-Prev"

// Log is a store.Log on a JetStream stream: the stream sequence is the
// log position (the stream starts empty, position 1 is the first entry),
// and each entry is one message on the stream's one subject, its data the
// entry as the store gave it, with one header naming the previous entry's
// random ID.
//
// Append queues the entry and returns at once. The log has one publish
// in flight at a time: the entries appended while it is go next, together,
// as one JetStream atomic batch (all stored, in order, or none), with the
// condition that the stream's last sequence is the position before the
// first of them (Nats-Expected-Last-Sequence); nothing is published
// twice. One publish in flight is what makes the condition a fence: were
// entry seq+1 sent before entry seq was answered, and entry seq lost to
// another leader's, entry seq+1 would find the stream's last sequence at
// seq, as it expects, and land on the other leader's entry. (The
// stream's other condition, an expected last message ID, would refuse
// it, but JetStream 2.15 checks that one as each server applies the
// entry, and takes a refusal there for a broken stream: the stream lost
// its leader in a test.)
//
// wait returns nil once the stream has acknowledged the entry, which a
// replicated stream does once a quorum of its servers has it (durably as
// far as the servers' sync_interval says: see the package doc);
// store.ErrFenced (wrapped) when the stream refused it for a wrong last
// sequence; another error when the log could not say: the acknowledgement
// did not come within Config.AckTimeout, the connection dropped, the
// context ended. Such an entry may be in the stream all the same: the
// store stops leading, the node steps down, and the divergence check it
// makes before following again settles it (the entry is the stream's at
// its position, or the node refuses to follow with store.ErrDiverged).
// An entry after a failed one fails too, unpublished (the entries of a
// batch fail or succeed together); once the log has failed or was
// closed, it publishes nothing more.
type Log struct {
	nc         *nats.Conn
	js         jetstream.JetStream
	subject    string
	entryOf    func([]byte) (store.EntryID, error)
	ackTimeout time.Duration
	metrics    *Metrics

	// mu serialises Append and close.
	mu     sync.Mutex
	next   uint64 // the position the next Append must have
	prevID string // the ID of the entry at next-1 ("" if none)
	closed bool
	queue  chan *pending // entries to publish, in order

	errMu  sync.Mutex
	err    error         // the first failure; every later entry fails with it
	errSeq uint64        // the position of the entry that failed first
	fenced bool          // the first failure was a fence
	failed chan struct{} // closed at the first failure

	drained chan struct{} // closed once closed and every entry is settled
}

var _ store.Log = (*Log)(nil)

// pending is one entry to publish.
type pending struct {
	seq  uint64
	msg  *nats.Msg
	err  error         // set before done is closed
	done chan struct{} // closed once the outcome is known
}

// maxQueued bounds the entries appended and not yet settled; an Append
// beyond it waits for room.
const maxQueued = 4096

// newLog returns a log whose next entry is prev.Seq+1, following the
// entry prev (the zero EntryID for an empty stream).
func newLog(nc *nats.Conn, js jetstream.JetStream, subject string, entryOf func([]byte) (store.EntryID, error), ackTimeout time.Duration, m *Metrics, prev store.EntryID) *Log {
	l := &Log{
		nc: nc, js: js, subject: subject, entryOf: entryOf, ackTimeout: ackTimeout, metrics: m,
		next:    prev.Seq + 1,
		queue:   make(chan *pending, maxQueued),
		failed:  make(chan struct{}),
		drained: make(chan struct{}),
	}
	l.prevID = prevHeader(prev)
	go l.publish()
	return l
}

func hexID(id [16]byte) string { return hex.EncodeToString(id[:]) }

// prevHeader is the Vindex-Prev header of the entry after prev: "" (none)
// for the first entry.
func prevHeader(prev store.EntryID) string {
	if prev.Seq == 0 {
		return ""
	}
	return hexID(prev.ID)
}

// Append implements store.Log. The log keeps a copy of entry.
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
	msg := &nats.Msg{Subject: l.subject, Data: append([]byte(nil), entry...), Header: nats.Header{}}
	if l.prevID != "" {
		msg.Header.Set(hdrPrev, l.prevID)
	}
	p := &pending{seq: seq, msg: msg, done: make(chan struct{})}
	l.next, l.prevID = seq+1, hexID(id.ID)
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

// maxBatch bounds the entries published in one atomic batch (JetStream
// takes up to 1000 by default).
const maxBatch = 256

// publish publishes the queued entries in order: the entries queued
// while the previous publish was in flight go together, as one atomic
// batch (all stored or none), once that publish is settled; an entry
// after a failed one fails unpublished.
func (l *Log) publish() {
	defer close(l.drained)
	for p := range l.queue {
		batch := []*pending{p}
	more:
		for len(batch) < maxBatch {
			select {
			case q, ok := <-l.queue:
				if !ok {
					break more
				}
				batch = append(batch, q)
			default:
				break more
			}
		}
		var err error
		if first := l.firstErr(batch[0].seq); first != nil {
			err = fmt.Errorf("replication: entry %d after a failed one: %w", batch[0].seq, first)
		} else if len(batch) == 1 {
			err = l.publishOne(batch[0])
		} else {
			err = l.publishBatch(batch)
		}
		if err != nil {
			l.fail(batch[0].seq, err)
		}
		for _, p := range batch {
			p.err = err
			close(p.done)
		}
	}
}

// classify turns a refused publish of the entries from seq into
// store.ErrFenced or another error.
func classify(seq uint64, err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case codeWrongLastSequence, codeWrongLastSequenceConstant:
			return fmt.Errorf("replication: entry %d refused (%s): %w", seq, apiErr.Description, store.ErrFenced)
		}
	}
	if cutOff(err) {
		return fmt.Errorf("replication: entry %d not sent (%w): %w", seq, err, store.ErrCutOff)
	}
	return fmt.Errorf("replication: entry %d not acknowledged: %w", seq, err)
}

// cutOff reports whether err says the connection to the log's servers is
// lost: a publish while disconnected fails at once (the node keeps no
// reconnect buffer).
func cutOff(err error) bool {
	for _, e := range []error{nats.ErrReconnectBufExceeded, nats.ErrDisconnected, nats.ErrConnectionClosed,
		nats.ErrConnectionReconnecting, nats.ErrNoServers} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// publishOne publishes one entry and waits for its acknowledgement.
func (l *Log) publishOne(p *pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.ackTimeout)
	defer cancel()
	ack, err := l.js.PublishMsg(ctx, p.msg,
		jetstream.WithExpectLastSequence(p.seq-1),
		jetstream.WithRetryAttempts(0))
	if err != nil {
		return classify(p.seq, err)
	}
	if ack.Sequence != p.seq {
		return fmt.Errorf("replication: entry %d acknowledged at position %d: %w", p.seq, ack.Sequence, store.ErrFenced)
	}
	return nil
}

// JetStream's atomic batch headers.
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
	hdrExpectSeq   = "Nats-Expected-Last-Sequence"
)

// batchAck is JetStream's answer to a batch's commit.
type batchAck struct {
	Error     *jetstream.APIError `json:"error,omitempty"`
	Stream    string              `json:"stream"`
	Sequence  uint64              `json:"seq"`
	BatchSize uint64              `json:"count"`
}

// publishBatch publishes entries as one atomic batch, the first with the
// condition that the stream's last sequence is the position before it,
// and waits for the commit's acknowledgement.
func (l *Log) publishBatch(batch []*pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.ackTimeout)
	defer cancel()
	var idb [16]byte
	_, _ = rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	first, last := batch[0].seq, batch[len(batch)-1].seq
	for i, p := range batch {
		m := p.msg
		m.Header.Set(hdrBatchID, id)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		if i == 0 {
			m.Header.Set(hdrExpectSeq, strconv.FormatUint(first-1, 10))
		}
		if i < len(batch)-1 {
			if err := l.nc.PublishMsg(m); err != nil {
				return classify(p.seq, err)
			}
			continue
		}
		m.Header.Set(hdrBatchCommit, "1")
		resp, err := l.nc.RequestMsgWithContext(ctx, m)
		if err != nil && cutOff(err) {
			return fmt.Errorf("replication: entries %d to %d not sent (%w): %w", first, last, err, store.ErrCutOff)
		}
		if err != nil {
			return fmt.Errorf("replication: entries %d to %d not acknowledged: %w", first, last, err)
		}
		var ack batchAck
		if err := json.Unmarshal(resp.Data, &ack); err != nil {
			return fmt.Errorf("replication: entries %d to %d: the acknowledgement: %w", first, last, err)
		}
		if ack.Error != nil {
			return classify(first, ack.Error)
		}
		if ack.Sequence != last || ack.BatchSize != uint64(len(batch)) {
			return fmt.Errorf("replication: entries %d to %d acknowledged as %d at %d: %w", first, last, ack.BatchSize, ack.Sequence, store.ErrFenced)
		}
	}
	return nil
}

// wasFenced says whether the log's first failure was a fence.
func (l *Log) wasFenced() bool {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.fenced
}

// close makes every later Append fail with store.ErrNotLeader; entries
// already appended are still published and settled (drained is closed
// once they are).
func (l *Log) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
}
