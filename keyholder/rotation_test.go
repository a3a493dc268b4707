package keyholder_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/keyholder"
)

func TestRotationFile(t *testing.T) {
	from, to := oprf.GenerateKey(), oprf.GenerateKey()
	r, err := keyholder.NewRotation(from, to)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rotation.json")
	if err := keyholder.WriteRotation(path, r); err != nil {
		t.Fatal(err)
	}
	if err := keyholder.WriteRotation(path, r); err == nil {
		t.Fatal("an existing rotation file was replaced")
	}
	got, err := keyholder.ReadRotation(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.From != oprf.KeyID(from.Public()) || got.To != oprf.KeyID(to.Public()) {
		t.Fatalf("IDs %s → %s", got.From, got.To)
	}
	a, _ := got.Ratio.MarshalBinary()
	b, _ := r.Ratio.MarshalBinary()
	if string(a) != string(b) {
		t.Fatal("the ratio did not round-trip")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := keyholder.ReadRotation(path); !errors.Is(err, keyholder.ErrRotation) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable rotation file: %v", err)
	}
	for _, bad := range []string{`{}`, `{"format":"vindex-keyholder-rotation-v1","from":"x","to":"y","ratio":""}`,
		`{"format":"vindex-keyholder-rotation-v1","from":"0123456789abcdef","to":"0123456789abcdef","ratio":"` + strings.Repeat("A", 43) + `="}`} {
		var r keyholder.Rotation
		if err := r.UnmarshalJSON([]byte(bad)); !errors.Is(err, keyholder.ErrRotation) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
