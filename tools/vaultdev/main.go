// Command vaultdev runs a real HashiCorp Vault server (v1.13.0, MPL-2.0) for
// vindex's tests and for development: a Vault core in this process, with
// in-memory storage, initialised and unsealed, serving Vault's HTTP API on a
// loopback address. It is not for production: the storage is gone when it
// stops, and it listens without TLS.
//
// With -setup (the default) it prepares what vindex needs: the transit
// engine, the key-encryption key (aes256-gcm96, derived=false, not
// exportable), the policy given by -policy (docs/vault/vindex-policy.hcl) and an AppRole
// bound to it. It writes the address, the root token, the key's name and
// the AppRole's role-id and secret-id as JSON to -out, prints the address,
// and serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/audit"
	auditFile "github.com/hashicorp/vault/builtin/audit/file"
	"github.com/hashicorp/vault/builtin/credential/approle"
	"github.com/hashicorp/vault/builtin/logical/transit"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/vault"
	"github.com/mitchellh/go-testing-interface"
)

// Info is what -out receives.
type Info struct {
	Addr      string `json:"addr"`
	RootToken string `json:"root_token"`
	Key       string `json:"key"`
	KeyPath   string `json:"key_path"`
	Role      string `json:"role"`
	RoleID    string `json:"role_id"`
	SecretID  string `json:"secret_id"`
	PID       int    `json:"pid"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "`address` to listen on (loopback)")
	out := flag.String("out", "", "`file` to write the address, tokens and AppRole credentials to, as JSON")
	setup := flag.Bool("setup", true, "enable transit and AppRole and create the key, policy and role")
	key := flag.String("key", "vindex-kek", "`name` of the transit key-encryption key")
	policyFile := flag.String("policy", "", "the vindex policy, an HCL `file` with KEY for the key's name (docs/vault/vindex-policy.hcl); required with -setup")
	auditLog := flag.String("audit-log", "", "`file` for a raw (unhashed) audit log of every request: for tests that inspect what Vault receives")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: vaultdev [flags]\n\nRuns a development Vault server (in memory, unsealed, plain HTTP on loopback).\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("vaultdev: ")

	core, _, rootToken := vault.TestCoreUnsealedWithConfig(&testing.RuntimeT{}, &vault.CoreConfig{
		LogicalBackends:    map[string]logical.Factory{"transit": transit.Factory},
		CredentialBackends: map[string]logical.Factory{"approle": approle.Factory},
		AuditBackends:      map[string]audit.Factory{"file": auditFile.Factory},
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: vaulthttp.Handler.Handler(&vault.HandlerProperties{Core: core}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	info := Info{Addr: "http://" + ln.Addr().String(), RootToken: rootToken, PID: os.Getpid()}

	if *setup {
		if *policyFile == "" {
			log.Fatal("-setup needs -policy FILE (docs/vault/vindex-policy.hcl)")
		}
		policy, err := os.ReadFile(*policyFile)
		if err != nil {
			log.Fatal(err)
		}
		if err := configure(&info, *key, strings.ReplaceAll(string(policy), "KEY", *key), *auditLog); err != nil {
			log.Fatalf("setup: %v", err)
		}
	}
	if *out != "" {
		b, _ := json.MarshalIndent(info, "", "  ")
		tmp := *out + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, *out); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("VAULT_ADDR=%s\n", info.Addr)
	if *out == "" {
		fmt.Printf("VAULT_TOKEN=%s\n", rootToken)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
}

// configure enables transit and AppRole through Vault's own HTTP API, as an
// operator would.
func configure(info *Info, key, policy, auditLog string) error {
	cfg := api.DefaultConfig()
	cfg.Address = info.Addr
	c, err := api.NewClient(cfg)
	if err != nil {
		return err
	}
	c.SetToken(info.RootToken)
	if auditLog != "" {
		if err := c.Sys().EnableAuditWithOptions("file", &api.EnableAuditOptions{
			Type: "file", Options: map[string]string{"file_path": auditLog, "log_raw": "true"},
		}); err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
	}
	if err := c.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		return fmt.Errorf("enable transit: %w", err)
	}
	if _, err := c.Logical().Write("transit/keys/"+key, map[string]any{
		"type": "aes256-gcm96", "derived": false, "exportable": false, "allow_plaintext_backup": false,
	}); err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	if err := c.Sys().PutPolicy("vindex", policy); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	if err := c.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		return fmt.Errorf("enable approle: %w", err)
	}
	if _, err := c.Logical().Write("auth/approle/role/vindex", map[string]any{
		"token_policies": "vindex", "token_ttl": "1h", "token_max_ttl": "24h", "secret_id_ttl": "0",
	}); err != nil {
		return fmt.Errorf("approle role: %w", err)
	}
	s, err := c.Logical().Read("auth/approle/role/vindex/role-id")
	if err != nil {
		return fmt.Errorf("role-id: %w", err)
	}
	info.RoleID, _ = s.Data["role_id"].(string)
	s, err = c.Logical().Write("auth/approle/role/vindex/secret-id", nil)
	if err != nil {
		return fmt.Errorf("secret-id: %w", err)
	}
	info.SecretID, _ = s.Data["secret_id"].(string)
	info.Key, info.KeyPath, info.Role = key, "transit/keys/"+key, "vindex"
	if info.RoleID == "" || info.SecretID == "" {
		return fmt.Errorf("approle: empty role-id or secret-id")
	}
	return nil
}
