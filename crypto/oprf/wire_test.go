package oprf

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Encodings of elements that must be refused.
var badElements = map[string]string{
	// RFC 9496 §A.2: non-canonical field encodings, negative s, and values
	// that are not the encoding of any element.
	"non-canonical (p)":       "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"non-canonical (top bit)": "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"negative":                "0100000000000000000000000000000000000000000000000000000000000000",
	"negative (2)":            "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"not square":              "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
	"s = -1 (RFC 9496)":       "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"non-canonical (00ff…ff)": "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"negative xy":             "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
	"identity":                "0000000000000000000000000000000000000000000000000000000000000000",
	"short":                   "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d",
	"long":                    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d7600",
}

const generatorHex = "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"

func TestElementDecoding(t *testing.T) {
	var x Element
	if err := x.UnmarshalBinary(unhex(t, generatorHex)); err != nil {
		t.Fatalf("the generator: %v", err)
	}
	if !x.Equal(fromCircl(t, g.Generator())) {
		t.Fatal("the generator decodes to another element")
	}
	for name, h := range badElements {
		var y Element
		if err := y.UnmarshalBinary(unhex(t, h)); !errors.Is(err, ErrInvalidElement) {
			t.Errorf("%s: %v", name, err)
		}
		if !y.IsZero() {
			t.Errorf("%s: a refused element was stored", name)
		}
	}
	good := base64.StdEncoding.EncodeToString(unhex(t, generatorHex))
	if err := x.UnmarshalText([]byte(good)); err != nil {
		t.Fatalf("base64 of the generator: %v", err)
	}
	for name, s := range map[string]string{
		"unpadded":    strings.TrimRight(good, "="),
		"33 bytes":    base64.StdEncoding.EncodeToString(make([]byte, 33)), // 44 characters, no padding
		"44 no pad":   good[:43] + "A",
		"url":         base64.URLEncoding.EncodeToString(unhex(t, "ffffffff")) + good[8:],
		"newline":     good[:20] + "\n" + good[20:43],
		"space":       " " + good[:43],
		"trailing 1s": good[:42] + "d=", // non-zero trailing bits
		"empty":       "",
		"identity":    base64.StdEncoding.EncodeToString(make([]byte, 32)),
	} {
		var y Element
		if err := y.UnmarshalText([]byte(s)); !errors.Is(err, ErrInvalidElement) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := (Element{}).MarshalBinary(); !errors.Is(err, ErrInvalidElement) {
		t.Errorf("zero element marshals: %v", err)
	}
	var pk PublicKey
	if err := pk.UnmarshalBinary(unhex(t, badElements["identity"])); !errors.Is(err, ErrInvalidKey) || !errors.Is(err, ErrInvalidElement) {
		t.Errorf("identity public key: %v", err)
	}
}

func TestProofDecoding(t *testing.T) {
	key := GenerateKey()
	_, blinded, _ := Blind(testBSNs(t, "111222333")...)
	_, proof, _ := Evaluate(key, blinded)
	text, err := proof.MarshalText()
	if err != nil || len(text) != 88 {
		t.Fatalf("MarshalText: %q, %v", text, err)
	}
	var back Proof
	if err := back.UnmarshalText(text); err != nil {
		t.Fatal(err)
	}
	raw, _ := proof.MarshalBinary()
	order := unhex(t, "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	for name, b := range map[string][]byte{
		"short":             raw[:63],
		"long":              append(append([]byte{}, raw...), 0),
		"c not reduced":     append(append([]byte{}, order...), raw[32:]...),
		"s not reduced":     append(append([]byte{}, raw[:32]...), order...),
		"s all ones":        append(append([]byte{}, raw[:32]...), bytes.Repeat([]byte{0xff}, 32)...),
		"empty":             nil,
		"element-sized":     raw[:32],
		"two proofs joined": append(append([]byte{}, raw...), raw...),
	} {
		var p Proof
		if err := p.UnmarshalBinary(b); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var p Proof
	if err := p.UnmarshalText(text[:87]); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("truncated base64: %v", err)
	}
}

func TestDecodeEvaluateRequest(t *testing.T) {
	_, blinded, _ := Blind(testBSNs(t, "111222333", "123456782")...)
	body, err := json.Marshal(EvaluateRequest{Blinded: blinded})
	if err != nil {
		t.Fatal(err)
	}
	req, err := DecodeEvaluateRequest(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if len(req.Blinded) != 2 || !req.Blinded[0].Equal(blinded[0]) || !req.Blinded[1].Equal(blinded[1]) {
		t.Fatal("the request does not round-trip")
	}
	b0, _ := blinded[0].MarshalText()
	el := `"` + string(b0) + `"`
	idB64 := `"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"`
	nonCanon := `"` + base64.StdEncoding.EncodeToString(unhex(t, badElements["non-canonical (p)"])) + `"`
	cases := map[string]struct {
		body string
		want error
	}{
		"spaces are fine":   {"{ \"blinded\" : [ " + el + " ] }\n", nil},
		"identity":          {`{"blinded":[` + idB64 + `]}`, ErrInvalidElement},
		"non-canonical":     {`{"blinded":[` + nonCanon + `]}`, ErrInvalidElement},
		"bad base64":        {`{"blinded":["!!!"]}`, ErrInvalidElement},
		"hex, not base64":   {`{"blinded":["` + generatorHex + `"]}`, ErrInvalidElement},
		"null element":      {`{"blinded":[null]}`, ErrInvalidElement},
		"empty batch":       {`{"blinded":[]}`, ErrBatchSize},
		"null batch":        {`{"blinded":null}`, ErrBatchSize},
		"missing field":     {`{}`, ErrBody},
		"unknown field":     {`{"blinded":[` + el + `],"bsn":"111222333"}`, ErrBody},
		"field name case":   {`{"Blinded":[` + el + `]}`, ErrBody},
		"repeated field":    {`{"blinded":[` + el + `],"blinded":[` + el + `]}`, ErrBody},
		"number element":    {`{"blinded":[1]}`, ErrBody},
		"not an object":     {`[` + el + `]`, ErrBody},
		"trailing value":    {`{"blinded":[` + el + `]} {}`, ErrBody},
		"truncated":         {`{"blinded":[` + el, ErrBody},
		"empty body":        {``, ErrBody},
		"trailing garbage":  {`{"blinded":[` + el + `]}x`, ErrBody},
		"string, not array": {`{"blinded":` + el + `}`, ErrBody},
	}
	for name, c := range cases {
		_, err := DecodeEvaluateRequest(strings.NewReader(c.body))
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "111222333") {
			t.Errorf("%s: the error quotes the body: %v", name, err)
		}
	}
	// Too many elements, and too large a body.
	many := `{"blinded":[` + strings.Repeat(el+",", MaxBatch) + el + `]}`
	if _, err := DecodeEvaluateRequest(strings.NewReader(many)); !errors.Is(err, ErrBatchSize) {
		t.Errorf("MaxBatch+1 elements: %v", err)
	}
	huge := `{"blinded":[` + el + strings.Repeat(" ", MaxBodySize) + `]}`
	if _, err := DecodeEvaluateRequest(strings.NewReader(huge)); !errors.Is(err, ErrBody) {
		t.Errorf("a body over MaxBodySize: %v", err)
	}
	padded := `{"blinded":[` + el + `]}` + strings.Repeat(" ", MaxBodySize)
	if _, err := DecodeEvaluateRequest(strings.NewReader(padded)); !errors.Is(err, ErrBody) {
		t.Errorf("a body over MaxBodySize after the object: %v", err)
	}
	full := make([]Element, MaxBatch)
	for i := range full {
		full[i] = blinded[i%2]
	}
	body, _ = json.Marshal(EvaluateRequest{Blinded: full})
	if len(body) > MaxBodySize {
		t.Fatalf("a full batch is %d bytes, over MaxBodySize", len(body))
	}
	if _, err := DecodeEvaluateRequest(bytes.NewReader(body)); err != nil {
		t.Errorf("a full batch: %v", err)
	}
}

func TestDecodeEvaluateResponse(t *testing.T) {
	key := GenerateKey()
	st, blinded, _ := Blind(testBSNs(t, "111222333")...)
	ev, proof, _ := Evaluate(key, blinded)
	body, err := json.Marshal(EvaluateResponse{Evaluated: ev, Proof: proof})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := DecodeEvaluateResponse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if _, err := Finish(st, resp.Evaluated, resp.Proof, key.Public()); err != nil {
		t.Fatalf("Finish after the round trip: %v", err)
	}
	e0, _ := ev[0].MarshalText()
	p, _ := proof.MarshalText()
	el, pr := `"`+string(e0)+`"`, `"`+string(p)+`"`
	cases := map[string]struct {
		body string
		want error
	}{
		"no proof":         {`{"evaluated":[` + el + `]}`, ErrBody},
		"null proof":       {`{"evaluated":[` + el + `],"proof":null}`, ErrInvalidProof},
		"short proof":      {`{"evaluated":[` + el + `],"proof":` + el + `}`, ErrInvalidProof},
		"bad proof base64": {`{"evaluated":[` + el + `],"proof":"` + strings.Repeat("*", 88) + `"}`, ErrInvalidProof},
		"no elements":      {`{"evaluated":[],"proof":` + pr + `}`, ErrBatchSize},
		"bad element":      {`{"evaluated":["AAAA"],"proof":` + pr + `}`, ErrInvalidElement},
		"extra field":      {`{"evaluated":[` + el + `],"proof":` + pr + `,"key":1}`, ErrBody},
		"reordered":        {`{"proof":` + pr + `,"evaluated":[` + el + `]}`, nil},
	}
	for name, c := range cases {
		_, err := DecodeEvaluateResponse(strings.NewReader(c.body))
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
