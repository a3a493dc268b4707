package matcher_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/internal/canary"
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
		{"objection by BSN", func(t *testing.T, e *env, n int, id matcher.ID) error {
			_, err := e.m.Object(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, n), birth(t, "2014-05-17"), matcher.OneInstitution(ggd))
			return err
		}},
		{"removed as wrong", func(t *testing.T, e *env, n int, id matcher.ID) error {
			return e.m.Remove(ctx, matcher.Actor{Institution: wij}, id, matcher.RemoveWrong)
		}},
		{"ended", func(t *testing.T, e *env, n int, id matcher.ID) error {
			return e.m.End(ctx, matcher.Actor{Institution: ggd}, id, time.Time{}, matcher.EndRiskGone)
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
			// Past the refresh window, in which a report after its own
			// end revives the registration (TestRevive).
			e.clock.Add(matcher.DefaultRefreshWindow + time.Hour)
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
		rec, _ = rd.Idempotency(e.idemKey(t, ggd, "report-1"))
		return nil
	})
	if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, first.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Update(ctx, mustYouth(t, e, 1), func(tx store.Tx) error {
		tx.PutIdempotency(e.idemKey(t, ggd, "report-1"), rec)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(matcher.DefaultRefreshWindow + time.Hour)
	if retry := e.register(t, ggd, r); retry.Replayed || retry.ID == first.ID {
		t.Fatalf("an old record was replayed: %+v", retry)
	}
}

// noIdempotency fails if the store holds an idempotency record of
// institution's key for youth n.
func (e *env) noIdempotency(t *testing.T, n int, institution, key string) {
	t.Helper()
	err := e.store.View(ctx, mustYouth(t, e, n), func(rd store.Reader) error {
		if rec, ok := rd.Idempotency(e.idemKey(t, institution, key)); ok {
			t.Errorf("idempotency record of %s %q kept: registration %s", institution, key, rec.Registration)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestIdempotencyKeyStoredOnlyHashed: the store keeps a report's
// idempotency key only as a keyed hash of the institution and the key, so
// a key a client made of anything (a name, a case number) is nowhere in
// its files, the write-ahead log included; a retry is still replayed, and
// the same key from another institution is its own report, not a replay.
func TestIdempotencyKeyStoredOnlyHashed(t *testing.T) {
	dir := t.TempDir()
	e := newEnvWith(t, freshPseudonymiser(t), dir, quiet())
	needles := canary.Needles{}
	for i := range 20 {
		n := 500 + i
		key := "CANARY-IDEMPOTENCY-" + strconv.Itoa(n) + "-Jansen"
		needles["idempotency key "+strconv.Itoa(n)] = [][]byte{[]byte(key)}
		r := e.involvement(t, n)
		r.IdempotencyKey = key
		first := e.register(t, wij, r)
		if again := e.register(t, wij, r); !again.Replayed || again.ID != first.ID {
			t.Fatalf("retry %d: %+v, first %+v", n, again, first)
		}
		s := e.signal(t, n)
		s.IdempotencyKey = key
		other := e.register(t, school, s)
		if other.Replayed || other.ID == first.ID || !other.Matched {
			t.Fatalf("the same key from another institution was replayed: %+v", other)
		}
		if again := e.register(t, school, s); !again.Replayed || again.ID != other.ID {
			t.Fatalf("the other institution's retry: %+v", again)
		}
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	if found, err := needles.ScanDir(dir); err != nil || len(found) > 0 {
		t.Fatalf("idempotency keys found at rest (%v):\n%s", err, bytes.Join(toBytes(found), []byte("\n")))
	}
	// The positive control: the scan finds such a key written in the clear.
	if found := needles.Scan("planted", []byte("x CANARY-IDEMPOTENCY-507-Jansen x")); len(found) != 1 {
		t.Fatalf("the scan missed a planted key: %v", found)
	}
}

// TestIdempotencyKeyHashes: the hash is the pseudonymiser's, in a domain of
// its own (not a youth's pseudonym of the same bytes), under every enabled
// key, and the institution and the key are length-prefixed, so that
// ("ggd", "x-1") and ("ggd-x", "1") or ("ggd", "-x1") never share one.
func TestIdempotencyKeyHashes(t *testing.T) {
	e := newEnv(t)
	a, err := matcher.IdempotencyKeys(e.m, "ggd", "x-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.All) != 1 || a.Primary != a.All[0] || a.Primary.IsZero() {
		t.Fatalf("hashes: %+v", a.All)
	}
	for _, other := range [][2]string{{"ggd-x", "1"}, {"ggdx", "-1"}, {"ggd", "x-2"}, {"wij", "x-1"}, {"", "ggdx-1"}} {
		b, err := matcher.IdempotencyKeys(e.m, other[0], other[1])
		if err != nil {
			t.Fatal(err)
		}
		if b.Primary == a.Primary {
			t.Errorf("%q and (ggd, x-1) share a hash", other)
		}
	}
	raw, err := e.ps.Of("youth-bsn", []byte("\x03ggd\x03x-1"))
	if err != nil {
		t.Fatal(err)
	}
	if raw.Primary == a.Primary {
		t.Error("the idempotency hash is a youth pseudonym of the same bytes")
	}
}

// TestIdempotencyAcrossRotation: a retry after a key rotation is still a
// replay, as the record is looked up under every enabled key; a new report
// is recorded under the new primary key.
func TestIdempotencyAcrossRotation(t *testing.T) {
	e, h1 := newRotatableEnv(t)
	e.register(t, school, e.signal(t, 1))
	r := e.involvement(t, 1)
	r.IdempotencyKey = "retry-after-rotation"
	first := e.register(t, wij, r)

	m2, ps2 := e.rotated(t, h1)
	r.Youth = youthOf(t, m2, bsnFor(t, 1))
	again, err := m2.Register(ctx, matcher.Actor{Institution: wij}, r)
	if err != nil || !again.Replayed || again.ID != first.ID {
		t.Fatalf("retry after rotation: %+v, %v (first %+v)", again, err, first)
	}
	r.IdempotencyKey = "new-after-rotation"
	if _, err := m2.Register(ctx, matcher.Actor{Institution: wij}, r); err != nil {
		t.Fatal(err)
	}
	keys2, err := matcher.IdempotencyKeys(m2, wij, "new-after-rotation")
	if err != nil || len(keys2.All) != 2 {
		t.Fatalf("hashes after rotation: %+v, %v", keys2.All, err)
	}
	youth2, err := ps2.Youth(bsnFor(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	e.store.View(ctx, youth2.All, func(rd store.Reader) error {
		if _, ok := rd.Idempotency(keys2.Primary); !ok {
			t.Error("a new record is not under the primary key")
		}
		if _, ok := rd.Idempotency(keys2.All[1]); ok {
			t.Error("a new record is under the old key")
		}
		return nil
	})
}
