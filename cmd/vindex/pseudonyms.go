package main

// A deployment's pseudonym mode, chosen once at vindex keys init: hmac
// (the default: institutions send the BSN, the index pseudonymises it) or
// blind (client systems send the youth's element, computed with the key
// holders; the index never sees a BSN: docs/blind.md). The mode is kept in
// a file beside the keyset, DIR/pseudonyms, and vindex serve takes it from
// there: one mode's pseudonyms never match the other's, so it is never a
// setting of a running server.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vindex-nl/vindex/crypto/keys"
)

// The pseudonym modes.
const (
	modeHMAC  = "hmac"
	modeBlind = "blind"
)

// pseudonymsFile is where keys init keeps the deployment's mode.
func pseudonymsFile(c config) string { return filepath.Join(filepath.Dir(c.Keyset), "pseudonyms") }

// readPseudonyms returns the deployment's mode: hmac when the file is
// missing (deployments made before the blind mode existed).
func readPseudonyms(c config) (string, error) {
	b, err := os.ReadFile(pseudonymsFile(c))
	if errors.Is(err, fs.ErrNotExist) {
		return modeHMAC, nil
	}
	if err != nil {
		return "", err
	}
	switch mode := strings.TrimSpace(string(b)); mode {
	case modeHMAC, modeBlind:
		return mode, nil
	default:
		return "", fmt.Errorf("%s: %q is not a pseudonym mode (hmac or blind)", pseudonymsFile(c), mode)
	}
}

// initPseudonyms records mode at keys init: a new deployment's, or the
// same one again. Changing the mode of a deployment whose keyset exists
// is refused: its registrations would no longer match.
func initPseudonyms(c config, mode string, keysetExisted bool) error {
	if mode != modeHMAC && mode != modeBlind {
		return fmt.Errorf("keys init: --pseudonyms %q: hmac or blind", mode)
	}
	have, err := readPseudonyms(c)
	if err != nil {
		return err
	}
	if keysetExisted && have != mode {
		return fmt.Errorf("keys init: this deployment's pseudonyms are %s; a keyset exists, and its registrations would not match in %s mode", have, mode)
	}
	return keys.WriteFileAtomic(pseudonymsFile(c), []byte(mode+"\n"))
}
