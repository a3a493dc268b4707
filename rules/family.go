package rules

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vindex-nl/vindex/identity"
)

// Family is the covenant's family section: whether reports may carry the
// youth's home address, and the addresses that never make an address
// relation. Parents always may be given (the law's family match is by
// parent as registered in the BRP); an address only if AddressMatching.
//
//	family:
//	  address_matching: true
//	  excluded_addresses: excluded-addresses.txt
//	  excluded_address_elements: excluded-addresses.elements
//
// The file of excluded addresses (shelters, youth institutions, student
// housing) has one address per line: postcode, house number and an
// optional addition ("1234 AB 12", "1234AB 12-A"); blank lines and lines
// starting with # are skipped. Its path is relative to the covenant file.
//
// A blind deployment's index cannot pseudonymise the addresses itself (it
// holds no key holder's token), so a client system makes their elements
// with the key holders (vindex covenant blind-addresses) into the file
// excluded_address_elements names, also relative to the covenant file,
// which the index reads at start-up. The covenant only names that file:
// it is neither read nor checked here (see matcher.ReadExcludedElements).
type Family struct {
	// AddressMatching: reports may carry the home address, and youths
	// with the same address registered by different institutions make a
	// family match. Default false: an address is refused.
	AddressMatching bool
	// ExcludedAddresses are the addresses on the exclusion file, each
	// once, in file order. The matcher pseudonymises them at start-up.
	ExcludedAddresses []identity.Address
	// ExcludedFile is the exclusion file's path as loaded ("" if none).
	ExcludedFile string
	// ExcludedElementsFile is the path of the file of the excluded
	// addresses' elements, for a blind deployment, relative paths taken
	// from the covenant file's directory ("" if none). It is given only
	// with an exclusion file; Load does not open it.
	ExcludedElementsFile string
}

type rawFamily struct {
	AddressMatching         bool   `yaml:"address_matching"`
	ExcludedAddresses       string `yaml:"excluded_addresses"`
	ExcludedAddressElements string `yaml:"excluded_address_elements"`
}

// maxExcludedAddresses bounds the exclusion file.
const maxExcludedAddresses = 1 << 20

// family checks the family section; the exclusion file is read relative
// to the covenant file.
func (b *builder) family(raw *rawFamily) {
	if raw == nil {
		return
	}
	line := func(f string) int {
		if l, ok := b.li.familyFields[f]; ok {
			return l
		}
		return b.li.family
	}
	b.c.Family.AddressMatching = raw.AddressMatching
	if raw.ExcludedAddresses == "" {
		if raw.ExcludedAddressElements != "" {
			b.fail(line("excluded_address_elements"), "family.excluded_address_elements is given without excluded_addresses: it holds the elements of the addresses that file lists")
		}
		return
	}
	if !raw.AddressMatching {
		b.fail(line("excluded_addresses"), "family.excluded_addresses is given, but address_matching is off: an address is never matched")
		return
	}
	b.c.Family.ExcludedFile = b.relative(raw.ExcludedAddresses)
	if raw.ExcludedAddressElements != "" {
		b.c.Family.ExcludedElementsFile = b.relative(raw.ExcludedAddressElements)
		if b.c.Family.ExcludedElementsFile == b.c.Family.ExcludedFile {
			b.fail(line("excluded_address_elements"), "family.excluded_address_elements names the file of excluded_addresses: the elements go in a file of their own, which vindex covenant blind-addresses writes")
		}
	}
	path := b.c.Family.ExcludedFile
	f, err := os.Open(path)
	if err != nil {
		b.fail(line("excluded_addresses"), "family.excluded_addresses: cannot read %s: %v", raw.ExcludedAddresses, unwrapPath(err))
		return
	}
	defer f.Close()
	seen := map[identity.Address]int{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		a, err := identity.ParseAddressLine(text)
		if err != nil {
			b.errs = append(b.errs, &LoadError{File: path, Line: n, Msg: strings.TrimPrefix(err.Error(), "identity: ")})
			continue
		}
		if first, ok := seen[a]; ok {
			b.errs = append(b.errs, &LoadError{File: path, Line: n, Msg: fmt.Sprintf("address listed twice (first on line %d)", first)})
			continue
		}
		if len(seen) >= maxExcludedAddresses {
			b.errs = append(b.errs, &LoadError{File: path, Line: n, Msg: fmt.Sprintf("more than %d addresses", maxExcludedAddresses)})
			return
		}
		seen[a] = n
		b.c.Family.ExcludedAddresses = append(b.c.Family.ExcludedAddresses, a)
	}
	if err := sc.Err(); err != nil {
		b.errs = append(b.errs, &LoadError{File: path, Line: n + 1, Msg: "unreadable line: " + err.Error()})
	}
}

// relative returns path, taken from the covenant file's directory if it
// is relative.
func (b *builder) relative(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(b.file), path)
}

// unwrapPath drops the path from an *os.PathError: the message names the
// file as the covenant gives it.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// familyLines records the lines of the family section.
func (li *lineIndex) familyLines(k, v *yaml.Node) {
	li.family = k.Line
	li.familyFields = fieldLines(v)
}
