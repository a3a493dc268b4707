package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadme runs or checks every fenced code block of README.md, so that
// what the README tells a reader to type keeps working. Each block is
// classified by an HTML comment on the line just before its fence
// (invisible on GitHub):
//
//	<!-- readme: KIND [OPTION=VALUE...] -->
//
// The kinds, and what is done with a block of each:
//
//	run              ```sh: run by bash (-e, pipefail) in an empty scratch
//	                 directory, with the vindex just built first on PATH
//	                 (`go run ./cmd/vindex` is that binary too); every
//	                 command must succeed.
//	run-with-server  ```sh: run so, while a `vindex serve --dev` serves
//	                 from the scratch directory: $TOKEN is ggd-groningen's
//	                 token ($TOKEN_WIJ_GRONINGEN and so on, the others'),
//	                 127.0.0.1:8443 in the block is the server's address, and
//	                 a line `vindex serve --dev &` is that server.
//	serve            ```sh that starts a server in the foreground: run
//	                 until it serves, then stopped as Ctrl-C does, cleanly.
//	check            ```sh too long to run in a test: each vindex command
//	                 must parse (it is run with --help added), each
//	                 scripts/NAME must be executable, each go test must name
//	                 packages, tests, benchmarks and fuzz targets that exist,
//	                 each go run PATH@VERSION a module version the proxy
//	                 serves (not checked with GOPROXY=off), and any other
//	                 program must be on PATH.
//	config           ```yaml: part of a --config file, accepted on top of
//	                 the --dev configuration.
//	webhooks         a --webhooks file, accepted with the example covenant.
//	webhook-body     ```json: a webhook's body, a notify.HookEvent of a
//	                 known type (no field unknown).
//	go               ```go: compiles as the body of a function in which the
//	                 names the fragment leaves open are made as its
//	                 comments say (readmeGoPreamble).
//	illustration R…  not checked, for the reason R… given.
//
// Options: files=A,B copies testdata/readme/A and B into the scratch
// directory first; setup=dev (run) has a `vindex serve --dev` started and
// stopped there first; setup=match (run-with-server) has ggd-groningen and
// wij-groningen register one youth and waits for their mails; want=REGEXP
// must match the block's output. Every server listens on a free port
// (VINDEX_LISTEN=127.0.0.1:0). A failing command is reported with its
// README line and the block's output.
func TestReadme(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readmeBlocks(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	h := &readmeHarness{root: root, env: readmeEnv(t)}
	for _, b := range blocks {
		t.Run(fmt.Sprintf("L%d_%s", b.line, b.kind), func(t *testing.T) {
			t.Parallel()
			if b.err != nil {
				t.Fatal(b.err)
			}
			readmeKinds[b.kind].do(h, t, b)
		})
	}
}

// readmeBlock is a fenced code block of the README and its classification.
type readmeBlock struct {
	line int    // the README line of the opening fence
	lang string // the fence's language: sh, yaml, json, go or ""
	kind string
	opts map[string]string
	body []string // the lines between the fences: body[i] is line line+1+i
	err  error    // what is wrong with the classification
}

// readmeKind is what a kind applies to and does.
type readmeKind struct {
	langs []string // the fence languages it applies to
	opts  []string // the options it takes
	do    func(h *readmeHarness, t *testing.T, b readmeBlock)
}

var readmeKinds = map[string]readmeKind{
	"run":             {[]string{"sh"}, []string{"files", "setup", "want"}, (*readmeHarness).run},
	"run-with-server": {[]string{"sh"}, []string{"files", "setup", "want"}, (*readmeHarness).runWithServer},
	"serve":           {[]string{"sh"}, []string{"files", "want"}, (*readmeHarness).serve},
	"check":           {[]string{"sh"}, nil, (*readmeHarness).check},
	"config":          {[]string{"yaml"}, nil, (*readmeHarness).config},
	"webhooks":        {[]string{""}, nil, (*readmeHarness).webhooks},
	"webhook-body":    {[]string{"json"}, nil, (*readmeHarness).webhookBody},
	"go":              {[]string{"go"}, nil, (*readmeHarness).goFragment},
	"illustration":    {nil, nil, func(_ *readmeHarness, t *testing.T, b readmeBlock) { t.Skip(b.opts["reason"]) }},
}

var readmeClassRE = regexp.MustCompile(`^<!-- readme: (\S.*) -->$`)

// readmeHowTo ends the error of a block without a classification.
const readmeHowTo = `put <!-- readme: KIND --> on the line before it: run, run-with-server, serve or check for sh; config, webhooks, webhook-body, go; or illustration REASON (see TestReadme in cmd/vindex/readme_test.go)`

// readmeBlocks reads the fenced code blocks of the README at path.
func readmeBlocks(path string) ([]readmeBlock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		blocks []readmeBlock
		cur    *readmeBlock
		prev   string
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && strings.HasPrefix(line, "```"):
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.body = append(cur.body, line)
		case strings.HasPrefix(line, "```"):
			cur = &readmeBlock{line: n, lang: strings.TrimSpace(line[3:])}
			cur.classify(prev)
		}
		prev = line
	}
	if cur != nil {
		return nil, fmt.Errorf("README.md:%d: the block is not closed", cur.line)
	}
	return blocks, sc.Err()
}

// classify reads b's classification from comment, the line before it.
func (b *readmeBlock) classify(comment string) {
	m := readmeClassRE.FindStringSubmatch(comment)
	if m == nil {
		b.kind = "unclassified"
		b.err = fmt.Errorf("README.md:%d: this ```%s block is not classified: %s", b.line, b.lang, readmeHowTo)
		return
	}
	fields := strings.Fields(m[1])
	b.kind, b.opts = fields[0], map[string]string{}
	k, ok := readmeKinds[b.kind]
	switch {
	case !ok:
		b.err = fmt.Errorf("README.md:%d: %q is not a kind: %s", b.line-1, b.kind, readmeHowTo)
	case b.kind == "illustration":
		b.opts["reason"] = strings.Join(fields[1:], " ")
		if len(fields) == 1 {
			b.err = fmt.Errorf("README.md:%d: an illustration says why it is not checked", b.line-1)
		}
	case !slices.Contains(k.langs, b.lang):
		b.err = fmt.Errorf("README.md:%d: %s is for blocks of %q, not ```%s", b.line-1, b.kind, k.langs, b.lang)
	}
	if b.err != nil || b.kind == "illustration" {
		return
	}
	for _, f := range fields[1:] {
		key, val, _ := strings.Cut(f, "=")
		if !slices.Contains(k.opts, key) {
			b.err = fmt.Errorf("README.md:%d: %s takes no option %q (it takes %q)", b.line-1, b.kind, key, k.opts)
			return
		}
		b.opts[key] = val
	}
	if _, err := regexp.Compile(b.opts["want"]); err != nil {
		b.err = fmt.Errorf("README.md:%d: want: %v", b.line-1, err)
	}
	if s := b.opts["setup"]; s != "" && !(s == "dev" && b.kind == "run" || s == "match" && b.kind == "run-with-server") {
		b.err = fmt.Errorf("README.md:%d: setup=%s: run takes setup=dev, run-with-server setup=match", b.line-1, s)
	}
}

// readmeHarness runs and checks the blocks.
type readmeHarness struct {
	root string   // the repository
	env  []string // the environment of the blocks
}

// readmeEnv is the blocks' environment: the test's without VINDEX_*
// settings, the binary first on PATH, and servers (and their metrics) on
// free ports.
func readmeEnv(t *testing.T) []string {
	bin := t.TempDir()
	if err := os.Symlink(binary, filepath.Join(bin, "vindex")); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VINDEX_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "VINDEX_LISTEN=127.0.0.1:0", "VINDEX_METRICS_LISTEN=127.0.0.1:0")
}

// scratch is an empty directory with the block's files=.
func (h *readmeHarness) scratch(t *testing.T, b readmeBlock) string {
	dir := t.TempDir()
	for f := range strings.SplitSeq(b.opts["files"], ",") {
		if f == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join("testdata", "readme", f))
		if err != nil {
			t.Fatalf("README.md:%d: files=: %v", b.line-1, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (h *readmeHarness) run(t *testing.T, b readmeBlock) {
	dir := h.scratch(t, b)
	if b.opts["setup"] == "dev" {
		start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0").stop(t)
	}
	out, err := h.runScript(t, b, dir, h.env, b.body)
	if err != nil {
		t.Fatal(err)
	}
	h.want(t, b, out)
}

// readmeServerRE is the line of a run-with-server block that starts the
// server the test has started.
var readmeServerRE = regexp.MustCompile(`^\s*vindex serve --dev\s*&\s*(#.*)?$`)

func (h *readmeHarness) runWithServer(t *testing.T, b readmeBlock) {
	dir := h.scratch(t, b)
	p := start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0")
	env := slices.Clone(h.env)
	tokens := parseTokens(t, p.stdout.String())
	for inst, tok := range tokens {
		env = append(env, "TOKEN_"+strings.ToUpper(strings.ReplaceAll(inst, "-", "_"))+"="+tok)
	}
	env = append(env, "TOKEN="+tokens["ggd-groningen"])
	if b.opts["setup"] == "match" {
		readmeMatch(t, dir, p)
	}
	lines := make([]string, len(b.body))
	for i, l := range b.body {
		if !readmeServerRE.MatchString(l) {
			lines[i] = strings.ReplaceAll(l, "127.0.0.1:8443", p.addr)
		}
	}
	out, err := h.runScript(t, b, dir, env, lines)
	if err != nil {
		t.Fatal(err)
	}
	h.want(t, b, out)
	p.stop(t)
}

// readmeMatch has two institutions register one youth at p and waits
// until each has been sent a mail.
func readmeMatch(t *testing.T, dir string, p *proc) {
	insts := []string{"ggd-groningen", "wij-groningen"}
	for _, inst := range insts {
		c := devClient(t, dir, "vindex-data", p, inst)
		status, body, err := c.post("/v1/registrations", map[string]any{
			"bsn": validBSN(t, 1), "birth_date": "2014-05-17", "municipality": "GM0014", "kind": "involvement",
			"contact": map[string]string{"name": "A. Jansen", "phone": "050-1234567"},
		})
		must[map[string]any](t, status, body, err, 201)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var missing []string
		for _, inst := range insts {
			if m, _ := filepath.Glob(filepath.Join(dir, "vindex-data", "mail", "vx_"+inst+"_*.eml")); len(m) == 0 {
				missing = append(missing, inst)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("setup=match: no mail for %v after 30 s:\n%s", missing, p.stderr.String())
		}
	}
}

func (h *readmeHarness) serve(t *testing.T, b readmeBlock) {
	dir := h.scratch(t, b)
	cmd, out := h.bash(t, b, dir, h.env, b.body)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	for deadline := time.Now().Add(60 * time.Second); !servingRE.MatchString(out()); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("README.md:%d: the server stopped before it served (%v):\n%s", b.line+1, err, out())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("README.md:%d: the server did not serve within 60 s:\n%s", b.line+1, out())
		}
	}
	h.want(t, b, out())
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // Ctrl-C
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out(), `"msg":"stopped"`) {
			t.Fatalf("README.md:%d: no clean stop on Ctrl-C (%v):\n%s", b.line+1, err, out())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("README.md:%d: the server did not stop on Ctrl-C:\n%s", b.line+1, out())
	}
}

func (h *readmeHarness) want(t *testing.T, b readmeBlock, out string) {
	if w := b.opts["want"]; w != "" && !regexp.MustCompile(w).MatchString(out) {
		t.Errorf("README.md:%d: the block's output does not match want=%s:\n%s", b.line-1, w, out)
	}
}

// runScript runs lines (b's, as the kind adapted them) in dir and returns
// their output; the error of a failing command names its README line and
// holds the output. A block that uses a program the machine lacks (curl,
// say) is skipped.
func (h *readmeHarness) runScript(t *testing.T, b readmeBlock, dir string, env, lines []string) (string, error) {
	l, err := shellCommands(b.line+1, lines)
	if err != nil {
		return "", err
	}
	for _, c := range l.cmds {
		if _, err := exec.LookPath(c.words[0]); err != nil && !readmeBuiltin(c.words[0]) {
			t.Skipf("README.md:%d: %s is not installed here, so the block is not run", c.first, c.words[0])
		}
	}
	cmd, out := h.bash(t, b, dir, env, lines)
	if err = cmd.Start(); err == nil {
		kill := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		timeout := time.AfterFunc(2*time.Minute, kill)
		err = cmd.Wait()
		timeout.Stop()
		kill() // what the block left in the background
	}
	if err != nil {
		return "", readmeFailure(l, lines, b.line+1, out(), err)
	}
	return out(), nil
}

// readmeBuiltin reports whether name is a shell builtin or vindex.
func readmeBuiltin(name string) bool {
	return slices.Contains([]string{"vindex", "cd", "export", "kill", "wait", "echo", "set", "test", "[", "true", "false", "."}, name)
}

var readmeFailedRE = regexp.MustCompile(`readme: line (\d+) failed with exit status (\d+)`)

// readmeFailure says which command of lines (lines[0] is README line
// first) failed, and shows the block's output.
func readmeFailure(l *shellLexer, lines []string, first int, out string, err error) error {
	m := readmeFailedRE.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("README.md:%d: the block failed (%v):\n%s", first, err, out)
	}
	n, _ := strconv.Atoi(m[1])
	cmd := lines[n-first]
	for _, c := range l.cmds {
		if c.first == n {
			cmd = strings.Join(lines[n-first:c.last-first+1], "\n")
		}
	}
	return fmt.Errorf("README.md:%d: this command failed with exit status %s:\n%s\nthe block's output:\n%s", n, m[2], cmd, out)
}

// bash is a bash running lines in dir, in a process group of its own, and
// a function that reads what it wrote (stdout and stderr) so far. Before
// each command it notes the command's README line, which an ERR trap
// prints.
func (h *readmeHarness) bash(t *testing.T, b readmeBlock, dir string, env, lines []string) (*exec.Cmd, func() string) {
	l, err := shellCommands(b.line+1, lines)
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString("set -eE -o pipefail\ntrap 'echo \"readme: line $readme_line failed with exit status $?\" >&2' ERR\n")
	for i, line := range lines {
		if n := b.line + 1 + i; l.starts[n] {
			fmt.Fprintf(&script, "readme_line=%d\n", n)
		}
		script.WriteString(strings.ReplaceAll(line, "go run ./cmd/vindex", "vindex") + "\n")
	}
	outFile := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, func() string {
		b, err := os.ReadFile(outFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return string(b)
	}
}

// TestReadmeHarness: a failing command is reported with its README line,
// its text and the block's output; what a block leaves in the background
// is stopped; a block without a classification says how to classify it.
func TestReadmeHarness(t *testing.T) {
	h := &readmeHarness{env: os.Environ()}
	b := readmeBlock{line: 99, body: []string{"sleep 60 & echo $! >pid", "echo one \\", "  two", "false \\", "  three", "echo never"}}
	dir := t.TempDir()
	_, err := h.runScript(t, b, dir, h.env, b.body)
	want := "README.md:103: this command failed with exit status 1:\nfalse \\\n  three\nthe block's output:\none two\n"
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "never") {
		t.Errorf("got %v, want an error starting %q", err, want)
	}
	pid, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(n, 0) == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the block's background sleep (pid %d) still runs", n)
		}
	}

	readme := filepath.Join(t.TempDir(), "README.md")
	os.WriteFile(readme, []byte("text\n\n```sh\nvindex version\n```\n<!-- readme: illustration -->\n```go\n```\n"), 0o644)
	blocks, err := readmeBlocks(readme)
	if err != nil || len(blocks) != 2 {
		t.Fatalf("%d blocks, %v", len(blocks), err)
	}
	for i, want := range []string{"README.md:3: this ```sh block is not classified: put <!-- readme: KIND --> on the line before it", "README.md:6: an illustration says why"} {
		if blocks[i].err == nil || !strings.HasPrefix(blocks[i].err.Error(), want) {
			t.Errorf("block %d: got %v, want %q…", i, blocks[i].err, want)
		}
	}
}
