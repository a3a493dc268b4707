package matcher_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// parentElement is the element of the n-th BSN as a parent, with keys.
func parentElement(t *testing.T, n int, keys ...*oprf.PrivateKey) oprf.Element {
	t.Helper()
	return testkeys.InputElements(t, []oprf.Input{oprf.ParentInput(bsnFor(t, n))}, keys...)[0]
}

func addressElement(t *testing.T, a identity.Address, keys ...*oprf.PrivateKey) oprf.Element {
	t.Helper()
	return testkeys.InputElements(t, []oprf.Input{oprf.AddressInput(a)}, keys...)[0]
}

// blindFamilyMatcher is a blind matcher over e's store under a covenant
// with address matching on, excluding the addresses whose elements ex
// gives (nil: none).
func blindFamilyMatcher(t *testing.T, e *env, ps *pseudonym.Pseudonymiser, l matcher.Layer, ex *matcher.ExcludedElements) (*matcher.Matcher, error) {
	t.Helper()
	cov := *exampleCovenant(t)
	cov.Family = rules.Family{AddressMatching: true}
	if ex != nil {
		cov.Family.ExcludedAddresses = make([]identity.Address, len(ex.Elements))
	}
	return matcher.New(matcher.Config{Store: e.store, Pseudonymiser: ps, ClientRefs: e.refs(t), Covenant: &cov, Clock: e.clock.Now,
		Location: time.UTC, Logger: quiet(), Blind: true, Layer: l, ExcludedAddressElements: ex})
}

// refs is one element sealer per env, so that every matcher over its
// store opens what another sealed.
func (e *env) refs(t *testing.T) matcher.RefSealer {
	if e.sealer == nil {
		e.sealer = testkeys.Sealer(t)
	}
	return e.sealer
}

// TestFamilyElementErrors: each mode refuses the other's way of giving a
// family, and a blind index checks the elements' number and form.
func TestFamilyElementErrors(t *testing.T) {
	e := newEnv(t)
	key := oprf.GenerateKey()
	b, err := blindFamilyMatcher(t, e, e.ps, matcher.Layer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	off := blindMatcher(t, e) // the example covenant: no address matching
	p1, p2, p3 := parentElement(t, 7001, key), parentElement(t, 7002, key), parentElement(t, 7003, key)
	addr, _ := identity.ParseAddress("1234AB", 12, "")
	ae := addressElement(t, addr, key)
	tests := []struct {
		name  string
		m     *matcher.Matcher
		edit  func(r *matcher.Registration)
		field string
		want  error
	}{
		{"three parents", b, func(r *matcher.Registration) { r.ParentElements = []oprf.Element{p1, p2, p3} }, "parent_elements", matcher.ErrParentElements},
		{"twice the same", b, func(r *matcher.Registration) { r.ParentElements = []oprf.Element{p1, p1} }, "parent_elements", matcher.ErrParentElements},
		{"a zero element", b, func(r *matcher.Registration) { r.ParentElements = []oprf.Element{p1, {}} }, "parent_elements", matcher.ErrParentElements},
		{"address matching off", off, func(r *matcher.Registration) { r.AddressElement = ae }, "address_element", matcher.ErrAddressNotEnabled},
		{"a parent's BSN", b, func(r *matcher.Registration) { r.Parents = []identity.BSN{bsnFor(t, 7001)} }, "parents", matcher.ErrFamilyBlind},
		{"a clear address", b, func(r *matcher.Registration) { r.Address = &addr }, "address", matcher.ErrFamilyBlind},
	}
	y, err := b.YouthByElement(element(t, key, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		r := blindReport(t, e, y, e.involvement(t, 1))
		tt.edit(&r)
		_, err := tt.m.Register(ctx, matcher.Actor{Institution: ggd}, r)
		var fe *matcher.FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v on %s", tt.name, err, tt.want, tt.field)
		}
	}
	// An hmac index refuses elements.
	for field, edit := range map[string]func(r *matcher.Registration){
		"parent_elements": func(r *matcher.Registration) { r.ParentElements = []oprf.Element{p1} },
		"address_element": func(r *matcher.Registration) { r.AddressElement = ae },
	} {
		r := e.involvement(t, 1)
		edit(&r)
		_, err := e.m.Register(ctx, matcher.Actor{Institution: ggd}, r)
		var fe *matcher.FieldError
		if !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, matcher.ErrYouthNotAccepted) {
			t.Errorf("%s to an hmac index: %v", field, err)
		}
	}
	// Two parents and an address are fine, and nothing was written before.
	if _, err := b.Lookup(ctx, matcher.Actor{Institution: ggd}, y); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("a refused report left a registration: %v", err)
	}
	r := blindReport(t, e, y, e.involvement(t, 1))
	r.ParentElements, r.AddressElement = []oprf.Element{p1, p2}, ae
	if _, err := b.Register(ctx, matcher.Actor{Institution: ggd}, r); err != nil {
		t.Fatal(err)
	}

	// The store keeps the index's layer over each element, never the
	// element (a scan of its files for the raw bytes, with the positive
	// control of the layer).
	if err := e.store.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	needles, control := canary.Needles{}, canary.Needles{}
	for name, el := range map[string]oprf.Element{"parent 1": p1, "parent 2": p2, "address": ae} {
		raw, _ := el.MarshalBinary()
		needles.Bytes(name, raw[8:])
		domain := pseudonym.DomainParentElement
		if name == "address" {
			domain = pseudonym.DomainAddressElement
		}
		layer, err := e.ps.Of(domain, raw)
		if err != nil {
			t.Fatal(err)
		}
		control.Bytes(name+"'s pseudonym", layer.Primary.Sum[8:])
	}
	if found, err := needles.ScanDir(e.dir); err != nil || len(found) > 0 {
		t.Errorf("a family element is in the store: %q %v", found, err)
	}
	if found, err := control.ScanDir(e.dir); err != nil || len(found) < 3 {
		t.Errorf("the scan does not see the relations' pseudonyms: it proves nothing (%q, %v)", found, err)
	}
}

// TestBlindFamilyAcrossRotations: a blind deployment's family relations
// are re-keyed with its youths, without a BSN or an address, when either
// layer's key is replaced: the index's PRF key (the walk moves every
// relation to the new key, and after the old one is deleted a new sibling
// still makes a family match), and a key holder's key (a sibling reported
// under the new key during the rotation matches the relations under the
// old one; the walk moves them by the ratio; after the rotation ends, a
// sibling under the new key still matches). The excluded addresses'
// elements, made under the old key holder's key, keep excluding during the
// rotation.
func TestBlindFamilyAcrossRotations(t *testing.T) {
	e, h := newRotatableEnv(t)
	ka := oprf.GenerateKey()
	shelter, _ := identity.ParseAddress("9711AA", 1, "")
	home, _ := identity.ParseAddress("9712BB", 7, "a")
	ex := &matcher.ExcludedElements{Key: oprf.LayerID(ka.Public()), Elements: []oprf.Element{addressElement(t, shelter, ka)}}
	m0, err := blindFamilyMatcher(t, e, e.ps, matcher.Layer{}, ex)
	if err != nil {
		t.Fatal(err)
	}
	// report has inst report youth n with parent 7001 (the shelter's
	// children: parents of their own) and the address, as elements under
	// key holder key k (layer named).
	report := func(m *matcher.Matcher, inst string, n int, k *oprf.PrivateKey, layer string, addr identity.Address) {
		t.Helper()
		y, err := m.YouthByElementOf(element(t, k, n), layer)
		if err != nil {
			t.Fatal(err)
		}
		kind := e.involvement(t, n)
		if inst == police || inst == school {
			kind = e.signal(t, n)
		}
		r := blindReport(t, e, y, kind)
		parent := 7001
		if n == 3 || n == 4 {
			parent = 7000 + n
		}
		r.ParentElements, r.AddressElement = []oprf.Element{parentElement(t, parent, k)}, addressElement(t, addr, k)
		if _, err := m.Register(ctx, matcher.Actor{Institution: inst}, r); err != nil {
			t.Fatal(err)
		}
	}
	// familyMatches counts inst's family-match events by reason.
	familyMatches := func(inst, reason string) int {
		n := 0
		for _, ev := range e.events(t, inst) {
			if ev.Type == store.EventFamilyMatch && ev.Reason == reason {
				n++
			}
		}
		return n
	}
	report(m0, school, 1, ka, "", home)
	report(m0, ggd, 2, ka, "", home)
	if familyMatches(school, "parent") != 1 || familyMatches(school, "address") != 1 {
		t.Fatalf("siblings made no family match: %s", types(e.events(t, school)))
	}
	// A child at the shelter's address makes no address match.
	report(m0, police, 3, ka, "", shelter)
	report(m0, wij, 4, ka, "", shelter)
	if familyMatches(wij, "address") != 0 {
		t.Fatal("an excluded address made a match")
	}

	// 1. The index's own layer: a new PRF key, the walk, the old key gone.
	oldKey := e.ps.PrimaryKeyID()
	h2, newKey, err := keys.Rotate(h)
	if err != nil {
		t.Fatal(err)
	}
	ps2, err := pseudonym.New(h2)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := blindFamilyMatcher(t, e, ps2, matcher.Layer{}, ex)
	if err != nil {
		t.Fatal(err)
	}
	if e.store.LiveByKey()[oldKey] == 0 {
		t.Fatal("nothing is under the old key before the walk")
	}
	if total := rekeyAll(t, m1, func(int) {}); total.Moved != 4 || total.Stranded != 0 {
		t.Fatalf("walk: %+v", total)
	}
	if n := e.store.LiveByKey()[oldKey]; n != 0 {
		t.Fatalf("after the walk %d registrations (or their relations) still need the old key", n)
	}
	if again := rekeyAll(t, m1, func(int) {}); again.Moved != 0 {
		t.Fatalf("a second walk moved %d youths: the first left relations behind", again.Moved)
	}
	h3, err := keys.Disable(h2, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if h3, err = keys.Delete(h3, oldKey); err != nil {
		t.Fatal(err)
	}
	ps3, err := pseudonym.New(h3)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := blindFamilyMatcher(t, e, ps3, matcher.Layer{}, ex)
	if err != nil {
		t.Fatal(err)
	}
	report(m2, wij, 5, ka, "", home)
	if familyMatches(wij, "parent") != 1 || familyMatches(school, "parent") != 2 || familyMatches(ggd, "parent") != 2 {
		t.Fatalf("no family match after the old PRF key is gone: %s", types(e.events(t, wij)))
	}
	if ps3.PrimaryKeyID() != newKey {
		t.Fatal("the new key is not primary")
	}

	// 2. A key holder's key, ka to kb.
	kb := oprf.GenerateKey()
	ratio, err := oprf.RatioOf(ka, kb)
	if err != nil {
		t.Fatal(err)
	}
	from, to := oprf.KeyID(ka.Public()), oprf.KeyID(kb.Public())
	rot := matcher.Layer{Generation: 1, Rotating: true, From: from, To: to, Ratio: ratio}
	m3, err := blindFamilyMatcher(t, e, ps3, rot, ex) // the excluded elements still under ka
	if err != nil {
		t.Fatal(err)
	}
	// Before the walk, a sibling under the new key matches relations kept
	// under the old generation, and the shelter (under the old key's
	// elements) still excludes.
	report(m3, police, 6, kb, oprf.LayerID(kb.Public()), home)
	if familyMatches(police, "parent") != 1 || familyMatches(police, "address") != 1 {
		t.Fatalf("a sibling under the new key holder key made no family match: %s", types(e.events(t, police)))
	}
	before := familyMatches(ggd, "address")
	report(m3, ggd, 7, kb, oprf.LayerID(kb.Public()), shelter)
	if familyMatches(ggd, "address") != before {
		t.Fatal("the excluded address made a match during the rotation")
	}
	if total := rekeyAll(t, m3, func(int) {}); total.Stranded != 0 || total.Moved == 0 {
		t.Fatalf("walk: %+v", total)
	}
	// The rotation ends: the ratio and the old key are gone. The excluded
	// elements must be made anew under the new key: the old ones are
	// refused.
	done := matcher.Layer{Generation: 1, Keys: []string{to}}
	if _, err := blindFamilyMatcher(t, e, ps3, done, ex); !errors.Is(err, matcher.ErrExcludedElements) {
		t.Fatalf("excluded elements under the old key after the rotation: %v", err)
	}
	exB := &matcher.ExcludedElements{Key: oprf.LayerID(kb.Public()), Elements: []oprf.Element{addressElement(t, shelter, kb)}}
	m4, err := blindFamilyMatcher(t, e, ps3, done, exB)
	if err != nil {
		t.Fatal(err)
	}
	report(m4, police, 8, kb, oprf.LayerID(kb.Public()), home)
	// The police's own registration of youth 6 makes no match with
	// itself; the others' do, made under both key holder keys and PRF keys.
	var last store.Event
	for _, ev := range e.events(t, police) {
		if ev.Type == store.EventFamilyMatch && ev.Reason == "parent" {
			last = ev
		}
	}
	if got := strings.Join(slices.Compact(partyNames(last.Others)), ","); got != strings.Join([]string{ggd, school, wij}, ",") {
		t.Fatalf("after the key holder's rotation the family match names %s", got)
	}
	before = familyMatches(school, "address")
	report(m4, school, 9, kb, oprf.LayerID(kb.Public()), shelter)
	if n := familyMatches(school, "address"); n != before {
		t.Fatal("the shelter made an address match after the rotation")
	}
}

// TestExcludedElements: the elements file round-trips; New refuses a blind
// deployment whose covenant excludes addresses without their elements, or
// with a list of another length; a bad file is refused with its line.
func TestExcludedElements(t *testing.T) {
	key := oprf.GenerateKey()
	a, _ := identity.ParseAddress("9711AA", 1, "")
	b, _ := identity.ParseAddress("9711AA", 2, "")
	ex := matcher.ExcludedElements{Key: oprf.LayerID(key.Public()), Elements: testkeys.InputElements(t, []oprf.Input{oprf.AddressInput(a), oprf.AddressInput(b)}, key)}
	var buf bytes.Buffer
	if err := matcher.WriteExcludedElements(&buf, ex); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "excluded.elements")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := matcher.ReadExcludedElements(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != ex.Key || len(got.Elements) != 2 || !got.Elements[0].Equal(ex.Elements[0]) || !got.Elements[1].Equal(ex.Elements[1]) {
		t.Fatalf("round trip: %+v", got)
	}
	for name, tc := range map[string]struct{ text, want string }{
		"no header":      {"key \n", ":1: not an excluded-address elements file"},
		"bad key":        {"# vindex excluded-address elements v1\nkey nothex\n", ":2: the second line"},
		"no key":         {"# vindex excluded-address elements v1\nkey \n", ":2: the second line"},
		"a blank line 2": {"# vindex excluded-address elements v1\n\nkey " + ex.Key + "\n", ":2: the second line"},
		"bad element":    {"# vindex excluded-address elements v1\nkey " + ex.Key + "\n\n# a comment\nAAAA\n", ":5: not an element"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := matcher.ReadExcludedElements(p); !errors.Is(err, matcher.ErrExcludedElements) || !strings.Contains(err.Error(), p+tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}

	e := newEnv(t)
	cov := *exampleCovenant(t)
	cov.Family = rules.Family{AddressMatching: true, ExcludedAddresses: []identity.Address{a, b}}
	for name, given := range map[string]*matcher.ExcludedElements{
		"none":          nil,
		"another count": {Key: ex.Key, Elements: ex.Elements[:1]},
	} {
		_, err := matcher.New(matcher.Config{Store: e.store, Pseudonymiser: e.ps, ClientRefs: testkeys.Sealer(t), Covenant: &cov,
			Blind: true, ExcludedAddressElements: given})
		if !errors.Is(err, matcher.ErrExcludedElements) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := matcher.WriteExcludedElements(&buf, matcher.ExcludedElements{Elements: ex.Elements}); !errors.Is(err, matcher.ErrExcludedElements) {
		t.Errorf("elements written without their key: %v", err)
	}
	m, err := matcher.New(matcher.Config{Store: e.store, Pseudonymiser: e.ps, ClientRefs: testkeys.Sealer(t), Covenant: &cov,
		Blind: true, ExcludedAddressElements: got})
	if err != nil {
		t.Fatal(err)
	}
	// An index that has taken no key holder's rotation learns the key
	// holders' keys from the file: a report made under other keys, for
	// which no excluded address would be recognised, is refused.
	other := oprf.GenerateKey()
	if _, err := m.YouthByElementOf(element(t, other, 1), oprf.LayerID(other.Public())); !errors.Is(err, matcher.ErrYouthKeyUnknown) {
		t.Errorf("a report under other keys than the excluded addresses': %v", err)
	}
	if _, err := m.YouthByElementOf(element(t, key, 1), oprf.LayerID(key.Public())); err != nil {
		t.Errorf("a report under the excluded addresses' keys: %v", err)
	}
}

// TestBlindFamilyCoordinationDuringRotation: while a key holder's key is
// replaced, a child whose coordinator comes after its relation was re-keyed
// to the new generation still finds a sibling whose relation is under the
// old one, and both coordinators are told (one family, one plan).
func TestBlindFamilyCoordinationDuringRotation(t *testing.T) {
	e := newEnv(t)
	ka, kb := oprf.GenerateKey(), oprf.GenerateKey()
	m0, err := blindFamilyMatcher(t, e, e.ps, matcher.Layer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	report := func(m *matcher.Matcher, inst string, n int, k *oprf.PrivateKey, layer string, r matcher.Registration) {
		t.Helper()
		y, err := m.YouthByElementOf(element(t, k, n), layer)
		if err != nil {
			t.Fatal(err)
		}
		r = blindReport(t, e, y, r)
		if inst != "accare-groningen" { // the coordinator's report gives no parents
			r.ParentElements = []oprf.Element{parentElement(t, 7001, k)}
		}
		if _, err := m.Register(ctx, matcher.Actor{Institution: inst}, r); err != nil {
			t.Fatal(err)
		}
	}
	// B has its coordinator (the WIJ) before the rotation; A only a
	// school's signal.
	report(m0, police, 2, ka, "", e.signal(t, 2))
	report(m0, wij, 2, ka, "", e.involvement(t, 2))
	report(m0, school, 1, ka, "", e.signal(t, 1))
	ratio, err := oprf.RatioOf(ka, kb)
	if err != nil {
		t.Fatal(err)
	}
	rot := matcher.Layer{Generation: 1, Rotating: true, From: oprf.KeyID(ka.Public()), To: oprf.KeyID(kb.Public()), Ratio: ratio}
	m1, err := blindFamilyMatcher(t, e, e.ps, rot, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A's coordinator comes under the new key, with a report that gives
	// no parents: the school's relation moves to the new generation in
	// this very update, B's is still under the old.
	report(m1, "accare-groningen", 1, kb, oprf.LayerID(kb.Public()), e.involvement(t, 1))
	for inst, other := range map[string]string{"accare-groningen": wij, wij: "accare-groningen"} {
		n := 0
		for _, ev := range e.events(t, inst) {
			if ev.Type == store.EventFamilyCoordination && ev.Subject == other {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s got %d family-coordination events naming %s, want 1", inst, n, other)
		}
	}
}

// TestBlindRefreshRekeysKeptRelations: a report that gives no family keeps
// the relations on file, and they move with the youth to the new PRF key
// in that very update: nothing of the registration is left under the old
// key (a copy from before the move, written back, would keep it there).
func TestBlindRefreshRekeysKeptRelations(t *testing.T) {
	e, h := newRotatableEnv(t)
	key := oprf.GenerateKey()
	m0, err := blindFamilyMatcher(t, e, e.ps, matcher.Layer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := identity.ParseAddress("9712BB", 7, "")
	y, err := m0.YouthByElement(element(t, key, 1))
	if err != nil {
		t.Fatal(err)
	}
	r := blindReport(t, e, y, e.involvement(t, 1))
	r.ParentElements, r.AddressElement = []oprf.Element{parentElement(t, 7001, key)}, addressElement(t, addr, key)
	if _, err := m0.Register(ctx, matcher.Actor{Institution: ggd}, r); err != nil {
		t.Fatal(err)
	}
	oldKey := e.ps.PrimaryKeyID()
	h2, _, err := keys.Rotate(h)
	if err != nil {
		t.Fatal(err)
	}
	ps2, err := pseudonym.New(h2)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := blindFamilyMatcher(t, e, ps2, matcher.Layer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, give := range []string{"nothing", "parents only", "address only"} {
		y, err := m1.YouthByElement(element(t, key, 1))
		if err != nil {
			t.Fatal(err)
		}
		r := blindReport(t, e, y, e.involvement(t, 1))
		switch give {
		case "parents only":
			r.ParentElements = []oprf.Element{parentElement(t, 7001, key)}
		case "address only":
			r.AddressElement = addressElement(t, addr, key)
		}
		if _, err := m1.Register(ctx, matcher.Actor{Institution: ggd}, r); err != nil {
			t.Fatal(err)
		}
		if n := e.store.LiveByKey()[oldKey]; n != 0 {
			t.Fatalf("after a refresh giving %s, %d registrations still need the old PRF key", give, n)
		}
		if total := rekeyAll(t, m1, func(int) {}); total.Moved != 0 {
			t.Fatalf("after a refresh giving %s the walk still moved %d youths", give, total.Moved)
		}
	}
}

// TestBlindRelationsUnderRefKeyRotation: the relations' sealed elements
// count as the reference key's (store.KeyUse.RefsByKey), and the walk
// after a new reference key seals them anew, so that the old key can be
// retired without a relation left that no key opens.
func TestBlindRelationsUnderRefKeyRotation(t *testing.T) {
	e := newEnv(t)
	key := oprf.GenerateKey()
	h := testkeys.RefKeyset(t)
	e.sealer = sealerOf(t, h)
	m0, err := blindFamilyMatcher(t, e, e.ps, matcher.Layer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := identity.ParseAddress("9712BB", 7, "")
	for n, inst := range map[int]string{1: ggd, 2: wij} {
		y, err := m0.YouthByElement(element(t, key, n))
		if err != nil {
			t.Fatal(err)
		}
		r := blindReport(t, e, y, e.involvement(t, n))
		r.ParentElements, r.AddressElement = []oprf.Element{parentElement(t, 7001, key), parentElement(t, 7002, key)}, addressElement(t, addr, key)
		if _, err := m0.Register(ctx, matcher.Actor{Institution: inst}, r); err != nil {
			t.Fatal(err)
		}
	}
	oldRef := e.sealer.(interface{ PrimaryKeyID() uint32 }).PrimaryKeyID()
	// Two registrations: each its youth's element and three relations'.
	if n := e.store.RefsByKey()[oldRef]; n != 8 {
		t.Fatalf("%d values sealed under the reference key, want 8 (2 elements, 6 relations)", n)
	}
	h2, newRef, err := keys.RotateRefKeyset(h)
	if err != nil {
		t.Fatal(err)
	}
	e.sealer = sealerOf(t, h2)
	m1, err := blindFamilyMatcher(t, e, e.ps, matcher.Layer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if total := rekeyAll(t, m1, func(int) {}); total.Moved != 2 {
		t.Fatalf("walk: %+v", total)
	}
	if got := e.store.RefsByKey(); got[oldRef] != 0 || got[newRef] != 8 {
		t.Fatalf("after the walk: %v, want all 8 under the new key %d", got, newRef)
	}
	// The relations still match a sibling, under the new key only.
	only, err := keys.Disable(h2, oldRef)
	if err != nil {
		t.Fatal(err)
	}
	e.sealer = sealerOf(t, only)
	m2, err := blindFamilyMatcher(t, e, e.ps, matcher.Layer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	y, err := m2.YouthByElement(element(t, key, 3))
	if err != nil {
		t.Fatal(err)
	}
	r := blindReport(t, e, y, e.involvement(t, 3))
	r.ParentElements = []oprf.Element{parentElement(t, 7002, key)}
	if _, err := m2.Register(ctx, matcher.Actor{Institution: jbn}, r); err != nil {
		t.Fatal(err)
	}
	if n := countType(e.events(t, jbn), store.EventFamilyMatch); n != 1 {
		t.Fatalf("the sibling after the reference key's rotation: %d family matches", n)
	}
}
