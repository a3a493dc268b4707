package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// Sentinel errors of the entry encoding.
var (
	// ErrEntry reports an entry that cannot be encoded: a missing or
	// over-long field, a character outside the codes' alphabet, an unknown
	// verb or a time outside the encodable range.
	ErrEntry = errors.New("audit: invalid entry")
	// ErrEncoding reports bytes that are not the canonical encoding of an
	// entry: an unknown version, a wrong length, unknown flags, a field
	// out of range, trailing bytes.
	ErrEncoding = errors.New("audit: malformed entry encoding")
)

// Length limits of an entry's codes, in bytes.
const (
	MaxInstitution = 64
	MaxCredential  = 128
	MaxOutcome     = 32
)

// Sizes of an entry's fixed-length references.
const (
	RegistrationSize = 16
	YouthSize        = 32
)

// MaxEntrySize is the largest encoded entry.
const MaxEntrySize = 1 + 8 + 1 + 1 + 3 + MaxInstitution + MaxCredential + MaxOutcome + RegistrationSize + YouthSize

// version is the first byte of every encoded entry. A later encoding gets
// a new version; decoders keep reading the old ones.
const version byte = 1

// Verb is what an entry records: the store's list of verbs
// (store.AuditVerb), so the log and the store name every access alike.
type Verb = store.AuditVerb

// The verbs: every access to and change of the index.
const (
	Register      = store.AuditRegister      // a new registration
	Refresh       = store.AuditRefresh       // a registration reported again by its institution
	Lookup        = store.AuditLookup        // a look-up (also one answered not_involved)
	End           = store.AuditEnd           // a registration ended by its institution
	Close         = store.AuditClose         // a case closed by its coordinator
	Remove        = store.AuditRemove        // a registration removed (wrong, or after an objection)
	Death         = store.AuditDeath         // a youth's death recorded
	Objection     = store.AuditObjection     // an objection carried out by a municipality
	SubjectAccess = store.AuditSubjectAccess // a subject-access request answered
	Events        = store.AuditEvents        // an institution's events read
	Inform        = store.AuditInform        // that parents or youth were informed, recorded
	Letter        = store.AuditLetter        // an informing letter written
	KeyInit       = store.AuditKeyInit       // a keyset created
	KeyRotate     = store.AuditKeyRotate     // a key added and made primary
	KeyRetire     = store.AuditKeyRetire     // a key disabled or deleted
	KeyRewrap     = store.AuditKeyRewrap     // a keyset wrapped under a new key-encryption key
	Expire        = store.AuditExpire        // registrations ended or destroyed by their term
)

// ParseVerb returns the verb named s (as String writes it).
func ParseVerb(s string) (Verb, error) {
	for v := Verb(1); v.Valid(); v++ {
		if v.String() == s {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown verb %q", ErrEntry, s)
}

// Entry is one record of the audit log. See the package doc for what it
// holds and never holds.
type Entry struct {
	// Time is when the access happened; it is kept to the nanosecond, in
	// UTC. Required, between the years 1678 and 2262.
	Time time.Time
	// Institution is the acting institution's ID (or "operator" for key
	// operations). Required; at most MaxInstitution bytes.
	Institution string
	// Credential names the credential used: a token's hash or a
	// certificate pin, never a secret. Optional; at most MaxCredential bytes.
	Credential string
	// Verb is what was done. Required.
	Verb Verb
	// Registration is the registration's ID; all zero when the verb
	// concerns none.
	Registration [RegistrationSize]byte
	// Youth is the caller's reference for the youth, made under a key
	// domain of its own (never the store's pseudonym); all zero when the
	// verb concerns no single youth.
	Youth [YouthSize]byte
	// Outcome is a short result code ("ok", "not_involved", "forbidden").
	// Required; at most MaxOutcome bytes.
	Outcome string
}

// The flags byte says which optional references follow.
const (
	flagRegistration byte = 1 << iota
	flagYouth
	knownFlags = flagRegistration | flagYouth
)

// MarshalBinary returns e's canonical encoding:
//
//	version  1 byte (1)
//	time     8 bytes, big-endian Unix nanoseconds (signed)
//	verb     1 byte
//	flags    1 byte: 1 = registration follows, 2 = youth follows
//	lengths  3 bytes: institution, credential, outcome
//	codes    institution, credential, outcome
//	         16 bytes registration, if flagged
//	         32 bytes youth, if flagged
func (e Entry) MarshalBinary() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, MaxEntrySize)
	b = append(b, version)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	var flags byte
	if e.Registration != ([RegistrationSize]byte{}) {
		flags |= flagRegistration
	}
	if e.Youth != ([YouthSize]byte{}) {
		flags |= flagYouth
	}
	b = append(b, byte(e.Verb), flags, byte(len(e.Institution)), byte(len(e.Credential)), byte(len(e.Outcome)))
	b = append(b, e.Institution...)
	b = append(b, e.Credential...)
	b = append(b, e.Outcome...)
	if flags&flagRegistration != 0 {
		b = append(b, e.Registration[:]...)
	}
	if flags&flagYouth != 0 {
		b = append(b, e.Youth[:]...)
	}
	return b, nil
}

// Earliest and latest times an entry can hold (Unix nanoseconds in int64).
var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

func (e Entry) check() error {
	switch {
	case e.Time.Before(minTime) || e.Time.After(maxTime) || e.Time.IsZero():
		return fmt.Errorf("%w: time %s out of range", ErrEntry, e.Time.UTC().Format(time.RFC3339))
	case !e.Verb.Valid():
		return fmt.Errorf("%w: unknown verb %d", ErrEntry, e.Verb)
	}
	if err := checkCode("institution", e.Institution, 1, MaxInstitution); err != nil {
		return err
	}
	if err := checkCode("credential", e.Credential, 0, MaxCredential); err != nil {
		return err
	}
	return checkCode("outcome", e.Outcome, 1, MaxOutcome)
}

// checkCode checks that s is lo to hi bytes of the codes' alphabet.
func checkCode(field, s string, lo, hi int) error {
	if len(s) < lo || len(s) > hi {
		return fmt.Errorf("%w: %s is %d bytes (%d to %d)", ErrEntry, field, len(s), lo, hi)
	}
	for i := 0; i < len(s); i++ {
		if !codeByte(s[i]) {
			return fmt.Errorf("%w: %s holds a byte outside [A-Za-z0-9._:-] at %d", ErrEntry, field, i)
		}
	}
	return nil
}

func codeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == ':' || c == '-'
}

// UnmarshalEntry decodes b, which must be exactly one canonical encoding
// of a valid entry (see Entry.MarshalBinary); anything else is ErrEncoding.
func UnmarshalEntry(b []byte) (Entry, error) {
	const head = 1 + 8 + 1 + 1 + 3
	if len(b) < head {
		return Entry{}, fmt.Errorf("%w: %d bytes", ErrEncoding, len(b))
	}
	if b[0] != version {
		return Entry{}, fmt.Errorf("%w: version %d", ErrEncoding, b[0])
	}
	flags := b[10]
	if flags&^knownFlags != 0 {
		return Entry{}, fmt.Errorf("%w: unknown flags %#x", ErrEncoding, flags)
	}
	ni, nc, no := int(b[11]), int(b[12]), int(b[13])
	want := head + ni + nc + no
	if flags&flagRegistration != 0 {
		want += RegistrationSize
	}
	if flags&flagYouth != 0 {
		want += YouthSize
	}
	if len(b) != want {
		return Entry{}, fmt.Errorf("%w: %d bytes, want %d", ErrEncoding, len(b), want)
	}
	e := Entry{
		Time: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))).UTC(),
		Verb: Verb(b[9]),
	}
	rest := b[head:]
	e.Institution, rest = string(rest[:ni]), rest[ni:]
	e.Credential, rest = string(rest[:nc]), rest[nc:]
	e.Outcome, rest = string(rest[:no]), rest[no:]
	if flags&flagRegistration != 0 {
		rest = rest[copy(e.Registration[:], rest):]
		if e.Registration == ([RegistrationSize]byte{}) {
			return Entry{}, fmt.Errorf("%w: registration flagged but zero", ErrEncoding)
		}
	}
	if flags&flagYouth != 0 {
		copy(e.Youth[:], rest)
		if e.Youth == ([YouthSize]byte{}) {
			return Entry{}, fmt.Errorf("%w: youth flagged but zero", ErrEncoding)
		}
	}
	if err := e.check(); err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrEncoding, err)
	}
	return e, nil
}
