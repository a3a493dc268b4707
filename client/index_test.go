package client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// Institutions of the example covenant the tests act as.
const (
	school       = "school-example-lyceum" // signal only
	wij          = "wij-groningen"         // coordinates; authenticates by client certificate
	ggd          = "ggd-groningen"
	municipality = "gemeente-groningen"
)

// index is a real vindex index: the httpapi handler over TLS (client
// certificates verified against a test CA, wij's pinned in the covenant),
// a Pebble store on disk, a fresh keyset, the example covenant, a token
// per institution. requests counts the requests that reached it and
// bodies keeps their bodies; logs is what it logged, at Debug level.
type index struct {
	URL      string
	ca       *pki.CA
	tokens   map[string]string
	wijCert  tls.Certificate
	requests atomic.Int64
	logs     canary.Log
	close    []func()
	mu       sync.Mutex
	bodies   [][]byte
}

// startIndex starts an index with its data in dir, blind or not. Stop
// stops it.
func startIndex(dir string, blind bool) (*index, error) {
	return startIndexLayer(dir, blind, matcher.Layer{})
}

// startIndexLayer is startIndex with a blind index's layer (a key holder's
// rotation).
func startIndexLayer(dir string, blind bool, layer matcher.Layer) (ix *index, err error) {
	ix = &index{tokens: map[string]string{}}
	defer func() {
		if err != nil {
			ix.Stop()
		}
	}()
	if ix.ca, err = pki.NewCA("test client CA"); err != nil {
		return nil, err
	}
	if ix.wijCert, err = ix.ca.Client(wij); err != nil {
		return nil, err
	}
	cov, err := os.ReadFile(filepath.Join("..", "examples", "covenant-groningen.yaml"))
	if err != nil {
		return nil, err
	}
	anchor := "  - id: " + wij + "\n"
	covText := strings.Replace(string(cov), anchor, anchor+"    client_certificates: [\""+httpapi.CertificatePin(ix.wijCert.Leaf)+"\"]\n", 1)
	c, err := rules.Load(strings.NewReader(covText), "covenant.yaml")
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(&ix.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := pebblestore.Open(filepath.Join(dir, "data"), &pebblestore.Options{Logger: logger, CacheSize: 8 << 20, MemTableSize: 4 << 20})
	if err != nil {
		return nil, err
	}
	ix.close = append(ix.close, func() { st.Close() })
	kh, err := keys.Create()
	if err != nil {
		return nil, err
	}
	ps, err := pseudonym.New(kh)
	if err != nil {
		return nil, err
	}
	rh, err := keys.CreateRefKeyset()
	if err != nil {
		return nil, err
	}
	refs, err := clientref.New(rh)
	if err != nil {
		return nil, err
	}
	m, err := matcher.New(matcher.Config{Store: st, Pseudonymiser: ps, ClientRefs: refs, Covenant: c, Logger: logger, Blind: blind, Layer: layer})
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, inst := range []string{school, wij, ggd, municipality} {
		tok, line := httpapi.NewToken(inst)
		ix.tokens[inst] = tok
		lines = append(lines, line)
	}
	tokenFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokenFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	tokens, err := httpapi.LoadTokens(tokenFile, c, logger)
	if err != nil {
		return nil, err
	}
	h, err := httpapi.New(httpapi.Config{Matcher: m, Covenant: c, Tokens: tokens, Logger: logger})
	if err != nil {
		return nil, err
	}
	serverCert, err := ix.ca.Server("127.0.0.1")
	if err != nil {
		return nil, err
	}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ix.requests.Add(1)
		b, _ := io.ReadAll(r.Body)
		ix.mu.Lock()
		ix.bodies = append(ix.bodies, b)
		ix.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		h.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(counted)
	srv.TLS = httpapi.TLSConfig(serverCert, ix.ca.Pool())
	srv.Config = httpapi.NewServer("", counted, srv.TLS, logger)
	srv.StartTLS()
	ix.close = append(ix.close, srv.Close)
	ix.URL = srv.URL
	return ix, nil
}

// Stop stops the index and closes its store.
func (ix *index) Stop() {
	for i := len(ix.close) - 1; i >= 0; i-- {
		ix.close[i]()
	}
	ix.close = nil
}

func newIndex(t testing.TB, blind bool) *index {
	t.Helper()
	return newIndexLayer(t, blind, matcher.Layer{})
}

func newIndexLayer(t testing.TB, blind bool, layer matcher.Layer) *index {
	t.Helper()
	ix, err := startIndexLayer(t.TempDir(), blind, layer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ix.Stop)
	return ix
}

// httpClient trusts the index's CA and presents certs.
func (ix *index) httpClient(certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ix.ca.Pool(), Certificates: certs}}}
}

// byToken is a Client of inst by its bearer token; byCert one of wij by
// its client certificate. b makes them blind.
func (ix *index) byToken(inst string, b *client.Blinder) *client.Client {
	return &client.Client{BaseURL: ix.URL, Token: ix.tokens[inst], HTTP: ix.httpClient(), Blinder: b}
}

func (ix *index) byCert(b *client.Blinder) *client.Client {
	return &client.Client{BaseURL: ix.URL, HTTP: ix.httpClient(ix.wijCert), Blinder: b}
}

// seen returns the request bodies that reached the index.
func (ix *index) seen() [][]byte {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return append([][]byte(nil), ix.bodies...)
}

// contract checks every request a Client makes and every answer it gets
// against the API description (openapi.yaml), failing t at the end.
type contract struct {
	router routers.Router
	mu     sync.Mutex
	errs   []string
	ops    map[string]int
}

func checkContract(t *testing.T, c *client.Client) *contract {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: c.BaseURL}}
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	k := &contract{router: router, ops: map[string]int{}}
	inner := c.HTTP.Transport
	c.HTTP.Transport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		var reqBody []byte
		if req.Body != nil {
			reqBody, _ = io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		resp, err := inner.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		respBody, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(respBody))
		k.check(req, reqBody, resp, respBody)
		return resp, nil
	})
	t.Cleanup(func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		for _, e := range k.errs {
			t.Error(e)
		}
	})
	return k
}

func (k *contract) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	fail := func(format string, args ...any) {
		k.mu.Lock()
		k.errs = append(k.errs, fmt.Sprintf(format, args...))
		k.mu.Unlock()
	}
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := k.router.FindRoute(vreq)
	if err != nil {
		fail("%s %s: not in openapi.yaml: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		fail("%s %s: the request does not match openapi.yaml: %v", req.Method, req.URL.Path, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		fail("%s %s: the answer %d does not match openapi.yaml: %v", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	k.mu.Lock()
	k.ops[route.Operation.OperationID]++
	k.mu.Unlock()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// apiError returns err's *client.APIError, or fails.
func apiError(t *testing.T, err error) *client.APIError {
	t.Helper()
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%v: not an *APIError", err)
	}
	return ae
}
