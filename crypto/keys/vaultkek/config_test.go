package vaultkek_test

import (
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/crypto/keys/vaultkek"
	"github.com/vindex-nl/vindex/internal/vaulttest"
)

// fakeVault is an HTTPS server that answers Vault's seal status as an
// unsealed Vault and refuses everything else: far enough to tell whether
// the TLS connection was made. It returns the server and a PEM file of its
// certificate.
func fakeVault(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/sys/seal-status" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"type":"shamir","initialized":true,"sealed":false,"t":1,"n":1,"progress":0}`))
			return
		}
		http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

// VAULT_SKIP_VERIFY, which HashiCorp's client library obeys, would turn
// off the check of Vault's certificate: Open refuses to start while it is
// set, and says so.
func TestSkipVerifyRefused(t *testing.T) {
	srv, ca := fakeVault(t)
	cfg := vaultkek.Config{Address: srv.URL, KeyPath: "transit/keys/vindex-kek", CACert: ca, Token: "t"}
	for _, v := range []string{"true", "1", "TRUE", "yes"} {
		t.Setenv("VAULT_SKIP_VERIFY", v)
		_, err := vaultkek.Open(ctx, cfg)
		if !errors.Is(err, vaultkek.ErrSkipVerify) ||
			!strings.Contains(err.Error(), "vaultkek: VAULT_SKIP_VERIFY is set; vindex always verifies Vault's certificate") {
			t.Fatalf("VAULT_SKIP_VERIFY=%s: %v", v, err)
		}
	}
	// A false value does nothing, and is harmless.
	t.Setenv("VAULT_SKIP_VERIFY", "false")
	if _, err := vaultkek.Open(ctx, cfg); !errors.Is(err, vaultkek.ErrAuth) {
		t.Fatalf("VAULT_SKIP_VERIFY=false: want a login failure after a verified connection, got %v", err)
	}
}

// Vault's certificate is checked against the configured CA alone: a
// VAULT_CACERT in the environment does not make an unconfigured CA trusted.
func TestCertificateVerifiedAgainstConfiguredCA(t *testing.T) {
	srv, ca := fakeVault(t)
	cfg := vaultkek.Config{Address: srv.URL, KeyPath: "transit/keys/vindex-kek", Token: "t"}
	t.Setenv("VAULT_CACERT", ca)
	_, err := vaultkek.Open(ctx, cfg)
	if !errors.Is(err, vaultkek.ErrUnreachable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an unknown CA, trusted only through VAULT_CACERT, was accepted: %v", err)
	}
	cfg.CACert = ca
	if _, err := vaultkek.Open(ctx, cfg); !errors.Is(err, vaultkek.ErrAuth) {
		t.Fatalf("with the configured CA: want a login failure after a verified connection, got %v", err)
	}
}

// The VAULT_* variables of HashiCorp's client library change nothing: the
// configured address and credentials are used, not VAULT_ADDR or
// VAULT_AGENT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_HEADERS or
// VAULT_WRAP_TTL (which would wrap the login's answer).
func TestVaultEnvironmentIgnored(t *testing.T) {
	v := vaulttest.Start(t, vaulttest.Options{})
	for k, val := range map[string]string{
		"VAULT_ADDR":        "http://127.0.0.1:1",
		"VAULT_AGENT_ADDR":  "http://127.0.0.1:1",
		"VAULT_TOKEN":       "hvs.notavalidtokenatallxxxxxxxx",
		"VAULT_NAMESPACE":   "elsewhere",
		"VAULT_HEADERS":     `{"X-Injected":"yes"}`,
		"VAULT_WRAP_TTL":    "5m",
		"VAULT_MAX_RETRIES": "9",
	} {
		t.Setenv(k, val)
	}
	kek, err := vaultkek.Open(ctx, appRole(t, v))
	if err != nil {
		t.Fatalf("with VAULT_* set elsewhere: %v", err)
	}
	defer kek.Close()
	if kek.Address() != v.Addr {
		t.Fatalf("address %s, want %s", kek.Address(), v.Addr)
	}
	if _, err := kek.AEAD().Encrypt([]byte("x"), nil); err != nil {
		t.Fatalf("wrapping with VAULT_* set elsewhere: %v", err)
	}
}

// A VAULT_* variable the client library cannot parse stops start-up with
// an error that says to unset it (the library will not make a client).
func TestUnparsableVaultEnvironmentNamed(t *testing.T) {
	srv, ca := fakeVault(t)
	t.Setenv("VAULT_CACERT", filepath.Join(t.TempDir(), "nope.pem"))
	_, err := vaultkek.Open(ctx, vaultkek.Config{Address: srv.URL, KeyPath: "transit/keys/vindex-kek", CACert: ca, Token: "t"})
	if !errors.Is(err, vaultkek.ErrConfig) || !strings.Contains(err.Error(), "nope.pem") || !strings.Contains(err.Error(), "unset it") {
		t.Fatalf("an unparsable VAULT_CACERT: %v", err)
	}
}
