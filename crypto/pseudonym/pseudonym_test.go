package pseudonym_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
)

func mustBSN(t testing.TB, s string) identity.BSN {
	t.Helper()
	b, err := identity.ParseBSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSetOrderAndDeterminism(t *testing.T) {
	ps, err := pseudonym.New(testKeyset(t))
	if err != nil {
		t.Fatal(err)
	}
	if ps.PrimaryKeyID() != testPrimary {
		t.Fatalf("primary = %d", ps.PrimaryKeyID())
	}
	if ids := ps.KeyIDs(); len(ids) != 2 || ids[0] != 1002 || ids[1] != 1001 {
		t.Fatalf("key IDs = %v, want primary first", ids)
	}
	a, _ := ps.Youth(mustBSN(t, "111222333"))
	b, _ := ps.Youth(mustBSN(t, "111222333"))
	c, _ := ps.Youth(mustBSN(t, "123456782"))
	if a.Primary != a.All[0] || a.Primary.KeyID != testPrimary || len(a.All) != 2 {
		t.Fatalf("set = %v", a)
	}
	if a.Primary != b.Primary || a.All[1] != b.All[1] {
		t.Fatal("same BSN, different pseudonyms")
	}
	if a.Primary == c.Primary || a.All[0].Sum == a.All[1].Sum {
		t.Fatal("pseudonyms collide across BSNs or keys")
	}
	// Domains separate: the same digits in another domain differ.
	o, err := ps.Of("parent-bsn", []byte("111222333"))
	if err != nil || o.Primary.Sum == a.Primary.Sum {
		t.Fatalf("domain separation: %v", err)
	}
	y, err := ps.Of(pseudonym.DomainYouthBSN, []byte("111222333"))
	if err != nil || y.Primary != a.Primary {
		t.Fatalf("Of(youth-bsn) differs from Youth: %v", err)
	}
}

func TestRejects(t *testing.T) {
	ps, _ := pseudonym.New(testKeyset(t))
	for _, d := range []pseudonym.Domain{"", "Youth", "youth:bsn", "a b", pseudonym.Domain(strings.Repeat("a", 65))} {
		if _, err := ps.Of(d, []byte("1")); !errors.Is(err, pseudonym.ErrDomain) {
			t.Errorf("Of(%q): %v", d, err)
		}
	}
	if _, err := ps.Of("x", nil); !errors.Is(err, pseudonym.ErrValue) {
		t.Errorf("empty value: %v", err)
	}
	if _, err := ps.Youth(identity.BSN{}); !errors.Is(err, pseudonym.ErrValue) {
		t.Errorf("zero BSN: %v", err)
	}
	if _, err := pseudonym.New(nil); err == nil {
		t.Error("nil keyset accepted")
	}
}

func TestPseudonymNeverPrintsItsBytes(t *testing.T) {
	ps, _ := pseudonym.New(testKeyset(t))
	set, _ := ps.Youth(mustBSN(t, "111222333"))
	p := set.Primary
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%s", "%x", "%X", "%+v", "%#v", "%d", "%q"} {
		fmt.Fprintf(&out, verb+"\n", p)
	}
	fmt.Fprintf(&out, "%v %+v\n", set, set)
	js, _ := json.Marshal(set)
	out.Write(js)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "p", p, "set", set)
	full := hex.EncodeToString(p.Sum[:])
	for i := 0; i+8 <= len(full); i += 8 {
		if strings.Contains(strings.ToLower(out.String()), full[i:i+8]) {
			t.Fatalf("pseudonym bytes printed:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "key 1002") {
		t.Fatalf("key ID not shown: %s", out.String())
	}
}

func Example() {
	// In production the keyset comes from crypto/keys, unwrapped by the KMS.
	h, _ := keyset.NewHandle(prf.HMACSHA256PRFKeyTemplate())
	ps, _ := pseudonym.New(h)
	bsn, _ := identity.ParseBSN("111222333")
	set, _ := ps.Youth(bsn)
	again, _ := ps.Youth(bsn)
	fmt.Println(len(set.Primary.Sum), "bytes, stable:", set.Primary == again.Primary)
	fmt.Println(set.Primary.KeyID == ps.PrimaryKeyID(), len(set.All))
	// Output:
	// 32 bytes, stable: true
	// true 1
}

func BenchmarkYouth(b *testing.B) {
	for _, keys := range []int{1, 2} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			h := testKeyset(b)
			if keys == 1 {
				m := keyset.NewManagerFromHandle(h)
				if err := m.Disable(1001); err != nil {
					b.Fatal(err)
				}
				h, _ = m.Handle()
			}
			ps, err := pseudonym.New(h)
			if err != nil {
				b.Fatal(err)
			}
			bsn := mustBSN(b, "111222333")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ps.Youth(bsn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A parent may be a registered youth of 19: the parent's pseudonym of a BSN
// is never the youth's pseudonym of the same BSN, under any key, and an
// address's is its own.
func TestFamilyDomainsDoNotJoin(t *testing.T) {
	ps, err := pseudonym.New(testKeyset(t))
	if err != nil {
		t.Fatal(err)
	}
	bsn := mustBSN(t, "111222333")
	youth, _ := ps.Youth(bsn)
	parent, err := ps.Parent(bsn)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := ps.Of(pseudonym.DomainParentBSN, []byte("111222333"))
	if parent.Primary != again.Primary || len(parent.All) != len(youth.All) {
		t.Fatal("Parent differs from Of(parent-bsn)")
	}
	addr, _ := identity.ParseAddress("1234AB", 12, "")
	home, err := ps.Address(addr)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[pseudonym.Size]byte]string{}
	for name, set := range map[string]pseudonym.Set{"youth": youth, "parent": parent, "address": home} {
		for _, p := range set.All {
			if other, ok := seen[p.Sum]; ok {
				t.Fatalf("%s and %s pseudonyms join", name, other)
			}
			seen[p.Sum] = name
		}
	}
	if _, err := ps.Parent(identity.BSN{}); !errors.Is(err, pseudonym.ErrValue) {
		t.Errorf("zero parent BSN: %v", err)
	}
	if _, err := ps.Address(identity.Address{}); !errors.Is(err, pseudonym.ErrValue) {
		t.Errorf("zero address: %v", err)
	}
}

// The family domains follow the documented recipe: HMAC-SHA256 under each
// test key over "vindex:v1:parent-bsn:" + BSN and "vindex:v1:home-address:"
// + the normalised address, recomputed here without the Pseudonymiser.
func TestFamilyDomainsRecipe(t *testing.T) {
	ps, err := pseudonym.New(testKeyset(t))
	if err != nil {
		t.Fatal(err)
	}
	parent, _ := ps.Parent(mustBSN(t, "111222333"))
	addr, _ := identity.ParseAddress("1234 ab", 12, "a")
	home, _ := ps.Address(addr)
	for _, c := range []struct {
		set   pseudonym.Set
		input string
	}{
		{parent, "vindex:v1:parent-bsn:111222333"},
		{home, "vindex:v1:home-address:1234AB:12:A"},
	} {
		for _, p := range c.set.All {
			mac := hmac.New(sha256.New, mustHex(t, keyHex(p.KeyID)))
			mac.Write([]byte(c.input))
			if !bytes.Equal(mac.Sum(nil), p.Sum[:]) {
				t.Errorf("key %d: the pseudonym is not HMAC-SHA256 over %q", p.KeyID, c.input)
			}
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
