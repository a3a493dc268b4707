package pebblestore

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// withInform is a registration with an age band and an inform record, with
// and without a client reference.
func withInform(ref bool) store.Registration {
	r := sampleRegistration()
	if ref {
		r = withClientRef()
	}
	r.AgeBand = store.Age12To15
	r.Inform = store.Inform{Not: store.NotInformedLater, Due: time.Date(2026, 1, 16, 0, 0, 0, 0, time.UTC)}
	return r
}

// The duty to inform is regV3: the age band and the inform record after
// regV2's fields, the client reference possibly empty. A record without
// them keeps its older version, so each has one encoding.
func TestRegistrationInformRoundTrip(t *testing.T) {
	informed := sampleRegistration()
	informed.AgeBand = store.Age16Up
	informed.Inform = store.Inform{Who: store.WhomYouth, On: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)}
	reminded := withInform(false)
	reminded.Inform.Due, reminded.Inform.Reminded = time.Time{}, true
	bandOnly := sampleRegistration()
	bandOnly.AgeBand = store.AgeUnder12
	for name, r := range map[string]store.Registration{
		"later": withInform(false), "later with reference": withInform(true), "informed": informed,
		"reminded": reminded, "band only": bandOnly,
	} {
		b := encodeRegistration(nil, &r)
		if b[0] != regV3 {
			t.Fatalf("%s: encoded as version %d, want %d", name, b[0], regV3)
		}
		got, err := decodeRegistration(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%s: round trip:\n got  %+v\n want %+v", name, got, r)
		}
	}
	// regV3 extends regV2: the same bytes, then the duty to inform.
	r := withInform(true)
	v3 := encodeRegistration(nil, &r)
	r.AgeBand, r.Inform = 0, store.Inform{}
	v2 := encodeRegistration(nil, &r)
	if v2[0] != regV2 || !bytes.Equal(v2[1:], v3[1:len(v2)]) {
		t.Fatal("regV3 does not extend regV2")
	}
}

func TestDecodeInformRejects(t *testing.T) {
	r := withInform(true)
	good := encodeRegistration(nil, &r)
	plain := sampleRegistration()
	p := encodeRegistration(nil, &plain)
	for name, b := range map[string][]byte{
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte(nil), good...), 0),
		// A v1 record relabelled v3 with an empty reference and nothing of
		// v3: it has a shorter encoding.
		"v3 with nothing of v3": append(append([]byte{regV3}, p[1:]...), 0, 0, 0, 0, 0, 0, 0, 0),
		// The last two bytes: the reminded flag, and the destroy day (none).
		"reminded not 0/1": append(append([]byte{}, good[:len(good)-2]...), 2, 0),
	} {
		if _, err := decodeRegistration(b); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}
