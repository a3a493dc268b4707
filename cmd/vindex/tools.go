package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/insecurelocalkek"
	"github.com/vindex-nl/vindex/examples"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/rules"
)

const keysUsage = `Usage: vindex keys init|rotate|status [--config FILE] [flags]

Manages the PRF keyset pseudonyms are computed with. The keyset is only ever
stored wrapped by the key-encryption key (--kek-file; development only).

  init     make a new keyset (refuses to overwrite one); with
           --create-dev-kek also a development key-encryption key
  rotate   add a new primary key; the old keys stay enabled, so reports
           under the new key still match registrations under the old ones.
           Restart the service to use it.
  status   list the keys: ID, state, primary

The same settings as vindex serve apply (--keyset, --kek-file, --deployment,
--data, --config, --dev).
`

func keysCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, keysUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return flag.ErrHelp
		}
		return errUsage
	}
	verb := args[0]
	var createKEK bool
	c, _, err := loadConfig("keys "+verb, keysUsage, args[1:], func(fs *flag.FlagSet) {
		fs.BoolVar(&createKEK, "create-dev-kek", false, "keys init: also make the development key-encryption key --kek-file")
	})
	if err != nil {
		return err
	}
	if c.KEKFile == "" {
		return errors.New("no key-encryption key: set --kek-file")
	}
	ad := keys.AssociatedData(c.Deployment)
	loadKEK := func() (tink.AEAD, error) {
		return insecurelocalkek.Load(c.KEKFile, newLogger(stderr, "warn"))
	}
	switch verb {
	case "init":
		if exists(c.Keyset) {
			return fmt.Errorf("keys init: %s exists; a new keyset would orphan every registration made under it", c.Keyset)
		}
		for _, f := range []string{c.Keyset, c.KEKFile} {
			if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
				return err
			}
		}
		if createKEK {
			if err := insecurelocalkek.Create(c.KEKFile); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "made development key-encryption key %s (never use it in production)\n", c.KEKFile)
		}
		kek, err := loadKEK()
		if err != nil {
			return err
		}
		h, err := keys.Create()
		if err != nil {
			return err
		}
		if err := keys.SaveFile(c.Keyset, h, kek, ad); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "made keyset %s\n", c.Keyset)
		return printStatus(stdout, h)
	case "rotate", "status":
		kek, err := loadKEK()
		if err != nil {
			return err
		}
		h, err := keys.LoadFile(c.Keyset, kek, ad)
		if err != nil {
			return err
		}
		if verb == "rotate" {
			var id uint32
			if h, id, err = keys.Rotate(h); err != nil {
				return err
			}
			if err := keys.SaveFile(c.Keyset, h, kek, ad); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "key %d is the new primary; restart vindex serve to use it\n", id)
		}
		return printStatus(stdout, h)
	}
	fmt.Fprintf(stderr, "vindex keys: unknown command %q\n\n%s", verb, keysUsage)
	return errUsage
}

func printStatus(w io.Writer, h *keyset.Handle) error {
	st, err := keys.Status(h)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "key_id     state     primary")
	for _, k := range st {
		fmt.Fprintf(w, "%-10d %-9s %v\n", k.ID, k.State, k.Primary)
	}
	return nil
}

const tokensUsage = `Usage: vindex tokens new INSTITUTION [--config FILE] [--tokens FILE] [--covenant FILE]

Issues a bearer token for an institution of the covenant: adds its hash to
the token file (made with mode 0600 if absent) and prints the token once on
standard output. The service rereads the file within --token-reload-interval
(or on SIGHUP): no restart. To revoke a token, delete its line.
`

func tokensCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "new" || strings.HasPrefix(args[1], "-") {
		fmt.Fprint(stderr, tokensUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return flag.ErrHelp
		}
		return errUsage
	}
	inst := args[1]
	c, _, err := loadConfig("tokens new", tokensUsage, args[2:], nil)
	if err != nil {
		return err
	}
	if c.Tokens == "" {
		return errors.New("no token file: set --tokens")
	}
	cov, err := covenantOf(c)
	if err != nil {
		return err
	}
	if _, ok := cov.Institution(inst); !ok {
		return fmt.Errorf("institution %q is not in the covenant %s", inst, cov.Name)
	}
	old, err := os.ReadFile(c.Tokens)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tok, line := httpapi.NewToken(inst)
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		old = append(old, '\n')
	}
	if err := keys.WriteFileAtomic(c.Tokens, append(old, line+"\n"...)); err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func covenantOf(c config) (*rules.Covenant, error) {
	if c.Covenant == "" {
		if c.Dev {
			return rules.Load(bytes.NewReader(examples.CovenantGroningen), "examples/covenant-groningen.yaml")
		}
		return nil, errors.New("no covenant: set --covenant")
	}
	return rules.LoadFile(c.Covenant)
}

const covenantUsage = `Usage:
  vindex covenant check FILE
      validates a covenant; prints every problem as FILE:LINE: message and
      exits 1 if there is one.
  vindex covenant test FILE SCENARIOS...
      decides every scenario of the scenario files under the covenant FILE
      and prints PASS or FAIL per scenario; exits 1 if one fails. The format
      of scenario files: rules/testdata/README.md.
`

func covenantCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || (args[0] != "check" && args[0] != "test") || (args[0] == "test" && len(args) < 3) {
		fmt.Fprint(stderr, covenantUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return flag.ErrHelp
		}
		return errUsage
	}
	cov, err := rules.LoadFile(args[1])
	if err != nil {
		fmt.Fprintln(stdout, err)
		return exitError{1}
	}
	if args[0] == "check" {
		fmt.Fprintf(stdout, "%s: ok: %q, %d municipalities, %d institutions, %d rules\n",
			args[1], cov.Name, len(cov.Municipalities), len(cov.Institutions), len(cov.Rules))
		return nil
	}
	pass, fail := 0, 0
	for _, file := range args[2:] {
		sf, err := rules.ParseScenarioFile(file)
		if err != nil {
			fmt.Fprintln(stdout, err)
			return exitError{1}
		}
		for _, s := range sf.Scenarios {
			if diff := s.Run(cov); diff != "" {
				fail++
				fmt.Fprintf(stdout, "FAIL %s:%d: %s: %s; want %s\n", s.File, s.Line, s.Name, diff, s.Expect)
			} else {
				pass++
				fmt.Fprintf(stdout, "PASS %s:%d: %s\n", s.File, s.Line, s.Name)
			}
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", pass, fail)
	if fail > 0 || pass == 0 {
		return exitError{1}
	}
	return nil
}
