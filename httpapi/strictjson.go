package httpapi

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// encoding/json, which decodes the bodies, is looser than the OpenAPI
// document: it takes the last of two members with the same name, and it
// matches a name to a field whatever its case ("BSN" for "bsn"). Two
// systems that read the same body could then read different things.
// checkStrict refuses both before the body is decoded.
//
// checkStrict reads the body with its own scanner, not json.Decoder.Token
// (which allocates for every token): a valid body whose member names are
// ASCII without escapes, with objects of at most 16 members and at most 32
// names pending across its nesting, is checked without allocating (the
// request bodies of this API are). It reads the names as
// encoding/json does (escapes resolved, invalid UTF-8 and lone surrogates
// replaced by U+FFFD), so two names are the same for it exactly when they
// are for the decoder.

// maxDepth bounds the nesting checkStrict follows, as encoding/json bounds
// what it decodes.
const maxDepth = 10000

// strictError is a body checkStrict refuses. Field is a field name of the
// API the problem is about ("" if none): never a name from the body, which
// may be data.
type strictError struct {
	Field  string
	Detail string
}

func (e *strictError) Error() string { return "httpapi: " + e.Detail }

// The errors checkStrict returns for a body that is not JSON: the decoder
// reports those itself, as it would.
var (
	errStrictSyntax = errors.New("httpapi: not a JSON value")
	errStrictEnd    = errors.New("httpapi: the JSON value ends early")
	errStrictDepth  = errors.New("httpapi: JSON nested too deeply")
	errStrictNumber = errors.New("httpapi: a JSON number out of the range of float64")
)

const detailTwice = "a member appears twice in one object"

// checkStrict reads the first JSON value of body and refuses, at any depth,
// an object with two members of the same name, and a member whose name
// differs from a field of t (the Go type the value is to be decoded into)
// only in case (as strings.EqualFold compares). Whatever follows the value
// is not read. A body that is not JSON up to the first such member gives an
// error that is not a *strictError, for the decoder to report as it would:
// that is, where json.Decoder.Token would fail, as would a number that
// does not fit a float64 (Token reads it as one).
func checkStrict(body []byte, t reflect.Type) error {
	s := strictScanner{b: body}
	return s.value(t, 0)
}

// strictScanner reads one JSON value from b.
type strictScanner struct {
	b []byte
	i int // the next byte to read
	// The member names read so far of the objects being read, innermost
	// last: n of them, the first in inline (so that a scanner on the stack
	// needs no allocation for them), the others in more.
	n      int
	inline [2 * smallObject]span
	more   []span
	// unquoted holds the names that had to be unescaped; it only grows.
	unquoted []byte
}

// span is where a name is: b[start:end], or unquoted[start:end].
type span struct {
	start, end int
	unquoted   bool
}

func (s *strictScanner) push(at span) {
	if s.n < len(s.inline) {
		s.inline[s.n] = at
	} else if k := s.n - len(s.inline); k < len(s.more) {
		s.more[k] = at
	} else {
		s.more = append(s.more, at)
	}
	s.n++
}

// name returns the k-th name.
func (s *strictScanner) name(k int) []byte {
	at := s.inline[:]
	if k >= len(at) {
		at, k = s.more, k-len(at)
	}
	return s.text(at[k])
}

func (s *strictScanner) text(at span) []byte {
	if at.unquoted {
		return s.unquoted[at.start:at.end]
	}
	return s.b[at.start:at.end]
}

// smallObject is the number of members up to which an object's names are
// compared one by one; a larger object puts them in a map.
const smallObject = 16

func (s *strictScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// value reads a value to be decoded into t, depth the number of arrays and
// objects it is in.
func (s *strictScanner) value(t reflect.Type, depth int) error {
	if depth > maxDepth {
		return errStrictDepth
	}
	s.space()
	if s.i >= len(s.b) {
		return errStrictEnd
	}
	switch c := s.b[s.i]; c {
	case '{':
		s.i++
		return s.object(t, depth)
	case '[':
		s.i++
		return s.array(t, depth)
	case '"':
		s.i++
		_, err := s.str()
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return s.number()
		}
		return errStrictSyntax
	}
}

func (s *strictScanner) literal(lit string) error {
	for k := 0; k < len(lit); k++ {
		if s.i >= len(s.b) {
			return errStrictEnd
		}
		if s.b[s.i] != lit[k] {
			return errStrictSyntax
		}
		s.i++
	}
	return nil
}

// digits reads a run of digits and returns its length.
func (s *strictScanner) digits() int {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

// number reads a number: it ends at the first byte that cannot continue it.
func (s *strictScanner) number() error {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return errStrictEnd
	}
	intDigits := 1
	switch c := s.b[s.i]; {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		intDigits = s.digits()
	default:
		return errStrictSyntax
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.endOrSyntax()
		}
	}
	exp := false
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		exp = true
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.endOrSyntax()
		}
	}
	// json.Decoder.Token reads a number as a float64 and fails on one out
	// of its range. Without an exponent, up to 308 digits before the point
	// are below 1e308 and in range.
	if exp || intDigits > 308 {
		if _, err := strconv.ParseFloat(string(s.b[start:s.i]), 64); err != nil {
			return errStrictNumber
		}
	}
	return nil
}

func (s *strictScanner) endOrSyntax() error {
	if s.i >= len(s.b) {
		return errStrictEnd
	}
	return errStrictSyntax
}

// str reads the rest of a string whose opening quote has been read. plain
// is whether its bytes between the quotes are the string itself: no
// escapes and no bytes outside ASCII (which may be invalid UTF-8).
func (s *strictScanner) str() (plain bool, err error) {
	plain = true
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch {
		case c == '"':
			return plain, nil
		case c < 0x20:
			return false, errStrictSyntax
		case c >= utf8.RuneSelf:
			plain = false
		case c == '\\':
			plain = false
			if s.i >= len(s.b) {
				return false, errStrictEnd
			}
			e := s.b[s.i]
			s.i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					if s.i >= len(s.b) {
						return false, errStrictEnd
					}
					if !isHex(s.b[s.i]) {
						return false, errStrictSyntax
					}
					s.i++
				}
			default:
				return false, errStrictSyntax
			}
		}
	}
	return false, errStrictEnd
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// array reads the rest of an array whose '[' has been read.
func (s *strictScanner) array(t reflect.Type, depth int) error {
	t = deref(t)
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		if err := s.value(elem, depth+1); err != nil {
			return err
		}
		if end, err := s.next(']'); end || err != nil {
			return err
		}
	}
}

// expect reads c, after any whitespace.
func (s *strictScanner) expect(c byte) error {
	s.space()
	if s.i >= len(s.b) {
		return errStrictEnd
	}
	if s.b[s.i] != c {
		return errStrictSyntax
	}
	s.i++
	return nil
}

// next reads what follows a member or element: a comma (false), or the
// array's or object's closing delimiter (true).
func (s *strictScanner) next(closing byte) (end bool, err error) {
	s.space()
	if s.i >= len(s.b) {
		return false, errStrictEnd
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return false, nil
	case closing:
		s.i++
		return true, nil
	}
	return false, errStrictSyntax
}

// object reads the rest of an object whose '{' has been read.
func (s *strictScanner) object(t reflect.Type, depth int) error {
	t = deref(t)
	var fields *fieldTable
	var mapElem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = fieldsOf(t)
		case reflect.Map:
			mapElem = t.Elem()
		}
	}
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	first := s.n
	var many map[string]bool // the names, once there are many
	for {
		if err := s.expect('"'); err != nil {
			return err
		}
		start := s.i
		plain, err := s.str()
		if err != nil {
			return err
		}
		at := span{start: start, end: s.i - 1}
		if !plain {
			n := len(s.unquoted)
			s.unquoted = appendUnquoted(s.unquoted, s.b[at.start:at.end])
			at = span{start: n, end: len(s.unquoted), unquoted: true}
		}
		name := s.text(at)

		f := fields.lookup(name)
		twice := false
		if many != nil {
			twice = many[string(name)]
		} else {
			for k := first; k < s.n; k++ {
				if bytes.Equal(s.name(k), name) {
					twice = true
					break
				}
			}
		}
		if twice {
			e := &strictError{Detail: detailTwice}
			if f != nil {
				e.Field = f.name
			}
			return e
		}
		if many == nil && s.n-first == smallObject {
			many = make(map[string]bool, 2*smallObject)
			for k := first; k < s.n; k++ {
				many[string(s.name(k))] = true
			}
			s.n = first
		}
		if many != nil {
			many[string(name)] = true
		} else {
			s.push(at)
		}
		var ft reflect.Type
		if f != nil {
			ft = f.typ
		} else if g := fields.fold(name); g != nil {
			return &strictError{Field: g.name, Detail: g.caseDetail}
		}
		if mapElem != nil {
			ft = mapElem
		}

		if err := s.expect(':'); err != nil {
			return err
		}
		if err := s.value(ft, depth+1); err != nil {
			return err
		}
		if end, err := s.next('}'); err != nil {
			return err
		} else if end {
			s.n = first
			return nil
		}
	}
}

// appendUnquoted appends the string s (the bytes between the quotes of a
// valid JSON string) as encoding/json decodes it: escapes resolved, a
// surrogate \u escape not part of a valid pair and each byte of invalid
// UTF-8 as U+FFFD.
func appendUnquoted(dst, s []byte) []byte {
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			switch s[r+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := hex4(s[r+2 : r+6])
				r += 6
				if utf16.IsSurrogate(rr) {
					rr1 := rune(-1)
					if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' {
						rr1 = hex4(s[r+2 : r+6])
					}
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						r += 6
						dst = utf8.AppendRune(dst, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			dst = utf8.AppendRune(dst, rr)
			r += size
		}
	}
	return dst
}

// hex4 is the value of four hex digits (checked by the scanner).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// fieldTable is what checkStrict needs of a struct type: the JSON names of
// its fields (see jsonFields), with their types.
type fieldTable struct {
	byName map[string]*field
	// sorted is the fields in the order of their names, for a name that
	// is none of them to be compared in a fixed order.
	sorted []*field
}

type field struct {
	name       string
	nameBytes  []byte
	typ        reflect.Type
	caseDetail string // the Detail of a name that differs only in case
}

// lookup returns the field named name exactly; nil if none (or if ft is
// nil).
func (ft *fieldTable) lookup(name []byte) *field {
	if ft == nil {
		return nil
	}
	return ft.byName[string(name)]
}

// fold returns a field whose name differs from name only in case; nil if
// none.
func (ft *fieldTable) fold(name []byte) *field {
	if ft == nil {
		return nil
	}
	for _, f := range ft.sorted {
		if bytes.EqualFold(f.nameBytes, name) {
			return f
		}
	}
	return nil
}

// fieldTables holds the fieldTable of each struct type met: a few request
// types, built once each.
var fieldTables sync.Map // reflect.Type → *fieldTable

func fieldsOf(t reflect.Type) *fieldTable {
	if ft, ok := fieldTables.Load(t); ok {
		return ft.(*fieldTable)
	}
	names := jsonFields(t)
	ft := &fieldTable{byName: make(map[string]*field, len(names))}
	for name, typ := range names {
		f := &field{name: name, nameBytes: []byte(name), typ: typ,
			caseDetail: "a member's name differs from " + name + " only in case; names are case-sensitive"}
		ft.byName[name] = f
		ft.sorted = append(ft.sorted, f)
	}
	slices.SortFunc(ft.sorted, func(a, b *field) int { return strings.Compare(a.name, b.name) })
	got, _ := fieldTables.LoadOrStore(t, ft)
	return got.(*fieldTable)
}

// jsonFields returns the JSON names of the fields of struct type t, with
// their types: exported fields and those promoted from embedded structs
// without a name of their own, by the name of their json tag or else their
// own; a field tagged "-" (even "-,") is left out. Of two fields with the
// same name, the later one counts.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for n, typ := range jsonFields(f.Type) { // promoted fields
				out[n] = typ
			}
			continue
		}
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
