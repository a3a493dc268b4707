package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// runObjection runs vindex objection in dir with the youth on standard
// input and returns its standard output; it fails the test if the command
// fails or quotes the BSN.
func runObjection(t *testing.T, dir, youth string, args ...string) string {
	t.Helper()
	stdout, stderr, code := runMunicipal(t, dir, "objection", youth, args...)
	if code != 0 {
		t.Fatalf("vindex objection %v: exit status %d\n%s%s", args, code, stdout, stderr)
	}
	if f := strings.Fields(youth); len(f) > 0 && strings.Contains(stdout+stderr, f[0]) {
		t.Fatalf("vindex objection quotes the BSN:\n%s%s", stdout, stderr)
	}
	return stdout
}

// TestObjectionEndToEnd: a municipality carries out an objection with
// vindex objection, through the API of a running server and against the
// data directory of a stopped one; afterwards the institutions' lookups
// answer not_involved. Another municipality gets the same output as for a
// youth nobody registered, and removes nothing.
func TestObjectionEndToEnd(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0")
	register := func(n int) {
		for _, inst := range []string{"ggd-groningen", "wij-groningen"} {
			status, body, err := devClient(t, dir, "vindex-data", p, inst).post("/v1/registrations", map[string]any{
				"bsn": validBSN(t, n), "birth_date": "2014-05-17", "municipality": "GM0014", "kind": "involvement",
				"contact": map[string]string{"name": "A. Jansen", "phone": "050-1234567"},
			})
			must[map[string]any](t, status, body, err, 201)
		}
	}
	lookup := func(n int) int {
		status, _, err := devClient(t, dir, "vindex-data", p, "ggd-groningen").post("/v1/lookups", map[string]string{"bsn": validBSN(t, n)})
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	register(1)
	register(2)
	api := []string{"--url", "https://" + p.addr, "--token-file", "vindex-data/dev-tokens.txt", "--cacert", "vindex-data/dev-tls.crt", "--scope", "all"}
	youth := func(n int) string { return validBSN(t, n) + " 2014-05-17\n" }

	other := runObjection(t, dir, youth(1), append(api, "--as", "gemeente-het-hogeland")...)
	unknown := runObjection(t, dir, youth(3), append(api, "--as", "gemeente-groningen")...)
	if other != unknown || !strings.HasPrefix(other, "objection carried out (scope all)") {
		t.Fatalf("another municipality: %q; an unknown youth: %q", other, unknown)
	}
	if s := lookup(1); s != 200 {
		t.Fatalf("another municipality's objection removed the registrations: lookup %d", s)
	}
	// With the municipality's own token file, one bare token as vindex
	// tokens new prints it, --as is not needed.
	toks, err := readTokens(filepath.Join(dir, "vindex-data", "dev-tokens.txt"))
	if err != nil {
		t.Fatal(err)
	}
	own := writeFile(t, dir, "gemeente.token", toks["gemeente-groningen"]+"\n")
	if out := runObjection(t, dir, youth(1), "--url", "https://"+p.addr, "--token-file", own, "--cacert", "vindex-data/dev-tls.crt", "--scope", "all"); out != unknown {
		t.Fatalf("the objection: %q", out)
	}
	if s := lookup(1); s != 404 {
		t.Fatalf("lookup after the objection over the API: %d, want 404", s)
	}

	// The server stopped: against the data directory, from a file.
	p.stop(t)
	in := writeFile(t, dir, "objection.txt", youth(2))
	if out := runObjection(t, dir, "", "--dev", "--data", "vindex-data", "--as", "gemeente-groningen",
		"--scope", "institution", "--institution", "wij-groningen", "--input", in); out != "objection carried out (scope institution wij-groningen): the youth has no registration in scope left, if it had any\n" {
		t.Fatalf("the objection with the server stopped: %q", out)
	}
	p = start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0")
	status, body, err := devClient(t, dir, "vindex-data", p, "wij-groningen").post("/v1/lookups", map[string]string{"bsn": validBSN(t, 2)})
	if err != nil || status != 404 {
		t.Fatalf("WIJ's lookup after the objection to its registrations: %d %s %v", status, body, err)
	}
	status, body, err = devClient(t, dir, "vindex-data", p, "ggd-groningen").post("/v1/lookups", map[string]string{"bsn": validBSN(t, 2)})
	if v := must[map[string]any](t, status, body, err, 200); v["matched"] != false {
		t.Fatalf("the GGD's view after WIJ's registration went: %v", v)
	}
	p.stop(t)
}
