package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/keyholder"
)

// khPublicKey runs `vindex keyholder public-key` with args and parses what
// it prints.
func khPublicKey(t *testing.T, dir string, args ...string) oprf.PublicKey {
	t.Helper()
	var pub oprf.PublicKey
	out := runCLI(t, dir, append([]string{"keyholder", "public-key"}, args...)...)
	if err := pub.UnmarshalText([]byte(strings.TrimSpace(out))); err != nil {
		t.Fatalf("public-key %v printed %q: %v", args, out, err)
	}
	return pub
}

// TestKeyholderRotate rotates a key holder's key as an operator would,
// with the binary: BSNs are evaluated through `keyholder serve` under the
// old key; `rotate` writes the next key and a rotation file (0600); serve
// keeps the old key and logs the next one's ID; `rotate --finish` makes
// the next key current; after a restart the same BSNs give elements that
// are exactly the old ones re-keyed by the rotation's ratio. The old key
// (its 32 bytes in any form, its wrapped file, its public key) is gone
// from the data directory. The refusals (finish without a next key, an
// existing rotation file, a second rotate) change nothing, and a rotate
// that cannot write its rotation file leaves no next key.
func TestKeyholderRotate(t *testing.T) {
	dir := t.TempDir()
	data := "kh"
	dataDir := filepath.Join(dir, data)
	runCLI(t, dir, "keyholder", "init", "--dev", "--data", data)
	oldPub := khPublicKey(t, dir, "--dev", "--data", data)

	p, c := startKeyholder(t, dir, data)
	bs, _ := khBSNs(t, 300, 5)
	before, _, _ := c.evaluate(t, oldPub, bs)
	p.stop(t)

	oldNeedles := keyholderKeyNeedles(t, dataDir)
	oldWrapped, err := os.ReadFile(filepath.Join(dataDir, "keyholder.key"))
	if err != nil {
		t.Fatal(err)
	}
	oldPubText, _ := oldPub.MarshalText()
	oldNeedles["wrapped key file"] = [][]byte{oldWrapped}
	oldNeedles["public key"] = [][]byte{oldPubText}
	if found, err := oldNeedles.ScanDir(dataDir); err != nil || len(found) != 2 {
		t.Fatalf("before the rotation the scan finds %v (%v), want the wrapped key file and the public key", found, err)
	}

	// Refusals before a rotation: they leave no next key behind.
	if stderr := runCLIFail(t, dir, "keyholder", "rotate", "--dev", "--data", data, "--finish"); !strings.Contains(stderr, "no next key at kh/keyholder.next.key") {
		t.Fatalf("finish without a next key:\n%s", stderr)
	}
	if stderr := runCLIFail(t, dir, "keyholder", "public-key", "--dev", "--data", data, "--next"); !strings.Contains(stderr, "no next public key") {
		t.Fatalf("public-key --next without a next key:\n%s", stderr)
	}
	taken := filepath.Join(dir, "taken.json")
	os.WriteFile(taken, []byte("someone's\n"), 0o600)
	if stderr := runCLIFail(t, dir, "keyholder", "rotate", "--dev", "--data", data, "--rotation-out", taken); !strings.Contains(stderr, "taken.json exists: a rotation file is never replaced") {
		t.Fatalf("rotate onto an existing file:\n%s", stderr)
	}
	if b, _ := os.ReadFile(taken); string(b) != "someone's\n" {
		t.Fatalf("the existing file was changed: %q", b)
	}
	if stderr := runCLIFail(t, dir, "keyholder", "rotate", "--dev", "--data", data, "--rotation-out", filepath.Join(dir, "no-such-dir", "r.json")); !strings.Contains(stderr, "rotation file") {
		t.Fatalf("rotate into a missing directory:\n%s", stderr)
	}
	for _, f := range []string{"keyholder.next.key", "keyholder.next.pub"} {
		if exists(filepath.Join(dataDir, f)) {
			t.Fatalf("a refused or failed rotate left %s", f)
		}
	}

	// rotate: the next key beside the current one, the rotation file last.
	rotFile := filepath.Join(dir, "rotation.json")
	out := runCLI(t, dir, "keyholder", "rotate", "--dev", "--data", data, "--rotation-out", rotFile)
	nextPub := khPublicKey(t, dir, "--dev", "--data", data, "--next")
	if got := khPublicKey(t, dir, "--dev", "--data", data); !got.Equal(oldPub) {
		t.Fatal("rotate changed the current public key")
	}
	fi, err := os.Stat(rotFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("rotation file: %v, %v; want mode 0600", fi, err)
	}
	rot, err := keyholder.ReadRotation(rotFile)
	if err != nil {
		t.Fatal(err)
	}
	if rot.From != oprf.KeyID(oldPub) || rot.To != oprf.KeyID(nextPub) {
		t.Fatalf("rotation from %s to %s, want %s to %s", rot.From, rot.To, oprf.KeyID(oldPub), oprf.KeyID(nextPub))
	}
	for _, want := range []string{"next public key " + nextPub.String() + " (key ID " + rot.To + ")",
		"rotation from key ID " + rot.From + " to key ID " + rot.To, "rotate --finish"} {
		if !strings.Contains(out, want) {
			t.Fatalf("rotate printed no %q:\n%s", want, out)
		}
	}
	ratio, _ := rot.Ratio.MarshalBinary()
	if strings.Contains(out, base64.StdEncoding.EncodeToString(ratio)[:40]) || strings.Contains(out, hex.EncodeToString(ratio)) {
		t.Fatal("the ratio was printed")
	}

	// A second rotate, even to a new file, is refused while the next key waits.
	if stderr := runCLIFail(t, dir, "keyholder", "rotate", "--dev", "--data", data, "--rotation-out", filepath.Join(dir, "again.json")); !strings.Contains(stderr, "a rotation to key ID "+rot.To+" is under way") ||
		!strings.Contains(stderr, "rotate --finish") {
		t.Fatalf("a second rotate:\n%s", stderr)
	}
	if exists(filepath.Join(dir, "again.json")) {
		t.Fatal("a refused rotate wrote a rotation file")
	}

	// serve keeps the current key and says that the next one waits.
	p, c = startKeyholder(t, dir, data)
	still, _, _ := c.evaluate(t, oldPub, bs[:1])
	p.stop(t)
	if !still[0].Equal(before[0]) {
		t.Fatal("serve with a waiting next key evaluates under another key")
	}
	if !strings.Contains(p.stderr.String(), `"msg":"next key waiting`) || !strings.Contains(p.stderr.String(), `"next_key_id":"`+rot.To+`"`) {
		t.Fatalf("serve does not log the waiting next key:\n%s", p.stderr.String())
	}

	// finish: the next key is the current one; the old one is gone.
	out = runCLI(t, dir, "keyholder", "rotate", "--dev", "--data", data, "--finish")
	if !strings.Contains(out, "key ID "+rot.From+" replaced by key ID "+rot.To) || !strings.Contains(out, "restart") {
		t.Fatalf("finish printed:\n%s", out)
	}
	if got := khPublicKey(t, dir, "--dev", "--data", data); !got.Equal(nextPub) {
		t.Fatal("after finish the public key is not the next key's")
	}
	if found, err := oldNeedles.ScanDir(dataDir); err != nil || len(found) > 0 {
		t.Fatalf("the old key is still in %s (%v):\n%s", dataDir, err, strings.Join(found, "\n"))
	}
	entries, _ := os.ReadDir(dataDir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "next") || strings.Contains(e.Name(), ".tmp") {
			t.Fatalf("finish left %s", e.Name())
		}
	}

	// After a restart the same BSNs give the old elements re-keyed by the ratio.
	p, c = startKeyholder(t, dir, data)
	status, b := c.do(t, "GET", "/v1/public-key", "", nil)
	var served keyholder.PublicKeyResponse
	if err := json.Unmarshal(b, &served); status != 200 || err != nil || !served.PublicKey.Equal(nextPub) || served.KeyID != rot.To {
		t.Fatalf("GET /v1/public-key after the rotation: %d %s", status, b)
	}
	after, _, _ := c.evaluate(t, nextPub, bs)
	p.stop(t)
	if strings.Contains(p.stderr.String(), "next key waiting") {
		t.Fatal("serve still sees a next key after finish")
	}
	for i := range bs {
		rekeyed, err := rot.Ratio.Apply(before[i])
		if err != nil {
			t.Fatal(err)
		}
		if !rekeyed.Equal(after[i]) {
			t.Fatalf("BSN %d: the old element re-keyed by the ratio is not the new key's element", i)
		}
		if before[i].Equal(after[i]) {
			t.Fatalf("BSN %d: the same element under both keys", i)
		}
	}
}

// TestKeyholderRotateFinishInterrupted: a crash between finish's two
// renames leaves the old key with the next public key; serve refuses it
// and says to run finish again, which completes the rotation.
func TestKeyholderRotateFinishInterrupted(t *testing.T) {
	dir := t.TempDir()
	data := "kh"
	dataDir := filepath.Join(dir, data)
	runCLI(t, dir, "keyholder", "init", "--dev", "--data", data)
	runCLI(t, dir, "keyholder", "rotate", "--dev", "--data", data, "--rotation-out", "r.json")
	nextPub := khPublicKey(t, dir, "--dev", "--data", data, "--next")
	nextWrapped, _ := os.ReadFile(filepath.Join(dataDir, "keyholder.next.key"))

	// finish's first rename, and a crash.
	if err := os.Rename(filepath.Join(dataDir, "keyholder.next.pub"), filepath.Join(dataDir, "keyholder.pub")); err != nil {
		t.Fatal(err)
	}
	stderr := failing(t, dir, "keyholder", "serve", "--dev", "--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", "off")
	if !strings.Contains(stderr, "interrupted `vindex keyholder rotate --finish`? Run it again") {
		t.Fatalf("serve after an interrupted finish:\n%s", stderr)
	}
	out := runCLI(t, dir, "keyholder", "rotate", "--dev", "--data", data, "--finish")
	if !strings.Contains(out, "key ID "+oprf.KeyID(nextPub)+" is the current key") {
		t.Fatalf("the second finish printed:\n%s", out)
	}
	if w, _ := os.ReadFile(filepath.Join(dataDir, "keyholder.key")); !bytes.Equal(w, nextWrapped) {
		t.Fatal("the key is not the next key after the second finish")
	}
	if got := khPublicKey(t, dir, "--dev", "--data", data); !got.Equal(nextPub) {
		t.Fatal("the public key is not the next key's")
	}
	p, _ := startKeyholder(t, dir, data)
	p.stop(t)
}

// TestKeyholderRotateAtOnce: of rotates started at the same time, one
// succeeds and the others are refused; the one rotation file is for the
// next key on disk. (A rotation file for a key that another rotate
// replaced would lose every element once the index applied it.)
func TestKeyholderRotateAtOnce(t *testing.T) {
	dir := t.TempDir()
	data := "kh"
	runCLI(t, dir, "keyholder", "init", "--dev", "--data", data)
	for round := range 3 {
		const n = 4
		errs := make(chan error, n)
		for i := range n {
			go func() {
				cmd := exec.Command(binary, "keyholder", "rotate", "--dev", "--data", data, "--rotation-out", fmt.Sprintf("r%d-%d.json", round, i))
				cmd.Dir = dir
				errs <- cmd.Run()
			}()
		}
		ok := 0
		for range n {
			if <-errs == nil {
				ok++
			}
		}
		var written []string
		for i := range n {
			if f := filepath.Join(dir, fmt.Sprintf("r%d-%d.json", round, i)); exists(f) {
				written = append(written, f)
			}
		}
		if ok != 1 || len(written) != 1 {
			t.Fatalf("round %d: %d rotates succeeded, %d rotation files, want 1 and 1", round, ok, len(written))
		}
		rot, err := keyholder.ReadRotation(written[0])
		if err != nil {
			t.Fatal(err)
		}
		if next := khPublicKey(t, dir, "--dev", "--data", data, "--next"); oprf.KeyID(next) != rot.To {
			t.Fatalf("round %d: the rotation file is to key ID %s, the next key is %s", round, rot.To, oprf.KeyID(next))
		}
		runCLI(t, dir, "keyholder", "rotate", "--dev", "--data", data, "--finish")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, data))
	for _, e := range entries {
		if strings.Contains(e.Name(), "next") {
			t.Fatalf("left behind: %s", e.Name())
		}
	}
}
