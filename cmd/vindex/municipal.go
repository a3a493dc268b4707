package main

// What vindex objection and vindex subject-access, the commands of a
// municipality's operator, share: their flags and the part of --help that
// explains them, the youth's line, the client of the API, and the wording
// of a refusal. Neither command takes the BSN or the birth date on the
// command line, and no message of either quotes them.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
)

// municipalHelp is the part of both commands' --help that says where the
// youth is read from and how the index is reached.
const municipalHelp = `The youth is read from standard input, or from --input FILE: one line with
the BSN and the birth date (YYYY-MM-DD, the one the youth is registered
with), separated by white space; empty lines and lines starting with # are
skipped. They are never given on the command line, where ps and the
shell's history would show them: type them after starting the command and
end with Ctrl-D, pipe them in, or give a file readable by you alone.

Two ways to reach the index:
  through the API, while vindex serve runs:
    --url         the server's base URL (https://vindex.example:8443)
    --token-file  a file holding the municipality's bearer token (vindex
                  tokens new prints one), or "institution token" lines (the
                  dev-tokens.txt of serve --dev), of which --as picks one
    --cacert      the CA certificate (PEM) of the server's certificate, if
                  the system does not trust it (serve --dev: DIR/dev-tls.crt)
  with the server stopped, against its data directory (without --url):
    --as          the municipality's institution ID in the covenant
    and the same settings as vindex serve (--data, --covenant, --keyset,
    --kek, --vault-*, --config, --dev): the store and the keys are opened as
    vindex import opens them.

In a blind deployment (vindex keys init --pseudonyms blind) the index keeps
no BSN and no birth date, and the youth is named by its element: give it
with --youth ELEMENT (base64, as the client systems compute it; nothing is
read from standard input), or give the key holders (the --keyholder flags
below) and the BSN alone on the youth's line (no birth date: a blind index
keeps none to check it against), and the command turns it into the element
itself. While a key holder replaces its key, --youth needs --youth-key, the
keys that made the element (the key holders' own are taken with them). A
BSN without the key holders is refused; so are --youth and the key holders
in an hmac deployment. Both ways work with and without --url.

` + keyholderHelp

// municipalFlags are the flags both commands take: who asks, where the
// youth is read from, and how the index is reached.
type municipalFlags struct {
	as, input, url, tokenFile, cacert string
	youth, youthKey                   string // blind deployment: the element, the keys that made it
	kh                                holderFlags
}

// parseMunicipal parses the arguments of the municipality's command name
// into the settings of vindex serve, the shared flags mf, and the flags
// own binds. It takes no arguments: a BSN there would show in ps.
func parseMunicipal(name, usage string, args []string, mf *municipalFlags, own func(*flag.FlagSet)) (config, error) {
	var fs *flag.FlagSet
	c, _, err := loadConfig(name, usage, args, func(probe *flag.FlagSet) {
		fs = probe
		probe.StringVar(&mf.as, "as", "", "the municipality's institution `ID` in the covenant (with --url: picks its line of a file of \"institution token\" lines)")
		probe.StringVar(&mf.input, "input", "", "`file` with the line \"BSN BIRTH_DATE\"; empty: standard input")
		probe.StringVar(&mf.url, "url", "", "the server's base `URL` (https://HOST:PORT): through the API; empty: the data directory, the server stopped")
		probe.StringVar(&mf.tokenFile, "token-file", "", "with --url: `file` holding the municipality's bearer token, or \"institution token\" lines")
		probe.StringVar(&mf.cacert, "cacert", "", "with --url: CA certificate `file` (PEM) of the server's certificate; empty: the system's roots")
		probe.StringVar(&mf.youth, "youth", "", "blind deployment: the youth's `element` (base64), in place of the line read from standard input or --input")
		probe.StringVar(&mf.youthKey, "youth-key", "", "with --youth: the key holders' `keys` that made the element (the client SDK's Blinder.LayerID); needed while a key holder replaces its key")
		mf.kh.bind(probe)
		own(probe)
	})
	if err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		err = errors.New("no arguments are taken: the BSN and the birth date are read from standard input or --input, never from the command line")
	case mf.url == "" && mf.as == "":
		err = errors.New("give --url (through the API) or --as (with the server stopped)")
	case mf.url != "" && mf.tokenFile == "":
		err = errors.New("--url needs --token-file")
	case mf.youth != "" && mf.kh.given():
		err = errors.New("--youth or the --keyholder flags, not both: the key holders turn a BSN into the element --youth gives")
	case mf.youth != "" && mf.input != "":
		err = errors.New("--youth or --input, not both")
	case mf.youthKey != "" && mf.youth == "":
		err = errors.New("--youth-key goes with --youth (with the key holders, their keys are taken)")
	}
	if err != nil {
		return c, flagError{cmd: name, err: err}
	}
	return c, nil
}

// youth is the youth a command is about, as read by readYouth. It never
// prints its BSN or birth date.
type youth struct {
	bsn       identity.BSN
	born      identity.BirthDate
	bsnText   string // for the API's request
	birthDate string // for the API's request
	// In a blind deployment, in place of the four above: the element, its
	// base64 for the API's request, and the key holders' keys that made it
	// (oprf.LayerID; "" if not known).
	el       oprf.Element
	element  string
	youthKey string
}

// matcherYouth is y as m's youth: by its element or by its BSN.
func (y youth) matcherYouth(m *matcher.Matcher) (matcher.Youth, error) {
	if !y.el.IsZero() {
		return m.YouthByElementOf(y.el, y.youthKey)
	}
	return m.YouthByBSN(y.bsn)
}

// Format prints "youth(redacted)" for every verb.
func (youth) Format(f fmt.State, _ rune) { io.WriteString(f, "youth(redacted)") }

// youthForm is how a message names the youth's line; blindForm the line
// of a blind deployment's youth, turned into its element by the key
// holders.
const (
	youthForm = `"BSN BIRTH_DATE" (the birth date as YYYY-MM-DD)`
	blindForm = `"BSN" (the BSN alone: a blind index keeps no birth date to check one against)`
)

// municipalYouth is the youth the command of mf is about: in an hmac
// deployment read by readYouth; in a blind one the element of --youth, or
// the element of the BSN read by readYouth (the BSN alone), turned into
// one by the key holders. With the server stopped (no --url) the
// deployment's mode is read from its files and the wrong way refused; with
// --url the server refuses it. Its errors quote neither the BSN nor the
// element.
func municipalYouth(c config, mf municipalFlags, stdin io.Reader, stderr io.Writer) (youth, error) {
	kh := mf.kh.given()
	if mf.url == "" {
		mode, err := readPseudonyms(c)
		if err != nil {
			return youth{}, err
		}
		switch blind := mode == modeBlind; {
		case !blind && (mf.youth != "" || kh):
			return youth{}, errNotBlind
		case blind && mf.youth == "" && !kh:
			return youth{}, errBlindNoYouth
		}
	}
	var y youth
	switch {
	case mf.youth != "":
		if err := y.el.UnmarshalText([]byte(mf.youth)); err != nil {
			return youth{}, fmt.Errorf("--youth: not an element, the standard base64 of 32 bytes (docs/blind.md): %w", err)
		}
		y.element, y.youthKey = mf.youth, mf.youthKey
		return y, nil
	case !kh:
		return readYouth(mf.input, stdin)
	}
	b, err := mf.kh.blinder()
	if err != nil {
		return youth{}, err
	}
	if y, err = readYouthLine(mf.input, stdin, true); err != nil {
		return youth{}, err
	}
	var told atomic.Bool
	ys, err := elements(context.Background(), b, []identity.BSN{y.bsn}, stderr, &told)
	if err != nil {
		return youth{}, err
	}
	text, err := ys[0].MarshalText()
	if err != nil {
		return youth{}, err
	}
	return youth{el: ys[0], element: string(text), youthKey: b.LayerID()}, nil
}

// errBlindNoYouth refuses, in a blind deployment, a youth named by its
// BSN without the key holders.
var errBlindNoYouth = fmt.Errorf("%w; or give the element with --youth ELEMENT", errBlindNeedsKeyholders)

// readYouth reads the youth from the file input, or from stdin if input is
// "": one line of the BSN and the birth date, both checked. Its errors name
// the file (or standard input) and the line, never what was read.
func readYouth(input string, stdin io.Reader) (youth, error) {
	return readYouthLine(input, stdin, false)
}

// readYouthLine is readYouth, or with bsnOnly the line of the BSN alone,
// for a blind deployment: a birth date is then refused.
func readYouthLine(input string, stdin io.Reader, bsnOnly bool) (youth, error) {
	form, want := youthForm, 2
	if bsnOnly {
		form, want = blindForm, 1
	}
	in, name := stdin, "standard input"
	if input != "" {
		f, err := os.Open(input)
		if err != nil {
			return youth{}, err
		}
		defer f.Close()
		in, name = f, input
	}
	var y youth
	lines := 0
	err := scanFields(in, func(line int, fields []string) (err error) {
		lines++
		if lines > 1 || len(fields) != want {
			return fmt.Errorf("%s:%d: want one line %s", name, line, form)
		}
		if y.bsn, err = identity.ParseBSN(fields[0]); err != nil {
			return fmt.Errorf("%s:%d: the BSN: %w", name, line, err)
		}
		if bsnOnly {
			return nil
		}
		if y.born, err = identity.ParseBirthDate(fields[1]); err != nil {
			return fmt.Errorf("%s:%d: the birth date: %w", name, line, err)
		}
		y.bsnText, y.birthDate = fields[0], fields[1]
		return nil
	})
	switch {
	case err != nil:
		return youth{}, err
	case lines == 0:
		return youth{}, fmt.Errorf("%s: no line %s", name, form)
	}
	return y, nil
}

// apiClient calls a vindex server's API as the institution whose bearer
// token it holds.
type apiClient struct {
	url, token string
	hc         *http.Client
}

// newAPIClient makes the client of mf: the server at mf.url, the token
// tokenFor finds in mf.tokenFile, and TLS that trusts the certificates of
// mf.cacert (none: the system's roots).
func newAPIClient(mf municipalFlags) (*apiClient, error) {
	token, err := tokenFor(mf.tokenFile, mf.as)
	if err != nil {
		return nil, err
	}
	roots, err := certPool(mf.cacert)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	return &apiClient{url: strings.TrimSuffix(mf.url, "/"), token: token,
		hc: &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: time.Minute}}, nil
}

// post sends v as JSON to path. An answer of status 2xx returns the status
// and the body (at most 16 MiB); any other is an *apiError.
func (c *apiClient) post(path string, v any) (int, []byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(http.MethodPost, c.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{status: resp.StatusCode}
		if json.Unmarshal(b, &e.problem) != nil {
			e.problem = httpapi.Problem{}
		}
		return 0, nil, e
	}
	return resp.StatusCode, b, nil
}

// apiError is a server's answer other than 2xx: its status and, if the
// body is a problem, the problem. Of any other body nothing is kept, and a
// vindex server's problems quote no value of the request, so its message
// holds neither the BSN nor the birth date.
type apiError struct {
	status  int
	problem httpapi.Problem
}

func (e *apiError) Error() string {
	p := e.problem
	if p.Code == "" {
		return fmt.Sprintf("the server answered %d %s", e.status, http.StatusText(e.status))
	}
	s := fmt.Sprintf("the server answered %d %s", e.status, p.Code)
	if p.Field != "" {
		s += " (" + p.Field + ")"
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// errNotInvolved is the answer for a youth the municipality may not see.
var errNotInvolved = errors.New("not involved: the index holds no registration of this youth that this municipality serves " +
	"(or the birth date differs from the one the youth is registered with)")

// refusal words err for the operator if it refuses the request of the
// institution as, from the store or the server: a field error by its field
// and sentinel, a caller that is no municipality as forbidden, a youth the
// municipality may not see as errNotInvolved, the server's other 4xx
// answers as they are. None quotes a value. It is nil for any other error.
func refusal(as string, err error) error {
	var fe *matcher.FieldError
	var ae *apiError
	switch {
	case errors.Is(err, matcher.ErrBSNNotAccepted), errors.Is(err, matcher.ErrBirthDateNotAccepted):
		return errBlindNoYouth
	case errors.As(err, &fe):
		return fmt.Errorf("%s: %w", fe.Field, fe.Err)
	case errors.Is(err, matcher.ErrForbidden), errors.Is(err, matcher.ErrUnknownInstitution):
		return fmt.Errorf("forbidden: %s is not a municipality of the covenant", as)
	case errors.Is(err, matcher.ErrNotInvolved):
		return errNotInvolved
	case !errors.As(err, &ae) || ae.status/100 != 4:
		return nil
	case ae.problem.Code == httpapi.CodeNotInvolved:
		return errNotInvolved
	case ae.problem.Code == httpapi.CodeBSNNotAccepted, ae.problem.Code == httpapi.CodeBirthDateNotAccepted:
		return fmt.Errorf("the server's index is blind: %w", errBlindNoYouth)
	case ae.problem.Code == httpapi.CodeYouthNotAccepted:
		return fmt.Errorf("the server's index is not blind: %w", errNotBlind)
	}
	return ae
}
