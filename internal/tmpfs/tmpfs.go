// Package tmpfs mounts small, real file systems for the disk-full tests.
// Mounting needs root: where it is not allowed, a test is skipped, unless
// VINDEX_REQUIRE_TMPFS=1 (scripts/test sets it where mounting works).
package tmpfs

import (
	"bytes"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size (as mount's size option: "64m") on a new
// directory, unmounted when the test ends, and returns the directory.
func Mount(t testing.TB, size string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vindex-tmpfs-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		if os.Getenv("VINDEX_REQUIRE_TMPFS") == "1" {
			t.Fatalf("mount tmpfs: %v: %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here (%v: %s); scripts/test requires it where it can", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		exec.Command("umount", "-l", dir).Run()
		os.Remove(dir)
	})
	return dir
}

// Free returns the bytes available on dir's file system, 0 if unknown.
func Free(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * st.Bsize
}

// Fill writes the file path until at most free bytes remain on its file
// system.
func Fill(t testing.TB, path string, free int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for {
		avail := Free(path)
		if avail <= free {
			return
		}
		if _, err := f.Write(make([]byte, min(avail-free, 4<<20))); err != nil {
			t.Fatal(err)
		}
	}
}
