package httpapi

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strings"
)

// encoding/json, which decodes the bodies, is looser than the OpenAPI
// document: it takes the last of two members with the same name, and it
// matches a name to a field whatever its case ("BSN" for "bsn"). Two
// systems that read the same body could then read different things.
// checkStrict refuses both before the body is decoded.

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

// checkStrict reads one JSON value from dec and refuses, at any depth, an
// object with two members of the same name, and a member whose name differs
// from a field of t (the Go type the value is to be decoded into) only in
// case. Any other error (bad syntax, the end of the body) is returned as
// it comes, for the decoder to report as it would.
func checkStrict(dec *json.Decoder, t reflect.Type, depth int) error {
	if depth > maxDepth {
		return errors.New("httpapi: JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch delim {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := checkStrict(dec, elem, depth+1); err != nil {
				return err
			}
		}
	case '{':
		if err := checkMembers(dec, t, depth); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// checkMembers checks the members of an object whose '{' dec has read.
func checkMembers(dec *json.Decoder, t reflect.Type, depth int) error {
	fields := jsonFields(t)
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		ft, known := fields[name]
		if seen[name] {
			e := &strictError{Detail: "a member appears twice in one object"}
			if known {
				e.Field = name
			}
			return e
		}
		seen[name] = true
		if !known {
			for f := range fields {
				if strings.EqualFold(f, name) {
					return &strictError{Field: f, Detail: "a member's name differs from " + f + " only in case; names are case-sensitive"}
				}
			}
		}
		if t != nil && t.Kind() == reflect.Map {
			ft = t.Elem()
		}
		if err := checkStrict(dec, ft, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// jsonFields returns the JSON names of the fields of struct type t, with
// their types; nil if t is not a struct.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	out := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			maps.Copy(out, jsonFields(f.Type)) // promoted fields
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
