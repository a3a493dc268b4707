package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
)

// runMunicipal runs vindex command (objection or subject-access) with args
// in dir, stdin on standard input, and returns its output and exit status.
func runMunicipal(t *testing.T, dir, command, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{command}, args...)...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
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

// writeFile writes body to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The youth's line, from standard input or a file: comments and empty
// lines skipped, the BSN and the birth date checked, and no error quotes
// what it read; the youth never prints them.
func TestReadYouth(t *testing.T) {
	dir := t.TempDir()
	y, err := readYouth("", strings.NewReader("# the youth\n\n  111222333\t2013-04-01  \n"))
	if err != nil || y.bsnText != "111222333" || y.birthDate != "2013-04-01" || y.bsn.IsZero() || y.born.IsZero() {
		t.Fatalf("from standard input: %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", y, y, y, y); strings.Contains(s, "111222333") || strings.Contains(s, "2013") {
		t.Fatalf("the youth prints its BSN or birth date: %s", s)
	}
	if y, err := readYouth(writeFile(t, dir, "youth.txt", "111222333 2013-04-01\n"), strings.NewReader("123456782 2013-04-01\n")); err != nil || y.bsnText != "111222333" {
		t.Fatalf("from --input (standard input ignored): %v", err)
	}
	for in, want := range map[string]string{
		"":                         `standard input: no line "BSN BIRTH_DATE"`,
		"# only a comment\n":       `standard input: no line "BSN BIRTH_DATE"`,
		"111222333\n":              `standard input:1: want one line "BSN BIRTH_DATE"`,
		"111222333 2013-04-01 x\n": `standard input:1: want one line "BSN BIRTH_DATE"`,
		"111222333 2013-04-01\n123456782 2013-04-01": `standard input:2: want one line "BSN BIRTH_DATE"`,
		"111222334 2013-04-01\n":                     "standard input:1: the BSN: " + identity.ErrBSNChecksum.Error(),
		"11122233 2013-04-01\n":                      "standard input:1: the BSN: ",
		"111222333 01-04-2013\n":                     "standard input:1: the birth date: ",
	} {
		_, err := readYouth("", strings.NewReader(in))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
			continue
		}
		for _, f := range strings.Fields(in) {
			if f != "#" && strings.ContainsAny(f, "0123456789") && strings.Contains(err.Error(), f) {
				t.Errorf("%q: the error quotes %q: %v", in, f, err)
			}
		}
	}
	if _, err := readYouth(filepath.Join(dir, "missing.txt"), strings.NewReader("")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing --input: %v", err)
	}
}

// Both forms of the token file: a bare token, and "institution token"
// lines (also as serve --dev prints them), of which --as picks one.
func TestTokenFor(t *testing.T) {
	dir := t.TempDir()
	bare := writeFile(t, dir, "gemeente.token", "# gemeente-groningen\nvx_bare\n")
	lines := writeFile(t, dir, "dev-tokens.txt", "# dev\nwij-groningen vx_w\ntoken gemeente-groningen vx_g\n")
	for _, c := range []struct{ file, as, want string }{
		{bare, "", "vx_bare"},
		{bare, "gemeente-groningen", "vx_bare"},
		{lines, "gemeente-groningen", "vx_g"},
		{lines, "wij-groningen", "vx_w"},
	} {
		if got, err := tokenFor(c.file, c.as); err != nil || got != c.want {
			t.Errorf("%s, --as %q: %q %v, want %q", filepath.Base(c.file), c.as, got, err, c.want)
		}
	}
	for _, c := range []struct{ file, as, want string }{
		{lines, "", "dev-tokens.txt lists tokens by institution: give --as"},
		{lines, "gemeente-het-hogeland", "dev-tokens.txt holds no token of gemeente-het-hogeland"},
		{writeFile(t, dir, "mixed.txt", "vx_bare\nwij-groningen vx_w\n"), "wij-groningen", "mixed.txt:2: a bare token must be the only token"},
		{writeFile(t, dir, "two.txt", "vx_a\nvx_b\n"), "", "two.txt:2: a bare token must be the only token"},
		{writeFile(t, dir, "bad.txt", "a b c d\n"), "a", "bad.txt:1: want a token, or an institution and its token"},
	} {
		if _, err := tokenFor(c.file, c.as); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s, --as %q: %v, want %q", filepath.Base(c.file), c.as, err, c.want)
		} else if strings.Contains(err.Error(), "vx_") {
			t.Errorf("%s: the error quotes a token: %v", filepath.Base(c.file), err)
		}
	}
}

// The API client: TLS trusting --cacert, JSON with the bearer token; a 2xx
// answer is returned, a problem is an *apiError that names its status,
// code, field and detail, any other body is not quoted; refusal words the
// answers a municipality's command gets.
func TestAPIClient(t *testing.T) {
	var got map[string]string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer vx_g" || r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost {
			t.Errorf("the request: %s %v", r.Method, r.Header)
		}
		got = nil
		json.NewDecoder(r.Body).Decode(&got)
		switch r.URL.Path {
		case "/v1/ok":
			w.WriteHeader(http.StatusNoContent)
		case "/v1/refused":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(httpapi.Problem{Status: 400, Code: "invalid_scope", Field: "scope", Detail: "scope must be all or institution"})
		case "/v1/uninvolved":
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(httpapi.Problem{Status: 404, Code: httpapi.CodeNotInvolved})
		default: // a proxy that echoes the request
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, "bad gateway for %v", got)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	mf := municipalFlags{as: "gemeente-groningen", url: srv.URL + "/",
		tokenFile: writeFile(t, dir, "tokens.txt", "gemeente-groningen vx_g\n"),
		cacert:    writeFile(t, dir, "ca.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))}
	api, err := newAPIClient(mf)
	if err != nil {
		t.Fatal(err)
	}
	req := httpapi.SubjectAccessRequest{BSN: "111222333", BirthDate: "2013-04-01"}
	if status, _, err := api.post("/v1/ok", req); err != nil || status != 204 || got["bsn"] != "111222333" || got["birth_date"] != "2013-04-01" {
		t.Fatalf("a 204: %d %v; the server got %v", status, err, got)
	}
	_, _, err = api.post("/v1/refused", req)
	if want := "the server answered 400 invalid_scope (scope): scope must be all or institution"; err == nil || err.Error() != want || refusal("", err) != err {
		t.Fatalf("a problem: %v, want %q", err, want)
	}
	if _, _, err := api.post("/v1/uninvolved", req); refusal("", err) != errNotInvolved {
		t.Fatalf("not_involved: %v", err)
	}
	_, _, err = api.post("/v1/proxy", req)
	if want := "the server answered 502 Bad Gateway"; err == nil || err.Error() != want || refusal("", err) != nil {
		t.Fatalf("a body that is no problem: %v, want %q and no refusal", err, want)
	}

	mf.cacert = ""
	if api, err := newAPIClient(mf); err != nil {
		t.Fatal(err)
	} else if _, _, err := api.post("/v1/ok", req); err == nil {
		t.Fatal("a server the system does not trust was trusted")
	}
	mf.cacert = writeFile(t, dir, "empty.crt", "")
	if _, err := newAPIClient(mf); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("a --cacert without certificates: %v", err)
	}
}

// refusal words the matcher's refusals without a value, and leaves every
// other error alone.
func TestRefusal(t *testing.T) {
	for err, want := range map[error]string{
		&matcher.FieldError{Field: "institution", Err: matcher.ErrUnknownInstitution}: "institution: matcher: unknown institution",
		fmt.Errorf("x: %w", matcher.ErrForbidden):                                     "forbidden: wij-groningen is not a municipality of the covenant",
		matcher.ErrUnknownInstitution:                                                 "forbidden: wij-groningen is not a municipality of the covenant",
		matcher.ErrNotInvolved:                                                        errNotInvolved.Error(),
		&apiError{status: 403, problem: httpapi.Problem{Code: "forbidden"}}:           "the server answered 403 forbidden",
		// A blind index's refusal of a BSN or a birth date names the
		// flags to give instead; an hmac index's of an element says so.
		&matcher.FieldError{Field: "bsn", Err: matcher.ErrBSNNotAccepted}:                        errBlindNoYouth.Error(),
		&apiError{status: 400, problem: httpapi.Problem{Code: httpapi.CodeBSNNotAccepted}}:       "the server's index is blind: " + errBlindNoYouth.Error(),
		&apiError{status: 400, problem: httpapi.Problem{Code: httpapi.CodeBirthDateNotAccepted}}: "the server's index is blind: " + errBlindNoYouth.Error(),
		&apiError{status: 400, problem: httpapi.Problem{Code: httpapi.CodeYouthNotAccepted}}:     "the server's index is not blind: " + errNotBlind.Error(),
	} {
		if got := refusal("wij-groningen", err); got == nil || got.Error() != want {
			t.Errorf("%v: %v, want %q", err, got, want)
		}
	}
	for _, err := range []error{nil, errors.New("disk full"), &apiError{status: 503}} {
		if got := refusal("wij-groningen", err); got != nil {
			t.Errorf("%v: %v, want nil", err, got)
		}
	}
}
