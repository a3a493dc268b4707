package pebblestore_test

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
	"github.com/vindex-nl/vindex/store/storetest"
)

// Everything the store creates is private to its user, whatever the
// umask: after opening (in a directory whose parents do not exist yet),
// writing enough to flush tables and recycle logs, reopening and writing
// again, no directory or file under the root has a group or other bit.
// The umask is 0 here, so Pebble's own modes (0755, 0666) would show as
// they are.
func TestStoreFilesPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	root := t.TempDir()
	dir := filepath.Join(root, "data", "store")
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	for range 2 {
		s, err := pebblestore.Open(dir, &pebblestore.Options{Logger: quiet(), MemTableSize: 256 << 10, MinFreeBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		for range 2000 {
			n++
			y := storetest.Youth(1, n)
			if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
				tx.Put(storetest.Reg(y, "ggd", at))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var files, tables int
	err := filepath.WalkDir(filepath.Join(root, "data"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v: group or others may use it", path, perm)
		}
		if !d.IsDir() {
			files++
			if filepath.Ext(path) == ".sst" {
				tables++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tables == 0 || files < 5 {
		t.Fatalf("%d files, %d tables: the walk checked too little", files, tables)
	}
}
