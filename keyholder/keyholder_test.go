package keyholder_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/testbsn"
	"github.com/vindex-nl/vindex/keyholder"
)

// env is a key holder behind a real TLS server.
type env struct {
	key     *oprf.PrivateKey
	srv     *httptest.Server
	token   string // client "vendor-a"
	token2  string // client "vendor-b"
	dir     string // where its token file is
	logs    *canary.Log
	metrics *keyholder.Metrics
}

func newEnv(t testing.TB, c keyholder.Config) *env {
	t.Helper()
	e := &env{key: oprf.GenerateKey(), dir: t.TempDir(), logs: &canary.Log{}, metrics: keyholder.NewMetrics()}
	var line, line2 string
	e.token, line = keyholder.NewToken("vendor-a")
	e.token2, line2 = keyholder.NewToken("vendor-b")
	path := filepath.Join(e.dir, "tokens")
	if err := os.WriteFile(path, []byte("# clients\n"+line+"\n"+line2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := keyholder.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	c.Key, c.Tokens, c.Metrics = e.key, tokens, e.metrics
	c.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := keyholder.New(c)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewTLSServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// do sends a request with body (a string as it is, anything else as JSON)
// and the token (none for "").
func (e *env) do(t testing.TB, method, path, token string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// publicKey fetches the served public key.
func (e *env) publicKey(t testing.TB) keyholder.PublicKeyResponse {
	t.Helper()
	resp, b := e.do(t, "GET", "/v1/public-key", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v1/public-key: %d %s", resp.StatusCode, b)
	}
	var pk keyholder.PublicKeyResponse
	if err := json.Unmarshal(b, &pk); err != nil {
		t.Fatal(err)
	}
	return pk
}

func bsns(t testing.TB, from, n int) []identity.BSN {
	t.Helper()
	out := make([]identity.BSN, n)
	for i := range out {
		b, err := identity.ParseBSN(testbsn.For(30000000, from+i))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// evaluate blinds bs, has the key holder evaluate them over HTTPS with
// token, and finishes against pub: the elements Y, and what went over the
// wire (for the canary).
func (e *env) evaluate(t testing.TB, token string, pub oprf.PublicKey, bs []identity.BSN) (ys, blinded, evaluated []oprf.Element) {
	t.Helper()
	st, blinded, err := oprf.Blind(bs...)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := e.do(t, "POST", "/v1/evaluate", token, oprf.EvaluateRequest{Blinded: blinded})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("POST /v1/evaluate: %d %s", resp.StatusCode, b)
	}
	ans, err := oprf.DecodeEvaluateResponse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	ys, err = oprf.Finish(st, ans.Evaluated, ans.Proof, pub)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return ys, blinded, ans.Evaluated
}

// A client blinds BSNs, has them evaluated over HTTPS, and verifies the
// proof against the public key the key holder serves; the same BSN gives
// the same Y with other blinds, and the proof fails under another key.
func TestEvaluateOverHTTPS(t *testing.T) {
	e := newEnv(t, keyholder.Config{})
	pk := e.publicKey(t)
	if !pk.PublicKey.Equal(e.key.Public()) || pk.KeyID != keyholder.KeyID(e.key.Public()) || len(pk.KeyID) != 16 {
		t.Fatalf("public key served: %+v", pk)
	}
	bs := bsns(t, 0, 64)
	ys, _, _ := e.evaluate(t, e.token, pk.PublicKey, bs)
	if len(ys) != len(bs) {
		t.Fatalf("%d elements for %d BSNs", len(ys), len(bs))
	}
	// One at a time, by another client: the same elements.
	for i := range 3 {
		one, _, _ := e.evaluate(t, e.token2, pk.PublicKey, bs[i:i+1])
		if !one[0].Equal(ys[i]) {
			t.Fatalf("BSN %d: another Y when evaluated alone", i)
		}
	}
	if ys[0].Equal(ys[1]) {
		t.Fatal("two BSNs, one Y")
	}
	// Against another key holder's public key the proof fails.
	st, blinded, _ := oprf.Blind(bs[0])
	_, b := e.do(t, "POST", "/v1/evaluate", e.token, oprf.EvaluateRequest{Blinded: blinded})
	ans, err := oprf.DecodeEvaluateResponse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oprf.Finish(st, ans.Evaluated, ans.Proof, oprf.GenerateKey().Public()); err == nil {
		t.Fatal("a proof verified under another key")
	}
	resp, body := e.do(t, "GET", "/healthz", "", nil)
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("/healthz: %d %q", resp.StatusCode, body)
	}
	if got := evaluations(t, e.metrics); got != 64+3+1 {
		t.Fatalf("vindex_keyholder_evaluations_total = %v, want 68", got)
	}
}

// evaluations reads vindex_keyholder_evaluations_total from m.
func evaluations(t testing.TB, m *keyholder.Metrics) float64 {
	t.Helper()
	mfs, err := registry(m).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "vindex_keyholder_evaluations_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no vindex_keyholder_evaluations_total")
	return 0
}

// Every refusal is a problem+json with its stable code and status, and is
// counted by code.
func TestRefusals(t *testing.T) {
	e := newEnv(t, keyholder.Config{})
	// An element whose base64 has a + or a /, to send in the URL alphabet.
	var one []oprf.Element
	var b64 []byte
	for !bytes.ContainsAny(b64, "+/") {
		_, one, _ = oprf.Blind(bsns(t, 0, 1)...)
		b64, _ = one[0].MarshalText()
	}
	tooMany := make([]string, oprf.MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = string(b64)
	}
	good := oprf.EvaluateRequest{Blinded: one}
	for _, tc := range []struct {
		name, method, path, token, contentType string
		body                                   any
		status                                 int
		code                                   string
	}{
		{"no token", "POST", "/v1/evaluate", "", "", good, 401, keyholder.CodeUnauthenticated},
		{"bad token", "POST", "/v1/evaluate", "vkh_not-a-token", "", good, 401, keyholder.CodeInvalidToken},
		{"basic auth", "POST", "/v1/evaluate", "-basic", "", good, 401, keyholder.CodeUnauthenticated},
		{"not JSON", "POST", "/v1/evaluate", e.token, "", "blinded", 400, keyholder.CodeInvalidBody},
		{"unknown field", "POST", "/v1/evaluate", e.token, "", `{"blinded":["` + string(b64) + `"],"bsn":"x"}`, 400, keyholder.CodeInvalidBody},
		{"trailing data", "POST", "/v1/evaluate", e.token, "", `{"blinded":["` + string(b64) + `"]} {}`, 400, keyholder.CodeInvalidBody},
		{"empty batch", "POST", "/v1/evaluate", e.token, "", `{"blinded":[]}`, 400, keyholder.CodeInvalidBody},
		{"bad element", "POST", "/v1/evaluate", e.token, "", `{"blinded":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]}`, 400, keyholder.CodeInvalidElement},
		{"URL base64", "POST", "/v1/evaluate", e.token, "", `{"blinded":["` + strings.NewReplacer("+", "-", "/", "_").Replace(string(b64)) + `"]}`, 400, keyholder.CodeInvalidElement},
		{"batch over MaxBatch", "POST", "/v1/evaluate", e.token, "", map[string]any{"blinded": tooMany}, 413, keyholder.CodeBatchTooLarge},
		{"body over MaxBodySize", "POST", "/v1/evaluate", e.token, "", `{"blinded":["` + strings.Repeat("A", oprf.MaxBodySize) + `"]}`, 413, keyholder.CodeBodyTooLarge},
		{"not application/json", "POST", "/v1/evaluate", e.token, "text/plain", good, 415, keyholder.CodeUnsupportedMediaType},
		{"GET evaluate", "GET", "/v1/evaluate", e.token, "", nil, 405, keyholder.CodeMethodNotAllowed},
		{"POST public key", "POST", "/v1/public-key", e.token, "", good, 405, keyholder.CodeMethodNotAllowed},
		{"unknown path", "GET", "/v1/evaluate/111222333", e.token, "", nil, 404, keyholder.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := e.request(t, tc.method, tc.path, tc.body)
			switch {
			case tc.token == "-basic":
				req.SetBasicAuth("vendor-a", e.token)
			case tc.token != "":
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, b := e.send(t, req)
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %s %s, want %d problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), b, tc.status)
			}
			var p keyholder.Problem
			if err := json.Unmarshal(b, &p); err != nil || p.Code != tc.code || p.Status != tc.status || p.Type != keyholder.ProblemTypePrefix+tc.code {
				t.Fatalf("problem %s (%v), want code %s", b, err, tc.code)
			}
			if bytes.Contains(b, b64) {
				t.Fatalf("the problem quotes the element: %s", b)
			}
			switch tc.status {
			case 401:
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			case 405:
				if resp.Header.Get("Allow") == "" {
					t.Fatal("405 without Allow")
				}
			}
		})
	}
	if got := evaluations(t, e.metrics); got != 0 {
		t.Fatalf("refusals evaluated %v elements", got)
	}
	byCode := requestsByCode(t, e.metrics)
	want := map[string]float64{keyholder.CodeUnauthenticated: 2, keyholder.CodeInvalidBody: 4, keyholder.CodeInvalidElement: 2,
		keyholder.CodeMethodNotAllowed: 2, keyholder.CodeInvalidToken: 1, keyholder.CodeBatchTooLarge: 1, keyholder.CodeBodyTooLarge: 1,
		keyholder.CodeUnsupportedMediaType: 1, keyholder.CodeNotFound: 1, "ok": 0, keyholder.CodeRateLimited: 0, keyholder.CodeInternal: 0}
	for code, n := range want {
		if byCode[code] != n {
			t.Errorf("vindex_keyholder_requests_total{code=%q} = %v, want %v", code, byCode[code], n)
		}
	}
	if len(byCode) != len(want) {
		t.Errorf("vindex_keyholder_requests_total has codes %v, want those of %v", byCode, want)
	}
	if !strings.Contains(e.logs.String(), `"route":"unmatched"`) || strings.Contains(e.logs.String(), "111222333") {
		t.Fatalf("the access log names a path a client sent:\n%s", e.logs.String())
	}
}

// requestsByCode reads vindex_keyholder_requests_total by its code label.
func requestsByCode(t *testing.T, m *keyholder.Metrics) map[string]float64 {
	t.Helper()
	mfs, err := registry(m).Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "vindex_keyholder_requests_total" {
			continue
		}
		for _, x := range mf.GetMetric() {
			out[x.GetLabel()[0].GetValue()] = x.GetCounter().GetValue()
		}
	}
	return out
}

func registry(m *keyholder.Metrics) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(m)
	return r
}

func (e *env) request(t *testing.T, method, path string, body any) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func (e *env) send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// Each client has its own bucket of elements: one over its rate is
// refused with Retry-After, the other is not held up.
func TestRateLimitPerClient(t *testing.T) {
	e := newEnv(t, keyholder.Config{ElementsPerSecond: 0.01})
	pub := e.key.Public()
	e.evaluate(t, e.token, pub, bsns(t, 0, oprf.MaxBatch)) // the whole burst
	_, one, _ := oprf.Blind(bsns(t, 0, 1)...)
	resp, b := e.do(t, "POST", "/v1/evaluate", e.token, oprf.EvaluateRequest{Blinded: one})
	if resp.StatusCode != 429 || !strings.Contains(string(b), keyholder.CodeRateLimited) {
		t.Fatalf("over the rate: %d %s", resp.StatusCode, b)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	e.evaluate(t, e.token2, pub, bsns(t, 0, 1))
}

func TestConfigValidate(t *testing.T) {
	tokens := func() *keyholder.Tokens {
		_, line := keyholder.NewToken("a")
		p := filepath.Join(t.TempDir(), "tokens")
		os.WriteFile(p, []byte(line+"\n"), 0o600)
		tk, err := keyholder.LoadTokens(p)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}()
	key := oprf.GenerateKey()
	for _, c := range []keyholder.Config{
		{Tokens: tokens},
		{Key: key},
		{Key: key, Tokens: tokens, ElementsPerSecond: -1},
		{Key: key, Tokens: tokens, Burst: oprf.MaxBatch - 1},
	} {
		if _, err := keyholder.New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	if _, err := keyholder.New(keyholder.Config{Key: key, Tokens: tokens}); err != nil {
		t.Fatal(err)
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	tok, line := keyholder.NewToken("vendor-a")
	write := func(content string, mode os.FileMode) string {
		p := filepath.Join(dir, strconv.Itoa(len(content))+mode.String())
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	for name, p := range map[string]string{
		"a token in the clear": write("vendor-a "+tok+"\n", 0o600),
		"short hash":           write("vendor-a sha256:abcd\n", 0o600),
		"three fields":         write(line+" x\n", 0o600),
		"no token":             write("# none yet\n", 0o600),
		"writable by others":   write(line+"\n", 0o666),
		"missing":              filepath.Join(dir, "missing"),
	} {
		_, err := keyholder.LoadTokens(p)
		if err == nil {
			t.Errorf("%s: loaded", name)
		} else if strings.Contains(err.Error(), tok) {
			t.Errorf("%s: the error quotes the token: %v", name, err)
		}
	}
	tk, err := keyholder.LoadTokens(write("\n# a comment\n"+line+"\n", 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := tk.Authenticate(tok); !ok || c != "vendor-a" || tk.Len() != 1 {
		t.Fatalf("Authenticate = %q, %v", c, ok)
	}
	if _, ok := tk.Authenticate(tok + "x"); ok {
		t.Fatal("another token accepted")
	}
	if !strings.HasPrefix(tok, keyholder.TokenPrefix) || keyholder.TokenHash(tok) != strings.Fields(line)[1] {
		t.Fatalf("token %q, line %q", tok, line)
	}
}

// needlesOf adds the forms of elements to look for: their bytes and their
// base64 (the wire form).
func needlesOf(n canary.Needles, name string, es []oprf.Element) {
	for i, x := range es {
		b, _ := x.MarshalBinary()
		t, _ := x.MarshalText()
		n[name+" "+strconv.Itoa(i)] = [][]byte{b, t}
	}
}

// TestCanaryLogs: after evaluations of known BSNs (answered and refused),
// neither the log at debug level nor the metrics hold a BSN, a blinded or
// evaluated element, a Y or a token; the scan finds one planted in the
// log.
func TestCanaryLogs(t *testing.T) {
	e := newEnv(t, keyholder.Config{})
	pub := e.publicKey(t).PublicKey
	needles := canary.Needles{}
	needles.Bytes("token", []byte(e.token))
	needles.Bytes("wrong token", []byte("vkh_wrong"))
	for round := range 4 {
		bs := bsns(t, 1000+round*16, 16)
		for i := range bs {
			needles.BSN("bsn "+strconv.Itoa(round*16+i), testbsn.For(30000000, 1000+round*16+i))
		}
		ys, blinded, evaluated := e.evaluate(t, e.token, pub, bs)
		needlesOf(needles, "blinded "+strconv.Itoa(round), blinded)
		needlesOf(needles, "evaluated "+strconv.Itoa(round), evaluated)
		needlesOf(needles, "Y "+strconv.Itoa(round), ys)
		// Refused with the elements in the body: logged too.
		e.do(t, "POST", "/v1/evaluate", "vkh_wrong", oprf.EvaluateRequest{Blinded: blinded})
		e.do(t, "POST", "/v1/evaluate", e.token, `{"blinded":[`+strings.Repeat(`"`+testbsn.For(30000000, 1000+round*16)+`",`, 2)+`]}`)
	}
	e.do(t, "GET", "/v1/evaluate/"+testbsn.For(30000000, 1000), "", nil)
	var metrics bytes.Buffer
	mfs, _ := registry(e.metrics).Gather()
	for _, mf := range mfs {
		metrics.WriteString(mf.String())
	}
	logs := e.logs.Bytes()
	if strings.Count(string(logs), `"msg":"request"`) != 14 || !strings.Contains(string(logs), `"batch":16`) {
		t.Fatalf("not one access-log line per request with its batch size: the scan would prove little\n%s", logs)
	}
	if found := needles.Scan("log", logs); len(found) > 0 {
		t.Fatalf("found in the key holder's log:\n%s", strings.Join(found, "\n"))
	}
	if found := needles.Scan("metrics", metrics.Bytes()); len(found) > 0 {
		t.Fatalf("found in the metrics:\n%s", strings.Join(found, "\n"))
	}
	// Positive control: a planted element and BSN are found.
	_, blinded, _ := oprf.Blind(bsns(t, 1000, 1)...)
	planted := canary.Needles{}
	needlesOf(planted, "planted", blinded)
	text, _ := blinded[0].MarshalText()
	if found := planted.Scan("log", append(logs, text...)); len(found) != 1 {
		t.Fatalf("the scan missed a planted element: %v", found)
	}
	if found := needles.Scan("log", append(logs, testbsn.For(30000000, 1000)...)); len(found) == 0 {
		t.Fatal("the scan missed a planted BSN")
	}
}

// BenchmarkEvaluateHTTPS is evaluations per second over HTTPS, client and
// key holder on this machine: the client's blinding is outside the timer,
// the request, the evaluation, the answer's decoding inside (not Finish).
func BenchmarkEvaluateHTTPS(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) {
			e := newEnv(b, keyholder.Config{ElementsPerSecond: 1e9})
			e.logs = nil
			_, blinded, err := oprf.Blind(bsns(b, 0, n)...)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := json.Marshal(oprf.EvaluateRequest{Blinded: blinded})
			client := e.srv.Client()
			b.ResetTimer()
			for b.Loop() {
				req, _ := http.NewRequest("POST", e.srv.URL+"/v1/evaluate", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+e.token)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, err = oprf.DecodeEvaluateResponse(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("%d %v", resp.StatusCode, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "evaluations/s")
		})
	}
}
