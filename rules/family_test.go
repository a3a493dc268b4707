package rules_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/rules"
)

// writeCovenant writes the minimal covenant with family appended, and the
// files given, into a fresh directory, and returns the covenant's path.
func writeCovenant(t *testing.T, family string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "covenant.yaml")
	if err := os.WriteFile(path, []byte(minimalCovenant+family), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFamilySection(t *testing.T) {
	cov, err := rules.LoadFile(writeCovenant(t, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	if cov.Family.AddressMatching || len(cov.Family.ExcludedAddresses) != 0 {
		t.Fatalf("default family = %+v, want address matching off", cov.Family)
	}
	path := writeCovenant(t, "family:\n  address_matching: true\n  excluded_addresses: excluded.txt\n", map[string]string{
		"excluded.txt": "# shelters\n1234 AB 12\n\n9999zz 1-a\n",
	})
	cov, err = rules.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := identity.ParseAddress("1234AB", 12, "")
	b, _ := identity.ParseAddress("9999ZZ", 1, "A")
	if f := cov.Family; !f.AddressMatching || len(f.ExcludedAddresses) != 2 || f.ExcludedAddresses[0] != a || f.ExcludedAddresses[1] != b {
		t.Fatalf("family = %+v", f)
	}
}

// Every mistake in the family section or its file is named with file and
// line; the file's own lines are named in the file.
func TestFamilySectionErrors(t *testing.T) {
	tests := []struct {
		family string
		file   string
		want   []string
	}{
		{"family:\n  address_matching: false\n  excluded_addresses: excluded.txt\n", "1234 AB 12\n",
			[]string{"covenant.yaml:17: family.excluded_addresses is given, but address_matching is off"}},
		{"family:\n  address_matching: true\n  excluded_addresses: missing.txt\n", "",
			[]string{"covenant.yaml:17: family.excluded_addresses: cannot read missing.txt: no such file or directory"}},
		{"family:\n  address_matching: true\n  excluded_addresses: excluded.txt\n", "1234 AB 12\n0123 AB 1\n1234ab 12\n1234 AB 0\n",
			[]string{"excluded.txt:2: postcode must be 4 digits and 2 letters", "excluded.txt:3: address listed twice (first on line 1)", "excluded.txt:4: house number must be"}},
		{"family:\n  address_matching: yes please\n", "", []string{"covenant.yaml:16: cannot unmarshal"}},
		{"family:\n  addresses: true\n", "", []string{"covenant.yaml:16: field addresses not found"}},
	}
	for _, tt := range tests {
		path := writeCovenant(t, tt.family, map[string]string{"excluded.txt": tt.file})
		_, err := rules.LoadFile(path)
		if err == nil {
			t.Errorf("%q: loaded", tt.family)
			continue
		}
		msg := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%q: errors\n%s\nwant %q", tt.family, msg, w)
			}
		}
	}
}

// The file of the excluded addresses' elements is kept as a path, taken
// from the covenant's directory like the exclusion file, and never read:
// a covenant names it before the file is made.
func TestFamilyExcludedElementsFile(t *testing.T) {
	path := writeCovenant(t, "family:\n  address_matching: true\n  excluded_addresses: excluded.txt\n  excluded_address_elements: excluded.elements\n",
		map[string]string{"excluded.txt": "1234 AB 12\n"})
	cov, err := rules.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(path), "excluded.elements"); cov.Family.ExcludedElementsFile != want {
		t.Fatalf("ExcludedElementsFile = %q, want %q", cov.Family.ExcludedElementsFile, want)
	}
	abs := filepath.Join(t.TempDir(), "elsewhere.elements")
	path = writeCovenant(t, "family:\n  address_matching: true\n  excluded_addresses: excluded.txt\n  excluded_address_elements: "+abs+"\n",
		map[string]string{"excluded.txt": "1234 AB 12\n"})
	if cov, err = rules.LoadFile(path); err != nil || cov.Family.ExcludedElementsFile != abs {
		t.Fatalf("absolute path: %q, %v", cov.Family.ExcludedElementsFile, err)
	}
	if cov, err = rules.LoadFile(writeCovenant(t, "family:\n  address_matching: true\n  excluded_addresses: excluded.txt\n",
		map[string]string{"excluded.txt": "1234 AB 12\n"})); err != nil || cov.Family.ExcludedElementsFile != "" {
		t.Fatalf("without the key: %q, %v", cov.Family.ExcludedElementsFile, err)
	}
}

// The elements file needs an exclusion file, and is not that file itself.
func TestFamilyExcludedElementsFileErrors(t *testing.T) {
	tests := []struct {
		family string
		want   string
	}{
		{"family:\n  address_matching: true\n  excluded_address_elements: excluded.elements\n",
			"covenant.yaml:17: family.excluded_address_elements is given without excluded_addresses"},
		{"family:\n  address_matching: false\n  excluded_address_elements: excluded.elements\n",
			"covenant.yaml:17: family.excluded_address_elements is given without excluded_addresses"},
		{"family:\n  address_matching: true\n  excluded_addresses: excluded.txt\n  excluded_address_elements: ./excluded.txt\n",
			"covenant.yaml:18: family.excluded_address_elements names the file of excluded_addresses"},
	}
	for _, tt := range tests {
		path := writeCovenant(t, tt.family, map[string]string{"excluded.txt": "1234 AB 12\n"})
		_, err := rules.LoadFile(path)
		if err == nil {
			t.Errorf("%q: loaded", tt.family)
			continue
		}
		if msg := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), ""); !strings.Contains(msg, tt.want) {
			t.Errorf("%q: errors\n%s\nwant %q", tt.family, msg, tt.want)
		}
	}
}
