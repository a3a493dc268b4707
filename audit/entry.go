package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// Sentinel errors of the entry encoding.
var (
	// ErrEntry reports an entry that cannot be encoded: one that
	// store.AuditEntry.CheckContent refuses (a missing or over-long field,
	// a byte outside the codes' alphabet, an unknown verb, a time out of
	// range).
	ErrEntry = errors.New("audit: invalid entry")
	// ErrEncoding reports bytes that are not the canonical encoding of an
	// entry: an unknown version, a wrong length, unknown flags, a field
	// out of range, trailing bytes.
	ErrEncoding = errors.New("audit: malformed entry encoding")
)

// Sizes of an entry's fixed-length references: a registration ID, and a
// youth reference (a key ID and a 32-byte sum).
const (
	RegistrationSize = store.IDSize
	YouthSize        = 4 + pseudonym.Size
)

// MaxEntrySize is the largest encoded entry.
const MaxEntrySize = 1 + 8 + 1 + 1 + 3 + store.MaxAuditInstitution + store.MaxAuditCredential + store.MaxAuditOutcome +
	RegistrationSize + YouthSize

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
	Extract       = store.AuditExtract       // the operator extracted a youth's entries
	Gap           = store.AuditGap           // a number a crash left unused (no call was answered with it)
	RetentionCut  = store.AuditRetentionCut  // a retention cut, recorded before it is made
	Plan          = store.AuditPlan          // that a case has a plan, recorded by its coordinator
	Agreement     = store.AuditAgreement     // an agreement of a case's plan recorded
	AgreementDone = store.AuditAgreementDone // an agreement recorded as done
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

// Entry is one entry of the audit log: the store's (store.AuditEntry),
// so that the store keeps, checks and numbers what this package encodes and
// hashes. See the package doc for what it holds and never holds. Its Seq
// is not encoded: an entry's number is its place in the tree (Seq−1 is its
// leaf index).
type Entry = store.AuditEntry

// The flags byte says which optional references follow.
const (
	flagRegistration byte = 1 << iota
	flagYouth
	knownFlags = flagRegistration | flagYouth
)

// MarshalEntry returns e's canonical encoding, the leaf of the tree:
//
//	version  1 byte (1)
//	time     8 bytes, big-endian Unix nanoseconds (signed)
//	verb     1 byte
//	flags    1 byte: 1 = registration follows, 2 = youth follows
//	lengths  3 bytes: institution, credential, outcome
//	codes    institution, credential, outcome
//	         16 bytes registration, if flagged
//	         4 bytes youth key ID (big-endian) and 32 bytes youth sum, if flagged
//
// e's number (Seq) is not part of it.
func MarshalEntry(e Entry) ([]byte, error) {
	return AppendEntry(make([]byte, 0, MaxEntrySize), e)
}

// AppendEntry appends e's canonical encoding (see MarshalEntry) to b.
func AppendEntry(b []byte, e Entry) ([]byte, error) {
	if err := e.CheckContent(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEntry, err)
	}
	b = append(b, version)
	b = binary.BigEndian.AppendUint64(b, uint64(e.At.UnixNano()))
	var flags byte
	if e.Registration != (store.ID{}) {
		flags |= flagRegistration
	}
	if !e.Youth.IsZero() {
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
		b = binary.BigEndian.AppendUint32(b, e.Youth.KeyID)
		b = append(b, e.Youth.Sum[:]...)
	}
	return b, nil
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
		At:   time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))).UTC(),
		Verb: Verb(b[9]),
	}
	rest := b[head:]
	e.Institution, rest = string(rest[:ni]), rest[ni:]
	e.Credential, rest = string(rest[:nc]), rest[nc:]
	e.Outcome, rest = string(rest[:no]), rest[no:]
	if flags&flagRegistration != 0 {
		rest = rest[copy(e.Registration[:], rest):]
		if e.Registration == (store.ID{}) {
			return Entry{}, fmt.Errorf("%w: registration flagged but zero", ErrEncoding)
		}
	}
	if flags&flagYouth != 0 {
		e.Youth.KeyID = binary.BigEndian.Uint32(rest)
		copy(e.Youth.Sum[:], rest[4:])
		if e.Youth.IsZero() {
			return Entry{}, fmt.Errorf("%w: youth flagged but zero", ErrEncoding)
		}
	}
	if err := e.CheckContent(); err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrEncoding, err)
	}
	return e, nil
}
