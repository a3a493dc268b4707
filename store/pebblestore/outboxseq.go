package pebblestore

import (
	"sync"

	"github.com/vindex-nl/vindex/store"
)

// outboxSeqs numbers the outbox events of each recipient 1, 2, 3, … in
// commit order, and tracks each recipient's published mark: the highest
// number such that every event of the recipient numbered up to it has been
// applied (or its commit has failed, leaving a gap that stays a gap).
// Readers never read past a recipient's mark, so a reader that has seen N
// misses no event of that recipient numbered below N that becomes visible
// later. The counters live in memory; Open loads them from the last event
// of each recipient, so a store whose events were numbered in one sequence
// for all recipients continues each recipient from its highest number.
type outboxSeqs struct {
	mu sync.Mutex
	by map[string]*recipientSeq
}

// recipientSeq is one recipient's counter and published mark.
type recipientSeq struct {
	next      uint64
	published uint64
	pending   map[uint64]uint64 // first -> end of ranges applied out of order
}

// load sets recipient's counter to continue after last; Open calls it once
// per recipient, before any commit.
func (q *outboxSeqs) load(recipient string, last uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.by == nil {
		q.by = make(map[string]*recipientSeq)
	}
	q.by[recipient] = &recipientSeq{next: last + 1, published: last}
}

// advance publishes recipient's numbers up to seq, an event a follower
// applied (see Store.followed).
func (q *outboxSeqs) advance(recipient string, seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r := q.get(recipient)
	r.next = max(r.next, seq+1)
	r.published = max(r.published, seq)
}

// reset forgets every counter, before a reload.
func (q *outboxSeqs) reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.by = nil
}

// get returns recipient's counter, made if new; q.mu must be held.
func (q *outboxSeqs) get(recipient string) *recipientSeq {
	r := q.by[recipient]
	if r == nil {
		if q.by == nil {
			q.by = make(map[string]*recipientSeq)
		}
		r = &recipientSeq{next: 1}
		q.by[recipient] = r
	}
	return r
}

// reserve numbers evs. It holds the lock for all of them, so the events of
// one recipient in evs get consecutive numbers: each recipient's numbers in
// one commit form one range, which complete publishes.
func (q *outboxSeqs) reserve(evs []store.Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range evs {
		r := q.get(evs[i].Recipient)
		evs[i].Seq = r.next
		r.next++
	}
}

// complete publishes the numbers reserve gave evs, once their batch has
// been applied (or has failed).
func (q *outboxSeqs) complete(evs []store.Event) {
	ranges := make(map[string][2]uint64, 1)
	for _, e := range evs {
		rg, ok := ranges[e.Recipient]
		if !ok {
			rg = [2]uint64{e.Seq, e.Seq + 1}
		}
		ranges[e.Recipient] = [2]uint64{min(rg[0], e.Seq), max(rg[1], e.Seq+1)}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for recipient, rg := range ranges {
		q.by[recipient].complete(rg[0], rg[1])
	}
}

func (r *recipientSeq) complete(first, end uint64) {
	if first != r.published+1 {
		if r.pending == nil {
			r.pending = make(map[uint64]uint64)
		}
		r.pending[first] = end
		return
	}
	r.published = end - 1
	for {
		e, ok := r.pending[r.published+1]
		if !ok {
			return
		}
		delete(r.pending, r.published+1)
		r.published = e - 1
	}
}

// visible returns recipient's published mark, 0 for a recipient without
// events.
func (q *outboxSeqs) visible(recipient string) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r := q.by[recipient]; r != nil {
		return r.published
	}
	return 0
}

// marks returns every recipient's published mark.
func (q *outboxSeqs) marks() map[string]uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := make(map[string]uint64, len(q.by))
	for recipient, r := range q.by {
		m[recipient] = r.published
	}
	return m
}
