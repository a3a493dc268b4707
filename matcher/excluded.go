package matcher

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// ExcludedElements are the elements of the covenant's excluded addresses
// for a blind deployment: the client system's side of the exclusion list.
// A blind index holds no key holder's key and no key holder's token (with
// one it could test guessed BSNs), so it cannot blind the addresses
// itself: a client system makes the elements with the key holders (`vindex
// covenant blind-addresses`), in the order of the covenant's exclusion
// file, and the index reads them (ReadExcludedElements).
type ExcludedElements struct {
	// Key names the key holders' keys the elements were made under
	// (oprf.LayerID of their public keys). Required: an index that has
	// not learned the key holders' keys from a rotation (Layer.Keys) takes
	// them from here, so that a report made under other keys, for which
	// the exclusion would not hold, is refused (ErrYouthKeyUnknown).
	Key string
	// Elements are the addresses' elements (crypto/oprf.AddressInput), in
	// the order of the covenant's exclusion file.
	Elements []oprf.Element
}

// ErrExcludedElements: a blind deployment whose covenant excludes
// addresses needs the elements of those addresses
// (Config.ExcludedAddressElements), made from the same list under keys it
// takes.
var ErrExcludedElements = errors.New("matcher: the covenant's excluded addresses need their elements in a blind deployment")

// excludedHeader begins an elements file; "key" names the layer.
const excludedHeader = "# vindex excluded-address elements v1"

// WriteExcludedElements writes e in the form ReadExcludedElements reads: a
// header line, a line "key " + e.Key, then one element per line (standard
// padded base64).
func WriteExcludedElements(w io.Writer, e ExcludedElements) error {
	if !oprf.ValidLayerID(e.Key) {
		return fmt.Errorf("%w: the key holders' key IDs are required (oprf.LayerID)", ErrExcludedElements)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s\nkey %s\n", excludedHeader, e.Key)
	for _, y := range e.Elements {
		b, err := y.MarshalText()
		if err != nil {
			return err
		}
		bw.Write(b)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// maxExcludedElements bounds an elements file (as the covenant bounds its
// exclusion file).
const maxExcludedElements = 1 << 20

// ReadExcludedElements reads an elements file (WriteExcludedElements). Its
// errors name the file and the line, never quoting an element.
func ReadExcludedElements(path string) (*ExcludedElements, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("matcher: excluded-address elements: %w", err)
	}
	defer f.Close()
	fail := func(line int, msg string) error {
		return fmt.Errorf("%w: %s:%d: %s", ErrExcludedElements, path, line, msg)
	}
	var e ExcludedElements
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		text := strings.TrimSpace(sc.Text())
		switch {
		case n == 1 && text != excludedHeader:
			return nil, fail(n, "not an excluded-address elements file (its first line is not "+excludedHeader+")")
		case n == 1:
			continue
		case n == 2:
			key, ok := strings.CutPrefix(text, "key ")
			if !ok || !oprf.ValidLayerID(key) {
				return nil, fail(n, "the second line is \"key \" and the key holders' key IDs the elements were made under (oprf.LayerID)")
			}
			e.Key = key
			continue
		case text == "", strings.HasPrefix(text, "#"):
			continue
		}
		if len(e.Elements) >= maxExcludedElements {
			return nil, fail(n, fmt.Sprintf("more than %d elements", maxExcludedElements))
		}
		var y oprf.Element
		if err := y.UnmarshalText([]byte(text)); err != nil {
			return nil, fail(n, "not an element (32 bytes, standard padded base64)")
		}
		e.Elements = append(e.Elements, y)
	}
	if err := sc.Err(); err != nil {
		return nil, fail(n+1, "unreadable line: "+err.Error())
	}
	if n < 2 {
		return nil, fail(n, "no key line")
	}
	return &e, nil
}

// excludedElements pseudonymises a blind deployment's excluded addresses'
// elements under every enabled key (and, while a key holder's rotation is
// in progress, the previous generation's too), as address relations are.
// Elements made under the old key of a rotation are re-keyed; ones made
// under keys the index does not take are refused, as is a list of another
// length than the covenant's.
func (m *Matcher) excludedElements(e *ExcludedElements, addresses int) (map[pseudonym.Pseudonym]bool, error) {
	if !m.cov.Family.AddressMatching || addresses == 0 {
		return nil, nil
	}
	if e == nil {
		return nil, fmt.Errorf("%w: the covenant lists %d (make them with vindex covenant blind-addresses)", ErrExcludedElements, addresses)
	}
	if len(e.Elements) != addresses {
		return nil, fmt.Errorf("%w: %d elements for %d addresses: they were made from another list (make them anew with vindex covenant blind-addresses)",
			ErrExcludedElements, len(e.Elements), addresses)
	}
	if !oprf.ValidLayerID(e.Key) {
		return nil, fmt.Errorf("%w: they do not say which key holders' keys made them (key)", ErrExcludedElements)
	}
	if !m.layer.Rotating && len(m.layer.Keys) == 0 {
		// The index has not learned the key holders' keys from a
		// rotation: these are the keys it takes from now on, so that an
		// element made under others (for which no excluded address would
		// be recognised) is refused rather than matched.
		m.layer.Keys = strings.Split(e.Key, "+")
	}
	out := make(map[pseudonym.Pseudonym]bool, 2*addresses)
	for _, y := range e.Elements {
		cur, _, err := m.currentOf(y, e.Key, "excluded_address_elements")
		if err != nil {
			return nil, fmt.Errorf("%w: made under key holders' keys this index does not take (%s): make them anew with vindex covenant blind-addresses", ErrExcludedElements, e.Key)
		}
		set, _, err := m.relationSet(store.RelationAddress, cur)
		if err != nil {
			return nil, err
		}
		for _, p := range set.All {
			out[p] = true
		}
	}
	return out, nil
}
