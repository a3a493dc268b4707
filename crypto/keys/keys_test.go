package keys_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	hmacprfpb "github.com/tink-crypto/tink-go/v2/proto/hmac_prf_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/protobuf/proto"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testkeys"
)

// rawKeys extracts the PRF key bytes, for the test that scans for them.
func rawKeys(t *testing.T, h *keyset.Handle) [][]byte {
	ks := insecurecleartextkeyset.KeysetMaterial(h)
	var out [][]byte
	for _, k := range ks.GetKey() {
		var pk hmacprfpb.HmacPrfKey
		if err := proto.Unmarshal(k.GetKeyData().GetValue(), &pk); err != nil {
			t.Fatal(err)
		}
		out = append(out, pk.GetKeyValue())
	}
	return out
}

func TestWrapRoundTripAndNoKeyOnDisk(t *testing.T) {
	h, err := keys.Create()
	if err != nil {
		t.Fatal(err)
	}
	k := testkeys.KEK(t)
	ad := keys.AssociatedData("test")
	path := filepath.Join(t.TempDir(), "keyset")
	if err := keys.SaveFile(path, h, k, ad); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	disk, _ := os.ReadFile(path)
	for _, raw := range rawKeys(t, h) {
		if len(raw) != 32 {
			t.Fatalf("key of %d bytes, want 32", len(raw))
		}
		if bytes.Contains(disk, raw) || bytes.Contains(disk, []byte(fmt.Sprintf("%x", raw))) {
			t.Fatal("the PRF key is on disk in the clear")
		}
	}
	back, err := keys.LoadFile(path, k, ad)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := pseudonym.New(h)
	p2, _ := pseudonym.New(back)
	bsn, _ := identity.ParseBSN("111222333")
	a, _ := p1.Youth(bsn)
	b, _ := p2.Youth(bsn)
	if a.Primary != b.Primary {
		t.Fatal("the loaded keyset makes other pseudonyms")
	}
}

func TestUnwrapFailures(t *testing.T) {
	h, _ := keys.Create()
	k := testkeys.KEK(t)
	ad := keys.AssociatedData("prod")
	var buf bytes.Buffer
	if err := keys.Write(&buf, h, k, ad); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	tampered := bytes.Clone(good)
	tampered[len(tampered)/2] ^= 1
	cases := []struct {
		name string
		b    []byte
		kek  tink.AEAD
		ad   []byte
	}{
		{"wrong KEK", good, testkeys.KEK(t), ad},
		{"other deployment", good, k, keys.AssociatedData("staging")},
		{"tampered", tampered, k, ad},
		{"empty", nil, k, ad},
	}
	for _, c := range cases {
		if _, err := keys.Read(bytes.NewReader(c.b), c.kek, c.ad); !errors.Is(err, keys.ErrUnwrap) {
			t.Errorf("%s: err = %v, want ErrUnwrap", c.name, err)
		}
	}
	if _, err := keys.LoadFile(filepath.Join(t.TempDir(), "absent"), k, ad); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("absent file: %v", err)
	}
}

func TestRotateDisableDelete(t *testing.T) {
	h, _ := keys.Create()
	st, _ := keys.Status(h)
	if len(st) != 1 || !st[0].Primary || st[0].State != keys.Enabled {
		t.Fatalf("new keyset: %+v", st)
	}
	oldID := st[0].ID
	h2, newID, err := keys.Rotate(h)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := pseudonym.New(h2)
	if ps.PrimaryKeyID() != newID || len(ps.KeyIDs()) != 2 {
		t.Fatalf("after rotate: primary %d, keys %v", ps.PrimaryKeyID(), ps.KeyIDs())
	}
	if _, err := keys.Disable(h2, newID); !errors.Is(err, keys.ErrPrimary) {
		t.Fatalf("disable primary: %v", err)
	}
	if _, err := keys.Delete(h2, oldID); !errors.Is(err, keys.ErrNotDisabled) {
		t.Fatalf("delete enabled: %v", err)
	}
	if _, err := keys.Disable(h2, 12345); !errors.Is(err, keys.ErrNoSuchKey) {
		t.Fatalf("disable unknown: %v", err)
	}
	h3, err := keys.Disable(h2, oldID)
	if err != nil {
		t.Fatal(err)
	}
	ps3, _ := pseudonym.New(h3)
	if ids := ps3.KeyIDs(); len(ids) != 1 || ids[0] != newID {
		t.Fatalf("a disabled key is still computed: %v", ids)
	}
	h4, err := keys.Delete(h3, oldID)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := keys.Status(h4); len(st) != 1 || st[0].ID != newID {
		t.Fatalf("after delete: %+v", st)
	}
}

// Create a keyset, rotate it, and list its keys (IDs are random, so only
// states are printed).
func Example() {
	h, _ := keys.Create()
	h, _, _ = keys.Rotate(h)
	st, _ := keys.Status(h)
	primaries := 0
	for _, k := range st {
		if k.Primary {
			primaries++
		}
		fmt.Println(k.State)
	}
	fmt.Println(len(st), "keys,", primaries, "primary")
	// Output:
	// enabled
	// enabled
	// 2 keys, 1 primary
}

// A sealed secret (the audit log's signing key) is never on disk in the
// clear, opens only with its deployment's associated data, and survives a
// rewrap.
func TestSealedSecret(t *testing.T) {
	k := testkeys.KEK(t)
	secret := []byte("PRIVATE+KEY+vindex/test/audit+01234567+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=")
	path := filepath.Join(t.TempDir(), "audit-key")
	if _, err := keys.LoadSealed(path, k, keys.AuditAssociatedData("prod")); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
	if err := keys.SaveSealed(path, secret, k, keys.AuditAssociatedData("prod")); err != nil {
		t.Fatal(err)
	}
	disk, _ := os.ReadFile(path)
	if bytes.Contains(disk, secret) || bytes.Contains(disk, []byte("AQIDBAUGBwgJ")) {
		t.Fatal("the secret is on disk in the clear")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	if _, err := keys.LoadSealed(path, k, keys.AuditAssociatedData("test")); err == nil {
		t.Fatal("opened with another deployment's associated data")
	}
	if err := keys.RewrapSealed(path, k, keys.AuditAssociatedData("prod")); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); bytes.Equal(again, disk) {
		t.Error("rewrap wrote the same bytes")
	}
	got, err := keys.LoadSealed(path, k, keys.AuditAssociatedData("prod"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("round trip: %q %v", got, err)
	}
}

// A key holder's sealed key opens with its own associated data only: not
// as another key holder deployment's, nor as the audit key of a deployment
// of the same name.
func TestKeyholderAssociatedData(t *testing.T) {
	k := testkeys.KEK(t)
	path := filepath.Join(t.TempDir(), "keyholder.key")
	secret := bytes.Repeat([]byte{7}, 32)
	if err := keys.SaveSealed(path, secret, k, keys.KeyholderAssociatedData("kh-a")); err != nil {
		t.Fatal(err)
	}
	for _, ad := range [][]byte{keys.KeyholderAssociatedData("kh-b"), keys.AuditAssociatedData("kh-a"), keys.AssociatedData("kh-a")} {
		if _, err := keys.LoadSealed(path, k, ad); err == nil {
			t.Fatalf("opened with %q", ad)
		}
	}
	if got, err := keys.LoadSealed(path, k, keys.KeyholderAssociatedData("kh-a")); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("round trip: %v", err)
	}
}
