package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/examples"
	"github.com/vindex-nl/vindex/httpapi"
)

// refKeys returns the reference keys of a status table: ID → [state,
// primary, sealed references].
func refKeys(t *testing.T, out string) map[string][]string {
	t.Helper()
	i := strings.Index(out, "ref_key_id")
	if i < 0 {
		t.Fatalf("no reference keyset table in:\n%s", out)
	}
	keys := map[string][]string{}
	for _, line := range strings.Split(out[i:], "\n")[1:] {
		if f := strings.Fields(line); len(f) == 4 {
			keys[f[0]] = f[1:]
		}
	}
	return keys
}

// TestRefKeysetLifecycle: a deployment made before client references gets
// its reference keyset from keys init (the PRF keyset kept); a server
// without one refuses to start and says how to make it; the reference
// keyset is rotated, its old key retired only once no stored reference is
// sealed under it, and the references still read after that.
func TestRefKeysetLifecycle(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	p.stop(t)
	prfBefore, err := os.ReadFile(filepath.Join(dir, "d", "keyset.tink"))
	if err != nil {
		t.Fatal(err)
	}
	// As a deployment from before: no reference keyset.
	if err := os.Remove(filepath.Join(dir, "d", "refkeys.tink")); err != nil {
		t.Fatal(err)
	}
	if out := runCLI(t, dir, "keys", "status", "--dev", "--data", "d"); !strings.Contains(out, "no reference keyset") {
		t.Fatalf("status without a reference keyset:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(dir, "covenant.yaml"), examples.CovenantGroningen, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := failing(t, dir, "serve", "--data", "d", "--kek", "file", "--kek-file", "d/dev-kek.json", "--listen", "127.0.0.1:0",
		"--covenant", "covenant.yaml", "--tls-cert", "d/dev-tls.crt", "--tls-key", "d/dev-tls.key", "--tokens", "d/tokens"); !strings.Contains(out, "vindex keys init") {
		t.Fatalf("serve without a reference keyset:\n%s", out)
	}
	out := runCLI(t, dir, "keys", "init", "--dev", "--data", "d")
	if !strings.Contains(out, "kept keyset d/keyset.tink") || !strings.Contains(out, "made reference keyset d/refkeys.tink") {
		t.Fatalf("keys init on an older deployment:\n%s", out)
	}
	if prfAfter, _ := os.ReadFile(filepath.Join(dir, "d", "keyset.tink")); string(prfAfter) != string(prfBefore) {
		t.Fatal("keys init changed the existing PRF keyset")
	}
	first := refKeys(t, out)
	if len(first) != 1 {
		t.Fatalf("reference keys after init: %v", first)
	}
	var oldKey string
	for id := range first {
		oldKey = id
	}

	// Three registrations with a reference, sealed under the first key.
	p = start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	wij := devClient(t, dir, "d", p, "wij-groningen")
	report := func(n int, ref string) httpapi.RegistrationResponse {
		r := youthReport(t, n, "involvement")
		r.ClientRef = ref
		s, b, err := wij.post("/v1/registrations", r)
		if s != 200 {
			return must[httpapi.RegistrationResponse](t, s, b, err, 201)
		}
		return must[httpapi.RegistrationResponse](t, s, b, err, 200)
	}
	for n := range 3 {
		if got := report(n, fmt.Sprintf("DOS-%d", n)); got.ClientRef != fmt.Sprintf("DOS-%d", n) {
			t.Fatalf("registration %d: client_ref %q", n, got.ClientRef)
		}
	}
	p.stop(t)
	if got := refKeys(t, runCLI(t, dir, "keys", "status", "--dev", "--data", "d"))[oldKey]; got[2] != "3" {
		t.Fatalf("sealed references under %s: %v", oldKey, got)
	}

	out = runCLI(t, dir, "keys", "rotate", "--refs", "--dev", "--data", "d")
	if !strings.Contains(out, "new primary of the reference keyset") || len(refKeys(t, out)) != 2 {
		t.Fatalf("keys rotate --refs:\n%s", out)
	}
	if out := failing(t, dir, "keys", "retire", oldKey, "--refs", "--dev", "--data", "d"); !strings.Contains(out, "3 stored client references are still sealed under key "+oldKey) {
		t.Fatalf("retire with references under the key:\n%s", out)
	}
	// The references still read; reporting again seals them under the new
	// key.
	p = start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	wij = devClient(t, dir, "d", p, "wij-groningen")
	for n := range 3 {
		if got := report(n, ""); !got.Refreshed || got.ClientRef != fmt.Sprintf("DOS-%d", n) {
			t.Fatalf("after rotation, registration %d: %+v", n, got)
		}
	}
	p.stop(t)
	if got := refKeys(t, runCLI(t, dir, "keys", "status", "--dev", "--data", "d"))[oldKey]; got[2] != "0" {
		t.Fatalf("references under the old key after the refresh: %v", got)
	}
	if out := runCLI(t, dir, "keys", "retire", oldKey, "--refs", "--dev", "--data", "d"); !strings.Contains(out, "disabled") {
		t.Fatalf("retire --refs: %s", out)
	}
	if out := runCLI(t, dir, "keys", "retire", oldKey, "--refs", "--delete", "--dev", "--data", "d"); !strings.Contains(out, "deleted") || len(refKeys(t, out)) != 1 {
		t.Fatalf("retire --refs --delete: %s", out)
	}
	p = start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	wij = devClient(t, dir, "d", p, "wij-groningen")
	s, b, err := wij.post("/v1/lookups", httpapi.BSNRequest{BSN: validBSN(t, 1)})
	if v := must[httpapi.ViewResponse](t, s, b, err, 200); v.ClientRef != "DOS-1" {
		t.Fatalf("after the old key was deleted: %+v", v)
	}
	p.stop(t)
}
