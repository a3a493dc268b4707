package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/keyholdertest"
	"github.com/vindex-nl/vindex/internal/testbsn"
	"github.com/vindex-nl/vindex/keyholder"
)

// blindHolder is a running `vindex keyholder serve --dev` and the flags an
// operator's command takes for it, all with absolute paths.
type blindHolder struct {
	p     *proc
	flags []string
	kf    holderFlags // the same, with the token file of the client "test"
}

// startBlindHolder runs `vindex keyholder serve --dev` in dir/kh at eps
// elements a second per client, with a second client "test" whose token
// the test itself uses (its own rate), and writes the dev client's token
// to a file as an operator would.
func startBlindHolder(t *testing.T, dir, eps string) *blindHolder {
	t.Helper()
	runCLI(t, dir, "keyholder", "init", "--dev", "--data", "kh")
	testToken := ""
	for line := range strings.Lines(runCLI(t, dir, "keyholder", "token", "new", "test", "--dev", "--data", "kh")) {
		if f := strings.Fields(line); len(f) == 1 {
			testToken = f[0]
		}
	}
	if testToken == "" {
		t.Fatal("keyholder token new printed no token")
	}
	pub := strings.TrimSpace(runCLI(t, dir, "keyholder", "public-key", "--dev", "--data", "kh"))
	p := start(t, dir, "keyholder", "serve", "--dev", "--data", "kh", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--elements-per-second", eps)
	_, c := khClientOf(t, dir, "kh", p)
	tokenFile := writeFile(t, dir, "kh.token", c.token+"\n")
	testFile := writeFile(t, dir, "kh-test.token", testToken+"\n")
	cacert := filepath.Join(dir, "kh", "dev-tls.crt")
	return &blindHolder{p: p,
		flags: []string{"--keyholder", c.base, "--keyholder-token-file", tokenFile, "--keyholder-public-key", pub, "--keyholder-cacert", cacert},
		kf:    holderFlags{urls: stringsFlag{c.base}, tokenFiles: stringsFlag{testFile}, publicKeys: stringsFlag{pub}, cacerts: stringsFlag{cacert}}}
}

// elementsOf computes the elements of digits with the key holder, as a
// client system would, through the test's own token.
func (h *blindHolder) elementsOf(t *testing.T, digits []string) []string {
	t.Helper()
	b, err := h.kf.blinder()
	if err != nil {
		t.Fatal(err)
	}
	bs := make([]identity.BSN, len(digits))
	for i, d := range digits {
		if bs[i], err = identity.ParseBSN(d); err != nil {
			t.Fatal(err)
		}
	}
	var told atomic.Bool
	ys, err := elements(context.Background(), b, bs, os.Stderr, &told)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(ys))
	for i, y := range ys {
		text, _ := y.MarshalText()
		out[i] = string(text)
	}
	return out
}

// blindYouths are the youths of a blind import: BSNs and birth dates
// (never on the first of a month, so that no birth month is one).
type blindYouths struct {
	bsns, births []string
}

func newBlindYouths(n int) blindYouths {
	var y blindYouths
	for i := range n {
		y.bsns = append(y.bsns, testbsn.For(10000000, 5000000+i))
		y.births = append(y.births, fmt.Sprintf("%d-%02d-%02d", 2010+i%6, 1+i%12, 2+i%27))
	}
	return y
}

// csv writes the youths' reports, a school's signal and WIJ's involvement
// each: by BSN and birth date, or, with elements, by element and birth
// month.
func (y blindYouths) csv(elements []string) string {
	var b strings.Builder
	id, born := "bsn,birth_date", func(i int) string { return y.bsns[i] + "," + y.births[i] }
	if elements != nil {
		id, born = "youth,born_in", func(i int) string { return elements[i] + "," + y.births[i][:7] }
	}
	b.WriteString("institution," + id + ",municipality,kind,code,contact_name,contact_phone\n")
	for i := range y.bsns {
		fmt.Fprintf(&b, "school-example-lyceum,%s,GM0014,signal,S01,M. Bakker,050-1111111\n", born(i))
		fmt.Fprintf(&b, "wij-groningen,%s,GM0014,involvement,,A. Jansen,050-2222222\n", born(i))
	}
	return b.String()
}

// turned reports whether an import's output says that it turned from to
// to BSNs into elements through holders key holders: each youth's BSN
// once, and once more for a youth whose rows two batches share.
func turned(out string, from, to, holders int) bool {
	for line := range strings.Lines(out) {
		var n, h int
		if _, err := fmt.Sscanf(line, "turned %d BSNs into elements through %d key holder(s)", &n, &h); err == nil {
			return from <= n && n <= to && h == holders
		}
	}
	return false
}

// runImport runs vindex import in dir and returns its output and exit
// status.
func runImport(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"import"}, args...)...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errOut.String(), code
}

// TestImportBlindThroughKeyholder: a blind deployment imports a CSV of
// BSNs and birth dates, migrated from another index, through a real `vindex
// keyholder serve` whose rate limit the import waits for: every good row
// is imported and matched, bad rows are reported by line, and neither the
// output nor the store holds a BSN or a birth date of the file. The same
// rows given as elements and birth months, in a second blind deployment,
// give the same matches and events. Then subject-access and objection,
// by --youth and by the BSN through the key holder, with the server stopped
// and through its API, find and remove the right youth.
func TestImportBlindThroughKeyholder(t *testing.T) {
	const youths = 1100 // more BSNs than a batch holds, so a second batch meets the rate limit
	dir := t.TempDir()
	kh := startBlindHolder(t, dir, "60")
	defer kh.p.stop(t)
	ys := newBlindYouths(youths)
	bad := []struct{ row, reason string }{
		{"wij-groningen,123456789,2013-04-05,GM0014,involvement,,A,050-1", "identity: BSN fails the eleven-check (bsn)"},
		{"wij-groningen," + testbsn.For(10000000, 5000000+9000) + ",2013-13-05,GM0014,involvement,,A,050-1", "(birth_date)"},
		{"wij-groningen,,2013-04-05,GM0014,involvement,,A,050-1", "(bsn)"},
		{"nobody," + testbsn.For(10000000, 5000000+9001) + ",2013-04-05,GM0014,involvement,,A,050-1", "matcher: unknown institution"},
	}
	bsnCSV := ys.csv(nil)
	for _, x := range bad {
		bsnCSV += x.row + "\n"
	}
	in := writeFile(t, dir, "migration.csv", bsnCSV)
	for _, d := range []string{"d1", "d2"} {
		runCLI(t, dir, "keys", "init", "--dev", "--data", d, "--create-dev-kek", "--pseudonyms", "blind")
	}

	stdout, stderr, code := runImport(t, dir, append([]string{in, "--dev", "--data", "d1"}, kh.flags...)...)
	if code != 1 {
		t.Fatalf("import with rejected rows: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, fmt.Sprintf("imported %d registrations (%d made a match)", 2*youths, youths)) ||
		!strings.Contains(stdout, "rejected 4 rows") || !turned(stdout, youths+1, youths+2, 1) {
		t.Fatalf("summary:\n%s%s", stdout, stderr)
	}
	for i, x := range bad {
		if want := fmt.Sprintf("%s:%d: ", in, 2*youths+2+i); !strings.Contains(stdout, want) || !strings.Contains(stdout, x.reason) {
			t.Errorf("rejection %q of line %d not reported:\n%s", x.reason, 2*youths+2+i, stdout)
		}
	}
	if !strings.Contains(stderr, "limits this client's rate (429 rate_limited): waiting") {
		t.Errorf("the rate limit was not met, or not said:\n%s", stderr)
	}

	// Canary: the BSNs and birth dates of the file are neither in the
	// output nor in the data directory: every one as text, forty BSNs as
	// 8-byte integers too. (Not as 4-byte integers: the store of 2200
	// registrations holds megabytes of pseudonyms and sealed fields, in
	// which one of a hundred 4-byte patterns turns up by chance in one run
	// of ten.)
	needles := canary.Needles{}
	bsnNeedles := func(name, digits string, binary bool) {
		needles.BSN(name, digits)
		needles[name] = slices.DeleteFunc(needles[name], func(b []byte) bool { return len(b) == 4 || !binary && len(b) == 8 })
	}
	for i := range youths {
		bsnNeedles("bsn "+strconv.Itoa(i), ys.bsns[i], i < 40)
		needles.Date("birth date "+strconv.Itoa(i), ys.births[i])
	}
	bsnNeedles("bad bsn", "123456789", true)
	bsnNeedles("bad row bsn", testbsn.For(10000000, 5000000+9001), true)
	found := needles.Scan("import output", []byte(stdout+stderr))
	atRest, err := needles.ScanDir(filepath.Join(dir, "d1"))
	if err != nil {
		t.Fatal(err)
	}
	if found = append(found, atRest...); len(found) > 0 {
		t.Fatalf("the import left identities behind:\n%s", strings.Join(found, "\n"))
	}
	planted := writeFile(t, dir, "d1/planted", "x"+ys.bsns[3]+"x"+ys.births[5]+"\n")
	if found, err := needles.ScanDir(filepath.Join(dir, "d1")); err != nil || !strings.Contains(strings.Join(found, ";"), "bsn 3 as") || !strings.Contains(strings.Join(found, ";"), "birth date 5 as") {
		t.Fatalf("a planted BSN and birth date: found %q (%v)", found, err)
	}
	os.Remove(planted)

	// The same rows as elements and birth months: the same matches and
	// events.
	els := kh.elementsOf(t, ys.bsns)
	youthCSV := writeFile(t, dir, "elements.csv", ys.csv(els))
	stdout2, stderr2, code := runImport(t, dir, youthCSV, "--dev", "--data", "d2")
	if code != 0 || !strings.Contains(stdout2, fmt.Sprintf("imported %d registrations (%d made a match)", 2*youths, youths)) {
		t.Fatalf("import of elements: exit %d\n%s%s", code, stdout2, stderr2)
	}
	byBSN, byElement := outboxOf(t, filepath.Join(dir, "d1", "store")), outboxOf(t, filepath.Join(dir, "d2", "store"))
	if len(byBSN) != 3*youths || !slices.Equal(byBSN, byElement) {
		t.Fatalf("events by BSN through the key holder (%d) and by element (%d) differ", len(byBSN), len(byElement))
	}

	// Subject access and objection in d1, with the server stopped: by
	// element, and by the BSN through the key holder.
	access := func(args ...string) (httpapi.SubjectAccessResponse, string, int) {
		t.Helper()
		out, errOut, code := runMunicipal(t, dir, "subject-access", "", append(args, "--as", "gemeente-groningen", "--json")...)
		var a httpapi.SubjectAccessResponse
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &a); err != nil {
				t.Fatalf("subject-access --json: %v\n%s", err, out)
			}
		}
		return a, errOut, code
	}
	stopped := []string{"--dev", "--data", "d1"}
	a, errOut, code := access(append(stopped, "--youth", els[7])...)
	if got := statuses(a); code != 0 || !slices.Equal(got, []string{"school-example-lyceum active", "wij-groningen active"}) {
		t.Fatalf("subject access by element: %d %v %s", code, got, errOut)
	}
	out, errOut, code := runMunicipal(t, dir, "subject-access", ys.bsns[8]+"\n", append(append(stopped, kh.flags...), "--as", "gemeente-groningen", "--json")...)
	if code != 0 || !strings.Contains(out, `"institution": "wij-groningen"`) || strings.Contains(out+errOut, ys.bsns[8]) {
		t.Fatalf("subject access by BSN through the key holder: %d\n%s%s", code, out, errOut)
	}
	runObjection(t, dir, "", append(stopped, "--as", "gemeente-groningen", "--scope", "all", "--youth", els[7])...)
	runObjection(t, dir, ys.bsns[9]+"\n", append(append(stopped, kh.flags...), "--as", "gemeente-groningen", "--scope", "institution", "--institution", "wij-groningen")...)
	if _, errOut, code := access(append(stopped, "--youth", els[7])...); code != 1 || !strings.Contains(errOut, "not involved") {
		t.Fatalf("subject access after the objection: %d %s", code, errOut)
	}
	if a, errOut, code := access(append(stopped, "--youth", els[9])...); code != 0 || !slices.Equal(statuses(a), []string{"school-example-lyceum active"}) {
		t.Fatalf("subject access after the objection to WIJ's registration: %d %v %s", code, statuses(a), errOut)
	}
	if a, _, code := access(append(stopped, "--youth", els[6])...); code != 0 || len(a.Registrations) != 2 {
		t.Fatalf("a youth nobody objected for: %d %v", code, statuses(a))
	}

	// Through the API of a running server: the same, and a BSN without
	// the key holders is refused with the flags named.
	p := start(t, dir, "serve", "--dev", "--data", "d1", "--listen", "127.0.0.1:0")
	api := []string{"--url", "https://" + p.addr, "--token-file", "d1/dev-tokens.txt", "--cacert", "d1/dev-tls.crt"}
	if a, errOut, code := access(append(api, "--youth", els[10])...); code != 0 || len(a.Registrations) != 2 {
		t.Fatalf("subject access by element through the API: %d %v %s", code, statuses(a), errOut)
	}
	runObjection(t, dir, ys.bsns[10]+"\n", append(append(api, kh.flags...), "--as", "gemeente-groningen", "--scope", "all")...)
	if _, errOut, code := access(append(api, "--youth", els[10])...); code != 1 || !strings.Contains(errOut, "not involved") {
		t.Fatalf("subject access through the API after the objection: %d %s", code, errOut)
	}
	_, errOut, code = runMunicipal(t, dir, "subject-access", ys.bsns[11]+" "+ys.births[11]+"\n", append(api, "--as", "gemeente-groningen")...)
	if code != 1 || !strings.Contains(errOut, "the server's index is blind") || !strings.Contains(errOut, "--keyholder-token-file") ||
		strings.Contains(errOut, ys.bsns[11]) {
		t.Fatalf("a BSN to a blind server without the key holders: %d %s", code, errOut)
	}
	p.stop(t)
}

// TestImportBlindRefusals: each mode refuses the other's columns and flags
// with a message that says what to give instead, before anything is read
// into the store; so do subject-access and objection.
func TestImportBlindRefusals(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, dir, "keys", "init", "--dev", "--data", "hmac", "--create-dev-kek")
	runCLI(t, dir, "keys", "init", "--dev", "--data", "blind", "--create-dev-kek", "--pseudonyms", "blind")
	el := func() string {
		k := oprf.GenerateKey()
		b, _ := identity.ParseBSN(validBSN(t, 1))
		st, blinded, _ := oprf.Blind(b)
		ev, proof, _ := oprf.Evaluate(k, blinded)
		ys, err := oprf.Finish(st, ev, proof, k.Public())
		if err != nil {
			t.Fatal(err)
		}
		text, _ := ys[0].MarshalText()
		return string(text)
	}()
	bsnCSV := writeFile(t, dir, "bsn.csv", "institution,bsn,birth_date,municipality,kind,contact_name,contact_phone\n"+
		"wij-groningen,"+validBSN(t, 1)+",2013-04-05,GM0014,involvement,A,050-1\n")
	youthCSV := writeFile(t, dir, "youth.csv", "institution,youth,born_in,municipality,kind,contact_name,contact_phone\n"+
		"wij-groningen,"+el+",2013-04,GM0014,involvement,A,050-1\n")
	holder := []string{"--keyholder", "https://127.0.0.1:1", "--keyholder-token-file", writeFile(t, dir, "t", "tok\n"),
		"--keyholder-public-key", "gC+2vNNnOjimWBYPvKXN9icgXm0ileOUvZoxDBNalyk="}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"hmac, youth column", []string{"import", youthCSV, "--dev", "--data", "hmac"}, []string{`youth.csv:1: column "youth": this deployment is not blind`}},
		{"hmac, key holders", append([]string{"import", bsnCSV, "--dev", "--data", "hmac"}, holder...), []string{"--keyholder: this deployment is not blind"}},
		{"blind, bsn column", []string{"import", bsnCSV, "--dev", "--data", "blind"},
			[]string{`bsn.csv:1: column "bsn": this deployment is blind`, "--keyholder URL", "--keyholder-token-file FILE", "--keyholder-public-key KEY"}},
		{"blind, youth column and key holders", append([]string{"import", youthCSV, "--dev", "--data", "blind"}, holder...), []string{"holds elements already"}},
		{"both id columns", []string{"import", writeFile(t, dir, "both.csv", "institution,bsn,youth,birth_date,municipality,kind\n"), "--dev", "--data", "blind"},
			[]string{`columns "bsn" and "youth": one of the two`}},
		{"one key holder flag short", []string{"import", bsnCSV, "--dev", "--data", "blind", "--keyholder", "https://127.0.0.1:1"},
			[]string{"1 --keyholder, 0 --keyholder-token-file, 0 --keyholder-public-key"}},
		{"http key holder", []string{"import", bsnCSV, "--dev", "--data", "blind", "--keyholder", "http://127.0.0.1:1", "--keyholder-token-file", "t",
			"--keyholder-public-key", "gC+2vNNnOjimWBYPvKXN9icgXm0ileOUvZoxDBNalyk="}, []string{"want the key holder's base URL, https://HOST:PORT"}},
		{"bad public key", []string{"import", bsnCSV, "--dev", "--data", "blind", "--keyholder", "https://127.0.0.1:1", "--keyholder-token-file", "t",
			"--keyholder-public-key", "not-a-key"}, []string{"--keyholder-public-key (key holder 1): not a public key"}},
	} {
		msg := runCLIFail(t, dir, c.args...)
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not say %q", c.name, msg, w)
			}
		}
		if strings.Contains(msg, validBSN(t, 1)) || strings.Contains(msg, "2013-04-05") {
			t.Errorf("%s: the message quotes the file: %s", c.name, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "blind", "store")); err == nil {
		t.Error("a refused import made the store")
	}

	for _, cmd := range []string{"subject-access", "objection"} {
		scope := []string{"--as", "gemeente-groningen"}
		if cmd == "objection" {
			scope = append(scope, "--scope", "all")
		}
		line := validBSN(t, 1) + " 2013-04-05\n"
		_, errOut, code := runMunicipal(t, dir, cmd, line, append(scope, "--dev", "--data", "blind")...)
		if code != 1 || !strings.Contains(errOut, "this deployment is blind") || !strings.Contains(errOut, "--keyholder-public-key KEY") ||
			!strings.Contains(errOut, "--youth ELEMENT") {
			t.Errorf("%s: a BSN in a blind deployment without the key holders: %d %s", cmd, code, errOut)
		}
		_, errOut, code = runMunicipal(t, dir, cmd, "", append(scope, "--dev", "--data", "hmac", "--youth", el)...)
		if code != 1 || !strings.Contains(errOut, "this deployment is not blind") {
			t.Errorf("%s: --youth in an hmac deployment: %d %s", cmd, code, errOut)
		}
		_, errOut, code = runMunicipal(t, dir, cmd, "", append(scope, "--dev", "--data", "blind", "--youth", "AAAA")...)
		if code != 1 || !strings.Contains(errOut, "--youth: not an element") {
			t.Errorf("%s: --youth that is no element: %d %s", cmd, code, errOut)
		}
		_, errOut, code = runMunicipal(t, dir, cmd, line, append(append(scope, "--dev", "--data", "blind"), holder...)...)
		if code != 1 || !strings.Contains(errOut, `want one line "BSN" (the BSN alone`) || strings.Contains(errOut, validBSN(t, 1)) {
			t.Errorf("%s: a birth date with the key holders: %d %s", cmd, code, errOut)
		}
		_, errOut, code = runMunicipal(t, dir, cmd, "", append(append(scope, "--dev", "--data", "blind", "--youth", el), holder...)...)
		if code != 2 && code != 1 || !strings.Contains(errOut, "--youth or the --keyholder flags, not both") {
			t.Errorf("%s: --youth and the key holders: %d %s", cmd, code, errOut)
		}
	}
}

// inProcessHolder runs the key-holder service in process over TLS and
// returns its flags (URL, token file, public key, CA certificate) and key.
func inProcessHolder(t *testing.T, dir, name string) ([]string, *oprf.PrivateKey) {
	t.Helper()
	h, key, token := keyholdertest.Handler(t, keyholder.Config{}, "index")
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	pub, _ := key.Public().MarshalText()
	cert := writeFile(t, dir, name+".crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	return []string{"--keyholder", srv.URL, "--keyholder-token-file", writeFile(t, dir, name+".token", token+"\n"),
		"--keyholder-public-key", string(pub), "--keyholder-cacert", cert}, key
}

// TestImportBlindSplitKey: with two key holders (a split key) the import
// gives each youth the element k_B·k_A·H(x), computed here in process
// from the two keys: importing the BSNs through the key holders and the
// elements computed directly give the same events. A key holder that
// answers with another key than the configured one, or refuses the token,
// stops the import before anything is stored.
func TestImportBlindSplitKey(t *testing.T) {
	const youths = 30
	dir := t.TempDir()
	a, ka := inProcessHolder(t, dir, "a")
	b, kb := inProcessHolder(t, dir, "b")
	ys := newBlindYouths(youths)
	bs := make([]identity.BSN, youths)
	for i, d := range ys.bsns {
		bs[i], _ = identity.ParseBSN(d)
	}
	st, blinded, _ := oprf.Blind(bs...)
	ev, proof, _ := oprf.Evaluate(ka, blinded)
	ya, err := oprf.Finish(st, ev, proof, ka.Public())
	if err != nil {
		t.Fatal(err)
	}
	st, blinded, _ = oprf.BlindElements(ya...)
	ev, proof, _ = oprf.Evaluate(kb, blinded)
	yab, err := oprf.Finish(st, ev, proof, kb.Public())
	if err != nil {
		t.Fatal(err)
	}
	els := make([]string, youths)
	for i, y := range yab {
		text, _ := y.MarshalText()
		els[i] = string(text)
	}
	bsnCSV := writeFile(t, dir, "bsn.csv", ys.csv(nil))
	youthCSV := writeFile(t, dir, "youth.csv", ys.csv(els))
	data := func(name string) string {
		d := filepath.Join(dir, name)
		if err := vindex([]string{"keys", "init", "--dev", "--data", d, "--create-dev-kek", "--pseudonyms", "blind"}, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		return d
	}
	split, direct := data("split"), data("direct")
	var out strings.Builder
	if err := vindex(append([]string{"import", bsnCSV, "--dev", "--data", split}, append(a, b...)...), &out, io.Discard); err != nil {
		t.Fatalf("import through two key holders: %v\n%s", err, out.String())
	}
	if !turned(out.String(), youths, youths, 2) {
		t.Fatalf("import through two key holders:\n%s", out.String())
	}
	if err := vindex([]string{"import", youthCSV, "--dev", "--data", direct}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	got, want := outboxOf(t, filepath.Join(split, "store")), outboxOf(t, filepath.Join(direct, "store"))
	if len(want) != 3*youths || !slices.Equal(got, want) {
		t.Fatalf("split key through the key holders: %d events; elements computed from the keys: %d; or they differ", len(got), len(want))
	}

	// Key holder a's URL with b's public key: a's proof fails. b's URL
	// with a's token: refused. Either stops the import; nothing is stored.
	wrongKey := slices.Clone(a)
	wrongKey[5] = b[5]
	wrongToken := slices.Clone(b)
	wrongToken[3] = a[3]
	for name, flags := range map[string][]string{"wrong key": wrongKey, "wrong token": wrongToken} {
		d := data(strings.ReplaceAll(name, " ", "-"))
		var out strings.Builder
		err := vindex(append([]string{"import", bsnCSV, "--dev", "--data", d}, flags...), &out, io.Discard)
		msg := fmt.Sprint(err)
		if err == nil || !strings.Contains(out.String(), "imported 0 registrations") ||
			!strings.Contains(msg, map[string]string{"wrong key": "does not prove the key of --keyholder-public-key", "wrong token": "refused the token of --keyholder-token-file"}[name]) {
			t.Errorf("%s: %v\n%s", name, err, out.String())
		}
		if evs := outboxOf(t, filepath.Join(d, "store")); len(evs) != 0 {
			t.Errorf("%s: %d events stored", name, len(evs))
		}
	}
}

// TestImportBlindDuringKeyholderRotation: while the index takes over a key
// holder's rotation, an element is found only with the keys that made it
// (youth_key). An import through the key holder sends its keys, so its
// rows, made under the old key, match the youths registered before; a file
// of the same elements without a youth_key column is refused row by row;
// subject-access finds a youth by --youth with --youth-key, and refuses
// --youth alone.
func TestImportBlindDuringKeyholderRotation(t *testing.T) {
	const youths = 10
	dir := t.TempDir()
	holder, ka := inProcessHolder(t, dir, "a")
	ys := newBlindYouths(youths)
	d := filepath.Join(dir, "d")
	run := func(args ...string) (string, error) {
		var out strings.Builder
		err := vindex(args, &out, io.Discard)
		return out.String(), err
	}
	if _, err := run("keys", "init", "--dev", "--data", d, "--create-dev-kek", "--pseudonyms", "blind"); err != nil {
		t.Fatal(err)
	}
	var school, wij, wijYouth strings.Builder
	school.WriteString("institution,bsn,birth_date,municipality,kind,code,contact_name,contact_phone\n")
	wij.WriteString("institution,bsn,birth_date,municipality,kind,code,contact_name,contact_phone\n")
	wijYouth.WriteString("institution,youth,born_in,municipality,kind,code,contact_name,contact_phone\n")
	bs := make([]identity.BSN, youths)
	for i := range youths {
		bs[i], _ = identity.ParseBSN(ys.bsns[i])
	}
	oldEl := elementsUnder(t, ka, bs)
	for i := range youths {
		fmt.Fprintf(&school, "school-example-lyceum,%s,%s,GM0014,signal,S01,M. Bakker,050-1111111\n", ys.bsns[i], ys.births[i])
		fmt.Fprintf(&wij, "wij-groningen,%s,%s,GM0014,involvement,,A. Jansen,050-2222222\n", ys.bsns[i], ys.births[i])
		fmt.Fprintf(&wijYouth, "wij-groningen,%s,%s,GM0014,involvement,,A. Jansen,050-2222222\n", oldEl[i], ys.births[i][:7])
	}
	if out, err := run(append([]string{"import", writeFile(t, dir, "school.csv", school.String()), "--dev", "--data", d}, holder...)...); err != nil {
		t.Fatalf("import before the rotation: %v\n%s", err, out)
	}

	rot, err := keyholder.NewRotation(ka, oprf.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	rotFile := filepath.Join(dir, "rotation.json")
	if err := keyholder.WriteRotation(rotFile, rot); err != nil {
		t.Fatal(err)
	}
	if out, err := run("keys", "rotate", "--blind", "--keyholder-rotation", rotFile, "--dev", "--data", d); err != nil {
		t.Fatalf("keys rotate --blind --keyholder-rotation: %v\n%s", err, out)
	}

	out, err := run("import", writeFile(t, dir, "wij-youth.csv", wijYouth.String()), "--dev", "--data", d)
	if err == nil || !strings.Contains(out, fmt.Sprintf("rejected %d rows", youths)) || !strings.Contains(out, "(youth_key)") {
		t.Fatalf("elements without youth_key during a rotation: %v\n%s", err, out)
	}
	out, err = run(append([]string{"import", writeFile(t, dir, "wij.csv", wij.String()), "--dev", "--data", d}, holder...)...)
	if err != nil || !strings.Contains(out, fmt.Sprintf("imported %d registrations (%d made a match)", youths, youths)) {
		t.Fatalf("import through the key holder during its rotation: %v\n%s", err, out)
	}

	stdin := strings.NewReader("")
	var sa bytes.Buffer
	if err := subjectAccessCmd([]string{"--dev", "--data", d, "--as", "gemeente-groningen", "--json", "--youth", oldEl[3], "--youth-key", oprf.LayerID(ka.Public())}, stdin, &sa, io.Discard); err != nil {
		t.Fatalf("subject-access --youth --youth-key: %v", err)
	}
	var a httpapi.SubjectAccessResponse
	if err := json.Unmarshal(sa.Bytes(), &a); err != nil || !slices.Equal(statuses(a), []string{"school-example-lyceum active", "wij-groningen active"}) {
		t.Fatalf("subject access during the rotation: %v %v", statuses(a), err)
	}
	err = subjectAccessCmd([]string{"--dev", "--data", d, "--as", "gemeente-groningen", "--youth", oldEl[3]}, stdin, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "youth_key") {
		t.Fatalf("subject-access --youth without --youth-key during a rotation: %v", err)
	}
}
