package pebblestore

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// withRelations is r with two parents and an address (an hmac
// deployment's: no elements).
func withRelations(r store.Registration) store.Registration {
	at := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	for i, typ := range []store.RelationType{store.RelationParent, store.RelationParent, store.RelationAddress} {
		k := pseudonym.Pseudonym{KeyID: 7}
		k.Sum[0], k.Sum[31] = byte(i+1), 0x5a
		r.Relations = append(r.Relations, store.Relation{Type: typ, Key: k, Since: at})
	}
	return r
}

// withRelationElements is withRelations with a blind deployment's sealed
// element on each relation.
func withRelationElements(r store.Registration) store.Registration {
	r = withRelations(r)
	for i := range r.Relations {
		r.Relations[i].Element = bytes.Repeat([]byte{0xe1 + byte(i)}, 53)
	}
	return r
}

// A blind deployment's relations keep their elements (regV6, which
// extends regV5 by them); an hmac deployment's stay regV5.
func TestRegistrationRelationElementsRoundTrip(t *testing.T) {
	for _, r := range []store.Registration{
		withRelationElements(withElement(sampleRegistration())),
		withRelationElements(store.Registration{ID: store.NewID()}),
	} {
		b := encodeRegistration(nil, &r)
		if b[0] != regV6 {
			t.Fatalf("encoded as version %d, want %d", b[0], regV6)
		}
		got, err := decodeRegistration(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got  %+v\n want %+v", got, r)
		}
		// Truncated in the last relation's element: refused.
		if _, err := decodeRegistration(b[:len(b)-1]); !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("a truncated element: %v", err)
		}
	}
}

func TestRegistrationRelationsRoundTrip(t *testing.T) {
	for _, r := range []store.Registration{
		withRelations(sampleRegistration()),
		withRelations(withDestroyDay(true)),
		withRelations(withElement(withDestroyDay(false))),
		withRelations(store.Registration{ID: store.NewID()}),
	} {
		b := encodeRegistration(nil, &r)
		if b[0] != regV5 {
			t.Fatalf("encoded as version %d, want %d", b[0], regV5)
		}
		got, err := decodeRegistration(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got  %+v\n want %+v", got, r)
		}
	}
	// A record without relations keeps its old encoding, and old records
	// decode with no relations.
	for _, r := range []store.Registration{sampleRegistration(), withClientRef(), withDestroyDay(true), withElement(sampleRegistration())} {
		b := encodeRegistration(nil, &r)
		if b[0] == regV5 {
			t.Fatal("a registration without relations encoded as version 5")
		}
		got, err := decodeRegistration(b)
		if err != nil || got.Relations != nil {
			t.Fatalf("old record: %v, relations %v", err, got.Relations)
		}
	}
	// regV5 extends regV4: the same bytes, then the relations.
	v4 := withElement(withDestroyDay(true))
	v5 := withRelations(v4)
	a, b := encodeRegistration(nil, &v4), encodeRegistration(nil, &v5)
	if !bytes.Equal(a[1:], b[1:len(a)]) {
		t.Fatal("regV5 does not extend regV4")
	}
}

func TestDecodeRelationsRejects(t *testing.T) {
	r := withRelations(sampleRegistration())
	good := encodeRegistration(nil, &r)
	bad := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte(nil), good...), 0),
		"no relation": bad(func([]byte) []byte {
			x := withDestroyDay(false)
			e := encodeRegistration(nil, &x)
			e[0] = regV5
			return append(e, 0, 0) // no element, no relation
		}),
		"bad type": bad(func([]byte) []byte {
			x := sampleRegistration()
			x.Relations = []store.Relation{{Type: 9, Key: pseudonym.Pseudonym{KeyID: 1}}}
			return encodeRegistration(nil, &x)
		}),
	}
	for name, b := range cases {
		if _, err := decodeRegistration(b); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestFamilyEntryRoundTrip(t *testing.T) {
	r := withRelations(sampleRegistration())
	r.EndedAt, r.EndReason, r.PurgeOn = time.Time{}, store.Live, time.Time{}
	b := encodeFamily(nil, &r, &r.Relations[2])
	m, err := decodeFamily(b)
	if err != nil {
		t.Fatal(err)
	}
	want := store.FamilyMember{Youth: r.Youth, Institution: r.Institution, Kind: r.Kind, Contact: r.Contact,
		Type: store.RelationAddress, Since: r.Relations[2].Since, EndsOn: r.EndsOn}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %+v\nwant %+v", m, want)
	}
	if _, err := decodeFamily(b[:len(b)-1]); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
}
