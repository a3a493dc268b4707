package client

import (
	"context"
	"sync"
	"time"

	"github.com/vindex-nl/vindex/crypto/oprf"
)

// A key-holder request costs about as much as two evaluations, and a key
// holder's rate limit counts elements, not requests: so the Client sends
// the inputs (BSNs of youths, and of parents and addresses) of concurrent
// calls in one batch. A call that finds no batch on
// its way is sent at once, alone (no added latency when calls are few);
// one that finds a batch on its way waits for it to come back, and then
// goes in the next batch with every BSN queued meanwhile (up to
// oprf.MaxBatch). The batch grows with the number of concurrent calls.
// BenchmarkBlindingConcurrent measured one batch on its way at a time
// (maxInFlight 1) against two and four: with 16 callers its batches were
// the largest (8 BSNs, against 3 and 2) and its throughput the highest
// and steadiest.
const (
	maxInFlight = 1
	// batchTimeout bounds one batch: it runs on for the calls that share
	// it, whichever of them gives up.
	batchTimeout = 30 * time.Second
)

type coalescer struct {
	b *Blinder
	// max is how many batches may be on their way at once.
	max int

	mu       sync.Mutex
	inFlight int
	queue    []*pending
}

// pending is one input of a call and where its element goes.
type pending struct {
	ctx  context.Context
	in   oprf.Input
	done chan elementResult
}

type elementResult struct {
	y   oprf.Element
	err error
}

func newCoalescer(b *Blinder, max int) *coalescer { return &coalescer{b: b, max: max} }

// elements returns the element of each input, evaluated in a batch with
// the inputs of concurrent calls (all of a call's inputs in one batch,
// when they fit). Its errors are the Blinder's, or ctx's.
func (c *coalescer) elements(ctx context.Context, ins ...oprf.Input) ([]oprf.Element, error) {
	ps := make([]*pending, len(ins))
	c.mu.Lock()
	for i, in := range ins {
		ps[i] = &pending{ctx: ctx, in: in, done: make(chan elementResult, 1)}
		c.queue = append(c.queue, ps[i])
	}
	if c.inFlight < c.max {
		c.inFlight++
		go c.run(c.takeLocked())
	}
	c.mu.Unlock()
	out := make([]oprf.Element, len(ps))
	for i, p := range ps {
		select {
		case r := <-p.done:
			if r.err != nil {
				return nil, r.err
			}
			out[i] = r.y
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// takeLocked takes the next batch off the queue.
func (c *coalescer) takeLocked() []*pending {
	n := min(len(c.queue), oprf.MaxBatch)
	batch := c.queue[:n:n]
	c.queue = c.queue[n:]
	if len(c.queue) == 0 {
		c.queue = nil
	}
	return batch
}

// run evaluates batch, and then the queue's batches, while there are any.
func (c *coalescer) run(batch []*pending) {
	for len(batch) > 0 {
		c.evaluate(batch)
		c.mu.Lock()
		batch = c.takeLocked()
		if len(batch) == 0 {
			c.inFlight--
		}
		c.mu.Unlock()
	}
}

// evaluate asks the key holders for the batch's elements, leaving out the
// calls that have given up, and hands each call its own.
func (c *coalescer) evaluate(batch []*pending) {
	live := batch[:0:0]
	for _, p := range batch {
		if p.ctx.Err() == nil {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return
	}
	ins := make([]oprf.Input, len(live))
	for i, p := range live {
		ins[i] = p.in
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), batchTimeout)
	defer cancel()
	ys, err := c.b.InputElements(ctx, ins...)
	for i, p := range live {
		if err != nil {
			p.done <- elementResult{err: err}
		} else {
			p.done <- elementResult{y: ys[i]}
		}
	}
}
