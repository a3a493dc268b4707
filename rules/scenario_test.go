package rules_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/rules"
)

// A scenario file (rules/testdata/scenarios/*.txt) names a covenant and lists
// scenarios; see rules/testdata/README.md for the format.
type scenario struct {
	name   string
	line   int
	c      rules.Case
	expect string // "coordinator ID rule NAME" or "none [reason words]"
}

func parseScenarios(path string) (covenant string, out []scenario, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var cur *scenario
	n := 0
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, n, fmt.Sprintf(format, args...))
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
			covenant = filepath.Join(filepath.Dir(path), rest)
		case "scenario":
			out = append(out, scenario{name: rest, line: n, c: rules.Case{Age: -1}})
			cur = &out[len(out)-1]
		case "age", "municipality", "involved", "expect":
			if cur == nil {
				return "", nil, errf("%s before the first scenario", word)
			}
			switch word {
			case "age":
				a, err := strconv.Atoi(rest)
				if err != nil {
					return "", nil, errf("age %q is not a number", rest)
				}
				cur.c.Age = a
			case "municipality":
				cur.c.Municipality = rest
			case "involved":
				f := strings.Fields(rest)
				if len(f) < 3 || len(f) > 4 {
					return "", nil, errf("want: involved INSTITUTION signal|involvement YYYY-MM-DD [SECTOR]")
				}
				at, err := time.Parse(time.DateOnly, f[2])
				if err != nil {
					return "", nil, errf("date %q: want YYYY-MM-DD", f[2])
				}
				v := rules.Involvement{Institution: f[0], Kind: rules.Kind(f[1]), RegisteredAt: at}
				if v.Kind != rules.KindSignal && v.Kind != rules.KindInvolvement {
					return "", nil, errf("kind %q: want signal or involvement", f[1])
				}
				if len(f) == 4 {
					v.Sector = rules.Sector(f[3])
				}
				cur.c.Involved = append(cur.c.Involved, v)
			case "expect":
				cur.expect = rest
			}
		default:
			return "", nil, errf("unknown line %q", word)
		}
	}
	for _, s := range out {
		if s.expect == "" {
			return "", nil, fmt.Errorf("%s:%d: scenario %q has no expect line", path, s.line, s.name)
		}
	}
	return covenant, out, sc.Err()
}

// check compares a decision with an expect line and returns what differs.
func check(d rules.Decision, expect string) string {
	f := strings.Fields(expect)
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

func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	total := 0
	for _, file := range files {
		covPath, scenarios, err := parseScenarios(file)
		if err != nil {
			t.Fatal(err)
		}
		if covPath == "" {
			t.Fatalf("%s: no covenant line", file)
		}
		cov, err := rules.LoadFile(covPath)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, s := range scenarios {
			total++
			t.Run(filepath.Base(file)+"/"+s.name, func(t *testing.T) {
				if diff := check(rules.Decide(s.c, cov), s.expect); diff != "" {
					t.Errorf("%s:%d: %s: %s; want %s", file, s.line, s.name, diff, s.expect)
				}
			})
		}
	}
	if total < 12 {
		t.Fatalf("only %d scenarios", total)
	}
}
