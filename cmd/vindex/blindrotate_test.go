package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/keyholder"
)

// elementsUnder computes the elements of bsns under key, as a client
// system does with one key holder (in process here: the key holder's side
// of a rotation is vindex keyholder rotate's own test).
func elementsUnder(t *testing.T, key *oprf.PrivateKey, bsns []identity.BSN) []string {
	t.Helper()
	var out []string
	for _, y := range testkeys.Elements(t, bsns, key) {
		b, _ := y.MarshalText()
		out = append(out, string(b))
	}
	return out
}

var rekeyCompleteRE = regexp.MustCompile(`"msg":"rekey complete".*"stranded":0`)

// waitRekeyed waits until p logs a complete re-keying walk.
func waitRekeyed(t *testing.T, p *proc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !rekeyCompleteRE.MatchString(p.stderr.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no complete rekey walk logged:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBlindRotationLive rotates both layers of a blind deployment of real
// processes without a BSN: the index's own PRF key (keys rotate --blind,
// restart, the server re-keys every record in the background while
// reports go on, the old key retired and deleted) and a key holder's key
// (its rotation file taken over with keys rotate --blind
// --keyholder-rotation; during the rotation elements of either key,
// named by youth_key, find the youth, and one without youth_key is
// refused; after --finish-keyholder-rotation only the new key's elements
// do). Every youth registered before still matches, and the layer file
// never holds the ratio in the clear.
func TestBlindRotationLive(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, dir, "keys", "init", "--dev", "--data", "d", "--create-dev-kek", "--pseudonyms", "blind")
	const n = 40
	bsns := make([]identity.BSN, n)
	for i := range bsns {
		b, err := identity.ParseBSN(validBSN(t, 500+i))
		if err != nil {
			t.Fatal(err)
		}
		bsns[i] = b
	}
	ka := oprf.GenerateKey()
	oldEl := elementsUnder(t, ka, bsns)
	idA := oprf.LayerID(ka.Public())

	report := func(c *client, el, key, kind string) (int, []byte) {
		r := httpapi.RegistrationRequest{Youth: el, YouthKey: key, BornIn: "2014-05", Municipality: "GM0014", Kind: kind,
			Contact: httpapi.ContactJSON{Name: "R. Otatie", Phone: "050-5550101"}}
		if kind == "signal" {
			r.Code = "S01"
			r.ClientRef = "DOS-2026-0042" // sealed under the reference key, as the elements are
		}
		s, b, err := c.post("/v1/registrations", r)
		if err != nil {
			t.Fatal(err)
		}
		return s, b
	}
	lookup := func(c *client, el, key string) int {
		s, _, err := c.post("/v1/lookups", httpapi.BSNRequest{Youth: el, YouthKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	serve := func() (*proc, *client, *client) {
		p := start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
		return p, devClient(t, dir, "d", p, "school-example-lyceum"), devClient(t, dir, "d", p, "wij-groningen")
	}
	// reportDuring reports youths by WIJ until stop is closed.
	reportDuring := func(wij *client, els []string, key string, stop chan struct{}) *sync.WaitGroup {
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if s, b := report(wij, els[i%n], key, "involvement"); s != 201 && s != 200 {
					t.Errorf("a report during the re-keying: %d %s", s, b)
					return
				}
			}
		})
		return &wg
	}

	var wij *client
	p, school, _ := serve()
	for i := range n {
		if s, b := report(school, oldEl[i], "", "signal"); s != 201 {
			t.Fatalf("report %d: %d %s", i, s, b)
		}
	}
	waitRekeyed(t, p) // a first start has nothing to move
	p.stop(t)

	// 1. The index's own layer.
	out := runCLI(t, dir, "keys", "rotate", "--blind", "--dev", "--data", "d")
	if !strings.Contains(out, "re-keys every record") {
		t.Fatalf("keys rotate --blind:\n%s", out)
	}
	oldKey := regexp.MustCompile(`(?m)^(\d+)\s+enabled\s+false`).FindStringSubmatch(out)
	if oldKey == nil {
		t.Fatalf("no old key in:\n%s", out)
	}
	// Retiring the old key before the walk would lose the ended
	// registrations still under it: refused.
	if out := runCLIFail(t, dir, "keys", "retire", oldKey[1], "--dev", "--data", "d"); !strings.Contains(out, "not yet re-keyed") {
		t.Fatalf("retire before the walk:\n%s", out)
	}
	p, _, wij = serve()
	stop := make(chan struct{})
	wg := reportDuring(wij, oldEl, "", stop)
	waitRekeyed(t, p)
	close(stop)
	wg.Wait()
	p.stop(t)
	runCLI(t, dir, "keys", "retire", oldKey[1], "--dev", "--data", "d")
	runCLI(t, dir, "keys", "retire", oldKey[1], "--delete", "--dev", "--data", "d")
	p, school, _ = serve()
	for i := range n {
		if s := lookup(school, oldEl[i], ""); s != 200 {
			t.Fatalf("youth %d after the index's old key is deleted: %d", i, s)
		}
	}
	p.stop(t)

	// The reference key, which seals the elements the records keep: the
	// walk seals them anew under the new one, and the old one retires.
	out = runCLI(t, dir, "keys", "rotate", "--refs", "--dev", "--data", "d")
	oldRef := regexp.MustCompile(`(?m)^(\d+)\s+enabled\s+false\s+(\d+)`).FindAllStringSubmatch(out, -1)
	if len(oldRef) != 1 || oldRef[0][2] == "0" {
		t.Fatalf("no old reference key holding elements in:\n%s", out)
	}
	if out := runCLIFail(t, dir, "keys", "retire", oldRef[0][1], "--refs", "--dev", "--data", "d"); !strings.Contains(out, "not yet re-keyed") {
		t.Fatalf("retire of a reference key that seals elements:\n%s", out)
	}
	p, _, _ = serve()
	waitRekeyed(t, p)
	p.stop(t)
	runCLI(t, dir, "keys", "retire", oldRef[0][1], "--refs", "--dev", "--data", "d")

	// 2. A key holder's key.
	ka2 := oprf.GenerateKey()
	rot, err := keyholder.NewRotation(ka, ka2)
	if err != nil {
		t.Fatal(err)
	}
	rotFile := filepath.Join(dir, "rotation.json")
	if err := keyholder.WriteRotation(rotFile, rot); err != nil {
		t.Fatal(err)
	}
	ratio, _ := rot.Ratio.MarshalBinary()
	runCLI(t, dir, "keys", "rotate", "--blind", "--keyholder-rotation", rotFile, "--dev", "--data", "d")
	if out := runCLIFail(t, dir, "keys", "rotate", "--blind", "--finish-keyholder-rotation", "--dev", "--data", "d"); !strings.Contains(out, "not yet re-keyed") {
		t.Fatalf("finish before the walk:\n%s", out)
	}
	newEl := elementsUnder(t, ka2, bsns)
	idB := oprf.LayerID(ka2.Public())
	p, school, wij = serve()
	if s, b := report(wij, newEl[0], "", "involvement"); s != 400 || !bytes.Contains(b, []byte("youth_key_required")) {
		t.Fatalf("no youth_key during a rotation: %d %s", s, b)
	}
	if s, b := report(wij, newEl[0], oprf.LayerID(oprf.GenerateKey().Public()), "involvement"); s != 400 || !bytes.Contains(b, []byte("youth_key_unknown")) {
		t.Fatalf("another key's youth_key: %d %s", s, b)
	}
	stop = make(chan struct{})
	wg = reportDuring(wij, oldEl, idA, stop)
	for i := range n { // the new key's elements find every youth, moved or not yet
		if s := lookup(school, newEl[i], idB); s != 200 {
			t.Fatalf("youth %d by the new key during the rotation: %d", i, s)
		}
	}
	waitRekeyed(t, p)
	close(stop)
	wg.Wait()
	p.stop(t)
	// The layer file is rewrapped with the keysets (it holds the ratio).
	layerFile := filepath.Join(dir, "d", "blind-layer")
	before := readFile(t, layerFile)
	if out := runCLI(t, dir, "keys", "rewrap", "--dev", "--data", "d"); !strings.Contains(out, "blind-layer") || readFile(t, layerFile) == before {
		t.Fatalf("keys rewrap left the layer file as it was:\n%s", out)
	}
	runCLI(t, dir, "keys", "rotate", "--blind", "--finish-keyholder-rotation", "--dev", "--data", "d")
	// The same rotation taken over again would re-key every element once
	// more: refused.
	if out := runCLIFail(t, dir, "keys", "rotate", "--blind", "--keyholder-rotation", rotFile, "--dev", "--data", "d"); !strings.Contains(out, "taken over before") {
		t.Fatalf("the same rotation again:\n%s", out)
	}
	p, school, wij = serve()
	for i := range n {
		if s := lookup(school, newEl[i], idB); s != 200 {
			t.Fatalf("youth %d after the rotation: %d", i, s)
		}
		if s := lookup(school, oldEl[i], idA); s != 400 {
			t.Fatalf("youth %d by the old key's element after the rotation: %d, want 400 youth_key_unknown", i, s)
		}
		if s := lookup(school, oldEl[i], ""); s != 404 {
			t.Fatalf("youth %d by the old key's element, no youth_key, after the rotation: %d", i, s)
		}
	}
	if s, b := report(wij, newEl[3], idB, "involvement"); s != 200 && s != 201 || !matched(t, b) {
		t.Fatalf("a report after both rotations: %d %s", s, b)
	}
	p.stop(t)
	// Who accessed the youth, by its element, with the server stopped: the
	// report made after both rotations is there.
	if out := runCLI(t, dir, "audit", "extract", "--youth", newEl[3], "--dev", "--data", "d"); !strings.Contains(out, "wij-groningen") || !strings.Contains(out, "register") {
		t.Fatalf("audit extract --youth:\n%s", out)
	}
	// Every key change is in the audit log: the key holders' layer as the
	// keyset "keyholder", its generations as keys.
	var outcomes []string
	for _, e := range auditEntries(t, dir) {
		if e.Institution == "operator" && strings.HasPrefix(e.Verb.String(), "key-") {
			outcomes = append(outcomes, e.Verb.String()+" "+e.Outcome)
		}
	}
	want := []string{"key-rotate keyholder:1", "key-retire keyholder:0"}
	for _, w := range want {
		if !slices.Contains(outcomes, w) {
			t.Fatalf("no %q among the key entries %q", w, outcomes)
		}
	}
	// The ratio never in the clear in the data directory or beside the keys.
	for _, d := range []string{filepath.Join(dir, "d")} {
		scan := func(needle []byte, what string) {
			files, _ := dirFiles(d)
			for _, f := range files {
				b := []byte(readFile(t, filepath.Join(d, f)))
				if bytes.Contains(b, needle) {
					t.Fatalf("%s in %s", what, f)
				}
			}
		}
		scan(ratio, "the ratio")
		scan([]byte(base64.StdEncoding.EncodeToString(ratio)), "the ratio in base64")
	}
}

func matched(t *testing.T, b []byte) bool {
	var r httpapi.RegistrationResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.Matched
}
