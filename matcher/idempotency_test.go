package matcher_test

import (
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// TestReplayGoesWithItsRegistration: once a registration is removed or
// ended, however that happens, a retry of the report that made it is a new
// report: it never answers the old registration's ID and the other
// institutions' contacts, and the store keeps no idempotency record of it.
func TestReplayGoesWithItsRegistration(t *testing.T) {
	ways := []struct {
		name string
		end  func(t *testing.T, e *env, n int, id matcher.ID) error
	}{
		{"removed after an objection", func(t *testing.T, e *env, n int, id matcher.ID) error {
			return e.m.Remove(ctx, matcher.Actor{Institution: gemeente}, id, matcher.RemoveObjection)
		}},
		{"removed as wrong", func(t *testing.T, e *env, n int, id matcher.ID) error {
			return e.m.Remove(ctx, matcher.Actor{Institution: wij}, id, matcher.RemoveWrong)
		}},
		{"ended", func(t *testing.T, e *env, n int, id matcher.ID) error {
			return e.m.End(ctx, matcher.Actor{Institution: ggd}, id, time.Time{})
		}},
		{"case closed", func(t *testing.T, e *env, n int, id matcher.ID) error {
			return e.m.CloseCase(ctx, matcher.Actor{Institution: wij}, e.youth(t, n))
		}},
		{"death", func(t *testing.T, e *env, n int, id matcher.ID) error {
			return e.m.RecordDeath(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, n))
		}},
		{"expired", func(t *testing.T, e *env, n int, id matcher.ID) error {
			e.clock.Add(3 * 24 * time.Hour) // past the report's own end day
			_, err := e.m.ExpireDue(ctx)
			return err
		}},
	}
	for i, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			e := newEnv(t)
			n := i + 1
			if w := e.register(t, wij, e.involvement(t, n)); w.Matched {
				t.Fatalf("setup: %+v", w)
			}
			r := e.involvement(t, n)
			r.IdempotencyKey = "report-1"
			r.EndsOn = start.AddDate(0, 0, 2)
			first := e.register(t, ggd, r)
			if !first.Matched || first.Coordinator.Institution != wij {
				t.Fatalf("setup: %+v", first)
			}
			if again := e.register(t, ggd, r); !again.Replayed || again.ID != first.ID {
				t.Fatalf("a retry before the end is not a replay: %+v", again)
			}
			if err := way.end(t, e, n, first.ID); err != nil {
				t.Fatal(err)
			}
			e.noIdempotency(t, n, ggd, "report-1")
			e.clock.Add(time.Hour)
			r.EndsOn = time.Time{}
			retry := e.register(t, ggd, r)
			if retry.Replayed || retry.Refreshed || retry.ID == first.ID {
				t.Fatalf("the retry after the registration went: %+v (first %+v)", retry, first)
			}
		})
	}
}

// TestOldReplayRecordIgnored: an idempotency record that names a
// registration no longer live (as a store written before ending forgot
// them may hold) is not replayed.
func TestOldReplayRecordIgnored(t *testing.T) {
	e := newEnv(t)
	e.register(t, wij, e.involvement(t, 1))
	r := e.involvement(t, 1)
	r.IdempotencyKey = "report-1"
	first := e.register(t, ggd, r)
	var rec store.Idempotency
	e.store.View(ctx, mustYouth(t, e, 1), func(rd store.Reader) error {
		rec, _ = rd.Idempotency(ggd, "report-1")
		return nil
	})
	if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, first.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Update(ctx, mustYouth(t, e, 1), func(tx store.Tx) error {
		tx.PutIdempotency(ggd, "report-1", rec)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if retry := e.register(t, ggd, r); retry.Replayed || retry.ID == first.ID {
		t.Fatalf("an old record was replayed: %+v", retry)
	}
}

// noIdempotency fails if the store holds an idempotency record of
// institution's key for youth n.
func (e *env) noIdempotency(t *testing.T, n int, institution, key string) {
	t.Helper()
	err := e.store.View(ctx, mustYouth(t, e, n), func(rd store.Reader) error {
		if rec, ok := rd.Idempotency(institution, key); ok {
			t.Errorf("idempotency record of %s %q kept: registration %s", institution, key, rec.Registration)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
