// Package clientref seals the references institutions give their own
// registrations (a dossier or client number, opaque to vindex), so that the
// store holds them only encrypted.
//
// A reference is sealed with a Tink AEAD from its own keyset, the reference
// keyset, which lives beside the PRF keyset and is wrapped by the same
// key-encryption key (see crypto/keys). The ciphertext is bound to the
// registration and its institution by associated data,
//
//	"vindex:client-ref:v1:" + institution + ":" + registration ID
//
// so a sealed reference copied onto another registration, or read for
// another institution, does not open. Sealing is randomised: two
// registrations with the same reference have unrelated ciphertexts, so the
// store does not show which registrations share one.
//
// # Padding
//
// The ciphertext's length must not tell a reference's length, so the
// plaintext sealed is always PaddedLen bytes:
//
//	0x00, the reference's length (1 to MaxLen), the reference, zero bytes
//
// References sealed before padding was introduced hold the bare reference
// as plaintext. Those still open: a reference never begins with a zero
// byte (Valid allows none), so a plaintext that does is padded, and one
// that does not is an older bare reference. A padded plaintext that is not
// exactly as above does not open. Such older references are sealed anew,
// padded, when their registration is next reported.
//
// The keyset's keys are XAES-256-GCM keys (192-bit nonces, drawn at random
// per message: no practical limit on how many references one key seals).
// Rotation adds a key and makes it primary; references sealed under an
// older key still open, and are sealed anew under the primary when their
// registration is next reported.
//
// # Never logged
//
// Neither a reference nor key material is printed by this package; errors
// name no reference, no ciphertext and no key byte.
package clientref

import (
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// MaxLen is the longest reference in bytes.
const MaxLen = 64

// PaddedLen is the length of every padded plaintext: a zero byte, a length
// byte and MaxLen bytes of reference and zero fill.
const PaddedLen = 2 + MaxLen

// Errors.
var (
	// ErrInvalid: a reference must be 1 to MaxLen characters of A-Z, a-z,
	// 0-9 and - . _ / : #, with at least one digit.
	ErrInvalid = errors.New("clientref: a client reference must be 1 to 64 characters of A-Z, a-z, 0-9 and - . _ / : #, with at least one digit")
	// ErrOpen: a sealed reference did not open: another registration's,
	// tampered with, or sealed under a key the keyset no longer holds.
	ErrOpen = errors.New("clientref: cannot open the sealed client reference")
	// ErrNoKey: the keyset holds no usable AEAD key.
	ErrNoKey = errors.New("clientref: keyset has no enabled primary AEAD key")
)

// Valid reports whether ref is an acceptable reference: 1 to MaxLen
// characters of A-Z, a-z, 0-9 and - . _ / : #, with at least one digit.
// The form is a dossier number's: it leaves no room for a sentence about
// the youth, and a name alone ("Jansen", "J. Jansen") is refused.
func Valid(ref string) bool {
	if len(ref) == 0 || len(ref) > MaxLen {
		return false
	}
	digit := false
	for i := 0; i < len(ref); i++ {
		switch c := ref[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', strings.IndexByte("-._/:#", c) >= 0:
		default:
			return false
		}
	}
	return digit
}

// Sealer seals and opens references with the keys of one reference keyset.
// It is safe for concurrent use.
type Sealer struct {
	aead    tink.AEAD
	primary uint32
}

// New returns a Sealer for a reference keyset (see keys.CreateRefKeyset).
func New(h *keyset.Handle) (*Sealer, error) {
	if h == nil {
		return nil, ErrNoKey
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKey, err)
	}
	return &Sealer{aead: a, primary: h.KeysetInfo().GetPrimaryKeyId()}, nil
}

// PrimaryKeyID returns the ID of the key that seals: what
// store.RefKeyID reads from what it sealed.
func (s *Sealer) PrimaryKeyID() uint32 { return s.primary }

// RegistrationID is a registration's identifier as its 16 bytes. A
// store.ID is assignable to it, so callers pass one as it is.
type RegistrationID = [16]byte

// idEncoding spells a RegistrationID in associated data. It must stay the
// encoding of every reference ever sealed (a test holds it to the v1
// associated data byte for byte).
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// AssociatedData returns the associated data that binds a sealed reference
// to one registration of one institution: "vindex:client-ref:v1:",
// institution, ":", "r" and the ID in lower-case unpadded base32.
func AssociatedData(institution string, id RegistrationID) []byte {
	b := make([]byte, 0, 64+len(institution))
	b = append(b, "vindex:client-ref:v1:"...)
	b = append(b, institution...)
	b = append(b, ':', 'r')
	return idEncoding.AppendEncode(b, id[:])
}

// Seal encrypts ref for registration id of institution. It refuses an
// invalid reference with ErrInvalid.
func (s *Sealer) Seal(ref, institution string, id RegistrationID) ([]byte, error) {
	if !Valid(ref) {
		return nil, ErrInvalid
	}
	ct, err := s.aead.Encrypt(pad(ref), AssociatedData(institution, id))
	if err != nil {
		return nil, fmt.Errorf("clientref: seal: %w", err)
	}
	return ct, nil
}

// Open decrypts a reference sealed for registration id of institution.
func (s *Sealer) Open(sealed []byte, institution string, id RegistrationID) (string, error) {
	pt, err := s.aead.Decrypt(sealed, AssociatedData(institution, id))
	if err != nil {
		return "", ErrOpen
	}
	if len(pt) == 0 || pt[0] != 0 {
		return string(pt), nil // sealed before padding (see Padding)
	}
	ref, ok := unpad(pt)
	if !ok {
		return "", ErrOpen
	}
	return ref, nil
}

// pad returns the padded plaintext of a valid reference (see Padding).
func pad(ref string) []byte {
	b := make([]byte, PaddedLen)
	b[1] = byte(len(ref))
	copy(b[2:], ref)
	return b
}

// unpad returns the reference in a padded plaintext, and false if pt is
// not exactly a zero byte, a length of 1 to MaxLen, that many bytes of a
// valid reference and zero fill to PaddedLen.
func unpad(pt []byte) (string, bool) {
	if len(pt) != PaddedLen || pt[0] != 0 {
		return "", false
	}
	n := int(pt[1])
	if n < 1 || n > MaxLen {
		return "", false
	}
	for _, c := range pt[2+n:] {
		if c != 0 {
			return "", false
		}
	}
	ref := string(pt[2 : 2+n])
	if !Valid(ref) {
		return "", false
	}
	return ref, true
}

// ElementAssociatedData returns the associated data that binds a sealed
// element to one registration: "vindex:youth-element:v1:", "r" and the ID
// in lower-case unpadded base32. It cannot be a reference's (those begin
// "vindex:client-ref:").
func ElementAssociatedData(id RegistrationID) []byte {
	b := make([]byte, 0, 64)
	b = append(b, "vindex:youth-element:v1:r"...)
	return idEncoding.AppendEncode(b, id[:])
}

// SealElement encrypts a blind deployment's youth element for registration
// id: plain is the index's generation of the key holders' layer (see
// matcher.Config.Layer) and the element's 32 bytes, opaque here. The
// ciphertext says nothing of either but its fixed length.
func (s *Sealer) SealElement(plain []byte, id RegistrationID) ([]byte, error) {
	ct, err := s.aead.Encrypt(plain, ElementAssociatedData(id))
	if err != nil {
		return nil, fmt.Errorf("clientref: seal: %w", err)
	}
	return ct, nil
}

// OpenElement decrypts what SealElement sealed for registration id.
func (s *Sealer) OpenElement(sealed []byte, id RegistrationID) ([]byte, error) {
	pt, err := s.aead.Decrypt(sealed, ElementAssociatedData(id))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
