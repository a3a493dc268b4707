package httpapi_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vindex-nl/vindex/audit"
	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/bufferedlog"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/internal/testbsn"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// Institutions of the example covenant the tests act as.
const (
	school       = "school-example-lyceum"       // signal only
	wij          = "wij-groningen"               // coordinates in GM0014; authenticates by client certificate
	ggd          = "ggd-groningen"               // care provider
	other        = "sociaal-team-hogeland"       // never involved in the tests
	municipality = "gemeente-groningen"          // the municipality role
	hogeland     = "gemeente-het-hogeland"       // a municipality that serves none of the tests' youths
	unpinnedName = "unpinned-but-trusted-client" // a client certificate the covenant does not pin
)

// env is a real server: Pebble on disk, a real keyset, the example
// covenant, TLS with client certificates, and a token file. Its rate
// limits are the example covenant's, which are far above what the tests
// send (it is also the benchmarks' covenant); the rate-limit tests give
// their own (newEnvCovenant).
type env struct {
	t       testing.TB
	srv     *httptest.Server
	dir     string
	store   *pebblestore.Store
	m       *matcher.Matcher
	ps      *pseudonym.Pseudonymiser
	cov     *rules.Covenant
	metrics *httpapi.Metrics
	// polls is the poll backlog on /metrics; Update it before a scrape.
	polls *notify.PollBacklog
	// metricsHandler serves every layer's metrics, as vindex serve does on
	// its metrics listener (never on the API's): see scrape.
	metricsHandler http.Handler
	logs           *canary.Log
	// audit seals the store's audit log; Seal it before reading
	// GET /v1/audit/checkpoint.
	audit   *audit.Log
	tokens  map[string]string
	ca      *pki.CA
	clients map[string]*http.Client
	checker *contract
	tune    func(*http.Server)
}

func repoRoot(t testing.TB) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// pinnedCovenant is the example covenant with pins for the given
// institutions' client certificates.
func pinnedCovenant(t testing.TB, pins map[string]string) []byte {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "covenant-groningen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for inst, pin := range pins {
		anchor := "  - id: " + inst + "\n"
		if !strings.Contains(s, anchor) {
			t.Fatalf("no institution %s in the example covenant", inst)
		}
		s = strings.Replace(s, anchor, anchor+"    client_certificates: [\""+pin+"\"]\n", 1)
	}
	return []byte(s)
}

func newEnv(t testing.TB) *env { return newEnvLogging(t, true) }

// newEnvTuned is newEnv with the server's settings changed by tune before
// it starts.
func newEnvTuned(t testing.TB, tune func(*http.Server)) *env {
	return newEnvWith(t, true, tune, nil)
}

// newEnvCovenant is newEnv with the covenant file (the example covenant,
// pinned) changed by edit before it is loaded.
func newEnvCovenant(t testing.TB, edit func(string) string) *env {
	return newEnvWith(t, true, nil, edit)
}

// newEnvLogging is newEnv; with debug false the server logs at Info level
// (the access log, as in production) to nowhere, for benchmarks.
func newEnvLogging(t testing.TB, debug bool) *env { return newEnvWith(t, debug, nil, nil) }

func newEnvWith(t testing.TB, debug bool, tune func(*http.Server), edit func(string) string) *env {
	t.Helper()
	return newEnvMode(t, debug, tune, edit, false)
}

// newBlindEnv is newEnv for a blind deployment (matcher.Config.Blind).
func newBlindEnv(t testing.TB) *env {
	t.Helper()
	return newEnvMode(t, true, nil, nil, true)
}

func newEnvMode(t testing.TB, debug bool, tune func(*http.Server), edit func(string) string, blind bool) *env {
	t.Helper()
	e := &env{t: t, tune: tune, dir: t.TempDir(), logs: &canary.Log{}, tokens: map[string]string{}, clients: map[string]*http.Client{}}
	var err error
	if e.ca, err = pki.NewCA("test client CA"); err != nil {
		t.Fatal(err)
	}
	wijCert, err := e.ca.Client(wij)
	if err != nil {
		t.Fatal(err)
	}
	unpinned, err := e.ca.Client(unpinnedName)
	if err != nil {
		t.Fatal(err)
	}
	rogueCA, err := pki.NewCA("rogue CA")
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := rogueCA.Client(wij)
	if err != nil {
		t.Fatal(err)
	}

	covFile := pinnedCovenant(t, map[string]string{wij: httpapi.CertificatePin(wijCert.Leaf)})
	if edit != nil {
		covFile = []byte(edit(string(covFile)))
	}
	if e.cov, err = rules.Load(bytes.NewReader(covFile), "covenant.yaml"); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if !debug {
		// As vindex serve logs: JSON lines to a file (its standard error).
		f, err := os.Create(filepath.Join(e.dir, "server.log"))
		if err != nil {
			t.Fatal(err)
		}
		bl := bufferedlog.New(f, slog.LevelInfo, 200*time.Millisecond)
		t.Cleanup(func() { bl.Close(); f.Close() })
		logger = bl.Logger
	}
	if e.store, err = pebblestore.Open(filepath.Join(e.dir, "data"), storeOptions(logger, debug)); err != nil {
		t.Fatal(err)
	}
	h, err := keys.Create()
	if err != nil {
		t.Fatal(err)
	}
	if e.ps, err = pseudonym.New(h); err != nil {
		t.Fatal(err)
	}
	// Every layer's metrics on one registry, as vindex serve has them.
	e.metrics = httpapi.NewMetrics()
	domain := matcher.NewMetrics()
	var insts []string
	for _, inst := range e.cov.Institutions {
		insts = append(insts, inst.ID)
	}
	e.polls = notify.NewPollBacklog(e.store, insts, time.Hour)
	registry := prometheus.NewPedanticRegistry()
	registry.MustRegister(e.metrics, domain, e.store.Collector(), e.polls)
	e.metricsHandler = promhttp.HandlerFor(registry, promhttp.HandlerOpts{})
	refs := testkeys.Sealer(t)
	if e.m, err = matcher.New(matcher.Config{Store: e.store, Pseudonymiser: e.ps, ClientRefs: refs, Covenant: e.cov, Logger: logger, Observer: domain,
		Blind: blind}); err != nil {
		t.Fatal(err)
	}

	var lines []string
	for _, inst := range []string{school, wij, ggd, other, municipality, hogeland} {
		tok, line := httpapi.NewToken(inst)
		e.tokens[inst] = tok
		lines = append(lines, line)
	}
	tokenFile := filepath.Join(e.dir, "tokens")
	if err := os.WriteFile(tokenFile, []byte("# test tokens\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := httpapi.LoadTokens(tokenFile, e.cov, logger)
	if err != nil {
		t.Fatal(err)
	}

	skey, _, err := audit.GenerateKey("vindex.test/audit")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if e.audit, err = audit.Open(context.Background(), e.store, signer); err != nil {
		t.Fatal(err)
	}
	handler, err := httpapi.New(httpapi.Config{
		Matcher: e.m, Covenant: e.cov, Tokens: tokens, Metrics: e.metrics, Logger: logger,
		Polled:          e.polls.Polled,
		Ready:           func(ctx context.Context) error { return e.store.Check(ctx) },
		AuditCheckpoint: func() []byte { return e.audit.Latest().Text },
	})
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := e.ca.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(handler)
	e.srv.TLS = httpapi.TLSConfig(serverCert, e.ca.Pool())
	// The server as vindex serve makes it: its timeouts and error log.
	e.srv.Config = httpapi.NewServer("", handler, e.srv.TLS, logger)
	if e.tune != nil {
		e.tune(e.srv.Config)
	}
	e.srv.StartTLS()
	t.Cleanup(func() {
		e.srv.Close()
		e.store.Close()
	})
	e.checker = newContract(t, e.srv.URL)

	client := func(certs ...tls.Certificate) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.Pool(), Certificates: certs}, MaxIdleConnsPerHost: 8}
		return &http.Client{Transport: e.checker.wrap(tr), Timeout: 30 * time.Second}
	}
	e.clients["token"] = client()
	e.clients["cert:"+wij] = client(wijCert)
	e.clients["cert:unpinned"] = client(unpinned)
	// Go's client sends a certificate only if a CA the server names issued
	// it; this one is sent whatever the server asks for.
	rogueTr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.Pool(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &rogue, nil }}}
	e.clients["cert:rogue"] = &http.Client{Transport: e.checker.wrap(rogueTr), Timeout: 30 * time.Second}
	return e
}

// as is who makes a request: a token of an institution, a client
// certificate, both, or nothing.
type as struct {
	token  string // institution whose token is sent
	cert   string // client key in env.clients, "" for the token client
	rawTok string // a literal Authorization header value
}

func byToken(inst string) as { return as{token: inst} }
func byCert(inst string) as  { return as{cert: "cert:" + inst} }

var anonymous = as{}

type response struct {
	status  int
	header  http.Header
	body    []byte
	problem httpapi.Problem
}

// scrape reads the metrics as a scraper of vindex serve's metrics listener
// would.
func (e *env) scrape() response {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.metricsHandler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return response{status: rec.Code, body: rec.Body.Bytes()}
}

func (e *env) do(who as, method, path string, body any, hdr ...string) response {
	e.t.Helper()
	r, err := e.try(who, method, path, body, hdr...)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (e *env) try(who as, method, path string, body any, hdr ...string) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	if who.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[who.token])
	}
	if who.rawTok != "" {
		req.Header.Set("Authorization", who.rawTok)
	}
	c := e.clients["token"]
	if who.cert != "" {
		c = e.clients[who.cert]
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	out := response{status: resp.StatusCode, header: resp.Header}
	if out.body, err = io.ReadAll(resp.Body); err != nil {
		return response{}, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		if err := json.Unmarshal(out.body, &out.problem); err != nil {
			return response{}, fmt.Errorf("problem body: %v: %s", err, out.body)
		}
	}
	return out, nil
}

func decodeAs[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, r.body)
	}
	return v
}

// bsn returns a distinct valid test BSN for each n.
func bsn(t testing.TB, n int) string { return testbsn.For(10000000, n) }

func report(t testing.TB, n int, kind string) httpapi.RegistrationRequest {
	r := httpapi.RegistrationRequest{
		BSN: bsn(t, n), BirthDate: "2014-05-17", Municipality: "GM0014", Kind: kind,
		Contact: httpapi.ContactJSON{Name: "A. Jansen", Phone: "050-1234567"},
	}
	if kind == "signal" {
		r.Code = "S01"
	}
	return r
}

// contract checks every request and response that passes through a client
// against the OpenAPI document.
type contract struct {
	t      testing.TB
	router routers.Router
	mu     sync.Mutex
	seen   map[string]int // operationId → responses checked
	errs   []string
}

func newContract(t testing.TB, serverURL string) *contract {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not valid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: serverURL}}
	// The subject-access letter may be asked for as text/html, a string
	// like text/plain (which the checker knows already).
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &contract{t: t, router: router, seen: map[string]int{}}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, e := range c.errs {
			t.Error(e)
		}
	})
	return c
}

func (c *contract) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		var reqBody []byte
		if req.Body != nil {
			var err error
			if reqBody, err = io.ReadAll(req.Body); err != nil {
				return nil, err
			}
			req.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		respBody, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(respBody))
		c.check(req, reqBody, resp, respBody)
		return resp, nil
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (c *contract) fail(format string, args ...any) {
	c.mu.Lock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

func (c *contract) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			c.fail("%s %s: not in openapi.yaml (%v) but answered %d", req.Method, req.URL.Path, err, resp.StatusCode)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if reqErr != nil && resp.StatusCode < 300 {
		c.fail("%s %s: answered %d to a request openapi.yaml rejects: %v", req.Method, req.URL.Path, resp.StatusCode, reqErr)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(respBody)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.fail("%s %s: response %d does not match openapi.yaml: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, respBody)
	}
	c.mu.Lock()
	c.seen[route.Operation.OperationID]++
	c.mu.Unlock()
}

func storeOptions(logger *slog.Logger, small bool) *pebblestore.Options {
	if small {
		return &pebblestore.Options{Logger: logger, CacheSize: 8 << 20, MemTableSize: 4 << 20}
	}
	return &pebblestore.Options{Logger: logger} // the defaults, as vindex serve runs
}
