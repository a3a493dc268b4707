package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/insecurelocalkek"
	"github.com/vindex-nl/vindex/examples"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

const keysUsage = `Usage: vindex keys init|status|rotate|retire ID|rewrap [--refs] [--config FILE] [flags]

Manages vindex's two keysets: the PRF keyset pseudonyms are computed with,
and the reference keyset whose AEAD keys seal the institutions' own client
references. Both are only ever stored wrapped by the key-encryption key: a
Vault transit key (--kek vault), or a local development key file (--kek
file). rotate and retire act on the PRF keyset, or with --refs on the
reference keyset.

  init       make the keysets that do not exist yet (refuses when both
             exist); with --create-dev-kek also a development key file. On
             a deployment that has a PRF keyset, it adds the reference
             keyset and keeps the PRF keyset as it is.
  status     list the keys of both: ID, state, primary, and how many live
             registrations each PRF key still holds and how many stored
             client references each reference key sealed (from the store,
             when no server has it open; a running server shows the live
             registrations in /metrics as vindex_key_live_registrations)
  rotate     add a new primary key. The old keys stay enabled: reports
             compute the pseudonym under every enabled key, so a youth
             registered under an old key still matches, and its record
             moves to the primary key when it is touched. With --refs:
             references sealed under the old key still open, and are sealed
             anew under the primary when their registration is reported
             again. Restart the service to use it.
             In a blind deployment, rotate --blind does the same for the
             index's own layer, and vindex serve then re-keys every record,
             live and ended, to the new key in the background from the
             elements the records keep sealed (no BSN; "rekey complete" in
             its log). rotate --blind --keyholder-rotation FILE takes over a
             key holder's rotation (the file vindex keyholder rotate wrote):
             vindex serve re-keys every record by its ratio and, until
             rotate --blind --finish-keyholder-rotation, takes elements of
             the old and the new key (youth_key names which; docs/blind.md).
             --finish-keyholder-rotation is refused while the covenant's
             excluded addresses' elements (family.excluded_address_elements)
             are of the old key: make them anew first (vindex covenant
             blind-addresses).
  retire ID  disable key ID, refused while live registrations (--refs:
             stored references) depend on it; with --delete, delete a
             disabled key
  rewrap     after the Vault transit key is rotated, wrap both keysets
             (and the audit log's signing key) anew under its newest
             version, so that min_decryption_version can be raised

init also makes the audit log's signing key (--audit-key, an Ed25519 key
wrapped like the keysets) if it does not exist, and writes its public key
beside it (.pub) for auditors and witnesses; status prints that public
key. vindex serve records every key change it finds at start-up in the
audit log (key-init, key-rotate, key-retire, key-rewrap).

The same settings as vindex serve apply (--keyset, --ref-keyset,
--audit-key, --kek, --vault-*, --kek-file, --deployment, --data, --config,
--dev).
`

// keysOptions are the keys command's arguments besides the shared
// settings.
type keysOptions struct {
	verb      string // init, status, rotate, retire, rewrap
	retireID  uint32
	createKEK bool // init: also make the development key file
	// pseudonyms is init's pseudonym mode: hmac or blind.
	pseudonyms string
	del        bool // retire: delete, not disable
	refs       bool // rotate, retire: the reference keyset
	// blind: rotate a blind deployment's layer; with keyholderRotation
	// (a key holder's rotation file) or finishKeyholder, the key
	// holders' layer rather than the index's own.
	blind             bool
	keyholderRotation string
	finishKeyholder   bool
}

func keysCmd(args []string, stdout, stderr io.Writer) error {
	o, c, err := parseKeysArgs(args, stderr)
	if err != nil {
		return err
	}
	if err := checkDataDir(c.Data); err != nil {
		return err
	}
	prf, ref := keysetFiles(c)
	target := prf
	if o.refs {
		target = ref
	}
	if o.verb == "init" {
		existed := exists(prf.path)
		if err := prepareKeysInit(stdout, c, prf, ref, o.createKEK); err != nil {
			return err
		}
		if err := initPseudonyms(c, o.pseudonyms, existed); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pseudonyms: %s (%s)\n", o.pseudonyms, pseudonymsFile(c))
	}
	k, err := openKEK(c, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer k.Close()
	switch o.verb {
	case "init":
		err = initKeysets(stdout, c, k, prf, ref)
	case "rotate":
		err = rotate(stdout, c, k, target, o)
	case "retire":
		err = retireKey(stdout, c, k, target, o)
	case "rewrap":
		return rewrapKeysets(stdout, c, k, prf, ref)
	}
	if err != nil {
		return err
	}
	return printAllStatus(stdout, stderr, c, k, prf, ref)
}

// parseKeysArgs reads the keys command's arguments: the verb, the key ID
// of retire, then the shared settings and the command's own flags.
func parseKeysArgs(args []string, stderr io.Writer) (keysOptions, config, error) {
	if len(args) == 0 || (strings.HasPrefix(args[0], "-") && !isHelp(args[0])) {
		return keysOptions{}, config{}, printUsage(stderr, keysUsage, args)
	}
	o := keysOptions{verb: args[0]}
	rest := args[1:]
	if isHelp(o.verb) {
		rest = args // the usage and the flags
	}
	if o.verb == "retire" && !(len(rest) > 0 && isHelp(rest[0])) {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return o, config{}, errors.New("keys retire: which key? vindex keys retire ID")
		}
		id, err := strconv.ParseUint(rest[0], 10, 32)
		if err != nil {
			return o, config{}, fmt.Errorf("keys retire: %q is not a key ID", rest[0])
		}
		o.retireID, rest = uint32(id), rest[1:]
	}
	c, _, err := loadConfig("keys "+o.verb, keysUsage, rest, func(fs *flag.FlagSet) {
		fs.BoolVar(&o.createKEK, "create-dev-kek", false, "keys init: also make the development key-encryption key --kek-file")
		fs.StringVar(&o.pseudonyms, "pseudonyms", modeHMAC, "keys init: the deployment's pseudonym `mode`, fixed from then on: hmac (institutions send the BSN) or blind (client systems send the youth's element; docs/blind.md)")
		fs.BoolVar(&o.del, "delete", false, "keys retire: delete the key (it must be disabled already)")
		fs.BoolVar(&o.refs, "refs", false, "keys rotate, retire: act on the reference keyset, not the PRF keyset")
		fs.BoolVar(&o.blind, "blind", false, "keys rotate: rotate a blind deployment's own layer (a new PRF key); vindex serve re-keys every record to it in the background, without a BSN")
		fs.StringVar(&o.keyholderRotation, "keyholder-rotation", "", "keys rotate --blind: take over a key holder's rotation from the `file` it handed over (vindex keyholder rotate); vindex serve re-keys every record by its ratio")
		fs.BoolVar(&o.finishKeyholder, "finish-keyholder-rotation", false, "keys rotate --blind: end the key holder's rotation once vindex serve has re-keyed every record (the ratio is forgotten)")
	})
	if err != nil {
		return o, c, err
	}
	switch o.verb {
	case "init", "status", "rotate", "retire", "rewrap":
		return o, c, nil
	}
	fmt.Fprintf(stderr, "vindex keys: unknown command %q\n\n%s", o.verb, keysUsage)
	return o, c, errUsage
}

// prepareKeysInit checks, before keys init opens the key-encryption key,
// that a keyset is missing, makes the keysets' directories, and with
// createKEK makes the development key file.
func prepareKeysInit(stdout io.Writer, c config, prf, ref keysetFile, createKEK bool) error {
	if err := c.validateKEK(); err != nil {
		return err
	}
	ak := auditKeyOf(c)
	if exists(prf.path) && exists(ref.path) && exists(ak.path) {
		return fmt.Errorf("keys init: %s exists (and %s, and %s); a new keyset would orphan every registration made under it", prf.path, ref.path, ak.path)
	}
	for _, f := range []string{prf.path, ref.path, ak.path, c.KEKFile} {
		if f == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			return err
		}
	}
	if !createKEK {
		return nil
	}
	if c.KEK != "file" {
		return errors.New("keys init: --create-dev-kek is for --kek file")
	}
	if err := insecurelocalkek.Create(c.KEKFile); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "made development key-encryption key %s (never use it in production)\n", c.KEKFile)
	return nil
}

// initKeysets makes the keysets that do not exist yet, wrapped with k.
func initKeysets(stdout io.Writer, c config, k *kek, prf, ref keysetFile) error {
	for _, f := range []keysetFile{prf, ref} {
		if exists(f.path) {
			fmt.Fprintf(stdout, "kept %s %s\n", f.what, f.path)
			continue
		}
		if err := f.make(k); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "made %s %s, wrapped with the %s\n", f.what, f.path, k.describe(c))
	}
	ak := auditKeyOf(c)
	if exists(ak.path) {
		fmt.Fprintf(stdout, "kept the audit log's signing key %s\n", ak.path)
		return nil
	}
	if err := ak.make(k); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "made the audit log's signing key %s, wrapped with the %s; its public key, for auditors and witnesses: %s\n",
		ak.path, k.describe(c), ak.pub)
	return nil
}

// rotate rotates the keyset f or, in a blind deployment with
// --keyholder-rotation or --finish-keyholder-rotation, the key holders'
// layer.
func rotate(stdout io.Writer, c config, k *kek, f keysetFile, o keysOptions) error {
	if !o.blind {
		if o.keyholderRotation != "" || o.finishKeyholder {
			return errors.New("keys rotate: --keyholder-rotation and --finish-keyholder-rotation go with --blind")
		}
		return rotateKeyset(stdout, c, k, f)
	}
	mode, err := readPseudonyms(c)
	if err != nil {
		return err
	}
	switch {
	case mode != modeBlind:
		return fmt.Errorf("keys rotate --blind: this deployment's pseudonyms are %s, not blind", mode)
	case o.refs:
		return errors.New("keys rotate --blind: not with --refs")
	case o.keyholderRotation != "" && o.finishKeyholder:
		return errors.New("keys rotate --blind: --keyholder-rotation or --finish-keyholder-rotation, not both")
	case o.keyholderRotation != "":
		return takeKeyholderRotation(stdout, c, k, o.keyholderRotation)
	case o.finishKeyholder:
		return finishKeyholderRotation(stdout, c, k)
	}
	if err := rotateKeyset(stdout, c, k, f); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "vindex serve re-keys every record to it in the background when it starts (\"rekey complete\" in its log); then retire the old key")
	return nil
}

// rotateKeyset adds a new primary key to the keyset f.
func rotateKeyset(stdout io.Writer, c config, k *kek, f keysetFile) error {
	h, err := f.load(c, k)
	if err != nil {
		return err
	}
	h, id, err := f.rotate(h)
	if err != nil {
		return err
	}
	if err := keys.SaveFile(f.path, h, k.aead, f.ad); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "key %d is the new primary of the %s; restart vindex serve to use it\n", id, f.what)
	return nil
}

// retireKey disables the key o.retireID of the keyset f, or with o.del
// deletes it, refused while what the store holds depends on it (DESIGN.md
// invariant 7).
func retireKey(stdout io.Writer, c config, k *kek, f keysetFile, o keysOptions) error {
	h, err := f.load(c, k)
	if err != nil {
		return err
	}
	id := o.retireID
	if err := rekeyedAway(c, id, o.refs); err != nil {
		return err
	}
	use, err := fromStore(c, f.use)
	if err != nil {
		return fmt.Errorf("keys retire: %w", err)
	}
	if n := use[id]; n > 0 && !o.refs {
		return fmt.Errorf("keys retire: %d live registrations still depend on key %d; they move to the primary key when they are touched, and end at the latest two years after they were made", n, id)
	} else if n > 0 {
		return fmt.Errorf("keys retire --refs: %d stored client references are still sealed under key %d; they are sealed anew under the primary when their registration is reported again, and go when it is purged (in a blind deployment this counts the sealed elements too; vindex serve seals them and the references anew under the primary at its next start)", n, id)
	}
	if o.del {
		if h, err = keys.Delete(h, id); err != nil {
			return fmt.Errorf("keys retire --delete: %w", err)
		}
		fmt.Fprintf(stdout, "key %d deleted\n", id)
	} else {
		if h, err = keys.Disable(h, id); err != nil {
			return fmt.Errorf("keys retire: %w", err)
		}
		fmt.Fprintf(stdout, "key %d disabled; restart vindex serve; delete it later with --delete\n", id)
	}
	return keys.SaveFile(f.path, h, k.aead, f.ad)
}

// rewrapKeysets wraps both keysets anew under the key-encryption key's
// newest version, and says to what min_decryption_version Vault's may be
// raised.
func rewrapKeysets(stdout io.Writer, c config, k *kek, prf, ref keysetFile) error {
	for _, f := range []keysetFile{prf, ref} {
		if f.what == ref.what && !exists(f.path) {
			fmt.Fprintf(stdout, "no %s %s to rewrap (vindex keys init makes it)\n", f.what, f.path)
			continue
		}
		if err := keys.Rewrap(f.path, k.aead, f.ad); err != nil {
			return err
		}
		msg := fmt.Sprintf("rewrapped %s with the %s", f.path, k.describe(c))
		if k.vault != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if latest, minDec, err := k.vault.KeyVersions(ctx); err == nil {
				msg += fmt.Sprintf(" (transit key version %d; min_decryption_version %d may now be raised to %d)", latest, minDec, latest)
			}
		}
		fmt.Fprintln(stdout, msg)
	}
	if ak := auditKeyOf(c); exists(ak.path) {
		if err := keys.RewrapSealed(ak.path, k.aead, ak.ad); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rewrapped %s with the %s\n", ak.path, k.describe(c))
	}
	if bl := blindLayerFile(c); exists(bl) {
		if err := keys.RewrapSealed(bl, k.aead, blindLayerAD(c.Deployment)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rewrapped %s with the %s\n", bl, k.describe(c))
	}
	return nil
}

// printAllStatus prints the PRF keyset's table, then the reference
// keyset's (or how to make it).
func printAllStatus(stdout, stderr io.Writer, c config, k *kek, prf, ref keysetFile) error {
	for i, f := range []keysetFile{prf, ref} {
		if i > 0 {
			fmt.Fprintln(stdout)
			if !exists(f.path) {
				fmt.Fprintf(stdout, "no %s %s: client references are refused until `vindex keys init` makes it\n", f.what, f.path)
				return nil
			}
		}
		h, err := f.load(c, k)
		if err != nil {
			return err
		}
		use, err := fromStore(c, f.use)
		if err != nil {
			fmt.Fprintf(stderr, "vindex keys: %s not counted: %v\n", f.using, err)
			use = nil
		}
		header := "key_id     state     primary  live_registrations"
		if i > 0 {
			header = "ref_key_id state     primary  sealed_references"
		}
		if err := printStatus(stdout, header, h, use); err != nil {
			return err
		}
	}
	ak := auditKeyOf(c)
	vkey, err := readVerifierKey(ak.pub)
	if err != nil {
		fmt.Fprintf(stdout, "\nno audit log signing key %s: vindex serve refuses to start until `vindex keys init` makes it\n", ak.path)
		return nil
	}
	fmt.Fprintf(stdout, "\naudit log signing key %s; public key (%s):\n%s\n", ak.path, ak.pub, vkey)
	return nil
}

// fromStore opens the store read-only in effect (nothing is written) to
// count what depends on each key. It fails while a server has the store
// open.
func fromStore(c config, count func(store.KeyUse) map[uint32]int64) (map[uint32]int64, error) {
	dir := c.storeDir()
	if !exists(dir) {
		return map[uint32]int64{}, nil
	}
	st, err := openStore(c, toolUse)
	if err != nil {
		return nil, fmt.Errorf("the store %s is not available (a running server has it open? its /metrics shows vindex_key_live_registrations): %w", dir, err)
	}
	defer st.Close()
	return count(st), nil
}

func printStatus(w io.Writer, header string, h *keyset.Handle, use map[uint32]int64) error {
	st, err := keys.Status(h)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, header)
	for _, k := range st {
		n := "?"
		if use != nil {
			n = strconv.FormatInt(use[k.ID], 10)
		}
		fmt.Fprintf(w, "%-10d %-9s %-8v %s\n", k.ID, k.State, k.Primary, n)
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
		return printUsage(stderr, tokensUsage, args)
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
      exits 1 if there is one; if there is none, lists the rules in order
      with their labels (how mails name them) and the signal codes with
      theirs, the coordinator's term to accept and the escalation ladder
      (its steps, terms in working days, who takes them and to whom they
      go), and warns if there are no signal codes (every signal is then
      refused) or if a step of the municipality's has no municipality to
      take it. If the covenant names the file of its excluded addresses'
      elements (family.excluded_address_elements, for a blind deployment),
      reads it, says how many elements it holds and under which key
      holders' keys, and warns if they are not as many as the addresses.
  vindex covenant test FILE SCENARIOS...
      decides every scenario of the scenario files under the covenant FILE
      and prints PASS or FAIL per scenario; exits 1 if one fails. The format
      of scenario files: rules/testdata/README.md.
  vindex covenant blind-addresses --covenant FILE [--out FILE] KEY-HOLDER FLAGS
      a blind deployment's excluded addresses: makes their elements with
      the key holders, run by a client system's operator or the covenant's
      secretary, never by the index (vindex covenant blind-addresses --help).
`

func covenantCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "blind-addresses" {
		return blindAddressesCmd(args[1:], stdout, stderr)
	}
	if len(args) < 2 || (args[0] != "check" && args[0] != "test") || (args[0] == "test" && len(args) < 3) || slices.ContainsFunc(args, isHelp) {
		return printUsage(stderr, covenantUsage, args)
	}
	cov, err := rules.LoadFile(args[1])
	if err != nil {
		fmt.Fprintln(stdout, err)
		return exitError{1}
	}
	if args[0] == "check" {
		elements, err := checkExcludedElements(cov)
		if err != nil {
			fmt.Fprintln(stdout, err)
			return exitError{1}
		}
		fmt.Fprintf(stdout, "%s: ok: %q, %d municipalities, %d institutions, %d rules, %d signal codes\n",
			args[1], cov.Name, len(cov.Municipalities), len(cov.Institutions), len(cov.Rules), len(cov.SignalCodes))
		for _, r := range cov.Rules {
			label := r.Label
			if label == "" {
				label = "(no label: mails name the rule " + r.Name + ")"
			}
			fmt.Fprintf(stdout, "  rule %s: %s\n", r.Name, label)
		}
		for _, s := range cov.SignalCodes {
			fmt.Fprintf(stdout, "  signal code %s: %s\n", s.Code, s.Label)
		}
		if len(cov.SignalCodes) == 0 {
			fmt.Fprintln(stdout, "  warning: no signal_codes: every signal is refused; only involvement registrations are accepted")
		}
		if cov.Family.AddressMatching {
			fmt.Fprintf(stdout, "  family: parents and addresses match, %d excluded addresses\n", len(cov.Family.ExcludedAddresses))
		} else {
			fmt.Fprintln(stdout, "  family: parents match; addresses are refused (address_matching off)")
		}
		if elements != nil {
			key := elements.Key
			if key == "" {
				key = "(not named)"
			}
			fmt.Fprintf(stdout, "  family: %d excluded-address elements (a blind deployment's) in %s, under the key holders' keys %s\n",
				len(elements.Elements), cov.Family.ExcludedElementsFile, key)
			if n := len(cov.Family.ExcludedAddresses); len(elements.Elements) != n {
				fmt.Fprintf(stdout, "  warning: %d excluded-address elements for %d excluded addresses: they were made from another list, and a blind index does not start with them; "+
					"make them anew (vindex covenant blind-addresses)\n", len(elements.Elements), n)
			}
		}
		printCoordination(stdout, cov)
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

// checkExcludedElements reads the file of the excluded addresses'
// elements the covenant names, if it names one; its errors name the file
// and the line, never quoting an element.
func checkExcludedElements(cov *rules.Covenant) (*matcher.ExcludedElements, error) {
	f := cov.Family.ExcludedElementsFile
	if f == "" {
		return nil, nil
	}
	e, err := matcher.ReadExcludedElements(f)
	var pe *fs.PathError
	switch {
	case err == nil:
		return e, nil
	case errors.As(err, &pe):
		return nil, fmt.Errorf("%s: cannot read the excluded-address elements (family.excluded_address_elements): %v; make them with vindex covenant blind-addresses", f, pe.Err)
	}
	return nil, errors.New(strings.TrimPrefix(err.Error(), matcher.ErrExcludedElements.Error()+": "))
}

// printCoordination lists the covenant's term to accept and its
// escalation ladder, for vindex covenant check.
func printCoordination(w io.Writer, cov *rules.Covenant) {
	if n := cov.Coordination.AcceptWithinWorkingDays; n > 0 {
		fmt.Fprintf(w, "  coordination: the assigned coordinator accepts or declines within %d working days\n", n)
	} else {
		fmt.Fprintln(w, "  coordination: no term to accept: a coordinator may accept or decline, and is never replaced for not answering (coordination.accept_within_working_days sets a term)")
	}
	to := map[rules.Addressee]string{rules.AddresseeCoordinator: "the coordinator (its management)",
		rules.AddresseeInvolved: "the involved institutions (their managements)", rules.AddresseeMunicipality: "the municipality (the alderman)"}
	byMunicipality := false
	for i, s := range cov.Escalation {
		term := "the first step, no term"
		if i > 0 {
			term = fmt.Sprintf("within %d working days", s.WithinWorkingDays)
			if s.WithinWorkingDays == 0 {
				term = "the same day"
			}
		}
		by := "by the coordinator"
		if s.ByMunicipality {
			by, byMunicipality = "by the municipality", true
		}
		if s.Decides {
			by += ", naming the coordinator with the final say"
		}
		fmt.Fprintf(w, "  escalation step %s: %s, %s, to %s\n", s.Name, term, by, to[s.Addressee])
	}
	if byMunicipality && !slices.ContainsFunc(cov.Institutions, func(i rules.Institution) bool { return i.Type == rules.TypeMunicipality }) {
		fmt.Fprintln(w, "  warning: the escalation ladder has a step the municipality takes, but no institution of type gemeente takes part")
	}
}
