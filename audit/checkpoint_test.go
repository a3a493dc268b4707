package audit_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/vindex-nl/vindex/audit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Keys for tests only: never used by a real log.
const (
	origin    = "vindex.example/audit"
	logSkey   = "PRIVATE+KEY+vindex.example/audit+5f117c9a+AcLTzQQmpwxc6L5lgjJYKDWR2X2aWkEOFHNutHVhm8IN"
	logVkey   = "vindex.example/audit+5f117c9a+Ac+BFi6uLqD1KybsQ7hreYB1VPBow72Gfp64lFaclMBb"
	witSkey   = "PRIVATE+KEY+witness.example/w1+05df96ea+AfiahR6OXQ7BZ0FbK5SKXeDa5YnneRedPyS7rtC/XktO"
	witVkey   = "witness.example/w1+05df96ea+AQj0BAuoTUGNrAfVaiYmNqout9XhDZg7iChsRi8FHMZy"
	otherSkey = "PRIVATE+KEY+vindex.example/audit+9d283731+AWsFme/rK91ttioZOCA4zxu1pH1KCzb3zFpX0JfXYb9s"
)

func signer(t testing.TB, skey string) *audit.Signer {
	t.Helper()
	s, err := audit.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func verifier(t testing.TB, vkey string) note.Verifier {
	t.Helper()
	v, err := audit.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ctRoot8(t *testing.T) audit.Hash {
	b, _ := hex.DecodeString(ctRoots[8])
	return audit.Hash(b)
}

// The checkpoint of the CT reference tree of 8 leaves, signed by the log
// and cosigned by a witness, byte for byte (Ed25519 signatures are
// deterministic). Rewrite with go test -run Golden -update.
func TestCheckpointGolden(t *testing.T) {
	text, err := signer(t, logSkey).SignCheckpoint(8, ctRoot8(t))
	if err != nil {
		t.Fatal(err)
	}
	text, err = audit.Cosign(text, origin, verifier(t, logVkey), signer(t, witSkey))
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/checkpoint.golden"
	if *update {
		if err := os.WriteFile(golden, text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(text, want) {
		t.Errorf("checkpoint\n%s\nwant\n%s", text, want)
	}
	// The C2SP tlog-checkpoint shape: origin, size, base64 root, a blank
	// line, then one "— name base64" line per signature, the log's first.
	// A signature is the key hash (4 bytes) and the Ed25519 signature
	// (64 bytes) in standard base64.
	root := ctRoot8(t)
	shape := regexp.MustCompile("^vindex\\.example/audit\n8\n" + regexp.QuoteMeta(base64.StdEncoding.EncodeToString(root[:])) + "\n\n" +
		"\u2014 vindex\\.example/audit [A-Za-z0-9+/]{91}=\n" +
		"\u2014 witness\\.example/w1 [A-Za-z0-9+/]{91}=\n$")
	if !shape.Match(text) {
		t.Errorf("checkpoint is not a C2SP checkpoint:\n%s", text)
	}
}

func TestParseCheckpoint(t *testing.T) {
	root := ctRoot8(t)
	logV, witV := verifier(t, logVkey), verifier(t, witVkey)
	signed, err := signer(t, logSkey).SignCheckpoint(8, root)
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := audit.Cosign(signed, origin, logV, signer(t, witSkey))
	if err != nil {
		t.Fatal(err)
	}
	want := audit.Checkpoint{Origin: origin, Size: 8, Root: root}
	for name, tc := range map[string]struct {
		text      []byte
		verifiers []note.Verifier
	}{
		"log only":             {signed, []note.Verifier{logV}},
		"cosigned, log only":   {cosigned, []note.Verifier{logV}},
		"cosigned, both":       {cosigned, []note.Verifier{logV, witV}},
		"cosigned, witness on": {cosigned, []note.Verifier{witV}},
	} {
		got, err := audit.ParseCheckpoint(tc.text, origin, tc.verifiers...)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
	}
	// A verifier that requires both signatures refuses a checkpoint the
	// witness did not sign.
	if _, err := audit.ParseCheckpoint(signed, origin, logV, witV); !errors.Is(err, audit.ErrSignature) {
		t.Errorf("uncosigned checkpoint with both required: %v", err)
	}
	forged, _ := signer(t, otherSkey).SignCheckpoint(8, root)
	if _, err := audit.ParseCheckpoint(forged, origin, logV); !errors.Is(err, audit.ErrSignature) {
		t.Errorf("checkpoint signed by another key of the same name: %v", err)
	}
	if _, err := audit.Cosign(forged, origin, logV, signer(t, witSkey)); !errors.Is(err, audit.ErrSignature) {
		t.Errorf("witness cosigned a checkpoint the log did not sign: %v", err)
	}
	if _, err := audit.ParseCheckpoint(signed, "other.example/log", logV); !errors.Is(err, audit.ErrCheckpoint) {
		t.Errorf("other origin: %v", err)
	}
	if _, err := audit.ParseCheckpoint(signed, origin); !errors.Is(err, audit.ErrSignature) {
		t.Errorf("no verifiers: %v", err)
	}
	altered := bytes.Replace(signed, []byte("\n8\n"), []byte("\n9\n"), 1)
	if _, err := audit.ParseCheckpoint(altered, origin, logV); !errors.Is(err, audit.ErrSignature) {
		t.Errorf("altered size: %v", err)
	}
}

// Bodies that are signed but are not canonical checkpoints are refused.
func TestParseCheckpointBody(t *testing.T) {
	s, err := note.NewSigner(logSkey)
	if err != nil {
		t.Fatal(err)
	}
	r := ctRoot8(t)
	root := base64.StdEncoding.EncodeToString(r[:])
	for name, body := range map[string]string{
		"leading zero":    origin + "\n08\n" + root + "\n",
		"negative":        origin + "\n-8\n" + root + "\n",
		"short root":      origin + "\n8\n" + root[:40] + "\n",
		"unpadded root":   origin + "\n8\n" + strings.TrimSuffix(root, "=") + "\n",
		"extension line":  origin + "\n8\n" + root + "\nextra\n",
		"missing root":    origin + "\n8\n",
		"trailing spaces": origin + " \n8\n" + root + "\n",
	} {
		text, err := note.Sign(&note.Note{Text: body}, s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.ParseCheckpoint(text, origin, verifier(t, logVkey)); !errors.Is(err, audit.ErrCheckpoint) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestKeys(t *testing.T) {
	skey, vkey, err := audit.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	s := signer(t, skey)
	if s.Origin() != origin {
		t.Errorf("origin %q", s.Origin())
	}
	text, _ := s.SignCheckpoint(0, audit.EmptyRoot())
	if _, err := audit.ParseCheckpoint(text, origin, verifier(t, vkey)); err != nil {
		t.Error(err)
	}
	if _, err := audit.NewSigner(logVkey); !errors.Is(err, audit.ErrKey) {
		t.Errorf("verifier key as signer key: %v", err)
	}
	if _, err := audit.NewVerifier(logSkey); !errors.Is(err, audit.ErrKey) {
		t.Errorf("signer key as verifier key: %v", err)
	}
	if _, _, err := audit.GenerateKey("bad name"); !errors.Is(err, audit.ErrKey) {
		t.Errorf("name with a space: %v", err)
	}
}
