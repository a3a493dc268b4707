package audit_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/audit"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

func sampleEntry(i int) audit.Entry {
	e := audit.Entry{
		At:          time.Date(2026, 12, 1, 9, 30, 0, 123456789, time.UTC).Add(time.Duration(i) * time.Second),
		Institution: "school-noord",
		Credential:  "sha256:" + strings.Repeat("ab", 32),
		Verb:        audit.Lookup,
		Outcome:     "ok",
	}
	e.Registration[0], e.Registration[15] = byte(i), 0x7f
	e.Youth.KeyID, e.Youth.Sum[0], e.Youth.Sum[31] = 7, 0x42, byte(i)
	return e
}

func mustMarshal(t testing.TB, e audit.Entry) []byte {
	t.Helper()
	b, err := audit.MarshalEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEntryRoundTrip(t *testing.T) {
	for _, e := range []audit.Entry{
		sampleEntry(1),
		{At: time.Unix(0, 1).In(time.FixedZone("CET", 3600)), Institution: "operator", Verb: audit.KeyRotate, Outcome: "ok"},
		{At: time.Unix(0, -1<<63), Institution: "a", Verb: audit.Expire, Outcome: "destroyed"},
	} {
		b := mustMarshal(t, e)
		got, err := audit.UnmarshalEntry(b)
		if err != nil {
			t.Fatalf("%x: %v", b, err)
		}
		if !got.At.Equal(e.At) || got.At.Location() != time.UTC {
			t.Errorf("time %v, want %v in UTC", got.At, e.At)
		}
		got.At = e.At
		if got != e {
			t.Errorf("got %+v, want %+v", got, e)
		}
		if again := mustMarshal(t, got); !bytes.Equal(again, b) {
			t.Errorf("re-encoding differs: %x, want %x", again, b)
		}
	}
}

// The encoding of version 1, byte by byte: a later change of the encoding
// must keep reading these bytes (and get a new version byte).
func TestEntryEncodingV1(t *testing.T) {
	e := audit.Entry{
		At:          time.Unix(1, 2),
		Institution: "ggd",
		Credential:  "pin",
		Verb:        audit.SubjectAccess,
		Outcome:     "ok",
	}
	e.Youth.KeyID, e.Youth.Sum[31] = 0x01020304, 1
	want := "01" + // version
		"000000003b9aca02" + // 1 s + 2 ns
		"09" + // subject-access
		"02" + // flags: youth follows
		"030302" + // lengths
		hex.EncodeToString([]byte("ggdpinok")) +
		"01020304" + // youth key ID
		strings.Repeat("00", 31) + "01"
	if got := hex.EncodeToString(mustMarshal(t, e)); got != want {
		t.Errorf("encoding\n got %s\nwant %s", got, want)
	}
}

func TestEntryInvalid(t *testing.T) {
	ok := sampleEntry(0)
	for name, mod := range map[string]func(*audit.Entry){
		"zero time":            func(e *audit.Entry) { e.At = time.Time{} },
		"time after 2262":      func(e *audit.Entry) { e.At = time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC) },
		"no verb":              func(e *audit.Entry) { e.Verb = 0 },
		"unknown verb":         func(e *audit.Entry) { e.Verb = 200 },
		"no institution":       func(e *audit.Entry) { e.Institution = "" },
		"long institution":     func(e *audit.Entry) { e.Institution = strings.Repeat("a", store.MaxAuditInstitution+1) },
		"space in institution": func(e *audit.Entry) { e.Institution = "school noord" },
		"free text outcome":    func(e *audit.Entry) { e.Outcome = "looked up Jan, born 1.1.2010" },
		"long credential":      func(e *audit.Entry) { e.Credential = strings.Repeat("a", store.MaxAuditCredential+1) },
		"newline credential":   func(e *audit.Entry) { e.Credential = "a\nb" },
		"no outcome":           func(e *audit.Entry) { e.Outcome = "" },
		"long outcome":         func(e *audit.Entry) { e.Outcome = strings.Repeat("a", store.MaxAuditOutcome+1) },
		"non-ASCII outcome":    func(e *audit.Entry) { e.Outcome = "ok\u00e9" },
	} {
		e := ok
		mod(&e)
		if _, err := audit.MarshalEntry(e); !errors.Is(err, audit.ErrEntry) {
			t.Errorf("%s: err = %v, want ErrEntry", name, err)
		}
	}
	b := mustMarshal(t, audit.Entry{At: time.Unix(1, 0), Institution: strings.Repeat("a", store.MaxAuditInstitution),
		Credential: strings.Repeat("b", store.MaxAuditCredential), Outcome: strings.Repeat("c", store.MaxAuditOutcome),
		Verb: audit.Register, Registration: store.ID{1}, Youth: pseudonym.Pseudonym{KeyID: 1, Sum: [32]byte{1}}})
	if len(b) != audit.MaxEntrySize {
		t.Errorf("largest entry is %d bytes, MaxEntrySize %d", len(b), audit.MaxEntrySize)
	}
}

func TestUnmarshalStrict(t *testing.T) {
	good := mustMarshal(t, sampleEntry(3))
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, b := range map[string][]byte{
		"empty":              nil,
		"short":              good[:10],
		"version 0":          edit(func(b []byte) []byte { b[0] = 0; return b }),
		"version 2":          edit(func(b []byte) []byte { b[0] = 2; return b }),
		"unknown verb":       edit(func(b []byte) []byte { b[9] = 0; return b }),
		"unknown flag":       edit(func(b []byte) []byte { b[10] |= 4; return b }),
		"flag without bytes": edit(func(b []byte) []byte { b[10] &^= 2; return b }),
		"trailing byte":      append(bytes.Clone(good), 0),
		"missing byte":       good[:len(good)-1],
		"length too long":    edit(func(b []byte) []byte { b[11]++; return b }),
		"bad code byte":      edit(func(b []byte) []byte { b[14] = ' '; return b }),
		"zero youth flagged": edit(func(b []byte) []byte { clear(b[len(b)-36:]); return b }),
		"zero registration flagged": edit(func(b []byte) []byte {
			clear(b[len(b)-52 : len(b)-36])
			return b
		}),
	} {
		if _, err := audit.UnmarshalEntry(b); !errors.Is(err, audit.ErrEncoding) {
			t.Errorf("%s: err = %v, want ErrEncoding", name, err)
		}
	}
}

func TestVerbNames(t *testing.T) {
	for v := audit.Verb(1); v.Valid(); v++ {
		got, err := audit.ParseVerb(v.String())
		if err != nil || got != v {
			t.Errorf("ParseVerb(%q) = %v, %v", v.String(), got, err)
		}
	}
	if _, err := audit.ParseVerb("delete"); !errors.Is(err, audit.ErrEntry) {
		t.Errorf("ParseVerb(delete): %v", err)
	}
	if got := audit.Verb(0).String(); got != "audit-verb(0)" {
		t.Errorf("Verb(0) = %q", got)
	}
}
