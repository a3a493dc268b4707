package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// check checks each command of an sh block that is too long to run.
func (h *readmeHarness) check(t *testing.T, b readmeBlock) {
	l, err := shellCommands(b.line+1, b.body)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range l.cmds {
		if err := h.checkCommand(t, c.words); err != nil {
			t.Errorf("README.md:%d: %s: %v", c.first, strings.Join(c.words, " "), err)
		}
	}
}

func (h *readmeHarness) checkCommand(t *testing.T, w []string) error {
	switch {
	case w[0] == "vindex":
		return h.checkVindex(t, w[1:])
	case len(w) >= 3 && w[0] == "go" && w[1] == "run" && w[2] == "./cmd/vindex":
		return h.checkVindex(t, w[3:])
	case len(w) >= 3 && w[0] == "go" && w[1] == "run" && strings.Contains(w[2], "@"):
		return h.checkModule(t, w[2])
	case len(w) >= 2 && w[0] == "go" && w[1] == "test":
		return h.checkGoTest(w[2:])
	case w[0] == "go":
		return errors.New("of go commands, only go test and go run PATH@VERSION are checked: run the block, or make it an illustration")
	case strings.HasPrefix(w[0], "scripts/"):
		st, err := os.Stat(filepath.Join(h.root, w[0]))
		if err == nil && st.Mode()&0o111 == 0 {
			err = errors.New("not executable")
		}
		return err
	default:
		_, err := exec.LookPath(w[0])
		return err
	}
}

// checkVindex runs vindex with args and --help: a flag it does not know,
// or a value of the wrong type, fails.
func (h *readmeHarness) checkVindex(t *testing.T, args []string) error {
	cmd := exec.Command(binary, append(slices.Clone(args), "--help")...)
	cmd.Dir, cmd.Env = t.TempDir(), h.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("with --help added: %v\n%s", err, out)
	}
	return nil
}

// checkModule checks that the module proxy serves the module of
// pkg@version, unless GOPROXY is off.
func (h *readmeHarness) checkModule(t *testing.T, spec string) error {
	out, err := h.goCmd("env", "GOPROXY")
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) == "off" {
		t.Logf("GOPROXY=off: not asking the proxy for %s", spec)
		return nil
	}
	// The module's path is the package's or one before it.
	p, version, _ := strings.Cut(spec, "@")
	for ; strings.Contains(p, "/"); p = path.Dir(p) {
		if out, err = h.goCmd("list", "-m", p+"@"+version); err == nil {
			return nil
		}
	}
	return fmt.Errorf("no module version found: %v\n%s", err, out)
}

func (h *readmeHarness) goCmd(args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = h.root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// checkGoTest checks that go test with args names packages that exist, and
// tests, benchmarks (in each package) and fuzz targets that exist.
func (h *readmeHarness) checkGoTest(args []string) error {
	fs := flag.NewFlagSet("go test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	run, bench, fuzz := fs.String("run", "", ""), fs.String("bench", "", ""), fs.String("fuzz", "", "")
	for _, name := range []string{"count", "benchtime", "fuzztime", "tags", "timeout", "cpu"} {
		fs.String(name, "", "")
	}
	for _, name := range []string{"race", "benchmem", "v", "short"} {
		fs.Bool(name, false, "")
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%v (a go test flag the harness does not know is added in checkGoTest)", err)
	}
	funcs, err := h.testFuncs(fs.Args())
	if err != nil {
		return err
	}
	var errs []error
	if *bench != "" {
		for pkg, names := range funcs {
			if !anyMatch(*bench, "Benchmark", names) {
				errs = append(errs, fmt.Errorf("%s has no benchmark that -bench %s matches", pkg, *bench))
			}
		}
	}
	all := slices.Concat(slices.Collect(maps.Values(funcs))...)
	if *fuzz != "" && !anyMatch(*fuzz, "Fuzz", all) {
		errs = append(errs, fmt.Errorf("no fuzz target that -fuzz %s matches", *fuzz))
	}
	// Each alternative of a plain A|B|C names a test that exists.
	alts := []string{*run}
	if !strings.ContainsAny(*run, "()[]") {
		alts = strings.Split(*run, "|")
	}
	for _, alt := range alts {
		if *run != "" && *run != "^$" && !anyMatch(alt, "Test", all) {
			errs = append(errs, fmt.Errorf("no test that -run %s matches", alt))
		}
	}
	return errors.Join(errs...)
}

// anyMatch reports whether pattern (a go test -run, -bench or -fuzz
// regexp; only its top level) matches one of names that has prefix.
func anyMatch(pattern, prefix string, names []string) bool {
	top, _, _ := strings.Cut(pattern, "/")
	re, err := regexp.Compile(top)
	if err != nil {
		return false
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && re.MatchString(n) {
			return true
		}
	}
	return false
}

// testFuncs lists the top-level functions of the test files of pkgs, by
// package, reading the files rather than compiling them.
func (h *readmeHarness) testFuncs(pkgs []string) (map[string][]string, error) {
	out, err := h.goCmd(append([]string{"list", "-f", `{{.ImportPath}} {{.Dir}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}`}, pkgs...)...)
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, out)
	}
	funcs := map[string][]string{}
	fset := token.NewFileSet()
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		funcs[f[0]] = []string{}
		for _, name := range f[2:] {
			af, err := parser.ParseFile(fset, filepath.Join(f[1], name), nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			for _, d := range af.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
					funcs[f[0]] = append(funcs[f[0]], fd.Name.Name)
				}
			}
		}
	}
	return funcs, nil
}

// config loads a part of a --config file on top of the --dev
// configuration, as vindex serve --dev --config FILE does.
func (h *readmeHarness) config(t *testing.T, b readmeBlock) {
	file := filepath.Join(t.TempDir(), "vindex.yaml")
	if err := os.WriteFile(file, []byte(strings.Join(b.body, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	c := defaults(true)
	err := readConfigFile(file, &c)
	if err == nil {
		c.derivePaths()
		err = c.validate()
	}
	if err != nil {
		t.Errorf("README.md:%d: the configuration is refused (its lines are counted from %d): %v", b.line, b.line+1, err)
	}
}

// webhooks loads a --webhooks file with the example covenant.
func (h *readmeHarness) webhooks(t *testing.T, b readmeBlock) {
	cov, err := rules.LoadFile(filepath.Join(h.root, "examples", "covenant-groningen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := defaults(true)
	c.Webhooks = filepath.Join(t.TempDir(), "webhooks")
	if err := os.WriteFile(c.Webhooks, []byte(strings.Join(b.body, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	hooks, err := loadWebhooks(c, cov)
	if err != nil {
		t.Fatalf("README.md:%d: the webhooks file is refused (its lines are counted from %d): %v", b.line, b.line+1, err)
	}
	if len(hooks) == 0 {
		t.Errorf("README.md:%d: the webhooks file has no webhook", b.line)
	}
}

// webhookBody decodes a webhook's body into a notify.HookEvent, refusing
// fields it does not have, and checks its event type.
func (h *readmeHarness) webhookBody(t *testing.T, b readmeBlock) {
	dec := json.NewDecoder(strings.NewReader(strings.Join(b.body, "\n")))
	dec.DisallowUnknownFields()
	var e notify.HookEvent
	err := dec.Decode(&e)
	if err == nil && dec.More() {
		err = errors.New("more than one value")
	}
	if err == nil {
		_, err = store.ParseEventType(e.Type)
	}
	if err != nil {
		t.Errorf("README.md:%d: not a webhook body: %v", b.line, err)
	}
}

// readmeGoPreamble opens the function whose body a ```go block is: it
// makes what the fragment leaves open as the fragment's comments say
// (pebblestore.Open(dir, nil), pseudonym.New(keysetHandle), …).
const readmeGoPreamble = `package readmeexample

import (
	"context"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

func example(ctx context.Context, dir string, keysetHandle, refKeysetHandle *keyset.Handle, bsn identity.BSN, birth identity.BirthDate) error {
	st, err := pebblestore.Open(dir, nil)
	ps, err := pseudonym.New(keysetHandle)
	refs, err := clientref.New(refKeysetHandle)
	cov, err := rules.LoadFile("examples/covenant-groningen.yaml")
`

// goFragment compiles a ```go block as the body of readmeGoPreamble's
// function, in a package of the module that exists only in an -overlay.
func (h *readmeHarness) goFragment(t *testing.T, b readmeBlock) {
	dir := t.TempDir()
	src := fmt.Sprintf("%s//line README.md:%d\n%s\n\t_ = res\n\treturn err\n}\n", readmeGoPreamble, b.line+1, strings.Join(b.body, "\n"))
	file := filepath.Join(dir, "example.go")
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{
		filepath.Join(h.root, "internal", "readmeexample", "example.go"): file}})
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := h.goCmd("build", "-overlay", filepath.Join(dir, "overlay.json"), "./internal/readmeexample"); err != nil {
		t.Errorf("README.md:%d: the Go fragment does not compile (in readmeGoPreamble's function): %v\n%s", b.line, err, out)
	}
}
