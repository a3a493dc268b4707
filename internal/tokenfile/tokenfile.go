// Package tokenfile is the one home of vindex's bearer-token files, which
// the index (httpapi) and the blind mode's key holder (keyholder) both
// read: one "name sha256:HEX" per line, blank lines and lines starting
// with # ignored. A file holds only the tokens' SHA-256, never a token;
// errors name a line by its number, never its content; a token is
// checked against every entry in constant time.
package tokenfile

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
	"io/fs"
	"os"
	"strings"
)

// New returns a fresh bearer token (prefix and 256 random bits,
// base64url) and the line to add to a token file for name.
func New(prefix, name string) (token, line string) {
	var b [32]byte
	rand.Read(b[:])
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, name + " " + Hash(token)
}

// Hash returns the form in which a token file stores a token: "sha256:"
// and the lower-case hex SHA-256 of the token.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Entry is one line of a token file.
type Entry struct {
	Name string
	Sum  [sha256.Size]byte
}

// Read reads the token file at path, refusing one writable by group or
// others (whoever can write it can let themselves in). Its errors wrap
// fail (the caller's sentinel).
func Read(path string, fail error) ([]byte, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", fail, err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, nil, fmt.Errorf("%w: %s is writable by others (mode %v)", fail, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", fail, err)
	}
	return b, fi, nil
}

// Parse reads the lines of b, the file name: every malformed line is an
// error wrapping fail that names the line's number, as is every name
// check refuses (check may be nil). what names the first field in
// messages ("institution-id", "client-name").
func Parse(b []byte, name, what string, fail error, check func(string) error) ([]Entry, error) {
	var entries []Entry
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			errs = append(errs, fmt.Errorf("%w: %s:%d: want \"%s sha256:HEX\"", fail, name, n, what))
			continue
		}
		hexSum, ok := strings.CutPrefix(f[1], "sha256:")
		sum, err := hex.DecodeString(hexSum)
		if !ok || err != nil || len(sum) != sha256.Size {
			errs = append(errs, fmt.Errorf("%w: %s:%d: the hash must be sha256: and 64 hex digits (the file holds hashes, never tokens)", fail, name, n))
			continue
		}
		if check != nil {
			if err := check(f[0]); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s:%d: %v", fail, name, n, err))
				continue
			}
		}
		e := Entry{Name: f[0]}
		copy(e.Sum[:], sum)
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %s: %v", fail, name, err))
	}
	return entries, errors.Join(errs...)
}

// Find returns the name of the entry whose hash is sum. It compares sum
// with every entry in constant time, without stopping at the first match.
func Find(entries []Entry, sum [sha256.Size]byte) (string, bool) {
	found := -1
	for i := range entries {
		eq := subtle.ConstantTimeCompare(sum[:], entries[i].Sum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return "", false
	}
	return entries[found].Name, true
}
