// Package vaulttest starts the development Vault of tools/vaultdev (a real
// Vault server) for tests.
//
// The tests that need it find the vaultdev binary through the environment
// variable VINDEX_VAULTDEV. scripts/test builds it and sets the variable;
// without it, those tests are skipped with a message saying how to run
// them, unless VINDEX_REQUIRE_VAULT=1 (as in CI), when they fail.
package vaulttest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// HowToRun says how to run the Vault tests locally.
const HowToRun = "these tests need the development Vault server: run scripts/test, or build it with " +
	"`go build -C tools/vaultdev -o /tmp/vaultdev .` and set VINDEX_VAULTDEV=/tmp/vaultdev"

// Server is a running development Vault.
type Server struct {
	// Addr is Vault's address (http://127.0.0.1:PORT).
	Addr      string `json:"addr"`
	RootToken string `json:"root_token"`
	// Key and KeyPath name the transit key-encryption key.
	Key     string `json:"key"`
	KeyPath string `json:"key_path"`
	// RoleID and SecretID are the AppRole credentials of the vindex policy.
	RoleID   string `json:"role_id"`
	SecretID string `json:"secret_id"`
	// AuditLog is the raw audit log of every request, if asked for.
	AuditLog string

	cmd  *exec.Cmd
	done chan struct{}
}

// Options for Start.
type Options struct {
	// Audit asks for a raw audit log of every request Vault receives.
	Audit bool
}

// Binary returns the vaultdev binary, or skips (fails in CI) the test.
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("VINDEX_VAULTDEV")
	if bin == "" {
		if os.Getenv("VINDEX_REQUIRE_VAULT") == "1" {
			t.Fatal("VINDEX_REQUIRE_VAULT=1 but VINDEX_VAULTDEV is not set: " + HowToRun)
		}
		t.Skip(HowToRun)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("VINDEX_VAULTDEV=%s: %v", bin, err)
	}
	return bin
}

// Start starts a development Vault for the test; it is stopped at the end.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "vault.json")
	_, self, _, _ := runtime.Caller(0)
	policy := filepath.Join(filepath.Dir(self), "..", "..", "docs", "vault", "vindex-policy.hcl")
	args := []string{"-out", out, "-policy", policy}
	s := &Server{done: make(chan struct{})}
	if o.Audit {
		s.AuditLog = filepath.Join(dir, "audit.log")
		args = append(args, "-audit-log", s.AuditLog)
	}
	logf, err := os.Create(filepath.Join(dir, "vault.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); logf.Close(); close(s.done) }()
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(out)
		if err == nil {
			if err := json.Unmarshal(b, s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "vault.log"))
			t.Fatalf("vaultdev exited before it was ready:\n%s", log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("vaultdev did not start within a minute")
		}
	}
}

// Stop kills the server (SIGKILL: Vault becomes unreachable at once).
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Process.Signal(syscall.SIGCONT)
	<-s.done
}

// Client returns a Vault client with the root token.
func (s *Server) Client(t testing.TB) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = s.Addr
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(s.RootToken)
	return c
}

// Pause stops the server process (SIGSTOP): Vault accepts no request and
// answers none, as when its host hangs, until Resume.
func (s *Server) Pause() { s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT), with its state intact.
func (s *Server) Resume() { s.cmd.Process.Signal(syscall.SIGCONT) }
