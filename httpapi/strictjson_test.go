package httpapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// checkStrictTokens is checkStrict as it was first written, over
// json.Decoder.Token: the reference checkStrict must agree with.
func checkStrictTokens(dec *json.Decoder, t reflect.Type, depth int) error {
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
			if err := checkStrictTokens(dec, elem, depth+1); err != nil {
				return err
			}
		}
	case '{':
		if err := checkMembersTokens(dec, t, depth); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func checkMembersTokens(dec *json.Decoder, t reflect.Type, depth int) error {
	fields := structFields(t)
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
		if err := checkStrictTokens(dec, ft, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// structFields is the field table the reference reads: jsonFields (the
// field resolution is not what changed), nil for a type that is not a
// struct.
func structFields(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	return jsonFields(t)
}

// A type with every kind of field checkStrict follows.
type strictInner struct {
	A string `json:"a"`
	K int    `json:"k"` // "\u212a" (the Kelvin sign) folds to it
	S string `json:"s"` // and "\u017f" (long s) to this
}

type strictEmbedded struct {
	E      string `json:"e"`
	Shadow int    `json:"shadow"`
}

type strictAll struct {
	strictEmbedded
	*strictInner                             // not promoted: a field named strictInner
	Shadow       string                      `json:"shadow"`
	M            map[string]strictInner      `json:"m"`
	P            *[]*strictInner             `json:"p"`
	Arr          [2]map[string][]strictInner `json:"arr"`
	Skip         string                      `json:"-"`
	// encoding/json names this field "-"; checkStrict, as it always
	// has, leaves it out.
	//lint:ignore SA5008 the tag is what is tested
	Dash   string `json:"-,"`
	Plain  int
	Umlaut string `json:"ünï"`
	//lint:ignore U1000 a field that is there to be left out
	unexported int
	Any        any `json:"any,omitempty"`
}

// strictTypes are the types checkStrict is tried with: those the handlers
// decode into, and strictAll.
var strictTypes = []reflect.Type{
	reflect.TypeFor[*RegistrationRequest](),
	reflect.TypeFor[*SubjectAccessRequest](),
	reflect.TypeFor[*DeclineRequest](),
	reflect.TypeFor[*HandoverRequest](),
	reflect.TypeFor[*EscalationRequest](),
	reflect.TypeFor[*InformRequest](),
	reflect.TypeFor[*ObjectionRequest](),
	reflect.TypeFor[*PlanRequest](),
	reflect.TypeFor[*AgreementRequest](),
	reflect.TypeFor[*AgreementDoneRequest](),
	reflect.TypeFor[*EndRequest](),
	reflect.TypeFor[*RemoveRequest](),
	reflect.TypeFor[*BSNRequest](),
	reflect.TypeFor[*strictAll](),
	reflect.TypeFor[map[string][]*strictInner](),
	nil,
}

// compareStrict fails t unless checkStrict and checkStrictTokens agree on
// body: the same *strictError, or both another error, or both nil.
func compareStrict(t *testing.T, body []byte, typ reflect.Type) {
	t.Helper()
	got := checkStrict(body, typ)
	want := checkStrictTokens(json.NewDecoder(strings.NewReader(string(body))), typ, 0)
	var gs, ws *strictError
	gotStrict, wantStrict := errors.As(got, &gs), errors.As(want, &ws)
	switch {
	case gotStrict != wantStrict, gotStrict && *gs != *ws:
		t.Fatalf("%v on %q: got %v, want %v", typ, body, got, want)
	case (got == nil) != (want == nil):
		t.Fatalf("%v on %q: got error %v, want %v", typ, body, got, want)
	}
}

const regBody = `{"bsn":"111222333","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"A. Jansen","phone":"050-1234567"}}`

var strictSeeds = []string{
	regBody,
	`{"bsn":"111222333","birth_date":"2014-05-17","municipality":"GM0014","kind":"signal","code":"S01","urgent":true,"contact":{"name":"A","email":"a@b"},"ends_on":"2099-01-01","idempotency_key":"k","informed":{"who":"both","on":"2026-01-02"},"parents":["111222333","123456782"],"address":{"postcode":"1234AB","house_number":12,"addition":"A"}}`,
	`{"bsn":"111222333","bsn":"111222333"}`,
	`{"b\u0073n":"1","bsn":"2"}`,
	`{"bsn":"1","b\u0073n":"2"}`,
	`{"BSN":"111222333"}`,
	`{"b` + "\u017f" + `n":"1"}`,
	`{"b\u017fn":"1"}`,
	`{"contact":{"Name":"A"}}`,
	`{"contact":{"name":"A","name":"B"}}`,
	`{"x":[{"a":{"b":1,"b":1}}]}`,
	`{"m":{"k":{"a":"1","A":"2"}}}`,
	`{"m":{"x":{"\u212a":1}}}`,
	`{"p":[{"a":1},{"s":1,"S":2}]}`,
	`{"arr":[{"x":[{"a":1,"a":2}]}]}`,
	`{"e":1,"shadow":"x","strictInner":null,"Plain":1,"ünï":"","-":1,"Dash":1}`,
	`{"plain":1}`, `{"ÜNÏ":1}`, `{"SHADOW":1}`, `{"E":1}`, `{"Skip":1,"skip":2}`,
	"{\"\xff\":1,\"\xfe\":2}",
	`{"\ud800":1,"\udc00":2}`,
	`{"\ud83d\ude00":1,"` + "\U0001F600" + `":2}`,
	`{"\ud800\u0041":1,"` + "\ufffdA" + `":2}`,
	`{"a\u0000b":1,"a\u0000b":2}`,
	`{"\"\\\/\b\f\n\r\t":1,"\"\\/\u0008\u000c\u000a\u000d\u0009":2}`,
	`{"bsn":1e400,"bsn":2}`, `{"bsn":1e-400,"bsn":2}`, `[-0.5e+3,1E2,0]`,
	`{"bsn":"1"} {"bsn":1,"bsn":2}`, `{} x`, `1x`, `truex`, `"a"b`,
	``, ` `, `{`, `[`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `{"a":1,}`, `[1,]`, `[,]`, `{,}`,
	`{"a" 1}`, `{"a":1 "b":2}`, `[1 2]`, `{"a":1]`, `[1}`, `{"bsn":"1","bsn"`, `{"bsn":"1","bsn"}`,
	`{"bsn":"1","BSN"`, `01`, `[01]`, `-`, `1.`, `1e`, `1e+`, `.5`, `+1`, `tru`, `nul`, `[nulL]`,
	`"\u12"`, `"\x"`, "\"a\x01\"", `{"a":"\u00e9\ud83d"}`, "\xef\xbb\xbf{}",
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2),
	strings.Repeat(`{"a":`, maxDepth) + `{"b":1,"b":2}` + strings.Repeat("}", maxDepth),
	strings.Repeat(`{"a":`, maxDepth-1) + `{"b":1,"b":2}` + strings.Repeat("}", maxDepth),
	`{` + manyMembers(40, -1) + `}`,
	`{` + manyMembers(40, 30) + `}`,
	`{` + manyMembers(17, 16) + `}`,
	`{` + manyMembers(17, 3) + `}`,
	nested(false, false), nested(true, false), nested(false, true),
}

// nested is objects of 15 members in objects of 15 members, deeper than
// checkStrict keeps names without allocating, with a member twice in the
// last, innermost one (inner) or in the outermost one after it (outer).
func nested(inner, outer bool) string {
	level := func(n int, dup bool, child string) string {
		m := manyMembers(15, -1)
		if dup {
			m += `,"m` + strconv.Itoa(n) + `":0`
		}
		return `{` + m + child + `}`
	}
	x := level(3, false, "")
	x = level(0, false, `,"x":`+x)
	x = level(0, false, `,"x":`+x)
	y := level(9, inner, "")
	y = level(0, false, `,"y":`+y)
	y = level(0, false, `,"y":`+y)
	return level(5, outer, `,"x":`+x+`,"y":`+y)
}

// manyMembers is n members "m0" to "m<n-1>", the one at dup again.
func manyMembers(n, dup int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"m` + strconv.Itoa(i) + `":{"x":1}`)
		if i == dup {
			b.WriteString(`,"m` + strconv.Itoa(i) + `":2`)
		}
	}
	return b.String()
}

// TestCheckStrict: what checkStrict refuses, and for what field.
func TestCheckStrict(t *testing.T) {
	reg := reflect.TypeFor[*RegistrationRequest]()
	all := reflect.TypeFor[*strictAll]()
	twice := "a member appears twice in one object"
	cased := func(f string) string {
		return "a member's name differs from " + f + " only in case; names are case-sensitive"
	}
	cases := []struct {
		typ           reflect.Type
		body          string
		field, detail string // detail "": no *strictError
		err           bool   // another error
	}{
		{reg, regBody, "", "", false},
		{reg, `{"bsn":"1","bsn":"2"}`, "bsn", twice, false},
		{reg, `{"b\u0073n":"1","bsn":"2"}`, "bsn", twice, false},
		{reg, `{"BSN":"1"}`, "bsn", cased("bsn"), false},
		{reg, `{"b` + "\u017f" + `n":"1"}`, "bsn", cased("bsn"), false},
		{reg, `{"contact":{"Name":"A"}}`, "name", cased("name"), false},
		{reg, `{"x":[{"a":{"b":1,"b":1}}]}`, "", twice, false},
		{reg, `{"bsn":1e400,"bsn":2}`, "", "", true},
		{reg, `{"bsn":1e-400,"bsn":2}`, "bsn", twice, false},
		{reg, "{\"\xff\":1,\"\xfe\":2}", "", twice, false},
		{reg, `{"\ud800":1,"\udc00":2}`, "", twice, false},
		{reg, `{"bsn":"1","bsn"`, "bsn", twice, false},
		{reg, `{"bsn":"1"} {"bsn":1,"bsn":2}`, "", "", false},
		{reg, `{"bsn":"1",}`, "", "", true},
		{all, `{"m":{"x":{"\u212a":1}}}`, "k", cased("k"), false},
		{all, `{"shadow":"","SHADOW":1}`, "shadow", cased("shadow"), false},
		{all, `{"e":1,"e":2}`, "e", twice, false},
		{all, `{"Dash":1,"dash":2}`, "", "", false},
		{all, `{"p":[{"a":1},{"s":1,"S":2}]}`, "s", cased("s"), false},
		{all, `{` + manyMembers(40, 30) + `}`, "", twice, false},
		{nil, nested(false, false), "", "", false},
		{nil, nested(true, false), "", twice, false},
		{nil, nested(false, true), "", twice, false},
		{nil, strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), "", "", false},
		{nil, strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2), "", "", true},
		{nil, ``, "", "", true},
	}
	for _, c := range cases {
		err := checkStrict([]byte(c.body), c.typ)
		var se *strictError
		switch {
		case c.detail != "":
			if !errors.As(err, &se) || se.Field != c.field || se.Detail != c.detail {
				t.Errorf("%.60q: got %v, want field %q: %s", c.body, err, c.field, c.detail)
			}
		case c.err:
			if err == nil || errors.As(err, &se) {
				t.Errorf("%.60q: got %v, want an error not a strictError", c.body, err)
			}
		case err != nil:
			t.Errorf("%.60q: got %v", c.body, err)
		}
		compareStrict(t, []byte(c.body), c.typ)
	}
}

// TestCheckStrictSeeds: checkStrict agrees with checkStrictTokens on every
// seed of FuzzCheckStrict, for every type.
func TestCheckStrictSeeds(t *testing.T) {
	for _, body := range strictSeeds {
		for _, typ := range strictTypes {
			compareStrict(t, []byte(body), typ)
		}
	}
}

// TestCheckStrictFoldsOnce: no two fields of a type checkStrict is tried
// with differ only in case, or checkStrictTokens (which ranges over a
// map) could name either.
func TestCheckStrictFoldsOnce(t *testing.T) {
	for _, typ := range strictTypes {
		for typ != nil && typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ == nil || typ.Kind() != reflect.Struct {
			continue
		}
		names := structFields(typ)
		for a := range names {
			for b := range names {
				if a != b && strings.EqualFold(a, b) {
					t.Errorf("%v: %q and %q", typ, a, b)
				}
			}
		}
	}
}

// TestCheckStrictAllocs: a valid registration body (ASCII names without
// escapes, small objects) is checked without allocating.
func TestCheckStrictAllocs(t *testing.T) {
	reg := reflect.TypeFor[*RegistrationRequest]()
	for _, body := range []string{regBody, strictSeeds[1]} {
		b := []byte(body)
		if n := testing.AllocsPerRun(100, func() {
			if err := checkStrict(b, reg); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%d allocations for %s", int(n), body)
		}
	}
}

func BenchmarkCheckStrict(b *testing.B) {
	reg := reflect.TypeFor[*RegistrationRequest]()
	body := []byte(regBody)
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := checkStrict(body, reg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tokens", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := checkStrictTokens(json.NewDecoder(strings.NewReader(string(body))), reg, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) { // what the check costs beside
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var req RegistrationRequest
			dec := json.NewDecoder(strings.NewReader(string(body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzCheckStrict: checkStrict agrees with checkStrictTokens on any body,
// for each type it is used with.
func FuzzCheckStrict(f *testing.F) {
	for i, body := range strictSeeds {
		f.Add(body, uint8(i))
		f.Add(body, uint8(slices.Index(strictTypes, reflect.TypeFor[*strictAll]())))
	}
	f.Fuzz(func(t *testing.T, body string, which uint8) {
		compareStrict(t, []byte(body), strictTypes[int(which)%len(strictTypes)])
	})
}
