// Package keys manages the lifecycle of vindex's two keysets: the PRF
// keyset that makes its pseudonyms, and the reference keyset whose AEAD
// keys seal the institutions' own client references (see crypto/clientref):
// create, store wrapped, load, rotate, disable and delete.
//
// # Key management
//
// The PRF keyset is never written in the clear. [Write] and [SaveFile]
// encrypt it with a key-encryption key (KEK), a tink.AEAD whose key stays in
// a KMS: in production a Vault transit key, so the PRF key can only be
// unwrapped by a process that Vault lets decrypt. The wrapped keyset is bound
// to its deployment by associated data ([AssociatedData]): a keyset copied to
// another deployment does not unwrap there. vindex unwraps the keyset once at
// start-up and keeps it in memory only.
//
// Both keysets are wrapped by the same KEK, each bound to its own associated
// data ([AssociatedData], [RefAssociatedData]): one keyset's file does not
// unwrap as the other's.
//
// For development there is a local KEK file in the loudly named package
// crypto/keys/insecurelocalkek; it is only as safe as that file.
//
// # Rotation and retirement
//
// [Rotate] adds a fresh key and makes it primary: new pseudonyms are made
// under it, while the old key stays enabled so that records made under it
// are still found (see crypto/pseudonym) and migrate as they are touched.
// When no live record depends on an old key it is [Disable]d (no longer
// computed; can be re-enabled) and later [Delete]d (gone for good). The
// primary key can be neither.
//
// # Never logged
//
// Nothing in this package prints key material: [Status] reports key IDs and
// states only, and errors name key IDs, never bytes.
package keys

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Errors.
var (
	ErrNotFound    = errors.New("keys: keyset file not found")
	ErrUnwrap      = errors.New("keys: cannot unwrap the keyset (wrong key-encryption key or deployment, or tampered file)")
	ErrPrimary     = errors.New("keys: the primary key cannot be disabled or deleted")
	ErrNotDisabled = errors.New("keys: only a disabled key can be deleted")
	ErrNoSuchKey   = errors.New("keys: no such key")
)

// Create returns a new keyset with one HMAC-SHA256 PRF key (256 bits).
func Create() (*keyset.Handle, error) {
	h, err := keyset.NewHandle(prf.HMACSHA256PRFKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("keys: create: %w", err)
	}
	return h, nil
}

// CreateRefKeyset returns a new reference keyset with one XAES-256-GCM AEAD
// key (256 bits, 192-bit random nonces).
func CreateRefKeyset() (*keyset.Handle, error) {
	h, err := keyset.NewHandle(aead.XAES256GCM192BitNonceKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("keys: create reference keyset: %w", err)
	}
	return h, nil
}

// RefAssociatedData returns the associated data that binds a wrapped
// reference keyset to one deployment: "vindex:ref-keyset:v1:" + deployment.
func RefAssociatedData(deployment string) []byte {
	return []byte("vindex:ref-keyset:v1:" + deployment)
}

// AssociatedData returns the associated data that binds a wrapped keyset to
// one deployment: "vindex:keyset:v1:" + deployment.
func AssociatedData(deployment string) []byte {
	return []byte("vindex:keyset:v1:" + deployment)
}

// Write writes h encrypted with kek, bound to ad, in Tink's binary
// EncryptedKeyset format: the keyset's ciphertext only (Tink's binary
// writer leaves out the key IDs and states it could keep in the clear).
func Write(w io.Writer, h *keyset.Handle, kek tink.AEAD, ad []byte) error {
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(w), kek, ad); err != nil {
		return fmt.Errorf("keys: wrap: %w", err)
	}
	return nil
}

// Read reads a keyset written by Write.
func Read(r io.Reader, kek tink.AEAD, ad []byte) (*keyset.Handle, error) {
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(r), kek, ad)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnwrap, err)
	}
	return h, nil
}

// SaveFile writes h wrapped to path atomically: a temporary file in the same
// directory (mode 0600), synced, renamed over path, and the directory synced.
func SaveFile(path string, h *keyset.Handle, kek tink.AEAD, ad []byte) error {
	var buf bytes.Buffer
	if err := Write(&buf, h, kek, ad); err != nil {
		return err
	}
	return WriteFileAtomic(path, buf.Bytes())
}

// WriteFileAtomic writes data to path so that a crash leaves either the old
// file or the new one: a temporary file (mode 0600) in the same directory,
// synced, renamed over path, and the directory synced.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("keys: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("keys: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keys: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keys: sync %s: %w", dir, err)
	}
	return nil
}

// LoadFile reads a keyset file written by SaveFile.
func LoadFile(path string, kek tink.AEAD, ad []byte) (*keyset.Handle, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer f.Close()
	h, err := Read(f, kek, ad)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return h, nil
}

// Rotate returns a keyset with a new HMAC-SHA256 PRF key added and made
// primary, and the new key's ID. The old keys stay enabled.
func Rotate(h *keyset.Handle) (*keyset.Handle, uint32, error) {
	return rotate(h, prf.HMACSHA256PRFKeyTemplate())
}

// RotateRefKeyset returns a reference keyset with a new XAES-256-GCM key
// added and made primary, and the new key's ID. The old keys stay enabled,
// so references sealed under them still open.
func RotateRefKeyset(h *keyset.Handle) (*keyset.Handle, uint32, error) {
	return rotate(h, aead.XAES256GCM192BitNonceKeyTemplate())
}

func rotate(h *keyset.Handle, t *tinkpb.KeyTemplate) (*keyset.Handle, uint32, error) {
	m := keyset.NewManagerFromHandle(h)
	id, err := m.Add(t)
	if err != nil {
		return nil, 0, fmt.Errorf("keys: rotate: %w", err)
	}
	if err := m.SetPrimary(id); err != nil {
		return nil, 0, fmt.Errorf("keys: rotate: %w", err)
	}
	nh, err := m.Handle()
	if err != nil {
		return nil, 0, fmt.Errorf("keys: rotate: %w", err)
	}
	return nh, id, nil
}

// State is a key's state.
type State int

// Key states.
const (
	Enabled   State = 1
	Disabled  State = 2
	Destroyed State = 3
)

// String names the state.
func (s State) String() string {
	switch s {
	case Enabled:
		return "enabled"
	case Disabled:
		return "disabled"
	case Destroyed:
		return "destroyed"
	}
	return "unknown"
}

// KeyInfo describes one key without its material.
type KeyInfo struct {
	ID      uint32
	State   State
	Primary bool
}

// Status lists the keys of h in ascending ID.
func Status(h *keyset.Handle) ([]KeyInfo, error) {
	info := h.KeysetInfo()
	var out []KeyInfo
	for _, k := range info.GetKeyInfo() {
		st := State(0)
		switch k.GetStatus() {
		case tinkpb.KeyStatusType_ENABLED:
			st = Enabled
		case tinkpb.KeyStatusType_DISABLED:
			st = Disabled
		case tinkpb.KeyStatusType_DESTROYED:
			st = Destroyed
		}
		out = append(out, KeyInfo{ID: k.GetKeyId(), State: st, Primary: k.GetKeyId() == info.GetPrimaryKeyId()})
	}
	slices.SortFunc(out, func(a, b KeyInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func find(h *keyset.Handle, id uint32) (KeyInfo, error) {
	st, _ := Status(h)
	for _, k := range st {
		if k.ID == id {
			return k, nil
		}
	}
	return KeyInfo{}, fmt.Errorf("%w: %d", ErrNoSuchKey, id)
}

// Disable returns a keyset in which key id is disabled: no longer used to
// compute pseudonyms. The primary cannot be disabled.
func Disable(h *keyset.Handle, id uint32) (*keyset.Handle, error) {
	k, err := find(h, id)
	if err != nil {
		return nil, err
	}
	if k.Primary {
		return nil, ErrPrimary
	}
	m := keyset.NewManagerFromHandle(h)
	if err := m.Disable(id); err != nil {
		return nil, fmt.Errorf("keys: disable %d: %w", id, err)
	}
	return m.Handle()
}

// Enable returns a keyset in which a disabled key id is enabled again.
func Enable(h *keyset.Handle, id uint32) (*keyset.Handle, error) {
	if _, err := find(h, id); err != nil {
		return nil, err
	}
	m := keyset.NewManagerFromHandle(h)
	if err := m.Enable(id); err != nil {
		return nil, fmt.Errorf("keys: enable %d: %w", id, err)
	}
	return m.Handle()
}

// Delete returns a keyset without key id. Only a disabled key can be
// deleted, so a key is first taken out of use and only then destroyed.
func Delete(h *keyset.Handle, id uint32) (*keyset.Handle, error) {
	k, err := find(h, id)
	if err != nil {
		return nil, err
	}
	if k.Primary {
		return nil, ErrPrimary
	}
	if k.State != Disabled {
		return nil, ErrNotDisabled
	}
	m := keyset.NewManagerFromHandle(h)
	if err := m.Delete(id); err != nil {
		return nil, fmt.Errorf("keys: delete %d: %w", id, err)
	}
	return m.Handle()
}

// Rewrap unwraps the keyset file at path with kek and writes it back
// wrapped anew (atomically). With a KMS whose key was rotated, the new
// wrapping is under the newest key version, so older versions can be
// retired.
func Rewrap(path string, kek tink.AEAD, associatedData []byte) error {
	h, err := LoadFile(path, kek, associatedData)
	if err != nil {
		return err
	}
	return SaveFile(path, h, kek, associatedData)
}

// AuditAssociatedData returns the associated data that binds a wrapped
// audit-log signing key to one deployment: "vindex:audit-key:v1:" +
// deployment.
func AuditAssociatedData(deployment string) []byte {
	return []byte("vindex:audit-key:v1:" + deployment)
}

// KeyholderAssociatedData returns the associated data that binds a
// wrapped blind-mode key holder's key (a crypto/oprf private key) to one
// key holder's deployment: "vindex:keyholder-key:v1:" + deployment.
func KeyholderAssociatedData(deployment string) []byte {
	return []byte("vindex:keyholder-key:v1:" + deployment)
}

// sealedMagic starts a file SaveSealed writes.
const sealedMagic = "vindex-sealed-v1\n"

// SaveSealed writes secret (a key that is not a Tink keyset, such as the
// audit log's note signing key) encrypted with kek and bound to ad, to
// path atomically as SaveFile does: the clear secret never touches the
// disk.
func SaveSealed(path string, secret []byte, kek tink.AEAD, ad []byte) error {
	ct, err := kek.Encrypt(secret, ad)
	if err != nil {
		return fmt.Errorf("keys: wrap: %w", err)
	}
	return WriteFileAtomic(path, append([]byte(sealedMagic), ct...))
}

// LoadSealed reads and unwraps a file SaveSealed wrote. A missing file is
// ErrNotFound.
func LoadSealed(path string, kek tink.AEAD, ad []byte) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	ct, ok := bytes.CutPrefix(b, []byte(sealedMagic))
	if !ok {
		return nil, fmt.Errorf("keys: %s is not a sealed key file", path)
	}
	secret, err := kek.Decrypt(ct, ad)
	if err != nil {
		return nil, fmt.Errorf("keys: unwrap %s (another deployment's, or another key-encryption key's?): %w", path, err)
	}
	return secret, nil
}

// RewrapSealed wraps the file at path anew with kek (for a Vault transit
// key, under its newest version), as Rewrap does for a keyset.
func RewrapSealed(path string, kek tink.AEAD, ad []byte) error {
	secret, err := LoadSealed(path, kek, ad)
	if err != nil {
		return err
	}
	defer clear(secret)
	return SaveSealed(path, secret, kek, ad)
}
