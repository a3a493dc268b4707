package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/letters"
	"github.com/vindex-nl/vindex/matcher"
)

const subjectAccessUsage = `Usage: vindex subject-access --as MUNICIPALITY [--json | --html] [--input FILE] [SETTINGS]
       vindex subject-access --url URL --token-file FILE [--cacert FILE] [--as MUNICIPALITY]
                             [--json | --html] [--input FILE]
       either, in a blind deployment: --youth ELEMENT, or the --keyholder flags

Answers a request for access (inzage) by a youth or its parents, for the
municipality that receives it: lists every registration of the youth, live
and archived, and prints the Dutch letter the municipality sends, addressed
by the youth's age today (to the parents under 12, to the youth and the
parents from 12 to 15, to the youth from 16). The letter names the youth as
"[naam jeugdige]" and leaves "[adres]" for the municipality to fill in. For
example:

  echo '111222333 2013-04-01' | vindex subject-access --as gemeente-groningen --dev

and in a blind deployment, by the youth's element, or by the BSN alone
through the key holder:

  vindex subject-access --as gemeente-groningen --youth ELEMENT --config FILE
  echo 111222333 | vindex subject-access --as gemeente-groningen --config FILE \
      --keyholder https://keyholder.example:8444 --keyholder-token-file kh.token \
      --keyholder-public-key KEY

` + municipalHelp + `
Only a municipality that serves the municipality of one of the youth's
registrations gets them. For any other institution the answer is
"forbidden"; for another municipality, a youth nobody registered or another
birth date it is "not involved", alike in each case (exit status 1). A
blind index keeps no birth date: there the letter's age comes from the birth
month the registrations keep.

Output: the letter as text; with --html the letter as HTML; with --json the
API's JSON answer (the registrations, and the letter in both forms).
`

func subjectAccessCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var mf municipalFlags
	var asJSON, asHTML bool
	c, err := parseMunicipal("subject-access", subjectAccessUsage, args, &mf, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the JSON answer: the registrations and the letter in both forms")
		fs.BoolVar(&asHTML, "html", false, "print the letter as HTML")
	})
	if err != nil {
		return err
	}
	if asJSON && asHTML {
		return flagError{cmd: "subject-access", err: errors.New("--json and --html: choose one")}
	}
	y, err := municipalYouth(c, mf, stdin, stderr)
	if err != nil {
		return err
	}
	var ans httpapi.SubjectAccessResponse
	if mf.url != "" {
		ans, err = accessOverAPI(mf, y)
	} else {
		ans, err = accessInStore(c, mf.as, y, stderr)
	}
	if err != nil {
		if r := refusal(mf.as, err); r != nil {
			return r
		}
		return err
	}
	switch {
	case asJSON:
		b, err := json.MarshalIndent(ans, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	case asHTML:
		_, err = io.WriteString(stdout, ans.Letter.HTML)
	default:
		_, err = io.WriteString(stdout, ans.Letter.Text)
	}
	return err
}

// accessOverAPI asks the server at mf.url.
func accessOverAPI(mf municipalFlags, y youth) (httpapi.SubjectAccessResponse, error) {
	var out httpapi.SubjectAccessResponse
	api, err := newAPIClient(mf)
	if err != nil {
		return out, err
	}
	_, b, err := api.post("/v1/subject-access", httpapi.SubjectAccessRequest{BSN: y.bsnText, BirthDate: y.birthDate, Youth: y.element, YouthKey: y.youthKey})
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("the server's answer: %w", err)
	}
	return out, nil
}

// accessInStore answers for the municipality as from the store and keys of
// c's data directory, opened as vindex import opens them (the server
// stopped).
func accessInStore(c config, as string, y youth, stderr io.Writer) (httpapi.SubjectAccessResponse, error) {
	imp, err := openImport(c, stderr)
	if err != nil {
		return httpapi.SubjectAccessResponse{}, err
	}
	defer imp.st.Close()
	who, err := y.matcherYouth(imp.m)
	if err != nil {
		return httpapi.SubjectAccessResponse{}, err
	}
	a, err := imp.m.SubjectAccess(context.Background(), matcher.Actor{Institution: as}, who, y.born)
	if err != nil {
		return httpapi.SubjectAccessResponse{}, err
	}
	l, err := letters.SubjectAccess(imp.cov.InstitutionName(as), a)
	if err != nil {
		return httpapi.SubjectAccessResponse{}, err
	}
	return httpapi.NewSubjectAccessResponse(a, l), nil
}
