package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/internal/testbsn"
)

// binary is the vindex binary the end-to-end tests build once.
var binary string

// buildAndRun builds the binary the end-to-end tests run, runs the tests and
// returns their exit code; TestMain (script_test.go) calls it.
func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "vindex-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binary = filepath.Join(dir, "vindex")
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "the end-to-end tests build vindex with the go command, which is not on PATH")
		return 1
	}
	if out, err := exec.Command(goTool, "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building vindex: %v\n%s", err, out)
		os.RemoveAll(dir)
		return 1
	}
	code := m.Run()
	os.RemoveAll(dir)
	return code
}

// proc is a running `vindex serve`.
type proc struct {
	cmd  *exec.Cmd
	addr string
	// metrics is the metrics listener's address; empty if it is off.
	metrics string
	stdout  *canary.Log
	stderr  *canary.Log
	done    chan error
}

var (
	servingRE        = regexp.MustCompile(`"msg":"serving","addr":"([^"]+)"`)
	servingMetricsRE = regexp.MustCompile(`"msg":"serving metrics","addr":"([^"]+)"`)
)

// start runs vindex with args in dir and waits until it serves.
func start(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	return startEnv(t, dir, nil, args...)
}

// startEnv is start with the environment env. nil is the test's own, with
// VINDEX_METRICS_LISTEN=127.0.0.1:0: every server the tests start serves
// /metrics on a port of its own choosing, so that they can run side by side
// (the default, 127.0.0.1:9464, is tried by TestMetricsListenerByDefault).
func startEnv(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := launchEnv(t, dir, env, args...)
	if err := servingOrExit(t, p, 60*time.Second); err != nil {
		t.Fatalf("vindex %v exited: %v\n%s", args, err, p.stderr.String())
	}
	return p
}

// launch starts vindex with args in dir without waiting for it.
func launch(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	return launchEnv(t, dir, nil, args...)
}

// launchEnv is launch with the environment env (nil: this process's, with
// the metrics listener on a port of its own choosing); the process is
// killed when the test ends, if it still runs.
func launchEnv(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	if env == nil {
		env = append(os.Environ(), "VINDEX_METRICS_LISTEN=127.0.0.1:0")
	}
	p := &proc{cmd: exec.Command(binary, args...), stdout: &canary.Log{}, stderr: &canary.Log{}, done: make(chan error, 1)}
	p.cmd.Dir = dir
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
// scrape reads the server's metrics listener, as a Prometheus server
// would.
func (p *proc) scrape() (int, []byte, error) {
	if p.metrics == "" {
		return 0, nil, errors.New("the server has no metrics listener")
	}
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("vindex exited with %v:\n%s", err, p.stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("vindex did not stop on SIGTERM")
	}
	if !strings.Contains(p.stderr.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop:\n%s", p.stderr.String())
	}
}

func runCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("vindex %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// validBSN returns a distinct valid BSN for each n.
func validBSN(t *testing.T, n int) string { return testbsn.For(20000000, n) }

type client struct {
	http  *http.Client
	base  string
	token string
}

// devClient is a client of a `serve --dev` server in dir/data, with the
// printed token of inst (none for ""); an absolute data is used as it is.
func devClient(t *testing.T, dir, data string, p *proc, inst string) *client {
	roots := x509.NewCertPool()
	if !filepath.IsAbs(data) {
		data = filepath.Join(dir, data)
	}
	crt, err := os.ReadFile(filepath.Join(data, "dev-tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots.AppendCertsFromPEM(crt)
	return &client{base: "https://" + p.addr, token: parseTokens(t, p.stdout.String())[inst],
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 30 * time.Second}}
}

func (c *client) post(path string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", c.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req)
}

func (c *client) get(path string) (int, []byte, error) {
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	return c.do(req)
}

func (c *client) do(req *http.Request) (int, []byte, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func must[T any](t *testing.T, status int, b []byte, err error, want int) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if status != want {
		t.Fatalf("status %d, want %d: %s", status, want, b)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// TestEndToEnd builds and starts the real binary with a configuration
// file, registers one youth from two institutions over HTTPS (one with a
// client certificate, one with a bearer token), sees the match, the
// coordinator and the events, restarts it and sees the same state.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("e2e client CA")
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := ca.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	wijCert, err := ca.Client("wij-groningen")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := pki.EncodePEM(serverCert)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("server.crt", certPEM)
	write("server.key", keyPEM)
	write("client-ca.pem", ca.PEM())
	cov, err := os.ReadFile("../../examples/covenant-groningen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pin := httpapi.CertificatePin(wijCert.Leaf)
	cov = bytes.Replace(cov, []byte("  - id: wij-groningen\n"), []byte("  - id: wij-groningen\n    client_certificates: [\""+pin+"\"]\n"), 1)
	write("covenant.yaml", cov)
	write("vindex.yaml", []byte(`# e2e configuration
listen: 127.0.0.1:0
data: data
covenant: covenant.yaml
tls_cert: server.crt
tls_key: server.key
client_ca: client-ca.pem
tokens: tokens
keyset: keyset.tink
kek: file
kek_file: dev-kek.json
log_level: debug
shutdown_timeout: 20s
metrics_listen: 127.0.0.1:0
`))

	// The operator's tools: a keyset and a token, through the CLI.
	out := runCLI(t, dir, "keys", "init", "--config", "vindex.yaml", "--create-dev-kek")
	if !strings.Contains(out, "made keyset") {
		t.Fatalf("keys init: %s", out)
	}
	if out := runCLI(t, dir, "covenant", "check", "covenant.yaml"); !strings.Contains(out, ": ok:") {
		t.Fatalf("covenant check: %s", out)
	}
	schoolToken := strings.TrimSpace(runCLI(t, dir, "tokens", "new", "school-example-lyceum", "--config", "vindex.yaml"))
	if !strings.HasPrefix(schoolToken, httpapi.TokenPrefix) {
		t.Fatalf("tokens new printed %q", schoolToken)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "tokens")); bytes.Contains(b, []byte(schoolToken)) {
		t.Fatal("the token file holds the token itself")
	}

	p := start(t, dir, "serve", "--config", "vindex.yaml")
	roots := ca.Pool()
	school := &client{base: "https://" + p.addr, token: schoolToken,
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 30 * time.Second}}
	wij := &client{base: "https://" + p.addr,
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{wijCert}}}, Timeout: 30 * time.Second}}

	youth := validBSN(t, 1)
	report := func(kind string) httpapi.RegistrationRequest {
		r := httpapi.RegistrationRequest{BSN: youth, BirthDate: "2013-03-08", Municipality: "GM0014", Kind: kind,
			Contact: httpapi.ContactJSON{Name: "E. de Vries", Email: "e.devries@example.org"}}
		if kind == "signal" {
			r.Code = "S01"
		}
		return r
	}
	s, b, err := school.post("/v1/registrations", report("signal"))
	first := must[httpapi.RegistrationResponse](t, s, b, err, 201)
	s, b, err = wij.post("/v1/registrations", report("involvement"))
	second := must[httpapi.RegistrationResponse](t, s, b, err, 201)
	if !second.Matched || second.Coordinator == nil || second.Coordinator.Institution != "wij-groningen" || second.Involved[0].Institution != "school-example-lyceum" {
		t.Fatalf("second report: %+v", second)
	}
	check := func(p *proc) {
		t.Helper()
		school.base, wij.base = "https://"+p.addr, "https://"+p.addr
		s, b, err := school.post("/v1/lookups", httpapi.BSNRequest{BSN: youth})
		v := must[httpapi.ViewResponse](t, s, b, err, 200)
		if !v.Matched || v.ID != first.ID || v.Coordinator == nil || v.Coordinator.Institution != "wij-groningen" {
			t.Fatalf("school's view: %+v", v)
		}
		s, b, err = school.get("/v1/events")
		ev := must[httpapi.EventsResponse](t, s, b, err, 200)
		var types []string
		for _, e := range ev.Events {
			types = append(types, e.Type)
		}
		if strings.Join(types, ",") != "no-match,match" || ev.Events[1].Coordinator == nil || *ev.Events[1].Coordinator != *second.Coordinator {
			t.Fatalf("school's events: %v (the match names coordinator %+v)", types, ev.Events[1].Coordinator)
		}
		s, b, err = wij.get("/v1/events")
		ev = must[httpapi.EventsResponse](t, s, b, err, 200)
		if len(ev.Events) != 1 || ev.Events[0].Type != "match" || ev.Events[0].Coordinator == nil || ev.Events[0].Coordinator.Institution != "wij-groningen" {
			t.Fatalf("wij's events: %+v", ev.Events)
		}
	}
	check(p)

	// /metrics is on its own plain-HTTP listener, not on the API's.
	st, body, err := p.scrape()
	if err != nil || st != 200 || !bytes.Contains(body, []byte(`vindex_matches_total 1`)) || bytes.Contains(body, []byte(youth)) {
		t.Fatalf("metrics listener: %d %v\n%s", st, err, body)
	}
	if s, _, _ := school.get("/metrics"); s != http.StatusNotFound {
		t.Fatalf("/metrics on the API listener: %d", s)
	}
	p.stop(t)

	p = start(t, dir, "serve", "--config", "vindex.yaml")
	check(p)
	if strings.Contains(p.stderr.String(), youth) {
		t.Fatal("the BSN is in the server's log")
	}
	p.stop(t)
}

// TestGracefulShutdownKeepsAcknowledged: SIGTERM while clients are
// registering; every registration that was answered 201 is there after a
// restart, and no request is answered with a server error.
func TestGracefulShutdownKeepsAcknowledged(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	tokens := parseTokens(t, p.stdout.String())
	c := devClient(t, dir, "d", p, "ggd-groningen")

	var mu sync.Mutex
	var acked []string
	var serverErrors []string
	var wg sync.WaitGroup
	stopAt := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				bsn := validBSN(t, 10000+w*1000+i)
				s, b, err := c.post("/v1/registrations", httpapi.RegistrationRequest{BSN: bsn, BirthDate: "2015-01-01",
					Municipality: "GM0014", Kind: "involvement", Contact: httpapi.ContactJSON{Name: "N", Phone: "050-1234567"}})
				if err != nil {
					return // the server has stopped accepting
				}
				mu.Lock()
				switch {
				case s == 201:
					acked = append(acked, bsn)
					if len(acked) == 40 {
						close(stopAt)
					}
				case s >= 500:
					serverErrors = append(serverErrors, fmt.Sprintf("%d %s", s, b))
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-stopAt:
	case <-time.After(60 * time.Second):
		t.Fatal("no registrations")
	}
	p.stop(t)
	wg.Wait()
	if len(serverErrors) > 0 {
		t.Fatalf("server errors during shutdown: %v", serverErrors)
	}

	p = start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	if again := parseTokens(t, p.stdout.String()); again["ggd-groningen"] != tokens["ggd-groningen"] {
		t.Fatal("the development tokens changed across a restart")
	}
	c.base = "https://" + p.addr
	for _, bsn := range acked {
		s, b, err := c.post("/v1/lookups", httpapi.BSNRequest{BSN: bsn})
		if err != nil || s != 200 {
			t.Fatalf("acknowledged registration lost: %d %s %v", s, b, err)
		}
	}
	t.Logf("%d acknowledged registrations survived the shutdown", len(acked))
	p.stop(t)
}

func parseTokens(t *testing.T, out string) map[string]string {
	t.Helper()
	tokens := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "token" {
			tokens[f[1]] = f[2]
		}
	}
	if len(tokens) == 0 {
		t.Fatalf("no tokens printed:\n%s", out)
	}
	return tokens
}

// TestDevQuickstart is the README's first two commands: `vindex serve
// --dev` on an empty directory, then the curl command it prints answers
// 201. Without curl on the machine, the same request is made in Go from
// the printed command's parts.
func TestDevQuickstart(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0")
	var curl string
	for _, line := range strings.Split(p.stdout.String(), "\n") {
		if strings.HasPrefix(line, "curl ") {
			curl = line
		}
	}
	if curl == "" {
		t.Fatalf("no curl command printed:\n%s", p.stdout.String())
	}
	for _, f := range []string{"dev-kek.json", "keyset.tink", "dev-tls.crt", "dev-tls.key", "tokens", "store"} {
		if _, err := os.Stat(filepath.Join(dir, "vindex-data", f)); err != nil {
			t.Errorf("--dev did not make vindex-data/%s", f)
		}
	}
	if path, err := exec.LookPath("curl"); err == nil {
		cmd := exec.Command("sh", "-c", curl+` -s -o /dev/null -w '%{http_code}'`)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil || string(out) != "201" {
			t.Fatalf("%s (%s): %q %v", curl, path, out, err)
		}
	} else {
		m := regexp.MustCompile(`--cacert (\S+) -H 'Authorization: Bearer (\S+)' -H 'Content-Type: application/json' -d '([^']+)' (\S+)$`).FindStringSubmatch(curl)
		if m == nil {
			t.Fatalf("unexpected curl line: %s", curl)
		}
		crt, err := os.ReadFile(filepath.Join(dir, m[1]))
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(crt)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		req, _ := http.NewRequest("POST", m[4], strings.NewReader(m[3]))
		req.Header.Set("Authorization", "Bearer "+m[2])
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("the printed request answered %d", resp.StatusCode)
		}
	}
	p.stop(t)
}

// TestCommandLine: help, version, and clear errors for bad use.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	exampleCovenant, _ := filepath.Abs("../../examples/covenant-groningen.yaml")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--help"}, 0, "VINDEX_NAME"},
		{[]string{"serve", "--help"}, 0, "-vault-secret-id-file"},
		{[]string{"keys", "--help"}, 0, "retire ID"},
		{[]string{"version"}, 0, "vindex "},
		{[]string{}, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--data", "x", "--kek", "file", "--kek-file", "k"}, 1, "no covenant"},
		{[]string{"serve", "--log-level", "loud", "--dev"}, 1, "log_level"},
		{[]string{"covenant", "check", "../../rules/testdata/load-errors/semantic.yaml"}, 1, "semantic.yaml:2:"},
		{[]string{"covenant", "check", "../../rules/testdata/load-errors/coordination.yaml"}, 1, "coordination.yaml:13: escalation step wethouder: addressee must be coordinator, involved or municipality"},
		{[]string{"covenant", "check", "../../examples/covenant-groningen.yaml"}, 0, "escalation step decision: within 2 working days, by the municipality, naming the coordinator with the final say"},
		{[]string{"covenant", "test", "../../examples/covenant-groningen.yaml", "../../rules/testdata/scenarios/groningen.txt"}, 0, "0 failed"},
		{[]string{"keys", "status", "--keyset", "none.tink", "--kek", "file", "--kek-file", "none.json"}, 1, "none.json"},
		{[]string{"keys", "status", "--keyset", "none.tink"}, 1, "vault_addr is required"},
		{[]string{"serve", "--covenant", exampleCovenant, "--vault-addr", "http://127.0.0.1:1", "--vault-token-file", "t"}, 1, "Vault unreachable at http://127.0.0.1:1"},
		{[]string{"tokens", "new", "nobody", "--dev", "--tokens", "t"}, 1, "not in the covenant"},
	} {
		cmd := exec.Command(binary, c.args...)
		cmd.Dir = dir
		if strings.HasPrefix(strings.Join(c.args, " "), "covenant") {
			cmd.Dir = "."
		}
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("vindex %v: exit %d, want %d with %q:\n%s", c.args, code, c.code, c.want, out)
		}
	}
	// Environment and flags override the file, in that order.
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte("listen: 127.0.0.1:1\nlog_level: warn\nkek: file\nkek_file: k\n"), 0o600)
	c, _, err := loadConfigEnv(t, []string{"VINDEX_LISTEN=127.0.0.1:2"}, "--config", filepath.Join(dir, "c.yaml"), "--log-level", "debug")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:2" || c.LogLevel != "debug" {
		t.Fatalf("precedence: listen %q log level %q", c.Listen, c.LogLevel)
	}
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("listen: x\nlisten_address: y\n"), 0o600)
	if _, _, err := loadConfigEnv(t, nil, "--config", filepath.Join(dir, "bad.yaml")); err == nil || !strings.Contains(err.Error(), "listen_address") {
		t.Fatalf("unknown key in the config file: %v", err)
	}
}

func loadConfigEnv(t *testing.T, env []string, args ...string) (config, any, error) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	c, fs, err := loadConfig("serve", serveUsage, args, nil)
	return c, fs, err
}

// The documented configuration file loads (every key is known).
func TestExampleConfigLoads(t *testing.T) {
	c, _, err := loadConfig("serve", serveUsage, []string{"--config", "../../examples/vindex.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Deployment != "vindex-groningen" || c.MetricsListen != "127.0.0.1:9464" || c.ExpireInterval != time.Hour || c.KEK != "vault" || c.VaultRoleID == "" {
		t.Fatalf("example config: %+v", c)
	}
	if c.SMTPFrom != "Verwijsindex <noreply@vindex-groningen.example>" || c.NotifyMaxAge != 72*time.Hour || c.SMTPTLS != "required" {
		t.Fatalf("example config, notify section: from %q max age %v tls %q", c.SMTPFrom, c.NotifyMaxAge, c.SMTPTLS)
	}
}

// The delivery settings as a notify: section (notify.smtp.address, as the
// flat smtp_addr, --smtp-addr and VINDEX_SMTP_ADDR): the environment and
// flags still win; a setting written both ways, or an unknown key in the
// section, is refused.
func TestNotifySectionConfig(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("kek: file\nkek_file: k\n"+body), 0o600)
		return p
	}
	nested := file("n.yaml", "notify:\n  smtp:\n    address: smtp.example.org:587\n    tls: opportunistic\n  language: en\n  max_age: 24h\n")
	c, _, err := loadConfigEnv(t, nil, "--config", nested)
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPAddr != "smtp.example.org:587" || c.SMTPTLS != "opportunistic" || c.MailLanguage != "en" || c.NotifyMaxAge != 24*time.Hour {
		t.Fatalf("notify section: %q %q %q %v", c.SMTPAddr, c.SMTPTLS, c.MailLanguage, c.NotifyMaxAge)
	}
	c, _, err = loadConfigEnv(t, []string{"VINDEX_SMTP_ADDR=mail.example.org:25"}, "--config", nested, "--mail-language", "nl")
	if err != nil || c.SMTPAddr != "mail.example.org:25" || c.MailLanguage != "nl" {
		t.Fatalf("precedence over the notify section: %q %q %v", c.SMTPAddr, c.MailLanguage, err)
	}
	for name, body := range map[string]string{
		"both.yaml":    "smtp_addr: a:25\nnotify:\n  smtp:\n    address: b:25\n",
		"unknown.yaml": "notify:\n  smtp:\n    adress: b:25\n",
	} {
		if _, _, err := loadConfigEnv(t, nil, "--config", file(name, body)); err == nil {
			t.Errorf("%s loaded", name)
		} else if name == "both.yaml" && !strings.Contains(err.Error(), "notify.smtp.address and smtp_addr") {
			t.Errorf("%s: %v", name, err)
		} else if name == "unknown.yaml" && !strings.Contains(err.Error(), "adress") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestKeysCommands: init, status, rotate; the service then computes
// pseudonyms under both keys and reports them in /metrics.
func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	out := runCLI(t, dir, "keys", "init", "--dev", "--data", "d", "--create-dev-kek")
	if !strings.Contains(out, "made keyset d/keyset.tink") || !strings.Contains(out, "made reference keyset d/refkeys.tink") || strings.Count(out, "enabled") != 2 {
		t.Fatalf("keys init:\n%s", out)
	}
	cmd := exec.Command(binary, "keys", "init", "--dev", "--data", "d")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "exists") {
		t.Fatalf("a second keys init did not refuse: %v\n%s", err, b)
	}
	out = runCLI(t, dir, "keys", "rotate", "--dev", "--data", "d")
	if !strings.Contains(out, "is the new primary") || strings.Count(out, "enabled") != 3 || strings.Count(out, "true") != 2 {
		t.Fatalf("keys rotate:\n%s", out)
	}
	if status := runCLI(t, dir, "keys", "status", "--dev", "--data", "d"); status != out[strings.Index(out, "key_id"):] {
		t.Fatalf("keys status after rotate:\n%s\nwant the table of:\n%s", status, out)
	}
	p := start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	s, b, err := p.scrape()
	if err != nil || s != 200 || !bytes.Contains(b, []byte("vindex_keys_in_use 2")) || bytes.Count(b, []byte(`vindex_key_info{key_id=`)) != 2 {
		t.Fatalf("/metrics after a rotation: %d %v", s, err)
	}
	p.stop(t)
}
