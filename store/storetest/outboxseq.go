package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// testOutboxPerRecipient: each recipient's events are numbered 1, 2, 3, …
// in commit order whatever other recipients get, and the numbering
// continues after a re-open.
func testOutboxPerRecipient(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	y := Youth(1, 51)
	// Interleaved: ggd, wij, ggd in one commit, then wij, then ggd.
	appendEvents(t, s, y,
		store.Event{Type: store.EventMatch, At: t0, Recipient: "ggd"},
		store.Event{Type: store.EventMatch, At: t0, Recipient: "wij"},
		store.Event{Type: store.EventCoordinator, At: t0, Recipient: "ggd"})
	appendEvents(t, s, y, store.Event{Type: store.EventEnded, At: t0, Recipient: "wij"})
	appendEvents(t, s, y, store.Event{Type: store.EventEnded, At: t0, Recipient: "ggd"})
	wantSeqs(t, s, "ggd", 3)
	wantSeqs(t, s, "wij", 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, open)
	appendEvents(t, s, y, store.Event{Type: store.EventNoMatch, At: t0, Recipient: "wij"})
	appendEvents(t, s, y, store.Event{Type: store.EventNoMatch, At: t0, Recipient: "bureau"})
	wantSeqs(t, s, "ggd", 3)
	wantSeqs(t, s, "wij", 3)
	wantSeqs(t, s, "bureau", 1)
}

// testOutboxPerRecipientConcurrent: commits from many goroutines, each
// with events for several recipients, give each recipient a gapless,
// strictly increasing sequence in which one commit's events of a recipient
// keep their order.
func testOutboxPerRecipientConcurrent(t *testing.T, open Opener) {
	s := openStore(t, open)
	const workers, each = 8, 30
	recipients := []string{"ggd", "wij", "bureau"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				y := Youth(5, w*1000+i)
				if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
					// Two events for the worker's own recipient, around one
					// for the next: Reason says which worker and which of
					// the two.
					own, next := recipients[w%3], recipients[(w+1)%3]
					tx.Append(store.Event{Type: store.EventNoMatch, At: t0, Recipient: own, Reason: fmt.Sprintf("%d-%d-a", w, i)})
					tx.Append(store.Event{Type: store.EventNoMatch, At: t0, Recipient: next})
					tx.Append(store.Event{Type: store.EventNoMatch, At: t0, Recipient: own, Reason: fmt.Sprintf("%d-%d-b", w, i)})
					return nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	counts := map[string]int{}
	for w := range workers {
		counts[recipients[w%3]] += 2 * each
		counts[recipients[(w+1)%3]] += each
	}
	for _, r := range recipients {
		evs := wantSeqs(t, s, r, counts[r])
		for i, e := range evs {
			if n := len(e.Reason); n > 0 && e.Reason[n-1] == 'a' {
				if i+1 >= len(evs) || evs[i+1].Reason != e.Reason[:n-1]+"b" {
					t.Fatalf("%s: event %d (%s) is not followed by its commit's second event", r, e.Seq, e.Reason)
				}
			}
		}
	}
}

// wantSeqs checks that recipient's events are numbered exactly 1..n, and
// returns them.
func wantSeqs(t *testing.T, s store.Store, recipient string, n int) []store.Event {
	t.Helper()
	evs, err := s.Events(ctx, recipient, 0, n+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n {
		t.Fatalf("%s has %d events, want %d", recipient, len(evs), n)
	}
	for i, e := range evs {
		if e.Seq != uint64(i+1) || e.Recipient != recipient {
			t.Fatalf("%s's event %d: seq %d recipient %q, want seq %d", recipient, i, e.Seq, e.Recipient, i+1)
		}
	}
	return evs
}
