package clientref_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
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
		if pt, err := a.Decrypt(fresh, oldAssociatedData("ggd-groningen", id)); err != nil || !bytes.Equal(pt, padded("DOS-2")) {
			t.Fatalf("a new reference does not open with the old associated data: %q, %v", pt, err)
		}
	}
}

// padded is the padded plaintext of ref, spelt out as the package doc
// gives it: 0x00, the length, the reference, zero fill to PaddedLen.
func padded(ref string) []byte {
	b := append([]byte{0, byte(len(ref))}, ref...)
	return append(b, make([]byte, clientref.PaddedLen-len(b))...)
}

// A sealed reference is as long as any other: a 1-character reference and
// a 64-character one give ciphertexts of one length.
func TestSealedLengthHidesReferenceLength(t *testing.T) {
	s := testkeys.Sealer(t)
	id := store.NewID()
	want := -1
	for _, ref := range []string{"7", "DOS-2026-0042", strings.Repeat("x", clientref.MaxLen-1) + "1"} {
		ct, err := s.Seal(ref, "wij", id)
		if err != nil {
			t.Fatal(err)
		}
		if want < 0 {
			want = len(ct)
		}
		if len(ct) != want {
			t.Fatalf("a %d-character reference seals to %d bytes, a 1-character one to %d", len(ref), len(ct), want)
		}
		if got, err := s.Open(ct, "wij", id); err != nil || got != ref {
			t.Fatalf("Open = %q, %v; want %q", got, err, ref)
		}
	}
}

// References sealed before padding (testdata/unpadded-v1.json, made by
// the package as it was then) still open, to the reference they hold.
func TestUnpaddedReferencesStillOpen(t *testing.T) {
	var file struct {
		Keyset  json.RawMessage
		Vectors []struct{ Institution, Registration, Reference, Sealed string }
	}
	if err := json.Unmarshal(readFile(t, filepath.Join("testdata", "unpadded-v1.json")), &file); err != nil {
		t.Fatal(err)
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(file.Keyset)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := clientref.New(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range file.Vectors {
		var id clientref.RegistrationID
		sealed, err1 := hex.DecodeString(v.Sealed)
		n, err2 := hex.Decode(id[:], []byte(v.Registration))
		if err1 != nil || err2 != nil || n != len(id) {
			t.Fatalf("bad vector %+v", v)
		}
		if got, err := s.Open(sealed, v.Institution, id); err != nil || got != v.Reference {
			t.Errorf("unpadded %q: Open = %q, %v", v.Reference, got, err)
		}
		if _, err := s.Open(sealed, "other", id); !errors.Is(err, clientref.ErrOpen) {
			t.Errorf("unpadded %q opened for another institution: %v", v.Reference, err)
		}
	}
}

// A padded plaintext that is not exactly as the package doc says does not
// open, even though it decrypts.
func TestBadPaddingRefused(t *testing.T) {
	h := testkeys.RefKeyset(t)
	s, err := clientref.New(h)
	if err != nil {
		t.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	id := store.NewID()
	ad := clientref.AssociatedData("wij", id)
	good := padded("DOS-1")
	for name, pt := range map[string][]byte{
		"short":             good[:len(good)-1],
		"long":              append(append([]byte{}, good...), 0),
		"zero length":       append([]byte{0, 0}, make([]byte, clientref.MaxLen)...),
		"length too large":  append([]byte{0, clientref.MaxLen + 1}, make([]byte, clientref.MaxLen)...),
		"length too small":  func() []byte { b := append([]byte{}, good...); b[1] = 4; return b }(),
		"fill not zero":     func() []byte { b := append([]byte{}, good...); b[len(b)-1] = 'x'; return b }(),
		"invalid reference": padded("DOS 1"),
		"only the marker":   {0},
	} {
		ct, err := a.Encrypt(pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Open(ct, "wij", id); !errors.Is(err, clientref.ErrOpen) {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, got, err)
		}
	}
	ct, _ := a.Encrypt(good, ad)
	if got, err := s.Open(ct, "wij", id); err != nil || got != "DOS-1" {
		t.Fatalf("the well-padded control: Open = %q, %v", got, err)
	}
}

// A sealed element opens only for its registration, and a reference
// sealed for the same registration does not open as an element.
func TestSealElement(t *testing.T) {
	s := testkeys.Sealer(t)
	id, other := clientref.RegistrationID{1, 2, 3}, clientref.RegistrationID{4}
	plain := append([]byte{0, 0, 0, 1}, bytes.Repeat([]byte{0xab}, 32)...)
	ct, err := s.SealElement(plain, id)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, plain[4:]) {
		t.Fatal("the element is in the ciphertext")
	}
	if kid, ok := store.RefKeyID(ct); !ok || kid != s.PrimaryKeyID() {
		t.Fatalf("sealed under key %d (%v), primary %d", kid, ok, s.PrimaryKeyID())
	}
	got, err := s.OpenElement(ct, id)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %x %v", got, err)
	}
	if _, err := s.OpenElement(ct, other); !errors.Is(err, clientref.ErrOpen) {
		t.Fatalf("opened for another registration: %v", err)
	}
	ref, err := s.Seal("D-12345", "ggd", id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenElement(ref, id); !errors.Is(err, clientref.ErrOpen) {
		t.Fatalf("a reference opened as an element: %v", err)
	}
}
