package keyholder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/vindex-nl/vindex/crypto/oprf"
)

// DefaultElementsPerSecond is Config.ElementsPerSecond's default: each
// client's sustained rate in evaluated elements.
const DefaultElementsPerSecond = 100

// ErrConfig is returned by New for a Config it cannot use.
var ErrConfig = errors.New("keyholder: config")

// Config is the configuration of a Handler. Key and Tokens are required;
// every other field's zero value means its documented default.
type Config struct {
	// Key is the key holder's private key.
	Key *oprf.PrivateKey
	// Tokens are the bearer tokens that may evaluate.
	Tokens *Tokens
	// ElementsPerSecond is each client's sustained rate, in elements
	// evaluated (a batch of 64 counts 64). Zero: DefaultElementsPerSecond.
	ElementsPerSecond float64
	// Burst is how many elements a client may have evaluated at once,
	// after a pause. Zero: oprf.MaxBatch; it may not be less, so that a
	// full batch can always pass.
	Burst int
	// Metrics count requests and evaluations. If nil, nothing is counted.
	Metrics *Metrics
	// Logger receives the access log, one line per request. If nil, log
	// lines are discarded.
	Logger *slog.Logger
}

// Validate says what is wrong with c, if anything.
func (c Config) Validate() error {
	var errs []error
	if c.Key == nil {
		errs = append(errs, fmt.Errorf("%w: Key is required", ErrConfig))
	}
	if c.Tokens == nil {
		errs = append(errs, fmt.Errorf("%w: Tokens are required: an evaluator open to anyone lets anyone compute the table of all BSNs", ErrConfig))
	}
	if c.ElementsPerSecond < 0 || math.IsNaN(c.ElementsPerSecond) || math.IsInf(c.ElementsPerSecond, 0) {
		errs = append(errs, fmt.Errorf("%w: ElementsPerSecond must be a positive number (0: %d)", ErrConfig, DefaultElementsPerSecond))
	}
	if c.Burst != 0 && c.Burst < oprf.MaxBatch {
		errs = append(errs, fmt.Errorf("%w: Burst must be at least %d (oprf.MaxBatch), or 0 for that", ErrConfig, oprf.MaxBatch))
	}
	return errors.Join(errs...)
}

// Handler is the key holder's http.Handler (see the package doc for its
// endpoints). Safe for concurrent use.
type Handler struct {
	key       *oprf.PrivateKey
	publicKey []byte // the body of GET /v1/public-key
	tokens    *Tokens
	metrics   *Metrics
	log       *slog.Logger

	rate  rate.Limit
	burst int
	mu    sync.Mutex
	// limits holds a token bucket per authenticated client: it grows only
	// with the names of the token file.
	limits map[string]*rate.Limiter
}

var _ http.Handler = (*Handler)(nil)

// PublicKeyResponse is the body of GET /v1/public-key.
type PublicKeyResponse struct {
	// PublicKey is pkS = k·G, standard padded base64 of its 32 bytes.
	PublicKey oprf.PublicKey `json:"public_key"`
	// KeyID names the key (KeyID).
	KeyID string `json:"key_id"`
}

// KeyID names a public key: the first 16 hex digits of the SHA-256 of its
// 32 bytes (oprf.KeyID). It is for people and logs; clients check proofs
// against the whole key.
func KeyID(pub oprf.PublicKey) string { return oprf.KeyID(pub) }

// New returns the handler of c.
func New(c Config) (*Handler, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.ElementsPerSecond == 0 {
		c.ElementsPerSecond = DefaultElementsPerSecond
	}
	if c.Burst == 0 {
		c.Burst = oprf.MaxBatch
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	pub := c.Key.Public()
	body, err := json.Marshal(PublicKeyResponse{PublicKey: pub, KeyID: KeyID(pub)})
	if err != nil {
		return nil, fmt.Errorf("keyholder: public key: %w", err)
	}
	return &Handler{key: c.Key, publicKey: body, tokens: c.Tokens, metrics: c.Metrics, log: c.Logger,
		rate: rate.Limit(c.ElementsPerSecond), burst: c.Burst, limits: map[string]*rate.Limiter{}}, nil
}

// outcome is what the access log and the metrics say of a request.
type outcome struct {
	status int
	code   string // codeOK or a problem code
	client string
	batch  int
}

// refused is the outcome of a refusal, written to w.
func refused(w http.ResponseWriter, p *Problem, client string) outcome {
	writeProblem(w, p)
	return outcome{status: p.Status, code: p.Code, client: client}
}

// ServeHTTP routes the request and writes its access-log line: the route
// (never the path a client sent, which could hold anything), status,
// code, client, batch size and duration.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.TLS != nil {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000")
	}
	w.Header().Set("Cache-Control", "no-store")
	route := r.URL.Path
	var o outcome
	switch route {
	case "/v1/evaluate":
		o = h.onlyMethod(w, r, http.MethodPost, h.evaluate)
	case "/v1/public-key":
		o = h.onlyMethod(w, r, http.MethodGet, h.servePublicKey)
	case "/healthz":
		o = h.onlyMethod(w, r, http.MethodGet, healthz)
	default:
		route = "unmatched"
		o = refused(w, problem(http.StatusNotFound, CodeNotFound, "no such endpoint: the key holder serves POST /v1/evaluate, GET /v1/public-key and GET /healthz"), "")
	}
	d := time.Since(start)
	h.metrics.request(o.code, o.batch, d)
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", methodName(r.Method)), slog.String("route", route), slog.Int("status", o.status),
		slog.String("code", o.code), slog.String("client", o.client), slog.Int("batch", o.batch), slog.Duration("duration", d))
}

// methodName is the method for the log: one of HTTP's, else "other".
func methodName(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// onlyMethod serves r with f if its method is method (GET allows HEAD).
func (h *Handler) onlyMethod(w http.ResponseWriter, r *http.Request, method string, f func(http.ResponseWriter, *http.Request) outcome) outcome {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return f(w, r)
	}
	allow := method
	if method == http.MethodGet {
		allow = "GET, HEAD"
	}
	w.Header().Set("Allow", allow)
	return refused(w, problem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "this endpoint answers "+allow+" only"), "")
}

func healthz(w http.ResponseWriter, _ *http.Request) outcome {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
	return outcome{status: http.StatusOK, code: codeOK}
}

func (h *Handler) servePublicKey(w http.ResponseWriter, _ *http.Request) outcome {
	writeJSON(w, h.publicKey)
	return outcome{status: http.StatusOK, code: codeOK}
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// evaluate serves POST /v1/evaluate: authenticate, read the body
// strictly, take the batch from the client's bucket, evaluate, answer.
func (h *Handler) evaluate(w http.ResponseWriter, r *http.Request) outcome {
	client, p := h.authenticate(r)
	if p != nil {
		return refused(w, p, "")
	}
	req, p := readRequest(w, r)
	if p != nil {
		return refused(w, p, client)
	}
	n := len(req.Blinded)
	if wait := h.take(client, n, time.Now()); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(wait.Seconds())), 1)))
		return refused(w, problem(http.StatusTooManyRequests, CodeRateLimited, "over this client's rate of evaluated elements; retry after Retry-After seconds"), client)
	}
	evaluated, proof, err := oprf.Evaluate(h.key, req.Blinded)
	if err != nil {
		// oprf's errors never quote an element.
		h.log.Error("evaluate failed", slog.String("error", err.Error()))
		return refused(w, problem(http.StatusInternalServerError, CodeInternal, "internal error; it has been logged"), client)
	}
	b, err := json.Marshal(oprf.EvaluateResponse{Evaluated: evaluated, Proof: proof})
	if err != nil {
		h.log.Error("encoding the answer failed", slog.String("error", err.Error()))
		return refused(w, problem(http.StatusInternalServerError, CodeInternal, "internal error; it has been logged"), client)
	}
	writeJSON(w, b)
	return outcome{status: http.StatusOK, code: codeOK, client: client, batch: n}
}

// authenticate returns the client of the request's bearer token.
func (h *Handler) authenticate(r *http.Request) (string, *Problem) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", problem(http.StatusUnauthorized, CodeUnauthenticated, "a bearer token is required (Authorization: Bearer TOKEN)")
	}
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", problem(http.StatusUnauthorized, CodeUnauthenticated, "the Authorization header must be: Bearer TOKEN")
	}
	client, ok := h.tokens.Authenticate(token)
	if !ok {
		return "", problem(http.StatusUnauthorized, CodeInvalidToken, "this token is not accepted")
	}
	return client, nil
}

// readRequest reads the body of POST /v1/evaluate: application/json, at
// most oprf.MaxBodySize bytes, decoded by oprf.DecodeEvaluateRequest.
func readRequest(w http.ResponseWriter, r *http.Request) (oprf.EvaluateRequest, *Problem) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return oprf.EvaluateRequest{}, problem(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "the body must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, oprf.MaxBodySize))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return oprf.EvaluateRequest{}, problem(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("the body is larger than %d bytes", oprf.MaxBodySize))
		}
		return oprf.EvaluateRequest{}, problem(http.StatusBadRequest, CodeInvalidBody, "the body could not be read")
	}
	req, err := oprf.DecodeEvaluateRequest(bytes.NewReader(body))
	switch {
	case err == nil:
		return req, nil
	case errors.Is(err, oprf.ErrInvalidElement):
		return req, problem(http.StatusBadRequest, CodeInvalidElement, "an element is not the canonical standard base64 of a ristretto255 element other than the identity")
	case errors.Is(err, oprf.ErrBatchSize) && !emptyBatch(body):
		return req, problem(http.StatusRequestEntityTooLarge, CodeBatchTooLarge, fmt.Sprintf("a batch holds at most %d elements", oprf.MaxBatch))
	case errors.Is(err, oprf.ErrBatchSize):
		return req, problem(http.StatusBadRequest, CodeInvalidBody, "a batch holds at least one element")
	}
	return req, problem(http.StatusBadRequest, CodeInvalidBody, `the body must be {"blinded": [1 to `+strconv.Itoa(oprf.MaxBatch)+` elements in standard base64]}, and nothing else`)
}

// emptyBatch reports whether a body that oprf refused for its batch size
// has no element (else it has too many).
func emptyBatch(body []byte) bool {
	var v struct{ Blinded []json.RawMessage }
	return json.Unmarshal(body, &v) == nil && len(v.Blinded) == 0
}

// take takes n elements from client's bucket at now; if they are not
// there, it takes nothing and returns how long to wait.
func (h *Handler) take(client string, n int, now time.Time) time.Duration {
	h.mu.Lock()
	l, ok := h.limits[client]
	if !ok {
		l = rate.NewLimiter(h.rate, h.burst)
		h.limits[client] = l
	}
	h.mu.Unlock()
	res := l.ReserveN(now, n)
	if !res.OK() {
		return time.Hour // unreachable: Burst is at least oprf.MaxBatch
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}
