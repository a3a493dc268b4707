package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

const auditExtractUsage = `Usage: vindex audit extract [--json] [--input FILE] [--max N] [SETTINGS]

Prints who accessed one youth: every entry of the audit log that names the
youth, in the order they were committed, with its number, time
(Europe/Amsterdam), institution, credential (a token's ID or a certificate's
pin, never a secret), verb, registration and outcome. Refusals are there
too: an institution that looked up a youth it is not involved with shows as
"lookup not_involved". For the index's operator, who holds the keys: the
audit log names a youth only by a reference made with them from the BSN
(a pseudonym of its own, not the store's), so without the keys it names
no one. Entries of verbs that name a registration and not the youth (end,
inform, letter, remove by ID) are not among them; entries written under a
key since retired cannot be found.

The youth is read from standard input, or from --input FILE: one line with
the BSN, optionally followed by the birth date (the line vindex
subject-access reads; the birth date is not needed here and not used);
empty lines and lines starting with # are skipped. The BSN is never given
on the command line, where ps and the shell's history would show it, and
is never printed. In a blind deployment the youth is named by its element:
--youth ELEMENT (and --youth-key during a key holder's rotation), or the
BSN alone on standard input with the --keyholder flags, which turn it into
the element (as vindex subject-access does; docs/blind.md). Entries written
before a key holder's rotation name the youth by its element of then and
are not found by the new one.

Run it with the server stopped, with the same settings as vindex serve
(--data, --keyset, --kek, --vault-*, --config, --dev): the store and the
keys are opened as vindex import opens them. It changes nothing but the
audit log: the extract is an entry of its own ("audit-extract", by the
operator, naming the youth), which the next extract, and the youth's
subject access, list.

Output: a table, one line per entry; with --json a JSON array of the
entries. At most --max entries (the first ones); if there are more, a line
on standard error says so.
`

// auditExtractMax is the default of vindex audit extract --max.
const auditExtractMax = 100000

// auditExtract prints the audit entries of the youth read from stdin or
// --input.
func auditExtract(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var asJSON bool
	var limit int
	var mf municipalFlags // the youth: --input, or --youth, or the key holders
	var fs *flag.FlagSet
	c, _, err := loadConfig("audit extract", auditExtractUsage, args, func(probe *flag.FlagSet) {
		fs = probe
		probe.BoolVar(&asJSON, "json", false, "print the entries as a JSON array")
		probe.StringVar(&mf.input, "input", "", "`file` with the line \"BSN [BIRTH_DATE]\"; empty: standard input")
		probe.IntVar(&limit, "max", auditExtractMax, "print at most `N` entries, the first ones")
		probe.StringVar(&mf.youth, "youth", "", "blind deployment: the youth's `element` (base64), in place of the line read from standard input or --input")
		probe.StringVar(&mf.youthKey, "youth-key", "", "with --youth: the key holders' `keys` that made the element; needed while a key holder replaces its key")
		mf.kh.bind(probe)
	})
	if err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		err = errors.New("no arguments are taken: the BSN is read from standard input or --input, never from the command line")
	case limit < 1:
		err = errors.New("--max must be at least 1")
	case mf.youth != "" && (mf.kh.given() || mf.input != ""):
		err = errors.New("--youth, or a line from --input or standard input (with the --keyholder flags in a blind deployment), not both")
	case mf.youthKey != "" && mf.youth == "":
		err = errors.New("--youth-key goes with --youth")
	}
	if err != nil {
		return flagError{cmd: "audit extract", err: err}
	}
	mode, err := readPseudonyms(c)
	if err != nil {
		return err
	}
	var named func(*matcher.Matcher) (matcher.Youth, error)
	if mode == modeBlind || mf.youth != "" || mf.kh.given() {
		y, err := municipalYouth(c, mf, stdin, stderr) // refuses the wrong way for the mode
		if err != nil {
			return err
		}
		named = y.matcherYouth
	} else {
		bsn, err := readBSN(mf.input, stdin)
		if err != nil {
			return err
		}
		named = func(m *matcher.Matcher) (matcher.Youth, error) { return m.YouthByBSN(bsn) }
	}
	imp, err := openImport(c, stderr)
	if err != nil {
		return err
	}
	defer imp.st.Close()
	who, err := named(imp.m)
	if err != nil {
		return err
	}
	entries, more, err := imp.m.ExtractAudit(context.Background(), matcher.Operator, who, limit)
	if err != nil {
		return err
	}
	if asJSON {
		err = printAuditJSON(stdout, entries)
	} else {
		err = printAuditTable(stdout, entries)
	}
	if more {
		fmt.Fprintf(stderr, "vindex audit extract: the youth has more than %d entries; --max prints more\n", limit)
	}
	return err
}

// readBSN reads the youth's BSN from the file input, or from stdin if input
// is "": one line of the BSN and, optionally, a birth date (checked, not
// used). Its errors name the file and the line, never what was read.
func readBSN(input string, stdin io.Reader) (identity.BSN, error) {
	in, name := stdin, "standard input"
	if input != "" {
		f, err := os.Open(input)
		if err != nil {
			return identity.BSN{}, err
		}
		defer f.Close()
		in, name = f, input
	}
	var bsn identity.BSN
	lines := 0
	err := scanFields(in, func(line int, fields []string) (err error) {
		if lines++; lines > 1 || len(fields) > 2 {
			return fmt.Errorf("%s:%d: want one line \"BSN [BIRTH_DATE]\"", name, line)
		}
		if bsn, err = identity.ParseBSN(fields[0]); err != nil {
			return fmt.Errorf("%s:%d: the BSN: %w", name, line, err)
		}
		if len(fields) == 2 {
			if _, err := identity.ParseBirthDate(fields[1]); err != nil {
				return fmt.Errorf("%s:%d: the birth date: %w", name, line, err)
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return identity.BSN{}, err
	case lines == 0:
		return identity.BSN{}, fmt.Errorf("%s: no line \"BSN [BIRTH_DATE]\"", name)
	}
	return bsn, nil
}

// auditEntryJSON is an entry as vindex audit extract --json prints it.
type auditEntryJSON struct {
	Seq          uint64 `json:"seq"`
	At           string `json:"at"`
	Institution  string `json:"institution,omitempty"`
	Credential   string `json:"credential,omitempty"`
	Verb         string `json:"verb"`
	Registration string `json:"registration,omitempty"`
	Outcome      string `json:"outcome"`
}

func newAuditEntryJSON(e store.AuditEntry) auditEntryJSON {
	j := auditEntryJSON{Seq: e.Seq, At: e.At.In(identity.DefaultLocation()).Format(time.RFC3339Nano), Institution: e.Institution,
		Credential: e.Credential, Verb: e.Verb.String(), Outcome: e.Outcome}
	if e.Registration != (store.ID{}) {
		j.Registration = e.Registration.String()
	}
	return j
}

func printAuditJSON(w io.Writer, entries []store.AuditEntry) error {
	out := make([]auditEntryJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, newAuditEntryJSON(e))
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func printAuditTable(w io.Writer, entries []store.AuditEntry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tINSTITUTION\tCREDENTIAL\tVERB\tREGISTRATION\tOUTCOME")
	for _, e := range entries {
		j := newAuditEntryJSON(e)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Seq, e.At.In(identity.DefaultLocation()).Format(time.DateTime),
			dash(j.Institution), dash(j.Credential), j.Verb, dash(j.Registration), j.Outcome)
	}
	return tw.Flush()
}

// dash is s, or "-" for an empty s.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
