package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

func sampleRegistration() store.Registration {
	p := pseudonym.Pseudonym{KeyID: 0xdeadbeef}
	for i := range p.Sum {
		p.Sum[i] = byte(i)
	}
	return store.Registration{
		ID: store.NewID(), Youth: p, Institution: "ggd-groningen", Kind: store.KindSignal,
		SignalCode: "S12", Urgent: true, Sector: "child-protection", Municipality: "GM0014",
		Contact:   store.Contact{Name: "A. Jansen", Phone: "+31 50 367 4000", Email: "a.jansen@example.org"},
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), UpdatedAt: time.Date(2026, 2, 2, 3, 4, 5, 6, time.UTC),
		EndsOn: time.Date(2028, 1, 2, 0, 0, 0, 0, time.UTC), EndedAt: time.Date(2026, 3, 1, 0, 0, 0, 1, time.UTC),
		EndReason: store.EndedByInstitution, PurgeOn: time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC),
	}
}

func withClientRef() store.Registration {
	r := sampleRegistration()
	r.ClientRef = []byte{1, 0, 0, 0, 7, 0xaa, 0xbb, 0xcc}
	return r
}

// withDestroyDay is a registration with the day the youth turns 23, and
// with a client reference or without.
func withDestroyDay(ref bool) store.Registration {
	r := sampleRegistration()
	if ref {
		r = withClientRef()
	}
	r.DestroyOn = time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)
	return r
}

func TestRegistrationRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		r       store.Registration
		version byte
	}{
		{sampleRegistration(), regV1},
		{store.Registration{ID: store.NewID()}, regV1},
		{withClientRef(), regV2},
		{withDestroyDay(false), regV3},
		{withDestroyDay(true), regV3},
		{withElement(sampleRegistration()), regV4},
		{withElement(withDestroyDay(true)), regV4},
	} {
		b := encodeRegistration(nil, &tc.r)
		if b[0] != tc.version {
			t.Fatalf("encoded as version %d, want %d", b[0], tc.version)
		}
		got, err := decodeRegistration(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.r) {
			t.Fatalf("round trip:\n got  %+v\n want %+v", got, tc.r)
		}
	}
	// A regV1 record is a regV2 record without its last field: records
	// written before client references existed still decode.
	v1 := sampleRegistration()
	old := encodeRegistration(nil, &v1)
	r2 := withClientRef()
	r2.ID = v1.ID
	v2 := encodeRegistration(nil, &r2)
	if !bytes.Equal(old[1:], v2[1:len(old)]) {
		t.Fatal("regV2 does not extend regV1")
	}
}

// withElement is r with a sealed element (a blind deployment's).
func withElement(r store.Registration) store.Registration {
	r.Element = append([]byte{1, 0, 0, 0, 8}, bytes.Repeat([]byte{0xee}, 60)...)
	return r
}

func TestDecodeRejects(t *testing.T) {
	r := sampleRegistration()
	good := encodeRegistration(nil, &r)
	cases := map[string][]byte{
		"empty":        nil,
		"version":      append([]byte{99}, good[1:]...),
		"truncated":    good[:len(good)-1],
		"trailing":     append(append([]byte(nil), good...), 0),
		"bool not 0/1": func() []byte { b := encodeRegistration(nil, &store.Registration{}); b[1+16+36+1+1+1] = 7; return b }(),
		"huge length":  append([]byte{regV1}, bytes.Repeat([]byte{0xff}, 60)...),
		"v2 without reference": func() []byte {
			b := encodeRegistration(nil, &r)
			return append(append([]byte{regV2}, b[1:]...), 0)
		}(),
		"v4 without element": func() []byte {
			e := withElement(r)
			b := encodeRegistration(nil, &e)
			return append(b[:len(b)-len(e.Element)-1], 0)
		}(),
		"v3 with nothing of v3": func() []byte {
			e := withElement(r)
			b := encodeRegistration(nil, &e)
			b = b[:len(b)-len(e.Element)-1]
			b[0] = regV3
			return b
		}(),
		"v2 truncated": func() []byte {
			r := withClientRef()
			b := encodeRegistration(nil, &r)
			return b[:len(b)-1]
		}(),
	}
	for name, b := range cases {
		if _, err := decodeRegistration(b); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestOtherRecordsRoundTrip(t *testing.T) {
	r := sampleRegistration()
	c := store.Case{Youth: r.Youth, Matched: true, Coordinator: "wij", Rule: "r1", DecidedAt: r.CreatedAt, Age: -1, Municipality: "GM0014"}
	gotC, err := decodeCase(encodeCase(nil, &c))
	if err != nil || !reflect.DeepEqual(gotC, c) {
		t.Fatalf("case: %+v %v", gotC, err)
	}
	i := store.Idempotency{Registration: r.ID, Youth: r.Youth, CreatedAt: r.CreatedAt, Result: []byte{1, 2, 3}}
	gotI, err := decodeIdempotency(encodeIdempotency(nil, &i))
	if err != nil || !reflect.DeepEqual(gotI, i) {
		t.Fatalf("idempotency: %+v %v", gotI, err)
	}
	e := store.Event{Seq: 42, Type: store.EventMatch, At: r.CreatedAt, Recipient: "ggd", Registration: r.ID, Urgent: true,
		Others:      []store.Party{{Registration: store.NewID(), Institution: "school", Kind: store.KindSignal, Contact: r.Contact, Since: r.CreatedAt}},
		Coordinator: "ggd", Rule: "youngest", Subject: "school", Reason: "expired"}
	gotE, err := decodeEvent(encodeEvent(nil, &e))
	if err != nil || !reflect.DeepEqual(gotE, e) {
		t.Fatalf("event: %+v %v", gotE, err)
	}
}

func TestKeyOrder(t *testing.T) {
	// Day and sequence keys sort in time and sequence order.
	if bytes.Compare(recipientKey("ggd", 255), recipientKey("ggd", 256)) >= 0 {
		t.Fatal("outbox keys out of order")
	}
	if prefix, seq, ok := splitRecipientKey(recipientKey("ggd", 77)); !ok || seq != 77 || !bytes.Equal(prefix, recipientPrefix("ggd")) {
		t.Fatal("outbox key does not split")
	}
	p := pseudonym.Pseudonym{KeyID: 9}
	id := store.NewID()
	if bytes.Compare(dayIndexKey(prefixExpiry, 300, p, id), dayIndexKey(prefixExpiry, 301, pseudonym.Pseudonym{}, store.ID{})) >= 0 {
		t.Fatal("day index keys out of order")
	}
	d, gp, gid, ok := parseDayIndexKey(dayIndexKey(prefixPurge, 20000, p, id))
	if !ok || d != 20000 || gp != p || gid != id {
		t.Fatal("day index key does not round-trip")
	}
	// An institution ID that is a prefix of another does not share its events.
	if bytes.HasPrefix(recipientKey("ggdx", 1), recipientPrefix("ggd")) {
		t.Fatal("recipient prefix is ambiguous")
	}
}

func FuzzDecodeRegistration(f *testing.F) {
	r := sampleRegistration()
	f.Add(encodeRegistration(nil, &r))
	f.Add(encodeRegistration(nil, &store.Registration{}))
	rr := withClientRef()
	f.Add(encodeRegistration(nil, &rr))
	ri := withInform(true)
	f.Add(encodeRegistration(nil, &ri))
	f.Add([]byte{})
	f.Add([]byte{regV1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeRegistration(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes.
		if again := encodeRegistration(nil, &got); !bytes.Equal(again, b) {
			t.Fatalf("decode/encode not stable:\n in  %x\n out %x", b, again)
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	e := store.Event{Seq: 1, Type: store.EventMatch, Recipient: "ggd", Others: []store.Party{{Institution: "school"}}}
	f.Add(encodeEvent(nil, &e))
	f.Add([]byte{eventV1, 1, 1, 0, 0})
	summary := store.Event{Seq: 2, Type: store.EventSummary, Recipient: "ggd", Others: []store.Party{{Institution: "school"}}, Collapsed: 9}
	f.Add(encodeEvent(nil, &summary))
	overdue := store.Event{Seq: 3, Type: store.EventAgreementOverdue, Recipient: "ggd", Subject: "school", Agreement: 2}
	f.Add(encodeEvent(nil, &overdue))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeEvent(b)
		if err != nil {
			return
		}
		if _, err := decodeEvent(encodeEvent(nil, &got)); err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
	})
}

func TestYouthRecordRoundTrip(t *testing.T) {
	r1, r2 := sampleRegistration(), sampleRegistration()
	r2.Institution = "school"
	for _, y := range []youthRecord{
		{regs: []store.Registration{r1}},
		{hasCase: true, kase: store.Case{Youth: r1.Youth, Matched: true, Coordinator: "ggd", Age: 7}, regs: []store.Registration{r1, r2}},
		{hasCase: true, kase: store.Case{Age: -1}},
	} {
		got, err := decodeYouth(encodeYouth(nil, &y))
		if err != nil || !reflect.DeepEqual(got, y) {
			t.Fatalf("round trip: %+v %v\nwant %+v", got, err, y)
		}
	}
}

func FuzzDecodeYouth(f *testing.F) {
	r := sampleRegistration()
	f.Add(encodeYouth(nil, &youthRecord{hasCase: true, kase: store.Case{Coordinator: "ggd"}, regs: []store.Registration{r}}))
	f.Add(encodeYouth(nil, &youthRecord{}))
	f.Add(encodeYouth(nil, &youthRecord{hasCase: true, kase: sampleCheckedCase()}))
	planned := woken(sampleCheckedCase())
	planned.Plan = &store.Plan{Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), By: "ggd",
		Agreements: []store.Agreement{{N: 1, Institution: "school", Due: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}}}
	f.Add(encodeYouth(nil, &youthRecord{hasCase: true, kase: planned}))
	f.Add(encodeYouth(nil, &youthRecord{hasCase: true, kase: coordinating(woken(sampleCheckedCase()))}))
	f.Add([]byte{youthV1, 0, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeYouth(b)
		if err != nil {
			return
		}
		if again := encodeYouth(nil, &got); !bytes.Equal(again, b) {
			t.Fatalf("decode/encode not stable:\n in  %x\n out %x", b, again)
		}
	})
}

func TestDeliveryRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, d := range []store.Delivery{
		{Seq: 1},
		{Seq: 1 << 40, Attempts: 7, FirstTry: at, NextTry: at.Add(time.Hour), LastError: "smtp_451"},
		{Seq: 3, Delivered: true},
		{Seq: 4, Dead: true, LastError: "http_500"},
	} {
		got, err := decodeDelivery(encodeDelivery(&d))
		if err != nil || !reflect.DeepEqual(got, d) {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, d)
		}
	}
	good := encodeDelivery(&store.Delivery{Seq: 9, LastError: "x"})
	for _, bad := range [][]byte{nil, {9}, good[:len(good)-1], append(append([]byte(nil), good...), 0)} {
		if _, err := decodeDelivery(bad); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("decodeDelivery(%x) = %v", bad, err)
		}
	}
}

func sampleCheckedCase() store.Case {
	r := sampleRegistration()
	c := store.Case{Youth: r.Youth, Matched: true, Coordinator: "wij", Age: 22, Municipality: "GM0014",
		BirthCheck: pseudonym.Pseudonym{KeyID: 7}}
	for i := range c.BirthCheck.Sum {
		c.BirthCheck.Sum[i] = byte(0xa0 + i)
	}
	return c
}

// A case with a birth-date check value is caseV2, one without it caseV1
// (so cases written before check values existed decode as they are), and
// caseV2 is caseV1 plus the value.
func TestCaseVersions(t *testing.T) {
	checked := sampleCheckedCase()
	unchecked := checked
	unchecked.BirthCheck = pseudonym.Pseudonym{}
	for _, tc := range []struct {
		c       store.Case
		version byte
	}{{unchecked, caseV1}, {checked, caseV2}, {woken(checked), caseV3}, {woken(unchecked), caseV3}} {
		b := encodeCase(nil, &tc.c)
		if b[0] != tc.version {
			t.Fatalf("encoded as version %d, want %d", b[0], tc.version)
		}
		got, err := decodeCase(b)
		if err != nil || !reflect.DeepEqual(got, tc.c) {
			t.Fatalf("round trip: %+v %v\nwant %+v", got, err, tc.c)
		}
	}
	v1, v2 := encodeCase(nil, &unchecked), encodeCase(nil, &checked)
	if !bytes.Equal(v1[1:], v2[1:len(v1)]) {
		t.Fatal("caseV2 does not extend caseV1")
	}
	v3 := encodeCase(nil, ptr(woken(checked)))
	if !bytes.Equal(v2[1:], v3[1:len(v2)]) {
		t.Fatal("caseV3 does not extend caseV2")
	}
	zero := append([]byte{caseV2}, v1[1:]...)
	zero = append(zero, make([]byte, 4+pseudonym.Size)...)
	empty3 := append([]byte{caseV3}, v2[1:]...)
	empty3 = append(empty3, 0, 0, 0) // no ends, no notices, no wake time
	for name, b := range map[string][]byte{
		"v2 with a zero check value":  zero,
		"v2 truncated":                v2[:len(v2)-1],
		"v1 with a check value":       append([]byte{caseV1}, v2[1:]...),
		"v3 truncated":                v3[:len(v3)-1],
		"v3 with nothing of v3":       empty3,
		"v3 with a huge notice count": append(append([]byte{caseV3}, v2[1:]...), 0, 0xff, 0xff, 0x03, 0),
	} {
		if _, err := decodeCase(b); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

// A case with a plan is caseV4, which is caseV3 (its additions may be
// empty) plus the plan; a plan without agreements and one with them both
// round-trip, and a truncated or inflated plan is refused.
func TestCasePlanVersion(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	bare := sampleCheckedCase()
	bare.Plan = &store.Plan{Start: day("2026-03-02"), IntendedEnd: day("2026-09-01"), By: "ggd"}
	full := woken(sampleCheckedCase())
	full.Plan = &store.Plan{Start: day("2026-03-02"), IntendedEnd: day("2026-09-01"), By: "ggd",
		Agreements: []store.Agreement{
			{N: 1, Institution: "school", Due: day("2026-04-01"), Done: day("2026-03-20")},
			{N: 2, Institution: "wij", Due: day("2026-04-15"), Overdue: true},
		}}
	for _, c := range []store.Case{bare, full} {
		b := encodeCase(nil, &c)
		if b[0] != caseV4 {
			t.Fatalf("encoded as version %d, want %d", b[0], caseV4)
		}
		got, err := decodeCase(b)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip: %+v %v\nwant %+v", got, err, c)
		}
	}
	v3 := encodeCase(nil, ptr(woken(sampleCheckedCase())))
	v4 := encodeCase(nil, &full)
	if !bytes.Equal(v3[1:], v4[1:len(v3)]) {
		t.Fatal("caseV4 does not extend caseV3")
	}
	for name, b := range map[string][]byte{
		"v4 truncated":                   v4[:len(v4)-1],
		"v4 without a plan":              append([]byte{caseV4}, v3[1:]...),
		"v4 with a huge agreement count": append(append([]byte{caseV4}, v3[1:]...), 1, 1, 0, 0xff, 0xff, 0xff, 0x0f),
		"v4 trailing":                    append(append([]byte(nil), v4...), 0),
	} {
		if _, err := decodeCase(b); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

// An event that names an agreement is eventV3: eventV2 (the count may be
// zero) plus the agreement's number.
func TestEventAgreementVersion(t *testing.T) {
	e := sampleSummaryEvent()
	e.Type, e.Collapsed, e.Agreement = store.EventAgreementOverdue, 0, 3
	b := encodeEvent(nil, &e)
	if b[0] != eventV3 {
		t.Fatalf("encoded as version %d, want %d", b[0], eventV3)
	}
	got, err := decodeEvent(b)
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip: %+v %v\nwant %+v", got, err, e)
	}
	for name, b := range map[string][]byte{
		"v3 truncated":        b[:len(b)-1],
		"v3 with agreement 0": append(append([]byte(nil), b[:len(b)-1]...), 0),
		"v3 trailing":         append(append([]byte(nil), b...), 0),
	} {
		if _, err := decodeEvent(b); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

// woken returns c with what caseV3 adds.
func woken(c store.Case) store.Case {
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	c.Ends = []store.RecentEnd{{Institution: "school", Registration: store.ID{1, 2, 3}, At: at}}
	c.Notices = []store.Notice{{Recipient: "ggd", Since: at, Sent: 10, Held: 2, Urgent: true}}
	c.WakeAt = at.Add(time.Hour)
	return c
}

func ptr[T any](v T) *T { return &v }

func sampleSummaryEvent() store.Event {
	r := sampleRegistration()
	return store.Event{Seq: 43, Type: store.EventSummary, At: r.UpdatedAt, Recipient: "ggd", Registration: r.ID, Urgent: true,
		Others:      []store.Party{{Registration: store.NewID(), Institution: "school", Kind: store.KindSignal, Contact: r.Contact, Since: r.CreatedAt}},
		Coordinator: "ggd", Rule: "youngest", Collapsed: 17}
}

// An event with a Collapsed count (a summary event) is eventV2, one without
// it eventV1 (so events written before summaries existed decode as they are,
// with a count of 0), and eventV2 is eventV1 plus the count.
func TestEventVersions(t *testing.T) {
	summary := sampleSummaryEvent()
	plain := summary
	plain.Type, plain.Collapsed = store.EventMatch, 0
	for _, tc := range []struct {
		e       store.Event
		version byte
	}{{plain, eventV1}, {store.Event{}, eventV1}, {summary, eventV2}} {
		b := encodeEvent(nil, &tc.e)
		if b[0] != tc.version {
			t.Fatalf("encoded as version %d, want %d", b[0], tc.version)
		}
		got, err := decodeEvent(b)
		if err != nil || !reflect.DeepEqual(got, tc.e) {
			t.Fatalf("round trip: %+v %v\nwant %+v", got, err, tc.e)
		}
	}
	// A record as the codec wrote it before summaries existed: version 1,
	// the fields up to Reason, nothing after.
	old := []byte{eventV1, 7, byte(store.EventMatch), 0, 3, 'g', 'g', 'd'}
	old = append(old, make([]byte, store.IDSize)...)
	old = append(old, 1, 0, 0, 0, 0, 0)
	got, err := decodeEvent(old)
	if err != nil || got.Seq != 7 || got.Type != store.EventMatch || got.Recipient != "ggd" || !got.Urgent || got.Collapsed != 0 {
		t.Fatalf("an event written before summaries: %+v %v", got, err)
	}
	v1, v2 := encodeEvent(nil, &plain), encodeEvent(nil, &summary)
	v1[1+uvarintLen(plain.Seq)] = byte(store.EventSummary) // the same but for the count
	if !bytes.Equal(v1[1:], v2[1:len(v1)]) {
		t.Fatal("eventV2 does not extend eventV1")
	}
	zero := append([]byte{eventV2}, v1[1:]...)
	zero = append(zero, 0)
	for name, b := range map[string][]byte{
		"v2 with a count of 0": zero,
		"v2 truncated":         v2[:len(v2)-1],
		"v2 without a count":   append([]byte{eventV2}, v1[1:]...),
		"v1 with a count":      append([]byte{eventV1}, v2[1:]...),
		"v2 count too large":   binary.AppendVarint(append([]byte{eventV2}, v1[1:]...), 1<<40),
	} {
		if _, err := decodeEvent(b); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestAuditRoundTrip(t *testing.T) {
	full := store.AuditEntry{At: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC), Institution: "ggd", Credential: "token:7f3a",
		Verb: store.AuditSubjectAccess, Registration: store.NewID(), Youth: pseudonym.Pseudonym{KeyID: 9, Sum: [32]byte{1, 2, 3}}, Outcome: "not_involved"}
	for _, e := range []store.AuditEntry{full, {At: full.At, Verb: store.AuditKeyRotate, Outcome: "ok"}} {
		got, err := decodeAudit(encodeAudit(nil, &e))
		if err != nil || got != e {
			t.Fatalf("round trip: %+v %v, want %+v", got, err, e)
		}
	}
	good := encodeAudit(nil, &full)
	for name, b := range map[string][]byte{
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte(nil), good...), 0),
		"version 2":      append([]byte{2}, good[1:]...),
		"unknown verb":   func() []byte { e := full; e.Verb = 99; return encodeAudit(nil, &e) }(),
		"empty":          nil,
		"only a version": {auditV1},
	} {
		if _, err := decodeAudit(b); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// coordinating returns c with what caseV4 adds.
func coordinating(c store.Case) store.Case {
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	c.AcceptDue = at.Add(72 * time.Hour)
	c.Excluded = []string{"ggd", "wij"}
	c.HandoverTo, c.HandoverAt = "accare", at
	c.Escalation = []store.EscalationStep{
		{Step: "own-management", By: "wij", At: at, Due: at.Add(48 * time.Hour), Overdue: true},
		{Step: "decision", By: "gemeente", At: at.Add(time.Hour), Decided: "ggd"},
	}
	return c
}

// planned returns c with a plan.
func planned(c store.Case) store.Case {
	c.Plan = &store.Plan{Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), IntendedEnd: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), By: "ggd",
		Agreements: []store.Agreement{{N: 1, Institution: "school", Due: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Overdue: true}}}
	return c
}

// A case with coordination state is caseV5, which extends caseV3 (its
// additions empty if the case has none) with the plan, if any, and the
// coordination state; the older versions still decode, a case with a plan
// and no coordination state stays caseV4, and a caseV5 without
// coordination state is refused, so each case has one encoding.
func TestCaseV5(t *testing.T) {
	checked := sampleCheckedCase()
	for _, c := range []store.Case{coordinating(checked), coordinating(woken(checked)), planned(coordinating(checked)),
		{Youth: checked.Youth, Age: -1, AcceptedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}} {
		b := encodeCase(nil, &c)
		if b[0] != caseV5 {
			t.Fatalf("encoded as version %d, want %d", b[0], caseV5)
		}
		got, err := decodeCase(b)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip: %+v %v\nwant %+v", got, err, c)
		}
	}
	// Cases of the older versions keep their encoding and decode as before.
	for c, want := range map[*store.Case]byte{ptr(checked): caseV2, ptr(woken(checked)): caseV3, ptr(planned(woken(checked))): caseV4} {
		if b := encodeCase(nil, c); b[0] != want {
			t.Fatalf("encoded as version %d, want %d", b[0], want)
		}
	}
	v3 := encodeCase(nil, ptr(woken(checked)))
	v5 := encodeCase(nil, ptr(coordinating(woken(checked))))
	if !bytes.Equal(v3[1:], v5[1:len(v3)]) {
		t.Fatal("caseV5 does not extend caseV3")
	}
	v4 := encodeCase(nil, ptr(planned(woken(checked))))
	v5p := encodeCase(nil, ptr(planned(coordinating(woken(checked)))))
	if !bytes.Equal(v4[len(v3):], v5p[len(v3)+1:len(v4)+1]) {
		t.Fatal("caseV5 does not hold the plan as caseV4 does")
	}
	empty5 := append([]byte{caseV5}, v3[1:]...)
	empty5 = append(empty5, 0, 0, 0, 0, 0, 0, 0) // no plan, nothing of version 5
	for name, b := range map[string][]byte{
		"v5 truncated":                   v5[:len(v5)-1],
		"v5 with trailing bytes":         append(append([]byte(nil), v5...), 0),
		"v5 with nothing of v5":          empty5,
		"v5 with a huge exclusion count": append(append([]byte{caseV5}, v3[1:]...), 0, 0, 0, 0xff, 0xff, 0x03),
		"an unknown version":             append([]byte{caseV5 + 1}, v5[1:]...),
	} {
		if _, err := decodeCase(b); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

// encodeYouthNested is encodeYouth as it was written first: the case and
// each registration encoded in a buffer of their own, then copied in.
func encodeYouthNested(y *youthRecord) []byte {
	e := enc{}
	e.byte(youthV1)
	e.bool(y.hasCase)
	if y.hasCase {
		e.bytes(encodeCase(nil, &y.kase))
	}
	e.uvarint(uint64(len(y.regs)))
	for i := range y.regs {
		e.bytes(encodeRegistration(nil, &y.regs[i]))
	}
	return e.b
}

// TestYouthRecordInPlace: encodeYouth, which encodes in place, writes the
// same bytes as the nested encoding, behind bytes already in dst, for
// records whose parts are shorter and longer than 127 bytes (a one- and a
// two-byte length).
func TestYouthRecordInPlace(t *testing.T) {
	r1, r2 := sampleRegistration(), sampleRegistration()
	r2.Institution = "school"
	short := store.Registration{ID: r1.ID, Youth: r1.Youth, Institution: "a"}
	planned := woken(sampleCheckedCase())
	planned.Plan = &store.Plan{Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), By: "ggd",
		Agreements: []store.Agreement{{N: 1, Institution: "school", Due: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}}}
	for i, y := range []youthRecord{
		{},
		{regs: []store.Registration{short}},
		{regs: []store.Registration{r1}},
		{hasCase: true, kase: store.Case{Age: -1}},
		{hasCase: true, kase: planned, regs: []store.Registration{r1, short, r2}},
		{hasCase: true, kase: coordinating(woken(sampleCheckedCase())), regs: []store.Registration{r2}},
	} {
		want := encodeYouthNested(&y)
		if got := encodeYouth(nil, &y); !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n in place %x\n nested   %x", i, got, want)
		}
		prefix := []byte("before")
		if got := encodeYouth(slices.Clip(prefix), &y); !bytes.Equal(got, append(prefix, want...)) {
			t.Fatalf("record %d behind other bytes:\n got  %x\n want %x%x", i, got, prefix, want)
		}
	}
}
