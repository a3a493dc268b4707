package oprf

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"testing"

	circloprf "github.com/cloudflare/circl/oprf"
	r255 "github.com/gtank/ristretto255"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the fixed test keys and blinds")

const vectorsPath = "testdata/vectors.json"

// The test keys come from RFC 9497's DeriveKeyPair (mode 0x01) with these
// seeds and infos; the blinds and proof scalars from hash_to_scalar over a
// label (see testScalar). TEST ONLY: published, so worthless for anything
// else.
var testKeySpecs = [2]struct{ seed, info string }{
	{"0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a", "vindex test key A"},
	{"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "vindex test key B"},
}

// The vectors' batches of BSNs: five of one, and one of two.
var vectorBatches = [][]string{
	{"111222333"}, {"123456782"}, {"999999990"}, {"010000008"}, {"000000012"},
	{"111222333", "123456782"},
}

// testScalarDST separates the test's fixed scalars from everything else.
const testScalarDST = "vindex-test-vectors-v1"

// testScalar is a fixed test scalar: RFC 9380 hash_to_field for ristretto255
// (expand_message_xmd with SHA-512 to 64 bytes, reduced modulo the order)
// of label under testScalarDST.
func testScalar(label string) *r255.Scalar {
	return hashToScalarWith([]byte(label), []byte(testScalarDST))
}

type vectorKey struct {
	Seed string `json:"seed"`
	Info string `json:"info"`
	SkS  string `json:"skS"`
	PkS  string `json:"pkS"`
}

// vectorStep is one key holder's evaluation.
type vectorStep struct {
	Blind             []string `json:"blind"`
	Blinded           []string `json:"blinded"`
	Evaluated         []string `json:"evaluated"`
	ProofRandomScalar string   `json:"proofRandomScalar"`
	Proof             string   `json:"proof"`
	Request           string   `json:"request"`
	Response          string   `json:"response"`
	Y                 []string `json:"y"`
}

type vindexVector struct {
	BSN         []string   `json:"bsn"`
	Input       []string   `json:"input"`
	HashToGroup []string   `json:"hashToGroup"`
	A           vectorStep `json:"keyHolderA"`
	B           vectorStep `json:"keyHolderB"`
}

type vectorFile struct {
	About          string         `json:"about"`
	Suite          string         `json:"suite"`
	Mode           int            `json:"mode"`
	ContextString  string         `json:"contextString"`
	HashToGroupDST string         `json:"hashToGroupDST"`
	KeyA           vectorKey      `json:"keyA"`
	KeyB           vectorKey      `json:"keyB"`
	Vectors        []vindexVector `json:"vectors"`
}

func testKeys(t testing.TB) [2]*PrivateKey {
	var keys [2]*PrivateKey
	for i, s := range testKeySpecs {
		d, err := circloprf.DeriveKey(circloprf.SuiteRistretto255, circloprf.VerifiableMode, unhex(t, s.seed), []byte(s.info))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := d.MarshalBinary()
		if keys[i], err = ParsePrivateKey(raw); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// makeVectors computes the vectors from the fixed keys and scalars.
func makeVectors(t testing.TB) vectorFile {
	keys := testKeys(t)
	f := vectorFile{
		About: "vindex blind-mode known-answer vectors (see README.md). TEST-ONLY keys and blinds: " +
			"published, so worthless for anything else. Scalars and elements are hex of their 32-byte " +
			"RFC 9497 serialisation; request and response are the exact JSON bodies of POST /v1/evaluate.",
		Suite:          SuiteID,
		Mode:           int(modeVOPRF),
		ContextString:  hex.EncodeToString(contextString(modeVOPRF)),
		HashToGroupDST: hex.EncodeToString(append([]byte("HashToGroup-"), contextString(modeVOPRF)...)),
	}
	for i, k := range keys {
		vk := vectorKey{Seed: testKeySpecs[i].seed, Info: testKeySpecs[i].info, SkS: hexOf(t, k), PkS: hexOf(t, k.Public())}
		if i == 0 {
			f.KeyA = vk
		} else {
			f.KeyB = vk
		}
	}
	for n, batch := range vectorBatches {
		v := vindexVector{BSN: batch}
		points := make([]*r255.Element, len(batch))
		for i, b := range testBSNs(t, batch...) {
			in := YouthInput(b).b
			v.Input = append(v.Input, string(in))
			points[i] = hashToGroup(modeVOPRF, in)
			v.HashToGroup = append(v.HashToGroup, hexOf(t, Element{newPoint(points[i])}))
		}
		var ya []Element
		v.A, ya = vectorRun(t, keys[0], points, fmt.Sprintf("%d/A", n+1))
		pointsB := make([]*r255.Element, len(ya))
		for i, y := range ya {
			pointsB[i] = &y.e.p
		}
		v.B, _ = vectorRun(t, keys[1], pointsB, fmt.Sprintf("%d/B", n+1))
		f.Vectors = append(f.Vectors, v)
	}
	return f
}

// vectorRun runs one key holder's step with the fixed scalars of label.
func vectorRun(t testing.TB, key *PrivateKey, points []*r255.Element, label string) (vectorStep, []Element) {
	var s vectorStep
	blinds := make([]*r255.Scalar, len(points))
	for i := range blinds {
		blinds[i] = testScalar(fmt.Sprintf("blind %s %d", label, i))
		s.Blind = append(s.Blind, hexOf(t, scalarBytes{blinds[i]}))
	}
	st, blinded, err := blindPoints(points, blinds)
	if err != nil {
		t.Fatal(err)
	}
	r := testScalar("proof " + label)
	s.ProofRandomScalar = hexOf(t, scalarBytes{r})
	evaluated, proof, err := evaluate(modeVOPRF, key, blinded, r)
	if err != nil {
		t.Fatal(err)
	}
	s.Proof = hexOf(t, proof)
	for i := range blinded {
		s.Blinded = append(s.Blinded, hexOf(t, blinded[i]))
		s.Evaluated = append(s.Evaluated, hexOf(t, evaluated[i]))
	}
	req, _ := json.Marshal(EvaluateRequest{Blinded: blinded})
	resp, _ := json.Marshal(EvaluateResponse{Evaluated: evaluated, Proof: proof})
	s.Request, s.Response = string(req), string(resp)
	// The client's side from the wire, as a client would do it.
	dreq, err := DecodeEvaluateRequest(bytes.NewReader(req))
	if err != nil || len(dreq.Blinded) != len(blinded) {
		t.Fatalf("request %s: %v", label, err)
	}
	dresp, err := DecodeEvaluateResponse(bytes.NewReader(resp))
	if err != nil {
		t.Fatalf("response %s: %v", label, err)
	}
	ys, err := Finish(st, dresp.Evaluated, dresp.Proof, key.Public())
	if err != nil {
		t.Fatalf("Finish %s: %v", label, err)
	}
	for _, y := range ys {
		s.Y = append(s.Y, hexOf(t, y))
	}
	return s, ys
}

// TestVindexVectors checks testdata/vectors.json: recomputed through the
// package from the fixed keys and scalars it must come out byte for byte
// the same, and independently of the protocol's steps every Y must be
// k_A·H(x) and every split-key Y k_B·k_A·H(x), straight from the keys.
func TestVindexVectors(t *testing.T) {
	want := makeVectors(t)
	if *update {
		b, _ := json.MarshalIndent(want, "", "  ")
		if err := os.WriteFile(vectorsPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var got vectorFile
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Vectors) != len(vectorBatches) {
		t.Fatalf("%d vectors, want %d", len(got.Vectors), len(vectorBatches))
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	if !bytes.Equal(wb, gb) {
		t.Errorf("%s differs from what the package computes (run with -update if that is intended)", vectorsPath)
	}
	checkVectorsDirect(t, got)
}

// checkVectorsDirect checks the file's Y and split-key Y from its own keys
// and inputs with plain group arithmetic, and each proof with Finish against
// the file's public keys.
func checkVectorsDirect(t *testing.T, f vectorFile) {
	ka, kb := scalarToCircl(t, scalar(t, f.KeyA.SkS)), scalarToCircl(t, scalar(t, f.KeyB.SkS))
	var pubA, pubB PublicKey
	if err := pubA.UnmarshalBinary(unhex(t, f.KeyA.PkS)); err != nil {
		t.Fatal(err)
	}
	if err := pubB.UnmarshalBinary(unhex(t, f.KeyB.PkS)); err != nil {
		t.Fatal(err)
	}
	for n, v := range f.Vectors {
		for i, in := range v.Input {
			if in != InputPrefix+v.BSN[i] {
				t.Errorf("vector %d: input %q does not follow the recipe", n+1, in)
			}
			h := hashToGroup(modeVOPRF, []byte(in))
			y := g.NewElement().Mul(toCircl(t, Element{newPoint(h)}), ka)
			if got := hexOf(t, fromCircl(t, y)); got != v.A.Y[i] {
				t.Errorf("vector %d: k_A·H(x) = %s, file says %s", n+1, got, v.A.Y[i])
			}
			y.Mul(y, kb)
			if got := hexOf(t, fromCircl(t, y)); got != v.B.Y[i] {
				t.Errorf("vector %d: k_B·k_A·H(x) = %s, file says %s", n+1, got, v.B.Y[i])
			}
		}
		for _, step := range []struct {
			s   vectorStep
			pub PublicKey
		}{{v.A, pubA}, {v.B, pubB}} {
			st := &State{}
			for i := range step.s.Blind {
				var bl Element
				if err := bl.UnmarshalBinary(unhex(t, step.s.Blinded[i])); err != nil {
					t.Fatal(err)
				}
				st.blinds = append(st.blinds, scalar(t, step.s.Blind[i]))
				st.blinded = append(st.blinded, bl.e)
			}
			resp, err := DecodeEvaluateResponse(bytes.NewReader([]byte(step.s.Response)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Finish(st, resp.Evaluated, resp.Proof, step.pub); err != nil {
				t.Errorf("vector %d: the file's proof: %v", n+1, err)
			}
		}
	}
}
