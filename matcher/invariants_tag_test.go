//go:build invariants

package matcher_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// breakingStore stages every case record with Matched inverted: the state
// a bug in match detection would leave.
type breakingStore struct{ store.Store }

func (s breakingStore) Update(ctx context.Context, youth []pseudonym.Pseudonym, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, youth, func(tx store.Tx) error { return fn(breakingTx{tx}) })
}

type breakingTx struct{ store.Tx }

func (tx breakingTx) PutCase(c store.Case) {
	c.Matched = !c.Matched
	tx.Tx.PutCase(c)
}

// With -tags invariants, a verb whose update would commit a broken youth
// state panics before the commit, naming the rule.
func TestInvariantsTripOnCommit(t *testing.T) {
	e := newEnv(t)
	m, err := matcher.New(matcher.Config{
		Store: breakingStore{e.store}, Pseudonymiser: e.ps, Covenant: exampleCovenant(t),
		Clock: e.clock.Now, Location: time.UTC, Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := e.involvement(t, 1) // the same keys as m's
	digits := bsnDigits(t, 1)
	var msg string
	func() {
		defer func() { msg, _ = recover().(string) }()
		m.Register(ctx, matcher.Actor{Institution: wij}, r)
	}()
	if !strings.HasPrefix(msg, "matcher: invariant violated: matched-iff-two:") {
		t.Fatalf("panic = %q, want the matched-iff-two rule", msg)
	}
	if strings.Contains(msg, digits) || strings.Contains(msg, "pseudonym") {
		t.Fatalf("the panic quotes an identity: %q", msg)
	}
	// The unbroken store commits another youth's report.
	e.register(t, wij, e.involvement(t, 2))
}
