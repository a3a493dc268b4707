package matcher_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// blindWith is a blind matcher over e's store with pseudonymiser ps,
// element sealer refs and the key holders' layer l.
func blindWith(t testing.TB, e *env, ps *pseudonym.Pseudonymiser, refs matcher.RefSealer, l matcher.Layer) *matcher.Matcher {
	t.Helper()
	m, err := matcher.New(matcher.Config{Store: e.store, Pseudonymiser: ps, ClientRefs: refs,
		Covenant: exampleCovenant(t), Clock: e.clock.Now, Location: time.UTC, Logger: quiet(), Blind: true, Layer: l})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// rekeyAll walks the whole store with m.Rekey, while report runs
// concurrently until the walk is done, and returns the walk's totals.
func rekeyAll(t *testing.T, m *matcher.Matcher, report func(i int)) matcher.RekeyPage {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
				report(i)
			}
		}
	}()
	var total matcher.RekeyPage
	var after pseudonym.Pseudonym
	for {
		p, err := m.Rekey(ctx, after, 16)
		if err != nil {
			t.Fatal(err)
		}
		total.Visited += p.Visited
		total.Moved += p.Moved
		total.Records += p.Records
		total.Stranded += p.Stranded
		if p.Next.IsZero() {
			break
		}
		after = p.Next
	}
	close(done)
	wg.Wait()
	return total
}

// TestBlindRotationWithoutBSNs: both layers of a blind deployment are
// replaced on a live store without a BSN. First the index's own layer (a
// new PRF key): Rekey moves every youth's records, live and ended, to the
// new key while reports go on, and after the old key is deleted every
// youth still matches. Then a key holder's key (the ratio k'·k⁻¹): during
// the rotation reports under the old key (named by youth_key) and the new
// one both find the youth; Rekey moves every record to the new
// generation; after the rotation ends (the ratio forgotten, the old key
// holder key gone) every youth is found by its new element, its ended
// registrations included, and no registration was lost.
func TestBlindRotationWithoutBSNs(t *testing.T) {
	e, h := newRotatableEnv(t)
	refs := testkeys.Sealer(t)
	ka := oprf.GenerateKey()
	m0 := blindWith(t, e, e.ps, refs, matcher.Layer{})
	const n = 60
	oldEl := make([]oprf.Element, n+1)
	ids := map[store.ID]int{} // registration → youth
	for i := 1; i <= n; i++ {
		oldEl[i] = element(t, ka, i)
		y, err := m0.YouthByElement(oldEl[i])
		if err != nil {
			t.Fatal(err)
		}
		res, err := m0.Register(ctx, matcher.Actor{Institution: school}, blindReport(t, e, y, e.signal(t, i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[res.ID] = i
		if i%3 == 0 { // ended: kept in the youth's history
			if err := m0.End(ctx, matcher.Actor{Institution: school}, res.ID, time.Time{}, matcher.EndRiskGone); err != nil {
				t.Fatal(err)
			}
		}
		if i%2 == 0 {
			res, err := m0.Register(ctx, matcher.Actor{Institution: ggd}, blindReport(t, e, y, e.involvement(t, i)))
			if err != nil {
				t.Fatal(err)
			}
			ids[res.ID] = i
		}
	}
	var mu sync.Mutex
	// keep records the registrations made during the walks, to check
	// they are there at the end.
	keep := func(n int, res matcher.Result, err error) {
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		ids[res.ID] = n
		mu.Unlock()
	}

	// 1. The index's own layer.
	h2, newKey, err := keys.Rotate(h)
	if err != nil {
		t.Fatal(err)
	}
	ps2, err := pseudonym.New(h2)
	if err != nil {
		t.Fatal(err)
	}
	m1 := blindWith(t, e, ps2, refs, matcher.Layer{})
	total := rekeyAll(t, m1, func(i int) {
		y, err := m1.YouthByElement(oldEl[1+i%n])
		if err != nil {
			t.Error(err)
			return
		}
		res, err := m1.Register(ctx, matcher.Actor{Institution: police}, blindReport(t, e, y, e.signal(t, 1+i%n)))
		keep(1+i%n, res, err)
	})
	if total.Stranded != 0 || total.Moved == 0 {
		t.Fatalf("index layer walk: %+v", total)
	}
	for id := range ids {
		r, err := e.store.Registration(ctx, id)
		if err != nil {
			t.Fatalf("registration lost: %v", err)
		}
		if r.Youth.KeyID != newKey {
			t.Fatalf("a registration is still under key %d", r.Youth.KeyID)
		}
	}
	// The old PRF key deleted: every youth still matches.
	h3, err := keys.Disable(h2, e.ps.PrimaryKeyID())
	if err != nil {
		t.Fatal(err)
	}
	if h3, err = keys.Delete(h3, e.ps.PrimaryKeyID()); err != nil {
		t.Fatal(err)
	}
	ps3, err := pseudonym.New(h3)
	if err != nil {
		t.Fatal(err)
	}
	m2 := blindWith(t, e, ps3, refs, matcher.Layer{})
	for i := 1; i <= n; i++ {
		if i%3 == 0 {
			continue // the school's registration ended: a lookup would be no one's
		}
		y, _ := m2.YouthByElement(oldEl[i])
		if _, err := m2.Lookup(ctx, matcher.Actor{Institution: school}, y); err != nil {
			t.Fatalf("youth %d after the old index key is gone: %v", i, err)
		}
	}

	// A report with an idempotency key, made under the new index key,
	// retried after the key holder's rotation.
	y7, _ := m2.YouthByElement(oldEl[7])
	idem := blindReport(t, e, y7, e.signal(t, 7))
	idem.IdempotencyKey = "retry-7"
	first, err := m2.Register(ctx, matcher.Actor{Institution: police}, idem)
	if err != nil {
		t.Fatal(err)
	}
	ids[first.ID] = 7

	// 2. A key holder's key.
	ka2 := oprf.GenerateKey()
	ratio, err := oprf.RatioOf(ka, ka2)
	if err != nil {
		t.Fatal(err)
	}
	from, to := oprf.KeyID(ka.Public()), oprf.KeyID(ka2.Public())
	rot := matcher.Layer{Generation: 1, Rotating: true, From: from, To: to, Ratio: ratio}
	m3 := blindWith(t, e, ps3, refs, rot)
	newEl := make([]oprf.Element, n+1)
	for i := 1; i <= n; i++ {
		newEl[i] = element(t, ka2, i)
	}
	// Before the walk: a report under either key finds the youth.
	for i, layer := range []string{oprf.LayerID(ka.Public()), oprf.LayerID(ka2.Public())} {
		el := []oprf.Element{oldEl[2], newEl[2]}[i]
		y, err := m3.YouthByElementOf(el, layer)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := m3.Lookup(ctx, matcher.Actor{Institution: ggd}, y); err != nil || len(v.Involved) == 0 {
			t.Fatalf("lookup during the rotation under layer %d: %+v %v", i, v, err)
		}
	}
	if _, err := m2.YouthByElementOf(newEl[2], "not-a-key"); !errors.Is(err, matcher.ErrYouthKeyUnknown) {
		t.Fatalf("a malformed youth_key outside a rotation: %v", err)
	}
	if _, err := m3.YouthByElementOf(newEl[2], from+"+"+to); from < to && !errors.Is(err, matcher.ErrYouthKeyUnknown) {
		t.Fatalf("a youth_key naming both the old and the new key: %v", err)
	}
	if _, err := m3.YouthByElementOf(newEl[2], ""); !errors.Is(err, matcher.ErrYouthKeyRequired) {
		t.Fatalf("no youth_key during a rotation: %v", err)
	}
	if _, err := m3.YouthByElementOf(newEl[2], oprf.LayerID(oprf.GenerateKey().Public())); !errors.Is(err, matcher.ErrYouthKeyUnknown) {
		t.Fatalf("another key's layer during a rotation: %v", err)
	}
	total = rekeyAll(t, m3, func(i int) {
		el, layer := oldEl[1+i%n], from
		if i%2 == 1 {
			el, layer = newEl[1+i%n], to
		}
		y, err := m3.YouthByElementOf(el, layer)
		if err != nil {
			t.Error(err)
			return
		}
		res, err := m3.Register(ctx, matcher.Actor{Institution: wij}, blindReport(t, e, y, e.involvement(t, 1+i%n)))
		keep(1+i%n, res, err)
	})
	if total.Stranded != 0 || total.Moved == 0 {
		t.Fatalf("key holder layer walk: %+v", total)
	}
	// The rotation ends: no ratio, no old key. Every youth is found by its
	// new element alone, with every registration it had.
	m4 := blindWith(t, e, ps3, refs, matcher.Layer{Generation: 1, Keys: []string{to}})
	if _, err := m4.YouthByElementOf(oldEl[1], from); !errors.Is(err, matcher.ErrYouthKeyUnknown) {
		t.Fatalf("the old key's youth_key after the rotation: %v", err)
	}
	if _, err := m4.YouthByElementOf(newEl[1], to); err != nil {
		t.Fatalf("the new key's youth_key after the rotation: %v", err)
	}
	for i := 1; i <= n; i++ {
		if old, _ := m4.YouthByElement(oldEl[i]); true {
			if _, err := m4.Lookup(ctx, matcher.Actor{Institution: school}, old); !errors.Is(err, matcher.ErrNotInvolved) {
				t.Fatalf("the old key's element still finds youth %d: %v", i, err)
			}
		}
	}
	for id, i := range ids {
		r, err := e.store.Registration(ctx, id)
		if err != nil {
			t.Fatalf("registration lost: %v", err)
		}
		b, _ := newEl[i].MarshalBinary()
		want, err := ps3.Of(pseudonym.DomainYouthElement, b)
		if err != nil {
			t.Fatal(err)
		}
		if r.Youth != want.Primary {
			t.Fatalf("registration of youth %d (live %v) is not under its new element's pseudonym", i, r.IsLive())
		}
		// It keeps the new element, of generation 1: also one a report
		// moved to the new pseudonym before the walk came by.
		plain, err := refs.OpenElement(r.Element, r.ID)
		if err != nil || len(plain) != 36 || binary.BigEndian.Uint32(plain) != 1 || !bytes.Equal(plain[4:], b) {
			t.Fatalf("registration of youth %d (live %v) keeps another element or generation (%v)", i, r.IsLive(), err)
		}
	}
	// The retry after both rotations: no refusal as a reused key, the
	// same registration (refreshed: its replay record went with the move).
	y7, _ = m4.YouthByElement(newEl[7])
	idem.Youth = y7
	if again, err := m4.Register(ctx, matcher.Actor{Institution: police}, idem); err != nil || again.ID != first.ID {
		t.Fatalf("a retry after the rotations: %+v %v", again, err)
	}
	// A report under the new key matches a registration made before both
	// rotations.
	y, _ := m4.YouthByElement(newEl[5])
	if res, err := m4.Register(ctx, matcher.Actor{Institution: ggd}, blindReport(t, e, y, e.involvement(t, 5))); err != nil || !res.Matched {
		t.Fatalf("a new report after both rotations: %+v %v", res, err)
	}
}
