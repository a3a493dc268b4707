package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/insecurelocalkek"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/testbsn"
	"github.com/vindex-nl/vindex/internal/vaulttest"
	"github.com/vindex-nl/vindex/keyholder"
)

// khClient talks to a running `vindex keyholder serve --dev`.
type khClient struct {
	http  *http.Client
	base  string
	token string
}

// startKeyholder runs `vindex keyholder serve --dev` on data in dir and
// returns it with a client holding the printed token.
func startKeyholder(t *testing.T, dir, data string) (*proc, *khClient) {
	t.Helper()
	p := start(t, dir, "keyholder", "serve", "--dev", "--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	return khClientOf(t, dir, data, p)
}

// khClientOf is a client of the running key holder p, with the token it
// printed.
func khClientOf(t *testing.T, dir, data string, p *proc) (*proc, *khClient) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stdout.String(), "public key ") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var token string
	for line := range strings.Lines(p.stdout.String()) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "token" && f[1] == "dev" {
			token = f[2]
		}
	}
	if token == "" {
		t.Fatalf("no token printed:\n%s", p.stdout.String())
	}
	crt, err := os.ReadFile(filepath.Join(dir, data, "dev-tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(crt)
	return p, &khClient{base: "https://" + p.addr, token: token,
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 30 * time.Second}}
}

func (c *khClient) do(t *testing.T, method, path, token string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// evaluate blinds bs, has them evaluated and finishes against pub,
// returning Y and what went over the wire.
func (c *khClient) evaluate(t *testing.T, pub oprf.PublicKey, bs []identity.BSN) (ys, blinded, evaluated []oprf.Element) {
	t.Helper()
	st, blinded, err := oprf.Blind(bs...)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(oprf.EvaluateRequest{Blinded: blinded})
	status, b := c.do(t, "POST", "/v1/evaluate", c.token, body)
	if status != 200 {
		t.Fatalf("POST /v1/evaluate: %d %s", status, b)
	}
	ans, err := oprf.DecodeEvaluateResponse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if ys, err = oprf.Finish(st, ans.Evaluated, ans.Proof, pub); err != nil {
		t.Fatal(err)
	}
	return ys, blinded, ans.Evaluated
}

func khBSNs(t *testing.T, from, n int) ([]identity.BSN, []string) {
	t.Helper()
	var bs []identity.BSN
	var digits []string
	for i := range n {
		d := testbsn.For(40000000, from+i)
		b, err := identity.ParseBSN(d)
		if err != nil {
			t.Fatal(err)
		}
		bs, digits = append(bs, b), append(digits, d)
	}
	return bs, digits
}

// TestKeyholderCanary runs `vindex keyholder init` and `serve` as an
// operator would, evaluates BSNs over HTTPS with the printed token and
// checks every proof against the public key the CLI prints; the service
// refuses without a token. Then it scans everything the key holder wrote
// (its data directory, its standard output and error, its /metrics) for
// the BSNs, the blinded and evaluated elements and the Ys: none; and the
// data directory for the key's 32 bytes, hex and base64: none. A planted
// element, BSN and key are found.
func TestKeyholderCanary(t *testing.T) {
	dir := t.TempDir()
	data := "kh"
	runCLI(t, dir, "keyholder", "init", "--dev", "--data", data)
	printed := strings.TrimSpace(runCLI(t, dir, "keyholder", "public-key", "--dev", "--data", data))
	var pub oprf.PublicKey
	if err := pub.UnmarshalText([]byte(printed)); err != nil {
		t.Fatalf("public-key printed %q: %v", printed, err)
	}
	p, c := startKeyholder(t, dir, data)
	status, b := c.do(t, "GET", "/v1/public-key", "", nil)
	var served keyholder.PublicKeyResponse
	if err := json.Unmarshal(b, &served); status != 200 || err != nil || !served.PublicKey.Equal(pub) {
		t.Fatalf("GET /v1/public-key: %d %s (%v), want %s", status, b, err, printed)
	}

	needles := canary.Needles{}
	add := func(name string, es []oprf.Element) {
		for i, x := range es {
			raw, _ := x.MarshalBinary()
			text, _ := x.MarshalText()
			needles[name+" "+strconv.Itoa(i)] = [][]byte{raw, text}
		}
	}
	for round := range 3 {
		bs, digits := khBSNs(t, round*20, 20)
		for i, d := range digits {
			needles.BSN("bsn "+d, d)
			if round == 0 && i < 2 { // one at a time, too
				c.evaluate(t, pub, bs[i:i+1])
			}
		}
		ys, blinded, evaluated := c.evaluate(t, pub, bs)
		add("Y "+strconv.Itoa(round), ys)
		add("blinded "+strconv.Itoa(round), blinded)
		add("evaluated "+strconv.Itoa(round), evaluated)
		body, _ := json.Marshal(oprf.EvaluateRequest{Blinded: blinded})
		if status, b := c.do(t, "POST", "/v1/evaluate", "", body); status != 401 || !strings.Contains(string(b), `"code":"unauthenticated"`) {
			t.Fatalf("without a token: %d %s", status, b)
		}
		c.do(t, "POST", "/v1/evaluate", "vkh_wrong", body)
		c.do(t, "POST", "/v1/evaluate", c.token, []byte(`{"blinded":["`+digits[0]+`"]}`))
	}
	_, metrics, err := p.scrape()
	if err != nil || !strings.Contains(string(metrics), "vindex_keyholder_evaluations_total 62") {
		t.Fatalf("/metrics (%v):\n%s", err, metrics)
	}
	p.stop(t)
	logs := append(p.stderr.Bytes(), p.stdout.Bytes()...)
	if n := strings.Count(string(logs), `"msg":"request"`); n != 15 {
		t.Fatalf("%d access-log lines, want 15: the scan would prove little\n%s", n, logs)
	}

	dataDir := filepath.Join(dir, data)
	found, err := needles.ScanDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	found = append(found, needles.Scan("log", logs)...)
	found = append(found, needles.Scan("/metrics", metrics)...)
	if len(found) > 0 {
		t.Fatalf("found in what the key holder wrote:\n%s", strings.Join(found, "\n"))
	}
	keyNeedles := keyholderKeyNeedles(t, dataDir)
	if found, err := keyNeedles.ScanDir(dataDir); err != nil || len(found) > 0 {
		t.Fatalf("the key on disk in the clear (%v):\n%s", err, strings.Join(found, "\n"))
	}
	if found := keyNeedles.Scan("log", logs); len(found) > 0 {
		t.Fatalf("the key in the log:\n%s", strings.Join(found, "\n"))
	}

	// Positive control: what is planted is found.
	bs, digits := khBSNs(t, 0, 1)
	_, blinded, _ := oprf.Blind(bs...)
	text, _ := blinded[0].MarshalText()
	plant := filepath.Join(dataDir, "planted")
	os.WriteFile(plant, append(append(text, digits[0]...), keyNeedles["key hex"][0]...), 0o600)
	add("planted", blinded)
	if found, _ := needles.ScanDir(dataDir); len(found) != 2 {
		t.Fatalf("the scan found %v in the planted file, want the element and the BSN", found)
	}
	if found, _ := keyNeedles.ScanDir(dataDir); len(found) != 1 {
		t.Fatalf("the scan found %v in the planted file, want the key", found)
	}
}

// keyholderKeyNeedles unwraps the key in dataDir with the development KEK
// and returns its forms: the 32 bytes, hex and base64.
func keyholderKeyNeedles(t *testing.T, dataDir string) canary.Needles {
	t.Helper()
	kek, err := insecurelocalkek.Load(filepath.Join(dataDir, "dev-kek.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := keys.LoadSealed(filepath.Join(dataDir, "keyholder.key"), kek, keys.KeyholderAssociatedData("keyholder"))
	if err != nil || len(raw) != oprf.ScalarSize {
		t.Fatalf("unwrapping the key: %d bytes, %v", len(raw), err)
	}
	return canary.Needles{
		"key":            {raw},
		"key hex":        {[]byte(hex.EncodeToString(raw))},
		"key HEX":        {[]byte(strings.ToUpper(hex.EncodeToString(raw)))},
		"key base64":     {[]byte(base64.StdEncoding.EncodeToString(raw)), []byte(base64.RawStdEncoding.EncodeToString(raw))},
		"key base64 url": {[]byte(base64.URLEncoding.EncodeToString(raw)), []byte(base64.RawURLEncoding.EncodeToString(raw))},
	}
}

// The key holder's commands refuse what would lose or expose a key: init
// never replaces a key, serve without a key or with a .pub that is not
// its key's does not start, and neither the token file nor a wrong
// deployment gets past.
func TestKeyholderRefusals(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := vindex(append([]string{"keyholder"}, args...), &out, &out)
		return out.String(), err
	}
	data := filepath.Join(dir, "kh")
	if _, err := run("init", "--dev", "--data", data); err != nil {
		t.Fatal(err)
	}
	if _, err := run("init", "--dev", "--data", data); err == nil || !strings.Contains(err.Error(), "never replaced") {
		t.Fatalf("a second init: %v", err)
	}
	if _, err := run("serve", "--data", data, "--kek", "file", "--kek-file", filepath.Join(data, "dev-kek.json")); err == nil || !strings.Contains(err.Error(), "tls_cert") {
		t.Fatalf("serve without TLS: %v", err)
	}
	// Another deployment's associated data does not unwrap the key.
	_, err := run("serve", "--dev", "--data", data, "--deployment", "other", "--listen", "127.0.0.1:0", "--metrics-listen", "off")
	if err == nil || !strings.Contains(err.Error(), "unwrap") {
		t.Fatalf("serve under another deployment: %v", err)
	}
	// A public key file that is not the key's.
	os.WriteFile(filepath.Join(data, "keyholder.pub"), []byte(oprf.GenerateKey().Public().String()+"\n"), 0o600)
	_, err = run("serve", "--dev", "--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", "off")
	if err == nil || !strings.Contains(err.Error(), "is not the public key") {
		t.Fatalf("serve with another .pub: %v", err)
	}
	// token new appends a hashed line; the token is printed, never stored.
	tok, err := run("token", "new", "vendor-a", "--data", data)
	tok = strings.TrimSpace(tok)
	if err != nil || !strings.HasPrefix(tok, keyholder.TokenPrefix) {
		t.Fatalf("token new: %q %v", tok, err)
	}
	tokens, _ := os.ReadFile(filepath.Join(data, "tokens"))
	if strings.Contains(string(tokens), tok) || !strings.Contains(string(tokens), "vendor-a "+keyholder.TokenHash(tok)) {
		t.Fatalf("token file:\n%s", tokens)
	}
	if _, err := run("public-key", "--data", filepath.Join(dir, "none")); err == nil {
		t.Fatal("public-key without a key")
	}
	for _, sub := range []string{"init", "serve", "public-key"} {
		if _, err := run(sub, "--help"); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s --help: no ErrHelp", sub)
		}
	}
}

// TestKeyholderWithVault: the key holder's key is made and unwrapped
// through Vault transit (AppRole) as the index's keysets are; once
// started, the key holder evaluates with Vault gone, and a start without
// Vault fails and says why.
func TestKeyholderWithVault(t *testing.T) {
	v := vaulttest.Start(t, vaulttest.Options{})
	dir := t.TempDir()
	kek := vaultArgs(t, dir, v)
	out := runCLI(t, dir, append([]string{"keyholder", "init", "--data", "kh"}, kek...)...)
	if !strings.Contains(out, "wrapped with the Vault "+v.Addr) {
		t.Fatalf("init:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "kh", "dev-kek.json")); err == nil {
		t.Fatal("a development key file was made although the KEK is Vault")
	}
	var pub oprf.PublicKey
	if err := pub.UnmarshalText([]byte(strings.TrimSpace(runCLI(t, dir, "keyholder", "public-key", "--data", "kh")))); err != nil {
		t.Fatal(err)
	}
	p := start(t, dir, append([]string{"keyholder", "serve", "--dev", "--data", "kh", "--listen", "127.0.0.1:0", "--metrics-listen", "off"}, kek...)...)
	_, c := khClientOf(t, dir, "kh", p)
	bs, _ := khBSNs(t, 100, 2)
	before, _, _ := c.evaluate(t, pub, bs)
	// rotate wraps the next key with Vault as init wrapped the key.
	out = runCLI(t, dir, append([]string{"keyholder", "rotate", "--data", "kh", "--rotation-out", "rotation.json"}, kek...)...)
	if !strings.Contains(out, "next key kh/keyholder.next.key wrapped with the Vault "+v.Addr) {
		t.Fatalf("rotate:\n%s", out)
	}
	wrapped, _ := os.ReadFile(filepath.Join(dir, "kh", "keyholder.key"))
	v.Stop()
	after, _, _ := c.evaluate(t, pub, bs)
	if !before[0].Equal(after[0]) || !before[1].Equal(after[1]) {
		t.Fatal("another element with Vault gone")
	}
	p.stop(t)
	stderr := failing(t, dir, append([]string{"keyholder", "serve", "--dev", "--data", "kh", "--listen", "127.0.0.1:0", "--metrics-listen", "off"}, kek...)...)
	if !strings.Contains(stderr, v.Addr) {
		t.Fatalf("a start without Vault does not name it:\n%s", stderr)
	}
	// finish unwraps the next key before it replaces anything: without
	// Vault it fails and the current key stays.
	stderr = failing(t, dir, append([]string{"keyholder", "rotate", "--data", "kh", "--finish"}, kek...)...)
	if !strings.Contains(stderr, v.Addr) {
		t.Fatalf("finish without Vault does not name it:\n%s", stderr)
	}
	if w, _ := os.ReadFile(filepath.Join(dir, "kh", "keyholder.key")); !bytes.Equal(w, wrapped) || !exists(filepath.Join(dir, "kh", "keyholder.next.key")) {
		t.Fatal("a finish that failed replaced the key")
	}
}
