package main

import (
	"bufio"
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
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/letters"
	"github.com/vindex-nl/vindex/matcher"
)

const subjectAccessUsage = `Usage: echo 'BSN YYYY-MM-DD' | vindex subject-access --url URL --token-file FILE [flags]
       echo 'BSN YYYY-MM-DD' | vindex subject-access --as MUNICIPALITY [--data DIR] [flags]

Answers a request for access (inzage) by a youth or its parents, for the
municipality that receives it: lists every registration of the youth, live
and archived, and prints the Dutch letter the municipality sends, addressed
by the youth's age today (to the parents under 12, to the youth and the
parents from 12 to 15, to the youth from 16). The letter names the youth as
"[naam jeugdige]" and leaves "[adres]" for the municipality to fill in.

The youth's BSN and birth date are read from standard input, one line
"BSN YYYY-MM-DD", never from the command line, which shells keep in their
history and other users see in the process list. The birth date must be the
one the youth is registered with.

Only a municipality that serves the municipality of one of the youth's
registrations gets them. For any other institution the answer is
"forbidden"; for another municipality, a youth nobody registered or another
birth date it is "not involved", alike in each case (exit status 1).

Two ways to ask:
  through the API, while vindex serve runs:
    --url         the server's base URL (https://vindex.example:8443)
    --token-file  a file holding the municipality's bearer token (vindex
                  tokens new prints one), or "institution token" lines (the
                  dev-tokens.txt of serve --dev), of which --as picks one
    --cacert      the CA certificate (PEM) of the server's certificate, if
                  the system does not trust it (serve --dev: DIR/dev-tls.crt)
  with the server stopped, against the data directory:
    --as          the municipality's institution ID in the covenant
    and the same settings as vindex serve (--data, --covenant, --keyset,
    --kek, --vault-*, --config, --dev): the store and the keys are opened as
    vindex import opens them.

Output: the letter as text; with --html the letter as HTML; with --json the
API's JSON answer (the registrations, and the letter in both forms).
`

// accessOptions are subject-access's own flags.
type accessOptions struct {
	as, url, tokenFile, cacert string
	json, html                 bool
}

func subjectAccessCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var o accessOptions
	c, _, err := loadConfig("subject-access", subjectAccessUsage, args, func(fs *flag.FlagSet) {
		fs.StringVar(&o.as, "as", "", "the municipality's institution `ID` (with --data; with --url, picks its line of a dev-tokens file)")
		fs.StringVar(&o.url, "url", "", "the server's base `URL`: ask through the API")
		fs.StringVar(&o.tokenFile, "token-file", "", "`file` holding the municipality's bearer token")
		fs.StringVar(&o.cacert, "cacert", "", "CA certificate `file` (PEM) of the server's certificate")
		fs.BoolVar(&o.json, "json", false, "print the JSON answer: the registrations and the letter in both forms")
		fs.BoolVar(&o.html, "html", false, "print the letter as HTML")
	})
	if err != nil {
		return err
	}
	switch {
	case o.json && o.html:
		return flagError{cmd: "subject-access", err: errors.New("--json and --html: choose one")}
	case o.url == "" && o.as == "":
		return flagError{cmd: "subject-access", err: errors.New("give --url (through the API) or --as (with the server stopped)")}
	case o.url != "" && o.tokenFile == "":
		return flagError{cmd: "subject-access", err: errors.New("--url needs --token-file")}
	}
	req, err := readAccessRequest(stdin)
	if err != nil {
		return err
	}
	var ans httpapi.SubjectAccessResponse
	if o.url != "" {
		ans, err = accessByAPI(o, req)
	} else {
		ans, err = accessByData(c, o.as, req, stderr)
	}
	if err != nil {
		return err
	}
	switch {
	case o.json:
		b, err := json.MarshalIndent(ans, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	case o.html:
		_, err = io.WriteString(stdout, ans.Letter.HTML)
	default:
		_, err = io.WriteString(stdout, ans.Letter.Text)
	}
	return err
}

// errNotInvolved is the answer for a youth the municipality may not see.
var errNotInvolved = errors.New("not involved: the index holds no registration of this youth that this municipality serves " +
	"(or the birth date differs from the one the youth is registered with)")

// readAccessRequest reads "BSN YYYY-MM-DD" from the first line of r. Its
// errors never quote what it read.
func readAccessRequest(r io.Reader) (httpapi.SubjectAccessRequest, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 256)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return httpapi.SubjectAccessRequest{}, fmt.Errorf("standard input: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		return httpapi.SubjectAccessRequest{}, errors.New("standard input: want one line with the BSN and the birth date (YYYY-MM-DD), separated by a space")
	}
	if _, err := identity.ParseBSN(f[0]); err != nil {
		return httpapi.SubjectAccessRequest{}, fmt.Errorf("standard input: the BSN: %w", err)
	}
	if _, err := identity.ParseBirthDate(f[1]); err != nil {
		return httpapi.SubjectAccessRequest{}, fmt.Errorf("standard input: the birth date: %w", err)
	}
	return httpapi.SubjectAccessRequest{BSN: f[0], BirthDate: f[1]}, nil
}

// accessByData answers req as the municipality as, from the store and
// keys of c's data directory (the server stopped).
func accessByData(c config, as string, req httpapi.SubjectAccessRequest, stderr io.Writer) (httpapi.SubjectAccessResponse, error) {
	imp, err := openImport(c, stderr)
	if err != nil {
		return httpapi.SubjectAccessResponse{}, err
	}
	defer imp.st.Close()
	bsn, err := identity.ParseBSN(req.BSN)
	if err != nil {
		return httpapi.SubjectAccessResponse{}, err
	}
	born, err := identity.ParseBirthDate(req.BirthDate)
	if err != nil {
		return httpapi.SubjectAccessResponse{}, err
	}
	youth, err := imp.m.YouthByBSN(bsn)
	if err != nil {
		return httpapi.SubjectAccessResponse{}, err
	}
	a, err := imp.m.SubjectAccess(context.Background(), matcher.Actor{Institution: as}, youth, born)
	switch {
	case errors.Is(err, matcher.ErrNotInvolved):
		return httpapi.SubjectAccessResponse{}, errNotInvolved
	case errors.Is(err, matcher.ErrForbidden), errors.Is(err, matcher.ErrUnknownInstitution):
		return httpapi.SubjectAccessResponse{}, fmt.Errorf("forbidden: %s is not a municipality of the covenant", as)
	case err != nil:
		return httpapi.SubjectAccessResponse{}, err
	}
	l, err := letters.SubjectAccess(imp.cov.InstitutionName(as), a)
	if err != nil {
		return httpapi.SubjectAccessResponse{}, err
	}
	return httpapi.NewSubjectAccessResponse(a, l), nil
}

// accessByAPI asks the server at o.url.
func accessByAPI(o accessOptions, req httpapi.SubjectAccessRequest) (httpapi.SubjectAccessResponse, error) {
	var out httpapi.SubjectAccessResponse
	token, err := accessToken(o.tokenFile, o.as)
	if err != nil {
		return out, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.cacert != "" {
		pem, err := os.ReadFile(o.cacert)
		if err != nil {
			return out, err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return out, fmt.Errorf("%s holds no PEM certificate", o.cacert)
		}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: time.Minute}
	body, _ := json.Marshal(req)
	hr, err := http.NewRequest("POST", strings.TrimSuffix(o.url, "/")+"/v1/subject-access", bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(hr)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return out, err
	}
	if resp.StatusCode != http.StatusOK {
		var p httpapi.Problem
		json.Unmarshal(b, &p)
		if p.Code == httpapi.CodeNotInvolved {
			return out, errNotInvolved
		}
		return out, fmt.Errorf("the server answered %d %s: %s", resp.StatusCode, p.Code, p.Detail)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("the server's answer: %w", err)
	}
	return out, nil
}

// accessToken reads the bearer token from file: its one token, or, in a
// file of "institution token" lines, as's.
func accessToken(file, as string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var lone string
	byInst := map[string]string{}
	err = scanFields(f, func(line int, fields []string) error {
		switch len(fields) {
		case 1:
			lone = fields[0]
		case 2:
			byInst[fields[0]] = fields[1]
		default:
			return fmt.Errorf("%s:%d: want a token, or an institution and its token", file, line)
		}
		return nil
	})
	switch {
	case err != nil:
		return "", err
	case lone != "":
		return lone, nil
	case byInst[as] != "":
		return byInst[as], nil
	case as == "":
		return "", fmt.Errorf("%s lists tokens by institution: give --as", file)
	}
	return "", fmt.Errorf("%s holds no token of %s", file, as)
}
