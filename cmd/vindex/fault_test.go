package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/internal/tmpfs"
)

// TestDiskFullOverHTTPS runs the real server with its data on a small file
// system and fills it: reports are refused with 503 storage_unavailable
// (a Retry-After, nothing written), /readyz says why, lookups still answer;
// once space is freed the server takes reports again by itself, and after a
// restart every acknowledged report is there.
func TestDiskFullOverHTTPS(t *testing.T) {
	mnt := tmpfs.Mount(t, "160m")
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
	tmpfs.Fill(t, ball, min-(1<<20))
	time.Sleep(600 * time.Millisecond)

	st, b := report(20)
	var prob struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(b, &prob); err != nil || st != 503 || prob.Code != "storage_unavailable" {
		t.Fatalf("report on a full disk: %d %s", st, b)
	}
	st, b, err := wij.get("/readyz")
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
