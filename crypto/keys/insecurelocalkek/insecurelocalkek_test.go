package insecurelocalkek_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/insecurelocalkek"
)

func TestCreateLoadWrap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek.json")
	if err := insecurelocalkek.Create(path); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	if err := insecurelocalkek.Create(path); !errors.Is(err, insecurelocalkek.ErrExists) {
		t.Fatalf("overwrite: %v", err)
	}
	var logs bytes.Buffer
	kek, err := insecurelocalkek.Load(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "development-only") || !strings.Contains(logs.String(), "WARN") {
		t.Fatalf("no loud warning: %q", logs.String())
	}
	h, _ := keys.Create()
	ksPath := filepath.Join(t.TempDir(), "keyset")
	ad := keys.AssociatedData("dev")
	if err := keys.SaveFile(ksPath, h, kek, ad); err != nil {
		t.Fatal(err)
	}
	// A second load of the same file unwraps the keyset.
	kek2, err := insecurelocalkek.Load(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadFile(ksPath, kek2, ad); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRefusesOpenPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek.json")
	if err := insecurelocalkek.Create(path); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o640)
	if _, err := insecurelocalkek.Load(path, nil); !errors.Is(err, insecurelocalkek.ErrPermissions) {
		t.Fatalf("group-readable KEK: %v", err)
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("{}"), 0o600)
	if _, err := insecurelocalkek.Load(path, nil); err == nil {
		t.Fatal("garbage KEK accepted")
	}
}
