package clientref_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	xaesgcmpb "github.com/tink-crypto/tink-go/v2/proto/x_aes_gcm_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/store"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want bool
	}{
		{"DOS-2026-0042", true},
		{"7", true},
		{"2026/17.3:a_b#9", true},
		{strings.Repeat("x", clientref.MaxLen-1) + "1", true},
		{"", false},
		{strings.Repeat("1", clientref.MaxLen+1), false},
		{"Jansen", false},     // a name: no digit
		{"J.Jansen", false},   // the same
		{"dossier 17", false}, // a space
		{"DOS-1 ", false},     // a trailing space
		{"A1\r\nBcc: x@example.org", false},
		{"tab\t1", false},
		{"nul1\x00", false},
		{"cliënt-1", false}, // outside ASCII
		{"bidi1\u202eoverride", false},
		{"1;DROP", false},
	} {
		if got := clientref.Valid(tc.ref); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.ref, got, tc.want)
		}
	}
}

func TestSealOpen(t *testing.T) {
	s := testkeys.Sealer(t)
	id, other := store.NewID(), store.NewID()
	ct, err := s.Seal("DOS-2026-0042", "wij", id)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("DOS-2026-0042")) || bytes.Contains(ct, []byte("0042")) {
		t.Fatal("the sealed reference holds the reference")
	}
	got, err := s.Open(ct, "wij", id)
	if err != nil || got != "DOS-2026-0042" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Bound to the registration and the institution.
	for name, open := range map[string]func() (string, error){
		"other registration": func() (string, error) { return s.Open(ct, "wij", other) },
		"other institution":  func() (string, error) { return s.Open(ct, "school", id) },
		"tampered":           func() (string, error) { b := bytes.Clone(ct); b[len(b)-1] ^= 1; return s.Open(b, "wij", id) },
		"truncated":          func() (string, error) { return s.Open(ct[:len(ct)-1], "wij", id) },
		"empty":              func() (string, error) { return s.Open(nil, "wij", id) },
	} {
		if got, err := open(); !errors.Is(err, clientref.ErrOpen) || got != "" {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, got, err)
		}
	}
	// Randomised: the same reference seals differently each time.
	ct2, _ := s.Seal("DOS-2026-0042", "wij", id)
	if bytes.Equal(ct, ct2) {
		t.Fatal("sealing is deterministic: equal references would show in the store")
	}
	// Invalid references are refused before any sealing.
	if _, err := s.Seal("A1\r\nB", "wij", id); !errors.Is(err, clientref.ErrInvalid) {
		t.Fatalf("Seal(invalid) = %v, want ErrInvalid", err)
	}
	// Errors quote nothing.
	_, err = s.Open(ct, "school", id)
	if strings.Contains(err.Error(), "0042") || strings.Contains(err.Error(), fmt.Sprintf("%x", ct[:8])) {
		t.Fatalf("error quotes content: %v", err)
	}
}

func TestRotationKeepsOldReferencesReadable(t *testing.T) {
	h := testkeys.RefKeyset(t)
	s1, err := clientref.New(h)
	if err != nil {
		t.Fatal(err)
	}
	id := store.NewID()
	old, _ := s1.Seal("R-1", "ggd", id)
	h2, newID, err := keys.RotateRefKeyset(h)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := clientref.New(h2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Open(old, "ggd", id); err != nil || got != "R-1" {
		t.Fatalf("old reference after rotation: %q, %v", got, err)
	}
	fresh, _ := s2.Seal("R-1", "ggd", id)
	// Tink's prefix: version byte 1, then the key ID big-endian.
	if kid := uint32(fresh[1])<<24 | uint32(fresh[2])<<16 | uint32(fresh[3])<<8 | uint32(fresh[4]); kid != newID {
		t.Fatalf("sealed under key %d, want the new primary %d", kid, newID)
	}
	if _, err := s1.Open(fresh, "ggd", id); !errors.Is(err, clientref.ErrOpen) {
		t.Fatalf("the old keyset opened a reference sealed under the new key: %v", err)
	}
}

// The reference keyset is on disk only wrapped, and bound to its purpose:
// its file does not unwrap as the PRF keyset, nor for another deployment.
func TestRefKeysetWrapped(t *testing.T) {
	h := testkeys.RefKeyset(t)
	k := testkeys.KEK(t)
	path := filepath.Join(t.TempDir(), "refkeys.tink")
	if err := keys.SaveFile(path, h, k, keys.RefAssociatedData("d1")); err != nil {
		t.Fatal(err)
	}
	disk, err := keys.LoadFile(path, k, keys.RefAssociatedData("d1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clientref.New(disk); err != nil {
		t.Fatal(err)
	}
	for name, ad := range map[string][]byte{
		"as the PRF keyset":      keys.AssociatedData("d1"),
		"for another deployment": keys.RefAssociatedData("d2"),
	} {
		if _, err := keys.LoadFile(path, k, ad); !errors.Is(err, keys.ErrUnwrap) {
			t.Errorf("%s: %v, want ErrUnwrap", name, err)
		}
	}
	raw := readFile(t, path)
	for _, key := range insecurecleartextkeyset.KeysetMaterial(h).GetKey() {
		var xk xaesgcmpb.XAesGcmKey
		if err := proto.Unmarshal(key.GetKeyData().GetValue(), &xk); err != nil {
			t.Fatal(err)
		}
		if len(xk.GetKeyValue()) != 32 {
			t.Fatalf("key of %d bytes, want 32", len(xk.GetKeyValue()))
		}
		if bytes.Contains(raw, xk.GetKeyValue()) || bytes.Contains(raw, []byte(fmt.Sprintf("%x", xk.GetKeyValue()))) {
			t.Fatal("the reference key is on disk in the clear")
		}
	}
}

// A PRF keyset is not a reference keyset.
func TestNewRefusesPRFKeyset(t *testing.T) {
	h, err := keys.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clientref.New(h); !errors.Is(err, clientref.ErrNoKey) {
		t.Fatalf("New(PRF keyset) = %v, want ErrNoKey", err)
	}
	if _, err := clientref.New(nil); !errors.Is(err, clientref.ErrNoKey) {
		t.Fatalf("New(nil) = %v, want ErrNoKey", err)
	}
}

func ExampleSealer() {
	h, _ := keys.CreateRefKeyset()
	s, _ := clientref.New(h)
	id := store.NewID()
	sealed, _ := s.Seal("DOS-2026-0042", "wij-groningen", id)
	ref, _ := s.Open(sealed, "wij-groningen", id)
	_, err := s.Open(sealed, "school", id)
	fmt.Println(ref)
	fmt.Println(err)
	// Output:
	// DOS-2026-0042
	// clientref: cannot open the sealed client reference
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func BenchmarkSeal(b *testing.B) {
	h, _ := keys.CreateRefKeyset()
	s, _ := clientref.New(h)
	id := store.NewID()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal("DOSSIER-2026-000123", "wij-groningen", id); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	h, _ := keys.CreateRefKeyset()
	s, _ := clientref.New(h)
	id := store.NewID()
	ct, _ := s.Seal("DOSSIER-2026-000123", "wij-groningen", id)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(ct, "wij-groningen", id); err != nil {
			b.Fatal(err)
		}
	}
}

// oldAssociatedData is the associated data exactly as the package wrote it
// when it took a store.ID: every reference in a store was sealed with it.
func oldAssociatedData(institution string, id store.ID) []byte {
	return []byte("vindex:client-ref:v1:" + institution + ":" + id.String())
}

// References sealed before the package took the ID as bytes still open,
// and new ones are sealed with the same associated data.
func TestSealedFormatUnchanged(t *testing.T) {
	h := testkeys.RefKeyset(t)
	s, err := clientref.New(h)
	if err != nil {
		t.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	// A fixed vector: the ID's bytes 0..15 and their string form.
	var fixed store.ID
	for i := range fixed {
		fixed[i] = byte(i)
	}
	if got, want := string(clientref.AssociatedData("wij", fixed)), "vindex:client-ref:v1:wij:raaaqeayeaudaocajbifqydiob4"; got != want {
		t.Fatalf("AssociatedData = %q, want %q", got, want)
	}
	for i := 0; i < 200; i++ {
		id := store.NewID()
		if i == 0 {
			id = fixed
		}
		if got, want := clientref.AssociatedData("ggd-groningen", id), oldAssociatedData("ggd-groningen", id); !bytes.Equal(got, want) {
			t.Fatalf("AssociatedData(%v) = %q, want %q", id, got, want)
		}
		old, err := a.Encrypt([]byte("DOS-1"), oldAssociatedData("ggd-groningen", id))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Open(old, "ggd-groningen", id); err != nil || got != "DOS-1" {
			t.Fatalf("a reference sealed with the old associated data: Open = %q, %v", got, err)
		}
		fresh, _ := s.Seal("DOS-2", "ggd-groningen", id)
		if pt, err := a.Decrypt(fresh, oldAssociatedData("ggd-groningen", id)); err != nil || string(pt) != "DOS-2" {
			t.Fatalf("a new reference does not open with the old associated data: %q, %v", pt, err)
		}
	}
}
