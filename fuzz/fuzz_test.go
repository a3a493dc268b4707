package fuzz

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	target = regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\) \{`)
	seed   = regexp.MustCompile(`\bf\.Add\(`)
)

// Every fuzz target in the repository is run by scripts/fuzz and has seed
// inputs: f.Add in its body and a non-empty corpus under testdata/fuzz/NAME
// in its package.
func TestEveryTargetIsRunAndSeeded(t *testing.T) {
	script, err := os.ReadFile("../scripts/fuzz")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "tools" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(b)
		for _, m := range target.FindAllStringSubmatchIndex(src, -1) {
			name := src[m[2]:m[3]]
			pkg, _ := filepath.Rel("..", filepath.Dir(path))
			n++
			if !strings.Contains(string(script), pkg+":"+name) {
				t.Errorf("%s (%s) is not run by scripts/fuzz", name, pkg)
			}
			body := src[m[1]:]
			if end := strings.Index(body, "\n}\n"); end >= 0 {
				body = body[:end]
			}
			entries, _ := os.ReadDir(filepath.Join(filepath.Dir(path), "testdata", "fuzz", name))
			if !seed.MatchString(body) {
				t.Errorf("%s (%s) has no f.Add seeds", name, pkg)
			}
			if len(entries) == 0 {
				t.Errorf("%s (%s) has no corpus in testdata/fuzz/%s", name, pkg, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Fatalf("found only %d fuzz targets", n)
	}
}
