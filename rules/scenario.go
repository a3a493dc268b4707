package rules

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Scenario is one readable test of a covenant's decisions: a case and the
// decision expected. Covenant authors write them in scenario files (see
// rules/testdata/README.md) and run them with `vindex covenant test`.
type Scenario struct {
	Name string
	// File and Line say where the scenario starts.
	File string
	Line int
	Case Case
	// Expect is "coordinator ID rule NAME" or "none [words of the reason]".
	Expect string
}

// ScenarioFile is a parsed scenario file.
type ScenarioFile struct {
	// Covenant is the path of the covenant its covenant line names,
	// relative to the working directory; empty if it has none.
	Covenant  string
	Scenarios []Scenario
}

// ParseScenarioFile reads the scenario file at path.
func ParseScenarioFile(path string) (ScenarioFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return ScenarioFile{}, err
	}
	defer f.Close()
	sf, err := ParseScenarios(f, path)
	if err == nil && sf.Covenant != "" {
		sf.Covenant = filepath.Join(filepath.Dir(path), sf.Covenant)
	}
	return sf, err
}

// ParseScenarios reads scenarios from r; name is used in errors
// ("name:line: message") and as each scenario's File. The Covenant of the
// result is as the file writes it.
func ParseScenarios(r io.Reader, name string) (ScenarioFile, error) {
	var sf ScenarioFile
	sc := bufio.NewScanner(r)
	var cur *Scenario
	n := 0
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch word {
		case "covenant":
			sf.Covenant = rest
			continue
		case "scenario":
			sf.Scenarios = append(sf.Scenarios, Scenario{Name: rest, File: name, Line: n, Case: Case{Age: -1}})
			cur = &sf.Scenarios[len(sf.Scenarios)-1]
			continue
		case "age", "municipality", "involved", "expect":
		default:
			return ScenarioFile{}, errf("unknown line %q (want covenant, scenario, age, municipality, involved or expect)", word)
		}
		if cur == nil {
			return ScenarioFile{}, errf("%s before the first scenario", word)
		}
		switch word {
		case "age":
			a, err := strconv.Atoi(rest)
			if err != nil {
				return ScenarioFile{}, errf("age %q is not a number", rest)
			}
			cur.Case.Age = a
		case "municipality":
			cur.Case.Municipality = rest
		case "involved":
			f := strings.Fields(rest)
			if len(f) < 3 || len(f) > 4 {
				return ScenarioFile{}, errf("want: involved INSTITUTION signal|involvement YYYY-MM-DD [SECTOR]")
			}
			at, err := time.Parse(time.DateOnly, f[2])
			if err != nil {
				return ScenarioFile{}, errf("date %q: want YYYY-MM-DD", f[2])
			}
			v := Involvement{Institution: f[0], Kind: Kind(f[1]), RegisteredAt: at}
			if v.Kind != KindSignal && v.Kind != KindInvolvement {
				return ScenarioFile{}, errf("kind %q: want signal or involvement", f[1])
			}
			if len(f) == 4 {
				v.Sector = Sector(f[3])
			}
			cur.Case.Involved = append(cur.Case.Involved, v)
		case "expect":
			cur.Expect = rest
		}
	}
	if err := sc.Err(); err != nil {
		return ScenarioFile{}, fmt.Errorf("%s: %w", name, err)
	}
	for _, s := range sf.Scenarios {
		if s.Expect == "" {
			return ScenarioFile{}, fmt.Errorf("%s:%d: scenario %q has no expect line", name, s.Line, s.Name)
		}
	}
	return sf, nil
}

// Run decides the scenario's case under cov and returns what differs from
// the expectation; empty if the scenario passes.
func (s Scenario) Run(cov *Covenant) string {
	d := Decide(s.Case, cov)
	f := strings.Fields(s.Expect)
	switch {
	case len(f) == 4 && f[0] == "coordinator" && f[2] == "rule":
		if d.Coordinator != f[1] || d.Rule != f[3] {
			return fmt.Sprintf("got coordinator %q rule %q", d.Coordinator, d.Rule)
		}
	case len(f) >= 1 && f[0] == "none":
		if d.Coordinator != "" {
			return fmt.Sprintf("got coordinator %q rule %q", d.Coordinator, d.Rule)
		}
		if want := strings.Join(f[1:], " "); !strings.Contains(d.Reason, want) {
			return fmt.Sprintf("reason %q does not contain %q", d.Reason, want)
		}
	default:
		return "malformed expect line: want 'coordinator ID rule NAME' or 'none [reason]'"
	}
	return ""
}
