// Package treestate records a directory tree's files, for tests that must
// show a command left a tree as it found it (a read-only verify of a
// backup or checkpoint).
package treestate

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Of returns, for every file and directory under dir, its mode and
// modification time, and a file's SHA-256.
func Of(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Mode().String() + " " + info.ModTime().Format(time.RFC3339Nano)
		if !d.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			st += " " + hex.EncodeToString(sum[:])
		}
		out[path] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Same fails t (naming what) unless after, taken later, holds the same
// paths in the same state as before.
func Same(t testing.TB, what string, before, after map[string]string) {
	t.Helper()
	if len(before) != len(after) {
		t.Errorf("%s: %d files before, %d after", what, len(before), len(after))
	}
	for p, st := range before {
		if after[p] != st {
			t.Errorf("%s changed %s", what, p)
		}
	}
}
