// Package insecurelocalkek is a key-encryption key (KEK) kept in a local
// file, FOR DEVELOPMENT ONLY.
//
// The file holds a Tink AES-256-GCM keyset in the clear. Whoever can read it
// can unwrap the PRF keyset it protects, and with that keyset recompute the
// pseudonym of any BSN: the privacy of every youth in the index then rests on
// the file's permissions. Production deployments use a Vault transit KEK,
// whose key never leaves Vault. This package is named so that its use is
// easy to find in a review (grep for "insecure").
//
// Load refuses a file that group or others can access, and logs a warning
// every time it is used.
package insecurelocalkek

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/vindex-nl/vindex/crypto/keys"
)

// Errors.
var (
	ErrExists      = errors.New("insecurelocalkek: the KEK file exists already; refusing to overwrite it")
	ErrPermissions = errors.New("insecurelocalkek: the KEK file is accessible to group or others (chmod 600)")
)

// Warning is logged each time a local KEK is loaded.
const Warning = "development-only key-encryption key in a local file: the PRF keyset is only as safe as this file; use Vault transit in production"

// Create writes a new AES-256-GCM KEK to path (mode 0600). It refuses to
// overwrite an existing file: losing the KEK loses the keyset it wraps.
func Create(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return fmt.Errorf("insecurelocalkek: %w", err)
	}
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return fmt.Errorf("insecurelocalkek: %w", err)
	}
	return keys.WriteFileAtomic(path, buf.Bytes())
}

// Load reads the KEK at path and returns it as an AEAD. A nil logger means
// slog.Default().
func Load(path string, logger *slog.Logger) (tink.AEAD, error) {
	if logger == nil {
		logger = slog.Default()
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("insecurelocalkek: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v", ErrPermissions, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("insecurelocalkek: %w", err)
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("insecurelocalkek: %s is not a Tink keyset: %w", path, err)
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("insecurelocalkek: %s is not an AEAD keyset: %w", path, err)
	}
	logger.Warn(Warning, "path", path)
	return a, nil
}
