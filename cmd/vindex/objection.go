package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/matcher"
)

const objectionUsage = `Usage: vindex objection --as MUNICIPALITY --scope all|institution [--institution ID]
                        [--input FILE] (--url URL --token-file FILE [--cacert FILE] | SETTINGS)

Carries out an upheld objection (verzet) to the registration of a youth, for
the municipality MUNICIPALITY (the covenant's ID) that upheld it: removes
the youth's registrations, live and archived, of every institution
(--scope all) or of one (--scope institution --institution ID), with the
idempotency records of the reports that made them, in one write. Each
institution concerned is told (a removed event, reason objection); the
municipality gets an audit event for each registration removed.

The youth is read from standard input, or from --input FILE: one line with
the BSN and the birth date (YYYY-MM-DD), separated by white space; empty
lines and lines starting with # are skipped. They are never given on the
command line, where ps and the shell's history would show them. For
example, type them after starting the command and end with Ctrl-D, or:

  vindex objection --as gemeente-groningen --scope all --url https://vindex.example:8443 \
      --token-file gemeente.token --input objection.txt

Two ways to reach the index:
  through the API, the server running: --url is the server's base URL,
      --token-file a file of "institution token" lines (as dev-tokens.txt
      of vindex serve --dev) holding MUNICIPALITY's bearer token, and
      --cacert the CA certificate (PEM) of the server's certificate
      (empty: the system's roots);
  with the server stopped, against its data directory: without --url, the
      store and the keys are opened as vindex import opens them, with the
      same settings as vindex serve (--data, --covenant, --keyset, --kek,
      --vault-*, --config, --dev).

The objection is carried out only if MUNICIPALITY serves the municipality
of one of the youth's registrations, live or archived, and the birth date
is the one the youth is registered with. The answer is the same whether or
not anything was removed (for a youth nobody registered, another
municipality's youth, another birth date, nothing in scope, or a repeat):
"objection carried out", exit status 0. A refusal (a bad scope, a BSN
that does not pass the eleven-check, an institution that is not a
municipality) exits 1 and says why, never quoting the BSN or the birth date.
`

// objectionOptions are objection's own flags.
type objectionOptions struct {
	as, scope, institution, input string
	url, tokenFile, cacert        string
}

func objectionCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, c, err := parseObjectionArgs(args, stderr)
	if err != nil {
		return err
	}
	req, err := readObjection(o, stdin)
	if err != nil {
		return err
	}
	if o.url != "" {
		err = objectOverAPI(o, req)
	} else {
		err = objectInStore(c, o, req, stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "objection carried out (scope %s): the youth has no registration in scope left, if it had any\n", scopeName(req))
	return nil
}

// parseObjectionArgs reads objection's flags and the shared settings. It
// takes no arguments: a BSN there would show in ps.
func parseObjectionArgs(args []string, stderr io.Writer) (objectionOptions, config, error) {
	var o objectionOptions
	var probe *flag.FlagSet
	c, _, err := loadConfig("objection", objectionUsage, args, func(fs *flag.FlagSet) {
		probe = fs
		fs.StringVar(&o.as, "as", "", "the covenant's ID of the `municipality` that upheld the objection")
		fs.StringVar(&o.scope, "scope", "", "`all` registrations of the youth, or those of one institution")
		fs.StringVar(&o.institution, "institution", "", "with --scope institution: the covenant's `ID` of the institution")
		fs.StringVar(&o.input, "input", "", "`file` with the line \"BSN BIRTH_DATE\"; empty: standard input")
		fs.StringVar(&o.url, "url", "", "the server's base `URL` (https://HOST:PORT); empty: the data directory, the server stopped")
		fs.StringVar(&o.tokenFile, "token-file", "", "with --url: `file` of \"institution token\" lines holding the municipality's token")
		fs.StringVar(&o.cacert, "cacert", "", "with --url: CA certificate `file` (PEM) of the server's certificate; empty: the system's roots")
	})
	if err != nil {
		return o, c, err
	}
	switch {
	case probe.NArg() > 0:
		err = errors.New("no arguments are taken: the BSN and the birth date are read from standard input or --input, never from the command line")
	case o.as == "":
		err = errors.New("--as names the municipality that upheld the objection")
	case o.scope != httpapi.ScopeAll && o.scope != httpapi.ScopeInstitution:
		err = errors.New("--scope must be all or institution")
	case (o.scope == httpapi.ScopeInstitution) != (o.institution != ""):
		err = errors.New("--institution is given with --scope institution, and only then")
	case o.url != "" && o.tokenFile == "":
		err = errors.New("--url needs --token-file")
	}
	if err != nil {
		return o, c, flagError{cmd: "objection", err: err}
	}
	return o, c, nil
}

// readObjection reads the youth from o.input or stdin into the request the
// API takes.
func readObjection(o objectionOptions, stdin io.Reader) (httpapi.ObjectionRequest, error) {
	req := httpapi.ObjectionRequest{Scope: o.scope, Institution: o.institution}
	in, name := stdin, "standard input"
	if o.input != "" {
		f, err := os.Open(o.input)
		if err != nil {
			return req, err
		}
		defer f.Close()
		in, name = f, o.input
	}
	var lines int
	err := scanFields(in, func(line int, fields []string) error {
		lines++
		if lines > 1 || len(fields) != 2 {
			return fmt.Errorf("%s:%d: want one line \"BSN BIRTH_DATE\"", name, line)
		}
		req.BSN, req.BirthDate = fields[0], fields[1]
		return nil
	})
	if err == nil && lines == 0 {
		err = fmt.Errorf("%s: no line \"BSN BIRTH_DATE\"", name)
	}
	return req, err
}

func scopeName(req httpapi.ObjectionRequest) string {
	if req.Scope == httpapi.ScopeInstitution {
		return "institution " + req.Institution
	}
	return req.Scope
}

// objectInStore carries out the objection on the data directory's store,
// opened as vindex import opens it (the server stopped).
func objectInStore(c config, o objectionOptions, req httpapi.ObjectionRequest, stderr io.Writer) error {
	imp, err := openImport(c, stderr)
	if err != nil {
		return err
	}
	defer imp.st.Close()
	who, born, scope, err := req.Objection(imp.m)
	if err != nil {
		return refused(err)
	}
	_, err = imp.m.Object(context.Background(), matcher.Actor{Institution: o.as}, who, born, scope)
	return refused(err)
}

// refused words an error of the request or the matcher: a problem's
// detail, a field error's sentinel; none quotes a value.
func refused(err error) error {
	var fe *matcher.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return fmt.Errorf("objection refused: %s: %v", fe.Field, fe.Err)
	case errors.Is(err, matcher.ErrForbidden), errors.Is(err, matcher.ErrUnknownInstitution):
		return fmt.Errorf("objection refused: %w (only a municipality of the covenant may object)", err)
	}
	return fmt.Errorf("objection: %w", err)
}

// objectOverAPI posts the objection to the server at o.url.
func objectOverAPI(o objectionOptions, req httpapi.ObjectionRequest) error {
	tokens, err := readTokens(o.tokenFile)
	if err != nil {
		return err
	}
	token, ok := tokens[o.as]
	if !ok {
		return fmt.Errorf("%s holds no token of %s", o.tokenFile, o.as)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.cacert != "" {
		pem, err := os.ReadFile(o.cacert)
		if err != nil {
			return err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", o.cacert)
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequest("POST", strings.TrimSuffix(o.url, "/")+"/v1/objections", bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+token)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: time.Minute}
	resp, err := hc.Do(hr)
	if err != nil {
		return fmt.Errorf("objection: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	var p httpapi.Problem
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &p) != nil || p.Code == "" {
		return fmt.Errorf("objection: the server answered %s", resp.Status)
	}
	if p.Field != "" {
		return fmt.Errorf("objection refused: %d %s (%s): %s", p.Status, p.Code, p.Field, p.Detail)
	}
	return fmt.Errorf("objection refused: %d %s: %s", p.Status, p.Code, p.Detail)
}
