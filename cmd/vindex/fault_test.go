package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a small file system, or skips where that is not
// allowed (it needs root), unless VINDEX_REQUIRE_TMPFS=1 (scripts/test sets
// it where mounting works).
func mountTmpfs(t *testing.T, size string) string {
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
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		exec.Command("umount", "-l", dir).Run()
		os.Remove(dir)
	})
	return dir
}

func freeBytesOf(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// TestDiskFullOverHTTPS runs the real server with its data on a small file
// system and fills it: reports are refused with 503 storage_unavailable
// (a Retry-After, nothing written), /readyz says why, lookups still answer;
// once space is freed the server takes reports again by itself, and after a
// restart every acknowledged report is there.
func TestDiskFullOverHTTPS(t *testing.T) {
	mnt := mountTmpfs(t, "160m")
	dir := t.TempDir()
	data := filepath.Join(mnt, "data")
	const min = 48 << 20
	args := []string{"serve", "--dev", "--data", data, "--listen", "127.0.0.1:0", "--min-free-disk", "50331648"}
	p := start(t, dir, args...)
	wij := devClient(t, dir, data, p, "wij-groningen")
	report := func(n int) (int, []byte) {
		st, b, err := wij.post("/v1/registrations", map[string]any{
			"bsn": validBSN(t, n), "birth_date": "2014-05-17", "municipality": "GM0014", "kind": "involvement",
			"contact": map[string]string{"name": "A. Jansen", "phone": "050-1234567"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return st, b
	}
	for n := range 20 {
		if st, b := report(n); st != 201 {
			t.Fatalf("report %d: %d %s", n, st, b)
		}
	}
	// Fill the file system to 1 MiB below the minimum.
	ball := filepath.Join(mnt, "ballast")
	f, err := os.Create(ball)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, freeBytesOf(t, mnt)-(min-(1<<20)))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	time.Sleep(600 * time.Millisecond)

	st, b := report(20)
	var prob struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(b, &prob); err != nil || st != 503 || prob.Code != "storage_unavailable" {
		t.Fatalf("report on a full disk: %d %s", st, b)
	}
	st, b, err = wij.get("/readyz")
	if err != nil || st != 503 || !bytes.Contains(b, []byte("MiB free")) {
		t.Fatalf("/readyz on a full disk: %d %s %v", st, b, err)
	}
	st, b, err = wij.post("/v1/lookups", map[string]string{"bsn": validBSN(t, 3)})
	if err != nil || st != 200 {
		t.Fatalf("lookup on a full disk: %d %s %v", st, b, err)
	}
	st, _, _ = wij.post("/v1/lookups", map[string]string{"bsn": validBSN(t, 20)})
	if st != 404 {
		t.Fatalf("the refused report is visible: lookup answered %d", st)
	}

	if err := os.Remove(ball); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if st, b, _ := wij.get("/readyz"); st != 200 {
		t.Fatalf("/readyz after freeing space: %d %s", st, b)
	}
	if st, b := report(20); st != 201 {
		t.Fatalf("report after freeing space: %d %s", st, b)
	}
	p.stop(t)
	if !bytes.Contains([]byte(p.stderr.String()), []byte("disk space low")) {
		t.Error("the log does not say the disk space was low")
	}

	p = start(t, dir, args...)
	wij = devClient(t, dir, data, p, "wij-groningen")
	for n := range 21 {
		if st, b, err := wij.post("/v1/lookups", map[string]string{"bsn": validBSN(t, n)}); err != nil || st != 200 {
			t.Fatalf("after restart, report %d: %d %s %v", n, st, b, err)
		}
	}
	p.stop(t)
}
