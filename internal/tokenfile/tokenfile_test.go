package tokenfile_test

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/internal/tokenfile"
)

var errFile = errors.New("test: token file")

func TestParseAndFind(t *testing.T) {
	tokA, lineA := tokenfile.New("x_", "alpha")
	tokB, lineB := tokenfile.New("x_", "beta")
	if !strings.HasPrefix(tokA, "x_") || strings.Contains(lineA, tokA) {
		t.Fatalf("token %q, line %q: the line must hold the hash only", tokA, lineA)
	}
	b := []byte("# tokens\n\n" + lineA + "\n  " + lineB + "  \n")
	entries, err := tokenfile.Parse(b, "f", "name", errFile, nil)
	if err != nil || len(entries) != 2 {
		t.Fatalf("%+v %v", entries, err)
	}
	for tok, want := range map[string]string{tokA: "alpha", tokB: "beta"} {
		if got, ok := tokenfile.Find(entries, sha256.Sum256([]byte(tok))); !ok || got != want {
			t.Errorf("Find: %q %v, want %q", got, ok, want)
		}
	}
	if _, ok := tokenfile.Find(entries, sha256.Sum256([]byte("x_other"))); ok {
		t.Error("an unknown token found")
	}
	bad := []byte("alpha\nbeta sha256:abc\ngamma " + strings.Repeat("a", 64) + "\n" + "delta sha256:" + strings.Repeat("0", 64) + "\n")
	entries, err = tokenfile.Parse(bad, "f", "name", errFile, func(n string) error {
		if n == "delta" {
			return errors.New("not known")
		}
		return nil
	})
	if !errors.Is(err, errFile) || len(entries) != 0 {
		t.Fatalf("bad lines: %+v %v", entries, err)
	}
	for _, want := range []string{"f:1:", "f:2:", "f:3:", "f:4: not known"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "abc") {
		t.Error("an error quotes a line's content")
	}
}

func TestReadRefusesAFileOthersWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("a sha256:"+strings.Repeat("0", 64)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tokenfile.Read(path, errFile); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o620)
	if _, _, err := tokenfile.Read(path, errFile); !errors.Is(err, errFile) {
		t.Fatalf("group-writable: %v", err)
	}
}
