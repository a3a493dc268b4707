package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestReplicationWhileLeading: whileLeading runs its function each time
// the node becomes leader, ends it when it steps down, and returns once
// its context ends, also while the node still leads.
func TestReplicationWhileLeading(t *testing.T) {
	var leading atomic.Bool
	var runs, running atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		whileLeading(ctx, leading.Load, time.Millisecond, func(ctx context.Context) {
			runs.Add(1)
			running.Add(1)
			<-ctx.Done()
			running.Add(-1)
		})
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if runs.Load() != 0 {
		t.Fatal("ran while following")
	}
	for i := range int32(3) {
		leading.Store(true)
		waitFor("running", func() bool { return running.Load() == 1 && runs.Load() == i+1 })
		leading.Store(false)
		waitFor("stopped", func() bool { return running.Load() == 0 })
	}
	leading.Store(true)
	waitFor("running", func() bool { return running.Load() == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("whileLeading did not return once its context ended")
	}
	if runs.Load() != 4 || running.Load() != 0 {
		t.Fatalf("%d runs, %d running; want 4, 0", runs.Load(), running.Load())
	}
}
