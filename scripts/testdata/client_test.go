// scripts/clients copies this test into the scratch module next to the Go
// client that oapi-codegen generates from httpapi/openapi.yaml (package
// vindexclient), and runs it with VINDEX_BIN set to a vindex binary built
// from the tree. It lives under testdata so that the vindex module itself
// never compiles it.

package vindexclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// BSN 111222333 passes the eleven-check; it is the README's example.
const youthBSN = "111222333"

// ptr returns a pointer to v: the generated client's optional fields.
func ptr[T any](v T) *T { return &v }

// TestClientAgainstServer drives the generated client, unmodified, against
// a real `vindex serve --dev`: two institutions register the same youth,
// the first looks it up and sees the second, and its events hold the
// match.
func TestClientAgainstServer(t *testing.T) {
	url, tokens, httpClient := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := NewClientWithResponses(url, WithHTTPClient(httpClient))
	if err != nil {
		t.Fatal(err)
	}
	const ggd, wij = "ggd-groningen", "wij-groningen"

	first := register(ctx, t, c, tokens[ggd], "DOSSIER-0001")
	if first.Matched || len(first.Involved) != 0 {
		t.Fatalf("first registration: matched %v, involved %v; want no match", first.Matched, first.Involved)
	}
	second := register(ctx, t, c, tokens[wij], "")
	if !second.Matched || !hasParty(second.Involved, ggd) {
		t.Fatalf("second registration: matched %v, involved %v; want a match with %s", second.Matched, second.Involved, ggd)
	}

	view, err := c.LookupWithResponse(ctx, LookupJSONRequestBody{Bsn: ptr(youthBSN)}, bearer(tokens[ggd]))
	if err != nil {
		t.Fatal(err)
	}
	if view.StatusCode() != http.StatusOK || view.JSON200 == nil {
		t.Fatalf("lookup: %d %s", view.StatusCode(), view.Body)
	}
	v := view.JSON200
	if v.Id != first.Id || !v.Matched || !hasParty(v.Involved, wij) || v.ClientRef == nil || *v.ClientRef != "DOSSIER-0001" {
		t.Fatalf("lookup by %s: %s; want its registration %s, matched, %s involved, its client_ref", ggd, view.Body, first.Id, wij)
	}

	after := 0
	evs, err := c.EventsWithResponse(ctx, &EventsParams{After: &after}, bearer(tokens[ggd]))
	if err != nil {
		t.Fatal(err)
	}
	if evs.StatusCode() != http.StatusOK || evs.JSON200 == nil {
		t.Fatalf("events: %d %s", evs.StatusCode(), evs.Body)
	}
	match := slices.IndexFunc(evs.JSON200.Events, func(e Event) bool {
		return e.Type == EventTypeMatch && e.Registration == first.Id && e.Others != nil && hasParty(*e.Others, wij)
	})
	if match < 0 {
		t.Fatalf("events of %s: %s; want a match event on %s naming %s", ggd, evs.Body, first.Id, wij)
	}
	if e := evs.JSON200.Events[match]; e.Subject == nil || *e.Subject != wij || evs.JSON200.Next < e.Seq {
		t.Fatalf("match event %+v, next %d; want subject %s and next at least its seq", e, evs.JSON200.Next, wij)
	}
}

// register reports the youth for the institution of token and returns the
// 201 answer.
func register(ctx context.Context, t *testing.T, c *ClientWithResponses, token, clientRef string) *RegistrationResponse {
	t.Helper()
	phone := "050-1234567"
	body := RegisterJSONRequestBody{
		Bsn: ptr(youthBSN), BirthDate: ptr(Date("2014-05-17")), Municipality: "GM0014", Kind: RegistrationRequestKindInvolvement,
		Contact: Contact{Name: "A. Jansen", Phone: &phone},
	}
	if clientRef != "" {
		body.ClientRef = &clientRef
	}
	r, err := c.RegisterWithResponse(ctx, nil, body, bearer(token))
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode() != http.StatusCreated || r.JSON201 == nil {
		t.Fatalf("register: %d %s", r.StatusCode(), r.Body)
	}
	if r.JSON201.Refreshed || r.JSON201.Replayed {
		t.Fatalf("register: %s; want a new registration", r.Body)
	}
	return r.JSON201
}

func bearer(token string) RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

func hasParty(ps []Party, institution string) bool {
	return slices.ContainsFunc(ps, func(p Party) bool { return p.Institution == institution })
}

// startServer starts `$VINDEX_BIN serve --dev` on a free port in a
// temporary directory and returns its URL, the tokens it prints (by
// institution) and an HTTP client that trusts its certificate. The server
// is stopped with SIGINT when the test ends, and must exit cleanly.
func startServer(t *testing.T) (url string, tokens map[string]string, client *http.Client) {
	bin := os.Getenv("VINDEX_BIN")
	if bin == "" {
		t.Fatal("VINDEX_BIN must name a vindex binary")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "vindex-data")
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	// Its standard output is a pipe of ours (not cmd.StdoutPipe, which
	// Wait closes under a reader): read to the end while it runs.
	stdout, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdout.Close() })
	cmd := exec.Command(bin, "serve", "--dev", "--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = w, logFile
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(t, cmd, logFile) })

	// It prints "vindex (development mode) on URL, data in DIR", a
	// "token INSTITUTION TOKEN" line per institution, then "try:".
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	tokens = map[string]string{}
	timeout := time.After(20 * time.Second)
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("vindex serve --dev stopped before it was ready")
			}
			f := strings.Fields(line)
			switch {
			case strings.HasPrefix(line, "vindex (development mode) on ") && len(f) >= 5:
				url = strings.TrimSuffix(f[4], ",")
			case len(f) == 3 && f[0] == "token":
				tokens[f[1]] = f[2]
			case line == "try:":
				done = true
			}
		case <-timeout:
			t.Fatal("vindex serve --dev printed no tokens within 20 s")
		}
	}
	go func() {
		for range lines {
		}
	}()
	if !strings.HasPrefix(url, "https://127.0.0.1:") || len(tokens) == 0 {
		t.Fatalf("vindex serve --dev printed URL %q and %d tokens", url, len(tokens))
	}

	pem, err := os.ReadFile(filepath.Join(data, "dev-tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("dev-tls.crt holds no certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(tr.CloseIdleConnections)
	return url, tokens, &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// stopServer stops the server with SIGINT (killing it after 15 s) and
// fails the test if it did not exit cleanly; the test's failures show the
// server's log.
func stopServer(t *testing.T, cmd *exec.Cmd, logFile *os.File) {
	cmd.Process.Signal(os.Interrupt)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("vindex serve --dev did not stop cleanly: %v", err)
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Errorf("vindex serve --dev did not stop within 15 s of SIGINT")
	}
	logFile.Close()
	if t.Failed() {
		b, _ := os.ReadFile(logFile.Name())
		t.Logf("vindex serve --dev log:\n%s", b)
	}
}
