package vaultkek_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	hmacprfpb "github.com/tink-crypto/tink-go/v2/proto/hmac_prf_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/vaultkek"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/vaulttest"
)

var ctx = context.Background()

func rawKeys(t *testing.T, h *keyset.Handle) [][]byte {
	var out [][]byte
	for _, k := range insecurecleartextkeyset.KeysetMaterial(h).GetKey() {
		var pk hmacprfpb.HmacPrfKey
		if err := proto.Unmarshal(k.GetKeyData().GetValue(), &pk); err != nil {
			t.Fatal(err)
		}
		out = append(out, pk.GetKeyValue())
	}
	return out
}

func appRole(t *testing.T, v *vaulttest.Server) vaultkek.Config {
	f := filepath.Join(t.TempDir(), "secret-id")
	if err := os.WriteFile(f, []byte(v.SecretID+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return vaultkek.Config{Address: v.Addr, KeyPath: v.KeyPath, RoleID: v.RoleID, SecretIDFile: f}
}

func sameYouth(t *testing.T, a, b *keyset.Handle) {
	t.Helper()
	pa, err := pseudonym.New(a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := pseudonym.New(b)
	if err != nil {
		t.Fatal(err)
	}
	bsn, _ := identity.ParseBSN("111222333")
	x, _ := pa.Youth(bsn)
	y, _ := pb.Youth(bsn)
	if x.Primary != y.Primary {
		t.Fatal("the unwrapped keyset gives other pseudonyms")
	}
}

// The keyset wrapped by Vault round-trips; the PRF key is neither in the
// file nor in anything Vault received (its raw audit log records every
// request body in full), while Vault did receive the envelope's data key.
func TestWrapWithVaultAndWhatVaultSees(t *testing.T) {
	v := vaulttest.Start(t, vaulttest.Options{Audit: true})
	kek, err := vaultkek.Open(ctx, appRole(t, v))
	if err != nil {
		t.Fatal(err)
	}
	defer kek.Close()
	h, err := keys.Create()
	if err != nil {
		t.Fatal(err)
	}
	ad := keys.AssociatedData("test-deployment")
	path := filepath.Join(t.TempDir(), "keyset.tink")
	if err := keys.SaveFile(path, h, kek.AEAD(), ad); err != nil {
		t.Fatal(err)
	}
	back, err := keys.LoadFile(path, kek.AEAD(), ad)
	if err != nil {
		t.Fatal(err)
	}
	sameYouth(t, h, back)
	if _, err := keys.LoadFile(path, kek.AEAD(), keys.AssociatedData("other")); !errors.Is(err, keys.ErrUnwrap) {
		t.Fatalf("another deployment unwrapped the keyset: %v", err)
	}

	disk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := os.ReadFile(v.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(audit, []byte(`"path":"transit/encrypt/`+v.Key+`"`)) || !bytes.Contains(audit, []byte(`"plaintext":"`)) {
		t.Fatal("the audit log does not show the transit requests: the scan would prove nothing")
	}
	for _, raw := range rawKeys(t, h) {
		for _, form := range [][]byte{raw, []byte(hex.EncodeToString(raw)), []byte(base64.StdEncoding.EncodeToString(raw)),
			[]byte(base64.StdEncoding.EncodeToString(raw)[:40])} {
			if bytes.Contains(disk, form) {
				t.Fatal("the PRF key is in the keyset file")
			}
			if bytes.Contains(audit, form) {
				t.Fatal("the PRF key reached Vault")
			}
		}
	}
	// Positive control: a secret that is sent to transit is found by the
	// same scan.
	planted := []byte("planted-secret-0123456789abcdef!")
	if _, err := v.Client(t).Logical().Write("transit/encrypt/"+v.Key, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(planted)}); err != nil {
		t.Fatal(err)
	}
	if audit, _ = os.ReadFile(v.AuditLog); !bytes.Contains(audit, []byte(base64.StdEncoding.EncodeToString(planted))) {
		t.Fatal("the audit scan misses a secret sent to transit")
	}
	// What Vault received as plaintext is a 32-byte data key (in Tink's
	// key format), not the keyset.
	for _, line := range strings.Split(string(audit), "\n") {
		i := strings.Index(line, `"plaintext":"`)
		if i < 0 || !strings.Contains(line, `"type":"request"`) {
			continue
		}
		p := line[i+len(`"plaintext":"`):]
		p = p[:strings.IndexByte(p, '"')]
		b, err := base64.StdEncoding.DecodeString(p)
		if err != nil {
			t.Fatalf("plaintext not base64: %v", err)
		}
		if len(b) > 64 {
			t.Fatalf("Vault received %d bytes of plaintext; a data key is about 34", len(b))
		}
	}
}

func TestTokenAuth(t *testing.T) {
	v := vaulttest.Start(t, vaulttest.Options{})
	f := filepath.Join(t.TempDir(), "token")
	os.WriteFile(f, []byte(v.RootToken), 0o600)
	kek, err := vaultkek.Open(ctx, vaultkek.Config{Address: v.Addr, KeyPath: v.KeyPath, TokenFile: f})
	if err != nil {
		t.Fatal(err)
	}
	kek.Close()
}

// Every way start-up can fail gives its error, naming the address, the
// path and the missing capability, and never a credential.
func TestStartupFailures(t *testing.T) {
	v := vaulttest.Start(t, vaulttest.Options{})
	root := v.Client(t)

	// A token whose policy may encrypt but not decrypt.
	if err := root.Sys().PutPolicy("half", `path "transit/encrypt/`+v.Key+`" { capabilities = ["update"] }`); err != nil {
		t.Fatal(err)
	}
	half, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"half"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = vaultkek.Open(ctx, vaultkek.Config{Address: v.Addr, KeyPath: v.KeyPath, Token: half.Auth.ClientToken})
	if !errors.Is(err, vaultkek.ErrPermission) || !strings.Contains(err.Error(), `"update" on transit/decrypt/`+v.Key) || !strings.Contains(err.Error(), v.Addr) {
		t.Fatalf("missing decrypt: %v", err)
	}
	if strings.Contains(err.Error(), half.Auth.ClientToken) {
		t.Fatal("the error quotes the token")
	}

	// A revoked AppRole secret-id.
	cfg := appRole(t, v)
	if _, err := root.Logical().Write("auth/approle/role/vindex/secret-id/destroy", map[string]any{"secret_id": v.SecretID}); err != nil {
		t.Fatal(err)
	}
	if _, err := vaultkek.Open(ctx, cfg); !errors.Is(err, vaultkek.ErrAuth) || !strings.Contains(err.Error(), "auth/approle/login") {
		t.Fatalf("revoked secret-id: %v", err)
	}

	// A wrong key path.
	if _, err := vaultkek.Open(ctx, vaultkek.Config{Address: v.Addr, KeyPath: "transit/vindex-kek", Token: v.RootToken}); !errors.Is(err, vaultkek.ErrConfig) {
		t.Fatalf("bad key path: %v", err)
	}
	// No credentials.
	if _, err := vaultkek.Open(ctx, vaultkek.Config{Address: v.Addr, KeyPath: v.KeyPath}); !errors.Is(err, vaultkek.ErrConfig) {
		t.Fatalf("no credentials: %v", err)
	}

	// Vault sealed.
	if err := root.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	if _, err := vaultkek.Open(ctx, vaultkek.Config{Address: v.Addr, KeyPath: v.KeyPath, Token: v.RootToken}); !errors.Is(err, vaultkek.ErrSealed) || !strings.Contains(err.Error(), v.Addr) {
		t.Fatalf("Vault sealed: %v", err)
	}

	// Vault gone.
	v.Stop()
	if _, err := vaultkek.Open(ctx, vaultkek.Config{Address: v.Addr, KeyPath: v.KeyPath, Token: v.RootToken}); !errors.Is(err, vaultkek.ErrUnreachable) || !strings.Contains(err.Error(), v.Addr) {
		t.Fatalf("Vault down: %v", err)
	}
}

// A secret-id delivered response-wrapped works once.
func TestWrappedSecretID(t *testing.T) {
	v := vaulttest.Start(t, vaulttest.Options{})
	root := v.Client(t)
	root.SetWrappingLookupFunc(func(string, string) string { return "5m" })
	s, err := root.Logical().Write("auth/approle/role/vindex/secret-id", nil)
	root.SetWrappingLookupFunc(nil)
	if err != nil || s.WrapInfo == nil {
		t.Fatalf("wrapped secret-id: %v", err)
	}
	f := filepath.Join(t.TempDir(), "wrapped")
	os.WriteFile(f, []byte(s.WrapInfo.Token), 0o600)
	cfg := vaultkek.Config{Address: v.Addr, KeyPath: v.KeyPath, RoleID: v.RoleID, SecretIDFile: f, SecretIDWrapped: true}
	kek, err := vaultkek.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	kek.Close()
	if _, err := vaultkek.Open(ctx, cfg); !errors.Is(err, vaultkek.ErrAuth) {
		t.Fatalf("a wrapping token worked twice: %v", err)
	}
}

// After the transit key is rotated, rewrapping the keyset lets
// min_decryption_version be raised; a keyset left under the old version
// then no longer unwraps.
func TestRewrapAfterTransitRotation(t *testing.T) {
	v := vaulttest.Start(t, vaulttest.Options{})
	kek, err := vaultkek.Open(ctx, appRole(t, v))
	if err != nil {
		t.Fatal(err)
	}
	defer kek.Close()
	h, _ := keys.Create()
	ad := keys.AssociatedData("d")
	dir := t.TempDir()
	path, stale := filepath.Join(dir, "keyset.tink"), filepath.Join(dir, "stale.tink")
	for _, p := range []string{path, stale} {
		if err := keys.SaveFile(p, h, kek.AEAD(), ad); err != nil {
			t.Fatal(err)
		}
	}
	root := v.Client(t)
	if _, err := root.Logical().Write("transit/keys/"+v.Key+"/rotate", nil); err != nil {
		t.Fatal(err)
	}
	latest, minDec, err := kek.KeyVersions(ctx)
	if err != nil || latest != 2 || minDec != 1 {
		t.Fatalf("versions %d %d %v", latest, minDec, err)
	}
	if err := keys.Rewrap(path, kek.AEAD(), ad); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("transit/keys/"+v.Key+"/config", map[string]any{"min_decryption_version": latest}); err != nil {
		t.Fatal(err)
	}
	back, err := keys.LoadFile(path, kek.AEAD(), ad)
	if err != nil {
		t.Fatalf("the rewrapped keyset: %v", err)
	}
	sameYouth(t, h, back)
	if _, err := keys.LoadFile(stale, kek.AEAD(), ad); err == nil {
		t.Fatal("a keyset wrapped under a retired transit version still unwraps")
	}
}

// The AppRole's token may encrypt and decrypt with the key and nothing
// else of use: no hmac, no data keys, no export, no rotation, no secrets.
func TestPolicyIsMinimal(t *testing.T) {
	v := vaulttest.Start(t, vaulttest.Options{})
	c := v.Client(t)
	s, err := c.Logical().Write("auth/approle/login", map[string]any{"role_id": v.RoleID, "secret_id": v.SecretID})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(s.Auth.ClientToken)
	plain := base64.StdEncoding.EncodeToString([]byte("x"))
	if _, err := c.Logical().Write("transit/encrypt/"+v.Key, map[string]any{"plaintext": plain}); err != nil {
		t.Fatalf("encrypt refused: %v", err)
	}
	for _, denied := range []struct {
		path string
		data map[string]any
	}{
		{"transit/hmac/" + v.Key, map[string]any{"input": plain}},
		{"transit/datakey/plaintext/" + v.Key, nil},
		{"transit/keys/" + v.Key + "/rotate", nil},
		{"transit/keys/" + v.Key + "/config", map[string]any{"exportable": true}},
		{"transit/keys/other", map[string]any{"type": "aes256-gcm96"}},
		{"sys/policies/acl/vindex", map[string]any{"policy": `path "*" { capabilities = ["sudo"] }`}},
	} {
		_, err := c.Logical().Write(denied.path, denied.data)
		var re *api.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 403 {
			t.Errorf("%s: %v, want permission denied", denied.path, err)
		}
	}
	for _, path := range []string{"transit/export/encryption-key/" + v.Key, "secret/anything", "sys/audit"} {
		_, err := c.Logical().Read(path)
		var re *api.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 403 {
			t.Errorf("read %s: %v, want permission denied", path, err)
		}
	}
}

// A short-lived AppRole token is renewed in the background, so the key
// stays usable past the token's first lifetime; the renewals are counted,
// and so are the failed ones once Vault is gone.
func TestTokenRenewal(t *testing.T) {
	v := vaulttest.Start(t, vaulttest.Options{})
	if _, err := v.Client(t).Logical().Write("auth/approle/role/vindex", map[string]any{
		"token_policies": "vindex", "token_ttl": "2s", "token_max_ttl": "1h",
	}); err != nil {
		t.Fatal(err)
	}
	cfg := appRole(t, v)
	cfg.Metrics = vaultkek.NewMetrics()
	kek, err := vaultkek.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer kek.Close()
	time.Sleep(5 * time.Second) // more than two lifetimes
	if _, err := kek.AEAD().Encrypt([]byte("after renewal"), nil); err != nil {
		t.Fatalf("the token was not renewed: %v", err)
	}
	if n, failed := renewals(t, cfg.Metrics, "renewed"), renewals(t, cfg.Metrics, "failed"); n < 2 || failed != 0 {
		t.Errorf("%v renewals counted, %v failed", n, failed)
	}
	v.Stop()
	for deadline := time.Now().Add(15 * time.Second); renewals(t, cfg.Metrics, "failed") == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no failed renewal counted with Vault gone")
		}
	}
}
