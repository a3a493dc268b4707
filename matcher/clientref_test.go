package matcher_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// withSealer returns a matcher over e's store and clock that seals client
// references with s (nil: none configured).
func (e *env) withSealer(t *testing.T, s matcher.RefSealer) *matcher.Matcher {
	t.Helper()
	m, err := matcher.New(matcher.Config{
		Store: e.store, Pseudonymiser: e.ps, ClientRefs: s, Covenant: exampleCovenant(t),
		Clock: e.clock.Now, Location: time.UTC, Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Each institution gets its own reference back, in the result, the lookup
// and its events, and never another institution's.
func TestClientRefOnlyToItsOwnInstitution(t *testing.T) {
	e := newEnv(t)
	s := e.signal(t, 1)
	s.ClientRef = "LL-2026-17"
	w := e.involvement(t, 1)
	w.ClientRef = "WIJ/0042"
	if res := e.register(t, school, s); res.ClientRef != "LL-2026-17" {
		t.Fatalf("school result ref %q", res.ClientRef)
	}
	if res := e.register(t, wij, w); res.ClientRef != "WIJ/0042" || !res.Matched {
		t.Fatalf("wij result: ref %q matched %v", res.ClientRef, res.Matched)
	}
	for inst, want := range map[string]string{school: "LL-2026-17", wij: "WIJ/0042"} {
		v, err := e.m.Lookup(ctx, matcher.Actor{Institution: inst}, s.Youth)
		if err != nil {
			t.Fatal(err)
		}
		if v.ClientRef != want {
			t.Fatalf("%s lookup ref %q, want %q", inst, v.ClientRef, want)
		}
		evs, err := e.m.Events(ctx, matcher.Actor{Institution: inst}, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			t.Fatalf("%s has no events", inst)
		}
		for _, ev := range evs {
			if ev.ClientRef != want {
				t.Fatalf("%s %s event ref %q, want %q", inst, ev.Type, ev.ClientRef, want)
			}
		}
		got, err := matcher.ClientRefOf(e.m, ctx, matcher.Actor{Institution: inst}, v.ID)
		if err != nil || got != want {
			t.Fatalf("%s ClientRef = %q, %v", inst, got, err)
		}
	}
	// Asking for another institution's registration is not found, the
	// same as for an unknown one.
	wv, _ := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, s.Youth)
	for _, id := range []store.ID{wv.ID, store.NewID()} {
		if got, err := matcher.ClientRefOf(e.m, ctx, matcher.Actor{Institution: school}, id); !errors.Is(err, matcher.ErrNotFound) || got != "" {
			t.Fatalf("school reads %q, %v", got, err)
		}
	}
	// The stored bytes are sealed, and bound to their registration.
	reg, err := e.store.Registration(ctx, wv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.ClientRef) == 0 || bytes.Contains(reg.ClientRef, []byte("0042")) {
		t.Fatalf("stored reference: %q", reg.ClientRef)
	}
}

// A refresh without a reference keeps the one on file (sealed anew); one
// with a reference replaces it; an idempotent replay answers with it but
// does not store it with the result.
func TestClientRefRefreshAndReplay(t *testing.T) {
	e := newEnv(t)
	r := e.involvement(t, 2)
	r.ClientRef = "A-1"
	first := e.register(t, wij, r)
	before, _ := e.store.Registration(ctx, first.ID)

	r.ClientRef = ""
	if res := e.register(t, wij, r); !res.Refreshed || res.ClientRef != "A-1" {
		t.Fatalf("refresh without ref: refreshed %v ref %q", res.Refreshed, res.ClientRef)
	}
	after, _ := e.store.Registration(ctx, first.ID)
	if bytes.Equal(before.ClientRef, after.ClientRef) {
		t.Fatal("the kept reference was not sealed anew")
	}
	r.ClientRef = "A-2"
	r.IdempotencyKey = "retry-1"
	if res := e.register(t, wij, r); res.ClientRef != "A-2" {
		t.Fatalf("refresh with ref: %q", res.ClientRef)
	}
	rep := e.register(t, wij, r)
	if !rep.Replayed || rep.ClientRef != "A-2" {
		t.Fatalf("replay: replayed %v ref %q", rep.Replayed, rep.ClientRef)
	}
	err := e.store.View(ctx, mustYouth(t, e, 2), func(rd store.Reader) error {
		rec, ok := rd.Idempotency(e.idemKey(t, wij, "retry-1"))
		if !ok {
			t.Fatal("no idempotency record")
		}
		if bytes.Contains(rec.Result, []byte("A-2")) {
			t.Fatalf("the idempotency record holds the reference: %s", rec.Result)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestClientRefRefused(t *testing.T) {
	e := newEnv(t)
	base := e.involvement(t, 3)
	bsn := bsnDigits(t, 3) // born 2014-05-17
	for _, tc := range []struct {
		ref  string
		want error
	}{
		{"A\r\nBcc: x@example.org", matcher.ErrClientRef},
		{strings.Repeat("9", 65), matcher.ErrClientRef},
		{" padded", matcher.ErrClientRef},
		{bsn, matcher.ErrClientRefIdentity},
		{"D-" + bsn[:3] + "." + bsn[3:6] + "." + bsn[6:], matcher.ErrClientRefIdentity},
		{"2014-05-17/1", matcher.ErrClientRefIdentity},
		{"17-05-2014", matcher.ErrClientRefIdentity},
		{"K170514", matcher.ErrClientRefIdentity},
	} {
		r := base
		r.ClientRef = tc.ref
		_, err := e.m.Register(ctx, matcher.Actor{Institution: wij}, r)
		var fe *matcher.FieldError
		if !errors.Is(err, tc.want) || !errors.As(err, &fe) || fe.Field != "client_ref" {
			t.Errorf("ref %q: %v, want %v on client_ref", tc.ref, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), tc.ref) || strings.Contains(err.Error(), bsn) {
			t.Errorf("the error quotes the reference: %v", err)
		}
	}
	// Nothing was written by the refused reports.
	if evs := e.events(t, wij); len(evs) != 0 {
		t.Fatalf("%d events after refused reports", len(evs))
	}
	// Dossier numbers that merely hold digits pass.
	ok := base
	ok.ClientRef = "2026-000123"
	if res := e.register(t, wij, ok); res.ClientRef != "2026-000123" {
		t.Fatalf("ref %q", res.ClientRef)
	}
	// Without a sealer, a reference is refused, not dropped.
	m := e.withSealer(t, nil)
	r := e.involvement(t, 4)
	r.ClientRef = "X-1"
	if _, err := m.Register(ctx, matcher.Actor{Institution: wij}, r); !errors.Is(err, matcher.ErrClientRefUnsupported) {
		t.Fatalf("no sealer: %v", err)
	}
	r.ClientRef = ""
	if _, err := m.Register(ctx, matcher.Actor{Institution: wij}, r); err != nil {
		t.Fatalf("no sealer, no ref: %v", err)
	}
}

// After the reference keyset is rotated, references sealed under the old
// key still open, and a refresh seals them under the new primary. A
// reference whose key is gone is answered as none, never as an error.
func TestClientRefKeyRotation(t *testing.T) {
	e := newEnv(t)
	h := testkeys.RefKeyset(t)
	old := e.withSealer(t, sealerOf(t, h))
	r := e.involvement(t, 5)
	r.ClientRef = "OLD-7"
	res, err := old.Register(ctx, matcher.Actor{Institution: wij}, r)
	if err != nil {
		t.Fatal(err)
	}
	h2, newKey, err := keys.RotateRefKeyset(h)
	if err != nil {
		t.Fatal(err)
	}
	rotated := e.withSealer(t, sealerOf(t, h2))
	if v, err := rotated.Lookup(ctx, matcher.Actor{Institution: wij}, r.Youth); err != nil || v.ClientRef != "OLD-7" {
		t.Fatalf("after rotation: %q, %v", v.ClientRef, err)
	}
	r.ClientRef = ""
	if _, err := rotated.Register(ctx, matcher.Actor{Institution: wij}, r); err != nil {
		t.Fatal(err)
	}
	reg, _ := e.store.Registration(ctx, res.ID)
	if kid := uint32(reg.ClientRef[1])<<24 | uint32(reg.ClientRef[2])<<16 | uint32(reg.ClientRef[3])<<8 | uint32(reg.ClientRef[4]); kid != newKey {
		t.Fatalf("after a refresh the reference is under key %d, want %d", kid, newKey)
	}
	// A keyset without the key: no reference, and the report still works.
	var logs canary.Log
	lost, err := matcher.New(matcher.Config{
		Store: e.store, Pseudonymiser: e.ps, ClientRefs: testkeys.Sealer(t), Covenant: exampleCovenant(t),
		Clock: e.clock.Now, Location: time.UTC, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := lost.Lookup(ctx, matcher.Actor{Institution: wij}, r.Youth); err != nil || v.ClientRef != "" {
		t.Fatalf("lost key: %q, %v", v.ClientRef, err)
	}
	if !strings.Contains(logs.String(), "client reference does not open") || strings.Contains(logs.String(), "OLD-7") {
		t.Fatalf("log: %s", logs.String())
	}
}

func sealerOf(t *testing.T, h *keyset.Handle) *clientref.Sealer {
	t.Helper()
	s, err := clientref.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustYouth(t *testing.T, e *env, n int) []pseudonym.Pseudonym {
	t.Helper()
	set, err := e.ps.Youth(bsnFor(t, n))
	if err != nil {
		t.Fatal(err)
	}
	return set.All
}
