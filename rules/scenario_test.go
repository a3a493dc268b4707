package rules_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/rules"
)

// A scenario file (rules/testdata/scenarios/*.txt) names a covenant and lists
// scenarios; see rules/testdata/README.md for the format.
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	total := 0
	for _, file := range files {
		sf, err := rules.ParseScenarioFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if sf.Covenant == "" {
			t.Fatalf("%s: no covenant line", file)
		}
		cov, err := rules.LoadFile(sf.Covenant)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, s := range sf.Scenarios {
			total++
			t.Run(filepath.Base(file)+"/"+s.Name, func(t *testing.T) {
				if diff := s.Run(cov); diff != "" {
					t.Errorf("%s:%d: %s: %s; want %s", file, s.Line, s.Name, diff, s.Expect)
				}
			})
		}
	}
	if total < 12 {
		t.Fatalf("only %d scenarios", total)
	}
}

// A wrong expectation fails, so a passing scenario means something.
func TestScenarioFailsOnWrongExpectation(t *testing.T) {
	cov, err := rules.LoadFile("../examples/covenant-groningen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sf, err := rules.ParseScenarios(strings.NewReader(`
scenario wrong on purpose
age 3
municipality GM0014
involved ggd-groningen involvement 2026-01-05
involved school-example-lyceum signal 2026-01-02
expect coordinator school-example-lyceum rule ggd-jongste-kinderen
`), "inline")
	if err != nil {
		t.Fatal(err)
	}
	if diff := sf.Scenarios[0].Run(cov); diff == "" {
		t.Fatal("a wrong expectation passed")
	}
	for _, bad := range []string{"age 3\n", "scenario x\nage old\n", "scenario x\nage 3\n", "scenario x\ninvolved a b 2026-01-01\nexpect none\n", "frobnicate\n"} {
		if _, err := rules.ParseScenarios(strings.NewReader(bad), "bad"); err == nil || !strings.HasPrefix(err.Error(), "bad:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
