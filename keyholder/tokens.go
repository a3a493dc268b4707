package keyholder

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// ErrTokenFile is returned for a token file that cannot be used.
var ErrTokenFile = errors.New("keyholder: token file")

// TokenPrefix starts every token NewToken makes, so that a leaked token is
// easy to recognise.
const TokenPrefix = "vkh_"

// NewToken returns a fresh bearer token (256 random bits) and the line to
// add to a token file for client, which holds only the token's hash.
func NewToken(client string) (token, line string) {
	var b [32]byte
	rand.Read(b[:])
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, client + " " + TokenHash(token)
}

// TokenHash returns the form in which a token file stores a token:
// "sha256:" and the lower-case hex SHA-256 of the token.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

type tokenEntry struct {
	client string
	sum    [sha256.Size]byte
}

// Tokens are the bearer tokens the key holder accepts, read from a token
// file of hashes (see the package doc). Safe for concurrent use.
type Tokens struct {
	path    string
	mu      sync.RWMutex
	entries []tokenEntry
}

// LoadTokens reads the token file at path. It refuses a file writable by
// others, a malformed line (naming its number, never its content) and a
// file without a token.
func LoadTokens(path string) (*Tokens, error) {
	t := &Tokens{path: path}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload rereads the token file. On an error the tokens in use are kept.
func (t *Tokens) Reload() error {
	fi, err := os.Stat(t.path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTokenFile, err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by others (mode %v)", ErrTokenFile, t.path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTokenFile, err)
	}
	entries, err := parseTokens(b, t.path)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return fmt.Errorf("%w: %s holds no token", ErrTokenFile, t.path)
	}
	t.mu.Lock()
	t.entries = entries
	t.mu.Unlock()
	return nil
}

func parseTokens(b []byte, name string) ([]tokenEntry, error) {
	var entries []tokenEntry
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		hexSum, ok := "", false
		if len(f) == 2 {
			hexSum, ok = strings.CutPrefix(f[1], "sha256:")
		}
		sum, err := hex.DecodeString(hexSum)
		if !ok || err != nil || len(sum) != sha256.Size {
			errs = append(errs, fmt.Errorf("%w: %s:%d: want \"client-name sha256:HEX\" with 64 hex digits (the file holds hashes, never tokens)", ErrTokenFile, name, n))
			continue
		}
		e := tokenEntry{client: f[0]}
		copy(e.sum[:], sum)
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %s: %v", ErrTokenFile, name, err))
	}
	return entries, errors.Join(errs...)
}

// Len returns the number of tokens accepted.
func (t *Tokens) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.entries)
}

// Authenticate returns the client a bearer token belongs to. It compares
// the token's hash with every entry in constant time, without stopping at
// the first match.
func (t *Tokens) Authenticate(token string) (string, bool) {
	sum := sha256.Sum256([]byte(token))
	t.mu.RLock()
	defer t.mu.RUnlock()
	found := -1
	for i := range t.entries {
		eq := subtle.ConstantTimeCompare(sum[:], t.entries[i].sum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return "", false
	}
	return t.entries[found].client, true
}
