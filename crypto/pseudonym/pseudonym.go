// Package pseudonym computes the keyed-hash pseudonyms under which vindex
// knows a youth.
//
// A pseudonym is the 32-byte output of HMAC-SHA256, computed through a Tink
// PRF set, over an unambiguous, versioned, domain-separated input:
//
//	"vindex:v1:" + domain + ":" + value      e.g. "vindex:v1:youth-bsn:111222333"
//
// tagged with the Tink key ID of the key that made it. The same BSN gives the
// same pseudonym under the same key, and nothing about the BSN can be learnt
// from a pseudonym without the key. The domain keeps pseudonyms of different
// kinds of value (a youth's BSN, a parent's BSN, a home address) apart,
// and the version lets the recipe change without ambiguity. The recipe is
// public: testdata/vectors/README.md shows how to recompute every
// known-answer vector with any HMAC-SHA256 tool.
//
// # Key management
//
// Keys exist only inside Tink keyset handles. At rest a keyset is stored only
// wrapped by a key-encryption key that never leaves the KMS (see
// crypto/keys); this package never reads or writes key material.
//
// Rotation: a [Set] holds the pseudonym under the primary key and under every
// other enabled key, so that records made under an older key are still found
// after a new key became primary. Whoever writes a record migrates it to the
// primary key's pseudonym. A key is retired (disabled, later deleted) only
// when no live record depends on it any more; from then on it is no longer
// computed.
//
// # Never logged
//
// Neither the value (a BSN) nor the pseudonym bytes are printed: Pseudonym's
// String, GoString, Format, MarshalJSON and LogValue show only the key ID,
// and errors never quote the input.
package pseudonym

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"

	"github.com/vindex-nl/vindex/identity"
)

// Size is the size of a pseudonym in bytes.
const Size = 32

// Pseudonym is a keyed hash of an identity, tagged with the Tink key ID that
// made it.
type Pseudonym struct {
	KeyID uint32
	Sum   [Size]byte
}

// IsZero reports whether p is the zero pseudonym.
func (p Pseudonym) IsZero() bool { return p == Pseudonym{} }

// String returns "pseudonym(key N)": the bytes are an identifier too and are
// never printed.
func (p Pseudonym) String() string {
	return "pseudonym(key " + strconv.FormatUint(uint64(p.KeyID), 10) + ")"
}

// GoString is String.
func (p Pseudonym) GoString() string { return p.String() }

// Format prints String for every verb.
func (p Pseudonym) Format(f fmt.State, _ rune) { f.Write([]byte(p.String())) }

// MarshalJSON gives String as a JSON string.
func (p Pseudonym) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(p.String())), nil }

// LogValue gives String.
func (p Pseudonym) LogValue() slog.Value { return slog.StringValue(p.String()) }

// Domain separates the kinds of value that are pseudonymised.
type Domain string

// DomainYouthBSN is the domain of a youth's BSN.
const DomainYouthBSN Domain = "youth-bsn"

// DomainYouthBirthDate is the domain of a youth's birth-date check value:
// its value is the youth's BSN, a colon and the birth date as YYYY-MM-DD
// ("111222333:2010-11-23"), so that one birth date gives each youth its own
// value and the value says nothing without the key.
const DomainYouthBirthDate Domain = "youth-birth-date"

// DomainYouthAudit is the domain of the youth reference in the audit log:
// its value is the youth's BSN. It cannot be joined with the store's
// pseudonyms (DomainYouthBSN) without the key.
const DomainYouthAudit Domain = "youth-audit"

// DomainYouthElement is the domain of a youth's blind-mode element (the
// 32 bytes k·H(x) a client computes with the key holders, crypto/oprf): in
// a blind deployment the index's pseudonym of a youth is this layer over
// the element, so that a key holder with a copy of the store cannot test
// BSNs either.
const DomainYouthElement Domain = "youth-element"

// DomainYouthElementAudit is the domain of the audit log's youth reference
// in a blind deployment: its value is the element.
const DomainYouthElementAudit Domain = "youth-element-audit"

// DomainParentBSN is the domain of a youth's parent's or guardian's BSN,
// the key of a family relation (see [Pseudonymiser.Parent]). A parent may
// be a registered youth too (a parent of 19): the domain keeps the two
// pseudonyms of one BSN apart, so a parent's relation cannot be joined
// with the parent's own registrations without the key.
const DomainParentBSN Domain = "parent-bsn"

// DomainHomeAddress is the domain of a youth's home address, the key of an
// address relation: its value is the normalised address as
// identity.Address.RevealKey gives it ("1234AB:12:A").
const DomainHomeAddress Domain = "home-address"

// DomainParentElement is the domain of a parent's blind-mode element
// (the client blinds the parent's BSN in a domain of its own,
// crypto/oprf.ParentInput): in a blind deployment the key of a parent
// relation is this layer over the element.
const DomainParentElement Domain = "parent-element"

// DomainAddressElement is the domain of a home address's blind-mode
// element (crypto/oprf.AddressInput): in a blind deployment the key of an
// address relation is this layer over the element.
const DomainAddressElement Domain = "address-element"

// Set is one value's pseudonyms under every enabled key.
type Set struct {
	// Primary is the pseudonym under the primary key: new records are
	// written under it.
	Primary Pseudonym
	// All holds Primary first, then the pseudonyms under the other enabled
	// keys in ascending key ID.
	All []Pseudonym
}

// Errors.
var (
	ErrNoKey  = errors.New("pseudonym: keyset has no enabled primary PRF key")
	ErrDomain = errors.New("pseudonym: domain must be 1 to 64 characters of a-z, 0-9 and -")
	ErrValue  = errors.New("pseudonym: empty value")
)

// Pseudonymiser computes pseudonyms with the keys of one PRF keyset. It is
// safe for concurrent use.
type Pseudonymiser struct {
	primary uint32
	ids     []uint32 // primary first, then ascending
	prfs    map[uint32]prf.PRF
}

// New returns a Pseudonymiser for a keyset of HMAC-SHA256 PRF keys.
func New(h *keyset.Handle) (*Pseudonymiser, error) {
	if h == nil {
		return nil, ErrNoKey
	}
	set, err := prf.NewPRFSet(h)
	if err != nil {
		return nil, fmt.Errorf("pseudonym: not a PRF keyset: %w", err)
	}
	if _, ok := set.PRFs[set.PrimaryID]; !ok {
		return nil, ErrNoKey
	}
	p := &Pseudonymiser{primary: set.PrimaryID, prfs: set.PRFs}
	for id := range set.PRFs {
		if id != set.PrimaryID {
			p.ids = append(p.ids, id)
		}
	}
	slices.Sort(p.ids)
	p.ids = append([]uint32{set.PrimaryID}, p.ids...)
	// Refuse a PRF that is not 32 bytes of HMAC-SHA256 output.
	for _, id := range p.ids {
		if _, err := p.prfs[id].ComputePRF([]byte("vindex:v1:self-test:"), Size); err != nil {
			return nil, fmt.Errorf("pseudonym: key %d cannot make %d-byte pseudonyms: %w", id, Size, err)
		}
	}
	return p, nil
}

// PrimaryKeyID returns the primary key's ID.
func (p *Pseudonymiser) PrimaryKeyID() uint32 { return p.primary }

// KeyIDs returns the enabled keys' IDs, primary first.
func (p *Pseudonymiser) KeyIDs() []uint32 { return slices.Clone(p.ids) }

// Youth returns a youth's pseudonyms, in the domain DomainYouthBSN.
func (p *Pseudonymiser) Youth(bsn identity.BSN) (Set, error) {
	if bsn.IsZero() {
		return Set{}, ErrValue
	}
	var buf [64]byte
	in := append(append(buf[:0], "vindex:v1:youth-bsn:"...), bsn.RevealDigits()...)
	return p.compute(in)
}

// Parent returns the pseudonyms of a parent's BSN, in the domain
// DomainParentBSN: never equal to the same BSN's pseudonyms as a youth.
func (p *Pseudonymiser) Parent(bsn identity.BSN) (Set, error) {
	if bsn.IsZero() {
		return Set{}, ErrValue
	}
	var buf [64]byte
	in := append(append(buf[:0], "vindex:v1:parent-bsn:"...), bsn.RevealDigits()...)
	return p.compute(in)
}

// Address returns the pseudonyms of a home address, in the domain
// DomainHomeAddress.
func (p *Pseudonymiser) Address(a identity.Address) (Set, error) {
	if a.IsZero() {
		return Set{}, ErrValue
	}
	return p.Of(DomainHomeAddress, []byte(a.RevealKey()))
}

// Of returns the pseudonyms of value in domain d.
func (p *Pseudonymiser) Of(d Domain, value []byte) (Set, error) {
	if !validDomain(d) {
		return Set{}, ErrDomain
	}
	if len(value) == 0 {
		return Set{}, ErrValue
	}
	in := make([]byte, 0, len("vindex:v1::")+len(d)+len(value))
	in = append(in, "vindex:v1:"...)
	in = append(in, d...)
	in = append(in, ':')
	in = append(in, value...)
	return p.compute(in)
}

func validDomain(d Domain) bool {
	if len(d) == 0 || len(d) > 64 {
		return false
	}
	for _, c := range []byte(d) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (p *Pseudonymiser) compute(in []byte) (Set, error) {
	s := Set{All: make([]Pseudonym, len(p.ids))}
	for i, id := range p.ids {
		out, err := p.prfs[id].ComputePRF(in, Size)
		if err != nil {
			return Set{}, fmt.Errorf("pseudonym: key %d: %w", id, err)
		}
		s.All[i].KeyID = id
		copy(s.All[i].Sum[:], out)
	}
	s.Primary = s.All[0]
	return s, nil
}
