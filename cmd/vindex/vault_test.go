package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/vaulttest"
)

// vaultArgs are the flags for a Vault KEK with the server's AppRole.
func vaultArgs(t *testing.T, dir string, v *vaulttest.Server) []string {
	f := filepath.Join(dir, "secret-id")
	if err := os.WriteFile(f, []byte(v.SecretID), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--kek", "vault", "--vault-addr", v.Addr, "--vault-key-path", v.KeyPath,
		"--vault-role-id", v.RoleID, "--vault-secret-id-file", f}
}

// failing runs vindex expecting it to exit with an error, and returns its
// standard error.
func failing(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("vindex %v succeeded", args)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("vindex %v did not exit", args)
	}
	return stderr.String()
}

func youthReport(t *testing.T, n int, kind string) httpapi.RegistrationRequest {
	r := httpapi.RegistrationRequest{BSN: validBSN(t, n), BirthDate: "2012-06-01", Municipality: "GM0014", Kind: kind,
		Contact: httpapi.ContactJSON{Name: "P", Phone: "050-1234567"}}
	if kind == "signal" {
		r.Code = "S01"
	}
	return r
}

// TestServeWithVault: the keyset is made and unwrapped through Vault
// (AppRole); with Vault hanging, back, and gone, the running server keeps
// matching; a start without Vault, or with a revoked AppRole, fails and
// says why.
func TestServeWithVault(t *testing.T) {
	v := vaulttest.Start(t, vaulttest.Options{})
	dir := t.TempDir()
	args := append([]string{"serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0"}, vaultArgs(t, dir, v)...)
	p := start(t, dir, args...)
	if !strings.Contains(p.stderr.String(), "keysets unwrapped") || !strings.Contains(p.stderr.String(), v.Addr) {
		t.Fatalf("no unwrap through Vault logged:\n%s", p.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "d", "dev-kek.json")); err == nil {
		t.Fatal("a development key file was made although the KEK is Vault")
	}
	school := devClient(t, dir, "d", p, "school-example-lyceum")
	wij := devClient(t, dir, "d", p, "wij-groningen")
	match := func(n int) {
		t.Helper()
		s, b, err := school.post("/v1/registrations", youthReport(t, n, "signal"))
		must[httpapi.RegistrationResponse](t, s, b, err, 201)
		s, b, err = wij.post("/v1/registrations", youthReport(t, n, "involvement"))
		if r := must[httpapi.RegistrationResponse](t, s, b, err, 201); !r.Matched || r.Coordinator == nil {
			t.Fatalf("youth %d: no match: %+v", n, r)
		}
	}
	match(1)
	// The server renews its token, and says on /metrics when it expires.
	if st, b, err := p.scrape(); err != nil || st != 200 ||
		!regexp.MustCompile(`(?m)^vindex_vault_token_expiry_timestamp_seconds [1-9]`).Match(b) {
		t.Errorf("no Vault token expiry on /metrics: %d %v", st, err)
	}
	// Vault hangs, then comes back: matching goes on throughout, and the
	// keyset still unwraps through Vault afterwards.
	v.Pause()
	match(2)
	v.Resume()
	match(3)
	if out := runCLI(t, dir, append([]string{"keys", "status", "--dev", "--data", "d"}, args[6:]...)...); !strings.Contains(out, "enabled") {
		t.Fatalf("keys status through Vault after it came back: %s", out)
	}
	v.Stop() // Vault is gone
	match(4)
	s, b, err := school.post("/v1/lookups", httpapi.BSNRequest{BSN: validBSN(t, 1)})
	if v := must[httpapi.ViewResponse](t, s, b, err, 200); !v.Matched {
		t.Fatal("lookup with Vault down")
	}
	p.stop(t)

	// Restart with Vault down: refused, naming the address.
	if out := failing(t, dir, args...); !strings.Contains(out, "Vault unreachable at "+v.Addr) {
		t.Fatalf("start with Vault down:\n%s", out)
	}

	// A revoked AppRole secret-id: refused, naming the login path.
	v2 := vaulttest.Start(t, vaulttest.Options{})
	if _, err := v2.Client(t).Logical().Write("auth/approle/role/vindex/secret-id/destroy", map[string]any{"secret_id": v2.SecretID}); err != nil {
		t.Fatal(err)
	}
	args2 := append([]string{"serve", "--dev", "--data", "d2", "--listen", "127.0.0.1:0"}, vaultArgs(t, dir, v2)...)
	out := failing(t, dir, args2...)
	if !strings.Contains(out, "Vault login failed at "+v2.Addr) || !strings.Contains(out, "auth/approle/login") {
		t.Fatalf("start with a revoked secret-id:\n%s", out)
	}
	if strings.Contains(out, v2.SecretID) || strings.Contains(out, v2.RootToken) {
		t.Fatal("the error quotes a credential")
	}
}

// TestRotationUnderLoadWithVault: while a school reports youths, the
// keyset is rotated through Vault and the server restarted; then WIJ
// reports every youth and every one is matched (no match lost). The old
// key cannot be retired while live registrations depend on it, and can
// once every record has moved to the new key.
func TestRotationUnderLoadWithVault(t *testing.T) {
	v := vaulttest.Start(t, vaulttest.Options{})
	dir := t.TempDir()
	va := vaultArgs(t, dir, v)
	serveArgs := append([]string{"serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0"}, va...)
	keysArgs := func(verb string, extra ...string) []string {
		return append(append([]string{"keys", verb}, extra...), append([]string{"--dev", "--data", "d"}, va...)...)
	}
	p := start(t, dir, serveArgs...)
	school := devClient(t, dir, "d", p, "school-example-lyceum")

	// The load: 4 clients report new youths until told to stop, retrying
	// across the restart.
	var next atomic.Int64
	var mu sync.Mutex
	acked := map[int]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var base atomic.Value
	base.Store(school.base)
	for range 4 {
		wg.Go(func() {
			c := *school
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := int(next.Add(1))
				for {
					c.base = base.Load().(string)
					s, _, err := c.post("/v1/registrations", youthReport(t, n, "signal"))
					if err == nil && (s == 201 || s == 200) {
						mu.Lock()
						acked[n] = true
						mu.Unlock()
						break
					}
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}
		})
	}
	waitFor := func(k int) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= k {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d registrations", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(100)
	p.stop(t)
	out := runCLI(t, dir, keysArgs("rotate")...)
	if !strings.Contains(out, "is the new primary") {
		t.Fatalf("rotate: %s", out)
	}
	p = start(t, dir, serveArgs...)
	base.Store("https://" + p.addr)
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	waitFor(before + 100)
	close(stop)
	wg.Wait()

	// The old key still has live registrations: retire is refused.
	p.stop(t)
	oldKey := oldKeyID(t, out)
	if n := liveOf(t, runCLI(t, dir, keysArgs("status")...), oldKey); n == "0" {
		t.Fatal("no live registration under the old key before the migration")
	}
	if out := failing(t, dir, keysArgs("retire", oldKey)...); !strings.Contains(out, "live registrations still depend on key "+oldKey) {
		t.Fatalf("retire with live registrations:\n%s", out)
	}

	// WIJ reports every youth: every one matches, across both keys.
	p = start(t, dir, serveArgs...)
	wij := devClient(t, dir, "d", p, "wij-groningen")
	lost := 0
	for n := range acked {
		s, b, err := wij.post("/v1/registrations", youthReport(t, n, "involvement"))
		if r := must[httpapi.RegistrationResponse](t, s, b, err, 201); !r.Matched {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d matches lost after the rotation", lost, len(acked))
	}
	t.Logf("%d youths reported around a rotation, all matched", len(acked))
	p.stop(t)

	// Every record has moved to the new key: the old one can be retired,
	// then deleted, and the youths still match.
	status := runCLI(t, dir, keysArgs("status")...)
	if liveOf(t, status, oldKey) != "0" {
		t.Fatalf("status after migration:\n%s", status)
	}
	if out := runCLI(t, dir, keysArgs("retire", oldKey)...); !strings.Contains(out, "disabled") {
		t.Fatalf("retire: %s", out)
	}
	if out := runCLI(t, dir, keysArgs("retire", oldKey, "--delete")...); !strings.Contains(out, "deleted") {
		t.Fatalf("retire --delete: %s", out)
	}
	p = start(t, dir, serveArgs...)
	school = devClient(t, dir, "d", p, "school-example-lyceum")
	for n := range acked {
		s, b, err := school.post("/v1/lookups", httpapi.BSNRequest{BSN: validBSN(t, n)})
		if v := must[httpapi.ViewResponse](t, s, b, err, 200); !v.Matched {
			t.Fatalf("youth %d not matched after the old key was deleted", n)
		}
	}
	p.stop(t)

	// The Vault key is rotated; the keyset is rewrapped under its new
	// version, the old version retired, and the server still starts.
	root := v.Client(t)
	if _, err := root.Logical().Write("transit/keys/"+v.Key+"/rotate", nil); err != nil {
		t.Fatal(err)
	}
	if out := runCLI(t, dir, keysArgs("rewrap")...); !strings.Contains(out, "transit key version 2") {
		t.Fatalf("rewrap: %s", out)
	}
	if _, err := root.Logical().Write("transit/keys/"+v.Key+"/config", map[string]any{"min_decryption_version": 2}); err != nil {
		t.Fatal(err)
	}
	p = start(t, dir, serveArgs...)
	p.stop(t)
}

// oldKeyID returns the ID of the key that is not primary in a status table.
func oldKeyID(t *testing.T, out string) string {
	for _, line := range strings.Split(out[strings.Index(out, "key_id"):], "\n")[1:] {
		if f := strings.Fields(line); len(f) == 4 && f[2] == "false" {
			return f[0]
		}
	}
	t.Fatalf("no old key in:\n%s", out)
	return ""
}

// liveOf returns the live registrations of key id in a status table.
func liveOf(t *testing.T, out, id string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == id {
			return f[3]
		}
	}
	t.Fatalf("no key %s in:\n%s", id, out)
	return ""
}
