package main

// vindex covenant blind-addresses: the client system's side of a blind
// deployment's exclusion list. The addresses of the covenant's exclusion
// file are turned into their elements through the key holders, and the
// elements are written to a file the index reads at start-up. The index
// never runs it: it holds no key holder's token (with one it could test
// guessed BSNs). No message quotes an address's element or a token.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
)

var blindAddressesUsage = `Usage: vindex covenant blind-addresses --covenant FILE [--out FILE] --keyholder URL
           --keyholder-token-file FILE --keyholder-public-key KEY [--keyholder-cacert FILE]

Makes the elements of the covenant's excluded addresses (family:
excluded_addresses) for a blind deployment: each address is turned into its
element through the key holders, as a client system turns a youth's home
address into one, and the elements are written, in the order of the
exclusion file, to --out (default: the file the covenant names as
family.excluded_address_elements), with the key holders' key IDs. The
file holds no address and no secret. A blind index reads it at start-up
(vindex serve and vindex import refuse to start without it when the
covenant excludes addresses) and, the file being named in the covenant,
vindex covenant check counts its elements.

Who runs it: whoever may ask the key holders for elements: the operator
of a client system with its key-holder token, or the covenant's secretary
with a token a key holder issued for this (vindex keyholder token new).
Never the index's operator with a token for the index: a blind index holds
no key holder's token, since with one it could test guessed BSNs.

When: whenever the exclusion file changes (the index refuses elements of
another number than the covenant's addresses), and after a key holder's
rotation: once the key holder answers under its new key (keyholder rotate
--finish and a restart), and before the index's operator ends the rotation
(vindex keys rotate --blind --finish-keyholder-rotation). Until then the
index re-keys elements made under the old key; after it, it refuses them
and does not start. Then hand the file to the index's operator with the
covenant.

  --covenant  the covenant FILE (its excluded_addresses are read relative
              to it)
  --out       the elements FILE to write (replaced atomically, mode 0600);
              default: the covenant's family.excluded_address_elements

` + addressesKeyholderHelp

// addressesKeyholderHelp is keyholderHelp for addresses.
var addressesKeyholderHelp = strings.Replace(keyholderHelp, "command turns BSNs into elements itself, as a client system does", "command turns the addresses into elements, as a client system does", 1)

// blindAddressesCmd is vindex covenant blind-addresses.
func blindAddressesCmd(args []string, stdout, stderr io.Writer) error {
	const name = "covenant blind-addresses"
	var covFile, out string
	var kh holderFlags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&covFile, "covenant", "", "the covenant `file` whose excluded addresses to blind")
	fs.StringVar(&out, "out", "", "the elements `file` to write; default: the covenant's family.excluded_address_elements")
	kh.bind(fs)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, blindAddressesUsage+"\nSettings of vindex "+name+":\n\n")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return err
		}
		return flagError{cmd: name, err: err}
	}
	switch {
	case fs.NArg() > 0:
		return flagError{cmd: name, err: fmt.Errorf("unexpected argument %q: the covenant is given with --covenant", fs.Arg(0))}
	case covFile == "":
		return flagError{cmd: name, err: errors.New("--covenant: the covenant file is required")}
	case !kh.given():
		return flagError{cmd: name, err: errors.New("--keyholder: the key holders are required (--keyholder URL --keyholder-token-file FILE --keyholder-public-key KEY, once per key holder)")}
	}
	cov, err := rules.LoadFile(covFile)
	if err != nil {
		return err
	}
	fam := cov.Family
	if !fam.AddressMatching || len(fam.ExcludedAddresses) == 0 {
		return fmt.Errorf("%s excludes no addresses (family: address_matching and excluded_addresses): there is nothing to blind", covFile)
	}
	if out == "" {
		if out = fam.ExcludedElementsFile; out == "" {
			return flagError{cmd: name, err: errors.New("--out: the elements file is required, as the covenant names none (family.excluded_address_elements)")}
		}
	}
	b, err := kh.blinder()
	if err != nil {
		return err
	}
	ins := make([]oprf.Input, len(fam.ExcludedAddresses))
	for i, a := range fam.ExcludedAddresses {
		ins[i] = oprf.AddressInput(a)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var told atomic.Bool
	ys, err := inputElements(ctx, b, ins, "the excluded addresses", stderr, &told)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := matcher.WriteExcludedElements(&buf, matcher.ExcludedElements{Key: b.LayerID(), Elements: ys}); err != nil {
		return err
	}
	if err := keys.WriteFileAtomic(out, buf.Bytes()); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	fmt.Fprintf(stdout, "wrote the elements of the %d excluded addresses of %s to %s, under the key holders' keys %s (%d key holder(s))\n",
		len(ys), fam.ExcludedFile, out, b.LayerID(), len(b.Holders))
	if !samePath(out, fam.ExcludedElementsFile) {
		fmt.Fprintf(stdout, "the covenant does not name this file: add to its family section\n  excluded_address_elements: %s\n", relativeTo(covFile, out))
	}
	return nil
}

// samePath reports whether a and b name the same file by their absolute
// paths ("" names none).
func samePath(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	aa, err1 := filepath.Abs(a)
	ab, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == ab
}

// relativeTo returns path relative to the directory of the file base, as
// the covenant names its files, or the absolute path if there is none.
func relativeTo(base, path string) string {
	ab, err1 := filepath.Abs(filepath.Dir(base))
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return path
	}
	if rel, err := filepath.Rel(ab, ap); err == nil {
		return rel
	}
	return ap
}

// excludedElementsOf reads, for a blind deployment, the file of the
// excluded addresses' elements the covenant names
// (family.excluded_address_elements); nil if it names none or the
// deployment is not blind (an hmac index pseudonymises the addresses
// itself). matcher.New checks the elements against the covenant.
func excludedElementsOf(cov *rules.Covenant, blind bool) (*matcher.ExcludedElements, error) {
	if !blind || cov.Family.ExcludedElementsFile == "" {
		return nil, nil
	}
	return matcher.ReadExcludedElements(cov.Family.ExcludedElementsFile)
}

// excludedElementsErr adds to matcher.New's refusal of a blind deployment
// without the excluded addresses' elements where the covenant names them.
func excludedElementsErr(cov *rules.Covenant, err error) error {
	if errors.Is(err, matcher.ErrExcludedElements) && cov.Family.ExcludedElementsFile == "" {
		return fmt.Errorf("%w, and name the file in the covenant's family section (excluded_address_elements: FILE)", err)
	}
	return err
}

// excludedElementsOutlive refuses to end a key holder's rotation from key
// from while the elements of the covenant's excluded addresses are made
// under that key: from the next start the index would refuse them and not
// start. Without a covenant to read (no --covenant, not --dev) it checks
// nothing.
func excludedElementsOutlive(c config, from string) error {
	if c.Covenant == "" && !c.Dev {
		return nil
	}
	cov, err := covenantOf(c)
	if err != nil {
		return err
	}
	e, err := excludedElementsOf(cov, true)
	if err != nil || e == nil || !slices.Contains(strings.Split(e.Key, "+"), from) {
		return err
	}
	return fmt.Errorf("keys rotate --finish-keyholder-rotation: the elements of the covenant's excluded addresses (%s) are made under key holder key %s, which the rotation ends: "+
		"after it the index refuses them and does not start; make them anew with the key holder's new key first (vindex covenant blind-addresses)", cov.Family.ExcludedElementsFile, from)
}
