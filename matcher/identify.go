package matcher

import (
	"encoding/binary"
	"fmt"
	"log/slog"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
)

// Pseudonymiser computes keyed-hash pseudonyms under every enabled key,
// primary first: a youth's, and those of other values in domains of their
// own (the youth's birth-date check value, the matcher's idempotency keys).
// *pseudonym.Pseudonymiser is one.
type Pseudonymiser interface {
	Youth(bsn identity.BSN) (pseudonym.Set, error)
	Of(d pseudonym.Domain, value []byte) (pseudonym.Set, error)
}

var _ Pseudonymiser = (*pseudonym.Pseudonymiser)(nil)

// Youth refers to one youth: the verbs take it in place of an identity. It
// holds the youth's pseudonyms under every enabled key and, if it was made
// from a clear BSN, that BSN, for the checks of the fields that must not
// quote it and for the birth-date check value only. It never
// prints or logs either: every fmt verb and slog show "Youth(redacted)", and
// it marshals to nothing. The zero Youth refers to no one.
//
// A Youth is made by the matcher that takes it ([Matcher.YouthByBSN]), so
// that its pseudonyms are under that matcher's keys.
type Youth struct {
	set pseudonym.Set
	bsn identity.BSN // zero unless made from a clear BSN
	// audit is the youth's reference in the audit log: its pseudonyms in
	// the domain of its own (pseudonym.DomainYouthAudit); entries are
	// written under the primary key's, and read under every enabled key's.
	audit pseudonym.Set
	// element is the 32 bytes of the element of the current generation
	// (see Layer) of a Youth made from one: what its registrations keep,
	// sealed, for re-keying. Nil for a Youth made from a BSN.
	element []byte
	// previous is set when the element was made under the previous
	// generation's keys and re-keyed on arrival (YouthByElementOf): the
	// report's family elements, made under the same keys, are re-keyed
	// likewise.
	previous bool
}

// YouthByBSN returns the Youth of a clear BSN: its pseudonyms under every
// enabled key of [Config.Pseudonymiser] (crypto/pseudonym). A zero BSN is a
// *FieldError for "bsn" wrapping ErrMissingBSN; a blind matcher
// ([Config.Blind]) refuses every BSN (ErrBSNNotAccepted). The error never
// quotes the BSN.
func (m *Matcher) YouthByBSN(bsn identity.BSN) (Youth, error) {
	if m.blind {
		return Youth{}, fieldErr("bsn", ErrBSNNotAccepted)
	}
	if bsn.IsZero() {
		return Youth{}, fieldErr("bsn", ErrMissingBSN)
	}
	set, err := m.ps.Youth(bsn)
	if err != nil {
		return Youth{}, fmt.Errorf("matcher: pseudonym: %w", err)
	}
	if len(set.All) == 0 {
		return Youth{}, fmt.Errorf("matcher: pseudonym: %w", pseudonym.ErrNoKey)
	}
	ref, err := m.ps.Of(pseudonym.DomainYouthAudit, []byte(bsn.RevealDigits()))
	if err != nil {
		return Youth{}, fmt.Errorf("matcher: pseudonym: %w", err)
	}
	return Youth{set: set, bsn: bsn, audit: ref}, nil
}

// YouthByElement returns the Youth of a blind-mode element (crypto/oprf):
// the element k·H(x) a client system computed from the BSN with the key
// holders, so that the index never sees the BSN. Its pseudonyms are the
// index's own layer over the element (domain youth-element, under every
// enabled key of [Config.Pseudonymiser]), and its audit reference the
// element in a domain of its own. Such a Youth has no clear BSN: its
// reports carry no birth-date check value, and the checks that a field
// does not quote the BSN cannot be made (the client system makes them). A
// zero element is a *FieldError for "youth" wrapping ErrMissingYouth; a
// matcher that is not blind ([Config.Blind]) refuses every element
// (ErrYouthNotAccepted).
func (m *Matcher) YouthByElement(y oprf.Element) (Youth, error) {
	if !m.blind {
		return Youth{}, fieldErr("youth", ErrYouthNotAccepted)
	}
	if y.IsZero() {
		return Youth{}, fieldErr("youth", ErrMissingYouth)
	}
	return m.youthOfElement(y)
}

// Blind reports whether m is a blind deployment's ([Config.Blind]): it
// names youths by their elements, never by BSN.
func (m *Matcher) Blind() bool { return m.blind }

// IsZero reports whether y refers to no one.
func (y Youth) IsZero() bool { return len(y.set.All) == 0 }

// AppendOrder appends to dst a key that is the same for every Youth of one
// youth (made by one matcher) and orders youths as the store keeps them:
// the primary pseudonym, key ID first. Sorting reports by it brings each
// youth's reports together in the store's order, as a bulk load (vindex
// import) needs. It is the pseudonym the store keeps, never the BSN.
func (y Youth) AppendOrder(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, y.set.Primary.KeyID)
	return append(dst, y.set.Primary.Sum[:]...)
}

const youthRedacted = "Youth(redacted)"

// String returns "Youth(redacted)".
func (y Youth) String() string { return youthRedacted }

// Format prints "Youth(redacted)" for every verb.
func (y Youth) Format(f fmt.State, _ rune) { f.Write([]byte(youthRedacted)) }

// LogValue returns "Youth(redacted)".
func (y Youth) LogValue() slog.Value { return slog.StringValue(youthRedacted) }
