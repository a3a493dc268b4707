package matcher_test

import (
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
)

// After a key rotation, reports under the new key still match registrations
// made under the old one, and touched records move to the new key.
func TestRotationLosesNoMatch(t *testing.T) {
	e, h1 := newRotatableEnv(t)
	s1 := e.register(t, school, e.signal(t, 1))
	g2 := e.register(t, ggd, e.involvement(t, 2))

	m2, ps2 := e.rotated(t, h1)
	newID := ps2.PrimaryKeyID()
	if newID == e.ps.PrimaryKeyID() {
		t.Fatalf("rotation did not make a new primary")
	}
	e.clock.Add(time.Hour)

	// A report under the new key matches the old-key registration.
	r := e.involvement(t, 1)
	r.Youth = youthOf(t, m2, bsnFor(t, 1))
	res, err := m2.Register(ctx, matcher.Actor{Institution: wij}, r)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Matched || len(res.Involved) != 1 || res.Involved[0].Institution != school {
		t.Fatalf("report after rotation: %+v", res)
	}
	// The old registration moved to the new key.
	reg, err := e.store.Registration(ctx, s1.ID)
	if err != nil || reg.Youth.KeyID != newID {
		t.Fatalf("old registration not migrated: key %d, %v", reg.Youth.KeyID, err)
	}
	// An untouched youth is still found under the old key, by BSN and by ID.
	if v, err := m2.Lookup(ctx, matcher.Actor{Institution: ggd}, youthOf(t, m2, bsnFor(t, 2))); err != nil || v.ID != g2.ID {
		t.Fatalf("lookup of an untouched youth: %+v %v", v, err)
	}
	reg, _ = e.store.Registration(ctx, g2.ID)
	if reg.Youth.KeyID != e.ps.PrimaryKeyID() {
		t.Fatalf("a lookup migrated a record (key %d)", reg.Youth.KeyID)
	}
	if err := m2.End(ctx, matcher.Actor{Institution: ggd}, g2.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatalf("end of an old-key registration: %v", err)
	}
}
