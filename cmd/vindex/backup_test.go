package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/treestate"
)

// runFailing runs vindex with args in dir, which must fail; it returns
// the exit status and the output.
func runFailing(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("vindex %v: %v, want a failure\n%s", args, err, out.String())
	}
	return ee.ExitCode(), out.String()
}

// TestBackupUnderLoadAndRestore: a backup taken through the running
// server while reports go in holds every report acknowledged before it
// began; backup verify passes and writes nothing; the backup holds no
// clear BSN or birth date; a backup with a flipped byte in a table, or a
// table gone, is refused naming what is bad; restore refuses a non-empty
// directory, and the restored server answers every one of those reports.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	wij := devClient(t, dir, "d", p, "wij-groningen")

	// ackedAt[n] is when youth n's report was answered 201.
	var mu sync.Mutex
	ackedAt := map[int]time.Time{}
	var next atomic.Int64
	report := func() bool {
		n := int(next.Add(1))
		s, _, err := wij.post("/v1/registrations", youthReport(t, n, "involvement"))
		if err != nil {
			return false
		}
		if s == 201 {
			mu.Lock()
			ackedAt[n] = time.Now()
			mu.Unlock()
		}
		return true
	}
	for range 200 {
		report()
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() && report() {
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	began := time.Now()
	out := runCLI(t, dir, "backup", "--dev", "--data", "d", "--out", "b")
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if !strings.Contains(out, "through the running server") {
		t.Fatalf("the backup did not go through the server:\n%s", out)
	}
	var before []int
	mu.Lock()
	for n, at := range ackedAt {
		if at.Before(began) {
			before = append(before, n)
		}
	}
	total := len(ackedAt)
	mu.Unlock()
	sort.Ints(before)
	t.Logf("%d reports acknowledged before the backup began, %d in all\n%s", len(before), total, out)
	if len(before) < 200 || total <= len(before) {
		t.Fatalf("the load did not run around the backup: %d before, %d in all", len(before), total)
	}
	p.stop(t)

	b := filepath.Join(dir, "b")
	// No clear identity in the backup.
	needles := canary.Needles{}
	for n := 1; n <= int(next.Load()); n++ {
		needles.BSN("bsn", validBSN(t, n))
	}
	needles.Date("birth date", "2012-06-01")
	if found, err := needles.ScanDir(b); err != nil || len(found) > 0 {
		t.Fatalf("the backup holds a clear identity: %v %v", found, err)
	}

	// verify passes and writes nothing.
	st := treestate.Of(t, b)
	out = runCLI(t, dir, "backup", "verify", "b")
	if !strings.Contains(out, "verified") || !strings.Contains(out, "newest acknowledged write: a registration made or refreshed at") {
		t.Fatalf("verify:\n%s", out)
	}
	treestate.Same(t, "backup verify", st, treestate.Of(t, b))

	// Damaged copies are refused; the good one is not touched.
	tables, _ := filepath.Glob(filepath.Join(b, "store", "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table in the backup")
	}
	for _, damage := range []string{"flip", "delete"} {
		bad := filepath.Join(dir, "bad-"+damage)
		if err := os.CopyFS(bad, os.DirFS(b)); err != nil {
			t.Fatal(err)
		}
		table := filepath.Join(bad, "store", filepath.Base(tables[0]))
		if damage == "delete" {
			os.Remove(table)
		} else {
			raw, _ := os.ReadFile(table)
			for i := len(raw) / 4; i < len(raw)/4+8; i++ {
				raw[i] ^= 0x5a
			}
			os.WriteFile(table, raw, 0o600)
		}
		code, msg := runFailing(t, dir, "backup", "verify", bad)
		want := "damaged store: record "
		if damage == "delete" {
			want = filepath.Base(tables[0])[:6] // the missing table
		}
		if code != 1 || !strings.Contains(msg, "backup does not verify") || !strings.Contains(msg, want) {
			t.Errorf("%s: exit %d, want 1 and %q:\n%s", damage, code, want, msg)
		}
		if found := needles.Scan("verify's error", []byte(msg)); len(found) > 0 {
			t.Errorf("the error quotes %v", found)
		}
		t.Logf("%s: %s", damage, msg)
	}
	treestate.Same(t, "verifying the damaged copies", st, treestate.Of(t, b))

	// Restore refuses a data directory in use, then restores.
	os.Mkdir(filepath.Join(dir, "full"), 0o700)
	os.WriteFile(filepath.Join(dir, "full", "x"), nil, 0o600)
	if code, msg := runFailing(t, dir, "restore", "b", "--data", "full"); code != 1 || !strings.Contains(msg, "not empty") {
		t.Errorf("restore into a non-empty directory: %d %s", code, msg)
	}
	out = runCLI(t, dir, "restore", "b", "--data", "r")
	if !strings.Contains(out, "restored the backup") {
		t.Fatalf("restore:\n%s", out)
	}
	for _, sub := range []string{"r", "r/store"} {
		if info, err := os.Stat(filepath.Join(dir, sub)); err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", sub, info, err)
		}
	}
	p = start(t, dir, "serve", "--dev", "--data", "r", "--listen", "127.0.0.1:0")
	if !strings.Contains(p.stderr.String(), `"msg":"retention purge before serving"`) {
		t.Errorf("no retention purge before serving:\n%s", p.stderr.String())
	}
	wij = devClient(t, dir, "r", p, "wij-groningen")
	for _, n := range before {
		s, body, err := wij.post("/v1/lookups", httpapi.BSNRequest{BSN: validBSN(t, n)})
		if err != nil || s != 200 {
			t.Fatalf("youth %d, acknowledged before the backup began, is not in the restored index: %d %s %v", n, s, body, err)
		}
	}
	p.stop(t)
}

// TestBackupWithoutServer: with no server running, vindex backup opens
// the store itself and says so; a DIR2 that is not empty is refused.
func TestBackupWithoutServer(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	wij := devClient(t, dir, "d", p, "wij-groningen")
	s, body, err := wij.post("/v1/registrations", youthReport(t, 1, "involvement"))
	if err != nil || s != 201 {
		t.Fatalf("%d %s %v", s, body, err)
	}
	p.stop(t)
	os.Mkdir(filepath.Join(dir, "full"), 0o700)
	os.WriteFile(filepath.Join(dir, "full", "x"), nil, 0o600)
	if code, msg := runFailing(t, dir, "backup", "--dev", "--data", "d", "--out", "full"); code != 1 || !strings.Contains(msg, "not empty") {
		t.Errorf("backup into a non-empty directory: %d %s", code, msg)
	}
	out := runCLI(t, dir, "backup", "--dev", "--data", "d", "--out", "b")
	if !strings.Contains(out, "with the store opened here") || !strings.Contains(out, "1 live registrations") {
		t.Fatalf("backup:\n%s", out)
	}
	if code, msg := runFailing(t, dir, "backup", "verify", "d"); code != 1 || !strings.Contains(msg, "manifest.json") {
		t.Errorf("verify of a data directory: %d %s", code, msg)
	}
}
