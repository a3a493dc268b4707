// Package pseudonym computes the keyed-hash pseudonyms under which vindex
// knows a youth.
//
// A pseudonym is the 32-byte output of HMAC-SHA256 under a key of a Tink PRF
// keyset, over an unambiguous, versioned, domain-separated input:
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
// Keys are managed as Tink keysets of HMAC-SHA256 PRF keys: Tink parses,
// creates, rotates and (through crypto/keys) wraps them. At rest a keyset is
// stored only wrapped by a key-encryption key that never leaves the KMS (see
// crypto/keys); this package never reads or writes a keyset, and never
// writes key material anywhere. Only HMAC-SHA256 PRF keys are accepted:
// [New] refuses a keyset with an enabled key of any other kind or hash
// ([ErrKeyType]).
//
// Rotation: a [Set] holds the pseudonym under the primary key and under every
// other enabled key, so that records made under an older key are still found
// after a new key became primary. Whoever writes a record migrates it to the
// primary key's pseudonym. A key is retired (disabled, later deleted) only
// when no live record depends on it any more; from then on it is no longer
// computed.
//
// # Key material in memory
//
// [New] takes each enabled key's bytes out of the keyset handle once, through
// Tink's hmacprf.Key.KeyBytes with an insecuresecretdataaccess token (so the
// access shows up in a search for that package), and from then on computes
// HMAC-SHA256 with the standard library's crypto/hmac and crypto/sha256,
// without Tink's per-call cost. The output is byte for byte what Tink's PRF
// gives: Tink adds no output prefix to PRF keys, and a pseudonym is the whole
// 32-byte SHA-256 output.
//
// A [Pseudonymiser] holds, per enabled key, only the two SHA-256 states after
// the key's inner and outer padded blocks (FIPS 198-1, section 6), in one
// template and in a pool of copies of it. It keeps no copy of the key bytes
// and zeroes the copy Tink hands it. The pool keeps no input either: a copy
// is reset and the input buffer cleared before they go back. The states compute the key's pseudonyms
// just as the key does, so they are as secret as the key: they live only in
// memory, never on disk, and never in a log, error or panic. Go does not
// promise to wipe memory the runtime has freed, so this is the care the
// language allows, not a defence against a memory dump; the caller's keyset
// handle holds the key bytes in any case. A keyset handle that Tink monitors
// (created with annotations) records one key-export event per enabled key
// in New.
//
// # Never logged
//
// This package writes no log. Neither the value (a BSN), nor the pseudonym
// bytes, nor key material are printed: Pseudonym's String, GoString, Format,
// MarshalJSON and LogValue show only the key ID, and errors never quote the
// input or a byte of a key (they name the key ID and the kind of key).
package pseudonym

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"strconv"
	"sync"

	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf/hmacprf"

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
	ErrNoKey   = errors.New("pseudonym: keyset has no enabled primary PRF key")
	ErrKeyType = errors.New("pseudonym: not an HMAC-SHA256 PRF key")
	ErrDomain  = errors.New("pseudonym: domain must be 1 to 64 characters of a-z, 0-9 and -")
	ErrValue   = errors.New("pseudonym: empty value")
)

// Pseudonymiser computes pseudonyms with the keys of one PRF keyset. It is
// safe for concurrent use.
type Pseudonymiser struct {
	primary uint32
	ids     []uint32 // primary first, then ascending
	// macs holds, in the order of ids, each key's HMAC-SHA256 with its inner
	// and outer states precomputed (crypto/hmac does so on its first Reset).
	// They are only cloned, never written to.
	macs []hash.Cloner
	pool sync.Pool // of *scratch
}

// scratch is what one computation needs: a clone of every key's HMAC, reset
// and ready for input, and a buffer for the input. Taken from a pool, it
// makes a pseudonym cost the SHA-256 compressions of the input and of the
// inner sum, with no allocation but the Set's. It goes back to the pool
// holding no input: the HMACs are reset and the buffer cleared.
type scratch struct {
	macs []hash.Hash
	in   []byte
}

// maxPooledInput is the largest input buffer kept in the pool.
const maxPooledInput = 256

func (p *Pseudonymiser) newScratch() any {
	s := &scratch{macs: make([]hash.Hash, len(p.macs)), in: make([]byte, 0, 64)}
	for i, t := range p.macs {
		c, err := t.Clone()
		if err != nil {
			panic("pseudonym: HMAC-SHA256 clone failed") // New checked that it does not
		}
		s.macs[i] = c.(hash.Hash)
	}
	return s
}

// newHMAC returns an HMAC-SHA256 under raw with its states precomputed. It
// zeroes raw.
func newHMAC(raw []byte) (hash.Cloner, error) {
	defer clear(raw)
	mac := hmac.New(sha256.New, raw)
	mac.Reset() // computes the two states and drops the padded key
	c, ok := mac.(hash.Cloner)
	if !ok {
		return nil, fmt.Errorf("pseudonym: this build's HMAC-SHA256 cannot be cloned")
	}
	if _, err := c.Clone(); err != nil {
		return nil, fmt.Errorf("pseudonym: this build's HMAC-SHA256 cannot be cloned: %w", err)
	}
	return c, nil
}

// New returns a Pseudonymiser for a keyset of HMAC-SHA256 PRF keys. It
// refuses a keyset with an enabled key of another kind or hash
// ([ErrKeyType]) and one without an enabled primary key ([ErrNoKey]).
// Disabled and destroyed keys are ignored.
func New(h *keyset.Handle) (*Pseudonymiser, error) {
	if h == nil || h.Len() == 0 {
		return nil, ErrNoKey
	}
	type entry struct {
		id      uint32
		primary bool
		mac     hash.Cloner
	}
	var entries []entry
	for i := range h.Len() {
		e, err := h.Entry(i)
		if err != nil {
			return nil, fmt.Errorf("pseudonym: keyset entry %d: %w", i, err)
		}
		if e.KeyStatus() != keyset.Enabled {
			continue
		}
		raw, err := hmacSHA256Key(e)
		if err != nil {
			return nil, err
		}
		mac, err := newHMAC(raw)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{id: e.KeyID(), primary: e.IsPrimary(), mac: mac})
	}
	// Primary first, then ascending key ID.
	slices.SortFunc(entries, func(a, b entry) int {
		if a.primary != b.primary {
			if a.primary {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.id, b.id)
	})
	if len(entries) == 0 || !entries[0].primary {
		return nil, ErrNoKey
	}
	p := &Pseudonymiser{primary: entries[0].id}
	for _, e := range entries {
		p.ids = append(p.ids, e.id)
		p.macs = append(p.macs, e.mac)
	}
	p.pool.New = p.newScratch
	return p, nil
}

// hmacSHA256Key returns a copy of the bytes of an HMAC-SHA256 PRF key, or
// ErrKeyType. The error names the key ID and the kind of key, never a byte
// of it.
func hmacSHA256Key(e *keyset.Entry) ([]byte, error) {
	key := e.Key() // one key-export event where Tink monitors the handle
	k, ok := key.(*hmacprf.Key)
	if !ok {
		return nil, fmt.Errorf("%w: key %d is a %T", ErrKeyType, e.KeyID(), key)
	}
	params, ok := k.Parameters().(*hmacprf.Parameters)
	if !ok {
		return nil, fmt.Errorf("%w: key %d has parameters %T", ErrKeyType, e.KeyID(), k.Parameters())
	}
	if params.HashType() != hmacprf.SHA256 {
		return nil, fmt.Errorf("%w: key %d is HMAC-%v", ErrKeyType, e.KeyID(), params.HashType())
	}
	// Tink refuses keys shorter than 16 bytes and keys whose size differs
	// from their parameters already; checked again because the pseudonyms
	// depend on it.
	if n := k.KeyBytes().Len(); n < 16 || n != params.KeySizeInBytes() {
		return nil, fmt.Errorf("%w: key %d has %d bytes", ErrKeyType, e.KeyID(), n)
	}
	return k.KeyBytes().Data(insecuresecretdataaccess.Token{}), nil
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
	s := p.pool.Get().(*scratch)
	s.in = append(append(s.in[:0], "vindex:v1:youth-bsn:"...), bsn.RevealDigits()...)
	return p.compute(s), nil
}

// Parent returns the pseudonyms of a parent's BSN, in the domain
// DomainParentBSN: never equal to the same BSN's pseudonyms as a youth.
func (p *Pseudonymiser) Parent(bsn identity.BSN) (Set, error) {
	if bsn.IsZero() {
		return Set{}, ErrValue
	}
	s := p.pool.Get().(*scratch)
	s.in = append(append(s.in[:0], "vindex:v1:parent-bsn:"...), bsn.RevealDigits()...)
	return p.compute(s), nil
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
	s := p.pool.Get().(*scratch)
	in := s.in[:0]
	if n := len("vindex:v1::") + len(d) + len(value); n > cap(in) {
		in = make([]byte, 0, n)
	}
	in = append(in, "vindex:v1:"...)
	in = append(in, d...)
	in = append(in, ':')
	in = append(in, value...)
	s.in = in
	return p.compute(s), nil
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

// compute returns the pseudonyms of s.in and puts s back in the pool.
func (p *Pseudonymiser) compute(s *scratch) Set {
	set := Set{All: make([]Pseudonym, len(p.ids))}
	for i, mac := range s.macs {
		set.All[i].KeyID = p.ids[i]
		mac.Write(s.in)
		mac.Sum(set.All[i].Sum[:0])
		mac.Reset()
	}
	set.Primary = set.All[0]
	clear(s.in)
	if cap(s.in) > maxPooledInput {
		s.in = make([]byte, 0, 64)
	}
	p.pool.Put(s)
	return set
}
