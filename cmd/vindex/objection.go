package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/matcher"
)

const objectionUsage = `Usage: vindex objection --as MUNICIPALITY --scope all|institution [--institution ID] [--input FILE] [SETTINGS]
       vindex objection --url URL --token-file FILE [--cacert FILE] [--as MUNICIPALITY]
                        --scope all|institution [--institution ID] [--input FILE]
       either, in a blind deployment: --youth ELEMENT, or the --keyholder flags

Carries out an upheld objection (verzet) to the registration of a youth, for
the municipality MUNICIPALITY (the covenant's ID) that upheld it: removes
the youth's registrations, live and archived, of every institution
(--scope all) or of one (--scope institution --institution ID), with the
idempotency records of the reports that made them, in one write. Each
institution concerned is told (a removed event, reason objection); the
municipality gets an audit event for each registration removed. For
example:

  vindex objection --as gemeente-groningen --scope all --url https://vindex.example:8443 \
      --token-file gemeente.token --input objection.txt

` + municipalHelp + `
The objection is carried out only if MUNICIPALITY serves the municipality
of one of the youth's registrations, live or archived, and the birth date
is the one the youth is registered with (a blind index keeps no birth date:
there the element alone names the youth). The answer is the same whether or
not anything was removed (for a youth nobody registered, another
municipality's youth, another birth date, nothing in scope, or a repeat):
"objection carried out", exit status 0. A refusal (a bad scope, a BSN
that does not pass the eleven-check, an institution that is not a
municipality) exits 1 and says why, never quoting the BSN or the birth date.
`

func objectionCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var mf municipalFlags
	var req httpapi.ObjectionRequest
	c, err := parseMunicipal("objection", objectionUsage, args, &mf, func(fs *flag.FlagSet) {
		fs.StringVar(&req.Scope, "scope", "", "`all` registrations of the youth, or those of one institution")
		fs.StringVar(&req.Institution, "institution", "", "with --scope institution: the covenant's `ID` of the institution")
	})
	if err != nil {
		return err
	}
	switch {
	case req.Scope != httpapi.ScopeAll && req.Scope != httpapi.ScopeInstitution:
		err = errors.New("--scope must be all or institution")
	case (req.Scope == httpapi.ScopeInstitution) != (req.Institution != ""):
		err = errors.New("--institution is given with --scope institution, and only then")
	}
	if err != nil {
		return flagError{cmd: "objection", err: err}
	}
	y, err := municipalYouth(c, mf, stdin, stderr)
	if err != nil {
		return err
	}
	req.BSN, req.BirthDate, req.Youth, req.YouthKey = y.bsnText, y.birthDate, y.element, y.youthKey
	if mf.url != "" {
		err = objectOverAPI(mf, req)
	} else {
		err = objectInStore(c, mf.as, req, stderr)
	}
	if err != nil {
		if r := refusal(mf.as, err); r != nil {
			return fmt.Errorf("objection refused: %w", r)
		}
		return fmt.Errorf("objection: %w", err)
	}
	fmt.Fprintf(stdout, "objection carried out (scope %s): the youth has no registration in scope left, if it had any\n", scopeName(req))
	return nil
}

func scopeName(req httpapi.ObjectionRequest) string {
	if req.Scope == httpapi.ScopeInstitution {
		return "institution " + req.Institution
	}
	return req.Scope
}

// objectOverAPI posts the objection to the server at mf.url.
func objectOverAPI(mf municipalFlags, req httpapi.ObjectionRequest) error {
	api, err := newAPIClient(mf)
	if err != nil {
		return err
	}
	status, _, err := api.post("/v1/objections", req)
	if err == nil && status != http.StatusNoContent {
		err = fmt.Errorf("the server answered %d, not 204", status)
	}
	return err
}

// objectInStore carries out the objection of the municipality as on the
// data directory's store, opened as vindex import opens it (the server
// stopped).
func objectInStore(c config, as string, req httpapi.ObjectionRequest, stderr io.Writer) error {
	imp, err := openImport(c, stderr)
	if err != nil {
		return err
	}
	defer imp.st.Close()
	who, born, scope, err := req.Objection(imp.m)
	if err != nil {
		return err
	}
	_, err = imp.m.Object(context.Background(), matcher.Actor{Institution: as}, who, born, scope)
	return err
}
