package keyholder

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/vindex-nl/vindex/internal/tokenfile"
)

// ErrTokenFile is returned for a token file that cannot be used.
var ErrTokenFile = errors.New("keyholder: token file")

// TokenPrefix starts every token NewToken makes, so that a leaked token is
// easy to recognise.
const TokenPrefix = "vkh_"

// NewToken returns a fresh bearer token (256 random bits) and the line to
// add to a token file for client, which holds only the token's hash.
func NewToken(client string) (token, line string) { return tokenfile.New(TokenPrefix, client) }

// TokenHash returns the form in which a token file stores a token:
// "sha256:" and the lower-case hex SHA-256 of the token.
func TokenHash(token string) string { return tokenfile.Hash(token) }

// Tokens are the bearer tokens the key holder accepts, read from a token
// file of hashes (see the package doc and internal/tokenfile). Safe for
// concurrent use.
type Tokens struct {
	path    string
	mu      sync.RWMutex
	entries []tokenfile.Entry
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
	b, _, err := tokenfile.Read(t.path, ErrTokenFile)
	if err != nil {
		return err
	}
	entries, err := tokenfile.Parse(b, t.path, "client-name", ErrTokenFile, nil)
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

// Len returns the number of tokens accepted.
func (t *Tokens) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.entries)
}

// Authenticate returns the client a bearer token belongs to, comparing
// with every entry in constant time.
func (t *Tokens) Authenticate(token string) (string, bool) {
	sum := sha256.Sum256([]byte(token))
	t.mu.RLock()
	defer t.mu.RUnlock()
	return tokenfile.Find(t.entries, sum)
}
