// Package httpapi is vindex's thin JSON-over-HTTPS interface: it
// authenticates the calling institution (a TLS client certificate pinned in
// the covenant, or a bearer token), decodes and validates the request, calls
// the matcher, and encodes the answer. It holds no domain logic.
//
// # Contract
//
// The OpenAPI 3.1 document served at /openapi.yaml (the file openapi.yaml
// in this package) is the contract; the package's tests check every
// handler's requests and responses against it. Errors are RFC 9457
// application/problem+json bodies with a stable Problem.Code. A request
// body is read exactly as the document describes it or refused: only the
// media type application/json, no member twice in an object and no name in
// another case than the document's (encoding/json alone would take the
// last of two, and "BSN" for "bsn").
//
// Over TLS (TLS 1.2 with ECDHE AEAD suites only, see TLSConfig) every
// answer carries Strict-Transport-Security.
//
// # What is never logged or exposed
//
// A BSN and a birth date appear only in request bodies, never in a URL or
// a query string (URLs end up in logs). The access log has one line per
// request with the method, the route pattern (not the path), the status,
// the duration and the institution; never a body, a path, a query, a token
// or a header. Error responses never quote a BSN or a birth date. The HTTP
// metrics (Metrics) are labelled only by route pattern and status class,
// and the rate-limit and report-rate ones by institution (one of the
// covenant's) and rate class: never a pseudonym, a registration ID or a
// contact.
//
// # Who may do what
//
// There is no anonymous access. An institution acts only on its own
// registrations; closing a case and removing a wrong registration need the
// coordinator role for that case; removal after an upheld objection (of
// one registration, or of a youth's by BSN: POST /v1/objections) and
// recording a death need the municipality role, and so does subject access
// (the registrations of a youth, and the letter that answers a request for
// access). Recording whether the parents or the youth were informed (PATCH
// /v1/registrations/{id}) and the informing letter (GET
// /v1/registrations/{id}/letter) are the registration's own institution's.
// Management figures (GET /v1/stats) are a municipality's, of its own
// municipality only.
// The matcher enforces these
// rules; the handler only maps its errors to statuses.
//
// # Rate limits
//
// Every authenticated route belongs to a rate class (rules.RateClass:
// reports, lookups, changes, events; see routes), and each institution has
// a token bucket per class, sized by the covenant (rate_limits, with
// rules.DefaultRateLimits). A call over its institution's limit is refused
// after authentication and before anything else is read or done:
// 429 with problem code rate_limited and Retry-After, the seconds (rounded
// up) until a token is free. One institution's flood, or one class's,
// never uses up another's.
package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the API.
func OpenAPI() []byte { return openAPI }

// DefaultMaxBodyBytes is the default limit on a request body.
const DefaultMaxBodyBytes = 16 << 10

// Config configures a Handler. Matcher and Covenant are required; the rest
// have documented defaults.
type Config struct {
	// Matcher does the work.
	Matcher *matcher.Matcher
	// Covenant maps client certificates to institutions (their pins) and
	// names institutions in answers. It must be the matcher's.
	Covenant *rules.Covenant
	// Tokens are the accepted bearer tokens. If nil, only client
	// certificates are accepted.
	Tokens *Tokens
	// Metrics records the request metrics. If nil, none are kept.
	Metrics *Metrics
	// Polled, if set, is told each institution's GET /v1/events position
	// (its after parameter), for the outbox backlog of polling clients
	// (notify.PollBacklog). It must be quick.
	Polled func(institution string, after uint64)
	// Ready reports whether the service can take requests (the store is
	// open, the keys are loaded); GET /readyz answers 503 while it returns
	// an error. If nil, always ready.
	Ready func(context.Context) error
	// Logger receives the access log (one Info line per request) and
	// internal errors. If nil, nothing is logged.
	Logger *slog.Logger
	// MaxBodyBytes limits a request body. If zero, DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// AuditCheckpoint returns the audit log's newest signed checkpoint
	// (a C2SP tlog-checkpoint note; nil before the first). GET
	// /v1/audit/checkpoint serves it to anyone, without credentials:
	// checkpoints are public by design, so that witnesses and auditors
	// can hold the log to them, and they say nothing but the log's size
	// and root. If nil, the route answers 404.
	AuditCheckpoint func() []byte
	// Location is the time zone of dates in requests (ends_on, on). If
	// nil, identity.DefaultLocation(): Europe/Amsterdam (UTC if the zone
	// database is missing).
	Location *time.Location
	// Leader, in a replicated deployment, names the node that leads now
	// ("" if none is known): a request refused because this node does not
	// lead (503 not_leader) names it in the problem's leader member. If
	// nil, no leader is named.
	Leader func() string
}

// Validate reports what is missing from c.
func (c *Config) Validate() error {
	var errs []error
	if c.Matcher == nil {
		errs = append(errs, errors.New("httpapi: Config.Matcher is required"))
	}
	if c.Covenant == nil {
		errs = append(errs, errors.New("httpapi: Config.Covenant is required"))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("httpapi: Config.MaxBodyBytes must not be negative"))
	}
	return errors.Join(errs...)
}

// Handler serves the API. It is an http.Handler; mount it at the root of a
// server (see NewServer for the timeouts it should have).
type Handler struct {
	m       *matcher.Matcher
	cov     *rules.Covenant
	pins    certPins
	tokens  *Tokens
	metrics *Metrics
	polled  func(institution string, after uint64)
	ready   func(context.Context) error
	log     *slog.Logger
	maxBody int64
	loc     *time.Location
	limits  *limiter
	mux     *http.ServeMux
	// checkpoint is Config.AuditCheckpoint.
	checkpoint func() []byte
	// leader is Config.Leader.
	leader func() string
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler for c.
func New(c Config) (*Handler, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{m: c.Matcher, cov: c.Covenant, pins: pinsOf(c.Covenant), tokens: c.Tokens, metrics: c.Metrics, polled: c.Polled, ready: c.Ready,
		log: c.Logger, maxBody: c.MaxBodyBytes, loc: c.Location, limits: newLimiter(c.Covenant), mux: http.NewServeMux(),
		checkpoint: c.AuditCheckpoint, leader: c.Leader}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.loc == nil {
		h.loc = identity.DefaultLocation()
	}
	if h.ready == nil {
		h.ready = func(context.Context) error { return nil }
	}

	h.serve(h.routes())
	return h, nil
}

// route is one endpoint of the API.
type route struct {
	method, path string
	handler      http.HandlerFunc
}

// routes is the API's route table; each authenticated route names its
// rate class. /metrics is not in it, and never
// served on the API's listener: whoever reaches the API port without
// credentials must not be able to make the service work (vindex serve
// serves the metrics on a listener of their own, metrics_listen).
func (h *Handler) routes() []route {
	return []route{
		{"POST", "/v1/registrations", h.api(rules.RateReports, h.register)},
		{"POST", "/v1/registrations/{id}/end", h.api(rules.RateChanges, h.end)},
		{"DELETE", "/v1/registrations/{id}", h.api(rules.RateChanges, h.remove)},
		{"PATCH", "/v1/registrations/{id}", h.api(rules.RateChanges, h.inform)},
		{"GET", "/v1/registrations/{id}/letter", h.api(rules.RateLookups, h.letter)},
		{"POST", "/v1/lookups", h.api(rules.RateLookups, h.lookup)},
		{"POST", "/v1/cases/close", h.api(rules.RateChanges, h.youthVerb(h.m.CloseCase))},
		{"POST", "/v1/cases/accept", h.api(rules.RateChanges, h.youthVerb(h.m.Accept))},
		{"POST", "/v1/cases/decline", h.api(rules.RateChanges, h.decline(h.declineCase))},
		{"POST", "/v1/cases/handover", h.api(rules.RateChanges, h.handover)},
		{"POST", "/v1/cases/handover/accept", h.api(rules.RateChanges, h.youthVerb(h.m.AcceptHandover))},
		{"POST", "/v1/cases/handover/decline", h.api(rules.RateChanges, h.decline(h.declineHandover))},
		{"POST", "/v1/cases/escalations", h.api(rules.RateChanges, h.escalate)},
		{"POST", "/v1/cases/plan", h.api(rules.RateChanges, h.plan)},
		{"POST", "/v1/cases/agreements", h.api(rules.RateChanges, h.agreement)},
		{"POST", "/v1/cases/agreements/done", h.api(rules.RateChanges, h.agreementDone)},
		{"POST", "/v1/deaths", h.api(rules.RateChanges, h.youthVerb(h.m.RecordDeath))},
		{"POST", "/v1/objections", h.api(rules.RateChanges, h.object)},
		{"POST", "/v1/subject-access", h.api(rules.RateLookups, h.subjectAccess)},
		{"GET", "/v1/events", h.api(rules.RateEvents, h.events)},
		{"GET", "/v1/stats", h.api(rules.RateLookups, h.stats)},
		{"GET", "/healthz", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, Health{Status: "ok"})
		}},
		{"GET", "/readyz", func(w http.ResponseWriter, r *http.Request) {
			if err := h.ready(r.Context()); err != nil {
				writeProblem(w, problem(http.StatusServiceUnavailable, CodeUnavailable, "", "not ready: "+err.Error()))
				return
			}
			writeJSON(w, http.StatusOK, Health{Status: "ready"})
		}},
		{"GET", "/v1/audit/checkpoint", h.auditCheckpoint},
		{"GET", "/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/yaml")
			w.Write(openAPI)
		}},
	}
}

// serve registers the routes; a known path with another method gets a
// 405 problem with Allow (GET allows HEAD too), any other path a 404.
func (h *Handler) serve(routes []route) {
	allow := map[string][]string{}
	for _, rt := range routes {
		h.mux.HandleFunc(rt.method+" "+rt.path, rt.handler)
		allow[rt.path] = append(allow[rt.path], rt.method)
		if rt.method == http.MethodGet {
			allow[rt.path] = append(allow[rt.path], http.MethodHead)
		}
	}
	for path, methods := range allow {
		allowed := strings.Join(methods, ", ")
		h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allowed)
			writeProblem(w, problem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "", "allowed here: "+allowed))
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problem(http.StatusNotFound, CodeNotFound, "", "no such resource"))
	})
}

// reqInfo is filled in while a request is served, for the access log.
type reqInfo struct{ institution string }

type infoKey struct{}

// hsts is the Strict-Transport-Security header every answer over TLS
// carries: browsers and clients that honour it use HTTPS only, for a year.
const hsts = "max-age=31536000"

// ServeHTTP serves the API, with the access log and the request metrics.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &reqInfo{}
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	if r.TLS != nil {
		w.Header().Set("Strict-Transport-Security", hsts)
	}
	sw := &statusWriter{ResponseWriter: w}
	h.mux.ServeHTTP(sw, r)
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	route := r.Pattern
	if route == "" || route == "/" {
		route = "unmatched"
	}
	d := time.Since(start)
	if h.metrics != nil {
		h.metrics.request(route, status, d)
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
		slog.Duration("duration", d), slog.String("institution", info.institution))
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// apiFunc serves one authenticated API call: it returns the value to encode
// as JSON with the status, or an error.
type apiFunc func(r *http.Request, actor matcher.Actor) (any, int, error)

// api serves an authenticated API call of rate class class with f: a call
// over the institution's limit is refused before f is called.
func (h *Handler) api(class rules.RateClass, f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		inst, credential, perr := h.authenticate(r)
		if perr != nil {
			writeProblem(w, perr)
			return
		}
		if info, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
			info.institution = inst
		}
		if !h.allow(w, inst, class) {
			return
		}
		v, status, err := f(r, matcher.Actor{Institution: inst, Credential: credential})
		if err != nil {
			p := toProblem(err)
			if p.p.Code == CodeNotLeader && h.leader != nil {
				p.p.Leader = h.leader()
			}
			if p.p.Status >= 500 && p.p.Code != CodeNotLeader {
				h.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
					slog.String("route", r.Pattern), slog.String("institution", inst), slog.String("error", err.Error()))
			}
			writeProblem(w, p)
			return
		}
		switch v := v.(type) {
		case nil:
			w.WriteHeader(status)
		case document:
			w.Header().Set("Content-Type", v.contentType)
			w.Header().Set("Content-Length", strconv.Itoa(len(v.body)))
			if v.vary != "" {
				w.Header().Set("Vary", v.vary)
			}
			w.WriteHeader(status)
			w.Write(v.body)
		default:
			writeJSON(w, status, v)
		}
	}
}

// document is an answer that is not JSON (a letter as text or HTML): a
// body and its media type; vary names the request header its form was
// chosen by, if any.
type document struct {
	contentType string
	body        []byte
	vary        string
}

// allow takes a token of inst's bucket of class, and reports whether the
// call may go on; if not, it has answered 429 with Retry-After. Reports
// are counted for the report rate whether or not they are allowed.
func (h *Handler) allow(w http.ResponseWriter, inst string, class rules.RateClass) bool {
	now := time.Now()
	if h.metrics != nil && class == rules.RateReports {
		h.metrics.reported(inst, now)
	}
	d := h.limits.wait(inst, class, now)
	if d == 0 {
		return true
	}
	if h.metrics != nil {
		h.metrics.rateLimited(inst, class)
	}
	secs := retryAfter(d)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeProblem(w, problem(http.StatusTooManyRequests, CodeRateLimited, "",
		fmt.Sprintf("your institution is over its rate limit for %s; nothing was done; retry after %d s", class, secs)))
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, problem(http.StatusInternalServerError, CodeInternal, "", "internal error"))
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// decode reads a JSON body into v: the media type must be application/json
// (parameters aside), the body at most the limit, one JSON object with only
// known fields, each once and in the case the document gives it (see
// checkStrict). An empty body is accepted when optional is true. Every
// request body is decoded here.
func (h *Handler) decode(r *http.Request, v any, optional bool) error {
	if r.ContentLength == 0 && optional {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" || !optional {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return problem(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "", "the body must be application/json")
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.maxBody))
	if err != nil {
		return decodeProblem(err, h.maxBody)
	}
	var se *strictError
	if err := checkStrict(b, reflect.TypeOf(v)); errors.As(err, &se) {
		return problem(http.StatusBadRequest, CodeInvalidJSON, se.Field, se.Detail)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errTrailing // exactly one value
		}
	}
	if err == io.EOF && optional {
		return nil
	}
	return decodeProblem(err, h.maxBody)
}

var errTrailing = errors.New("data after the JSON value")

// fieldName is what an unknown field must look like to be named in a
// problem.
var fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z_-]{0,39}$`)

func decodeProblem(err error, limit int64) error {
	if err == nil {
		return nil
	}
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return problem(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "", fmt.Sprintf("the body is larger than %d bytes", limit))
	case errors.As(err, &te):
		// The value itself is never quoted.
		return problem(http.StatusBadRequest, CodeMalformedJSON, te.Field, "field "+te.Field+" has the wrong JSON type; want "+te.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if !fieldName.MatchString(f) {
			// Not a field name a client would mean: it may be data (a BSN
			// used as a key), so it is not repeated.
			return problem(http.StatusBadRequest, CodeUnknownField, "", "the body has an unknown field")
		}
		return problem(http.StatusBadRequest, CodeUnknownField, f, "unknown field "+strconv.Quote(f))
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, errTrailing):
		return problem(http.StatusBadRequest, CodeMalformedJSON, "", "the body is not one JSON object")
	}
	return problem(http.StatusBadRequest, CodeMalformedJSON, "", "the body could not be read as JSON")
}

func (h *Handler) date(field, s string) (time.Time, error) { return parseDate(field, s, h.loc) }

// parseDate parses an optional YYYY-MM-DD date of the request field.
func parseDate(field, s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, problem(http.StatusBadRequest, CodeInvalidDate, field, field+" must be a date in the form YYYY-MM-DD")
	}
	return t, nil
}

// Registration turns the request into m's report, with dates in loc,
// checking the form of each field (the matcher checks the rest). The youth
// is named by the BSN, made into m's youth reference (Matcher.YouthByBSN).
// Its errors are *matcher.FieldError values or problems; none quotes a
// value. The idempotency key is the request's own; the header is the
// handler's business.
func (req *RegistrationRequest) Registration(m *matcher.Matcher, loc *time.Location) (matcher.Registration, error) {
	reg := matcher.Registration{SignalCode: req.Code, Urgent: req.Urgent, Sector: rules.Sector(req.Sector),
		Contact: matcher.Contact(req.Contact), IdempotencyKey: req.IdempotencyKey, ClientRef: req.ClientRef}
	var err error
	if reg.Youth, err = youthOf(m, req.BSN, req.Youth, req.YouthKey); err != nil {
		return reg, err
	}
	if req.BornIn != "" {
		t, perr := time.Parse("2006-01", req.BornIn)
		if perr != nil {
			return reg, &matcher.FieldError{Field: "born_in", Err: matcher.ErrBornIn}
		}
		reg.BornIn = t
	}
	if req.BirthDate != "" {
		if reg.BirthDate, err = identity.ParseBirthDate(req.BirthDate); err != nil {
			return reg, &matcher.FieldError{Field: "birth_date", Err: err}
		}
	}
	if req.Municipality != "" {
		if reg.Municipality, err = identity.ParseMunicipality(req.Municipality); err != nil {
			return reg, &matcher.FieldError{Field: "municipality", Err: err}
		}
	}
	switch req.Kind {
	case "signal":
		reg.Kind = matcher.Signal
	case "involvement":
		reg.Kind = matcher.Involvement
	default:
		return reg, &matcher.FieldError{Field: "kind", Err: matcher.ErrKind}
	}
	if reg.EndsOn, err = parseDate("ends_on", req.EndsOn, loc); err != nil {
		return reg, err
	}
	if reg.Inform, err = informOf(req.Informed, req.NotInformed, loc); err != nil {
		return reg, err
	}
	// Each mode refuses the other's family fields before parsing them, so
	// the code says which mode the index is in, not what was malformed.
	switch {
	case m.Blind() && len(req.Parents) > 0:
		return reg, &matcher.FieldError{Field: "parents", Err: matcher.ErrFamilyBlind}
	case m.Blind() && req.Address != nil:
		return reg, &matcher.FieldError{Field: "address", Err: matcher.ErrFamilyBlind}
	case !m.Blind() && len(req.ParentElements) > 0:
		return reg, &matcher.FieldError{Field: "parent_elements", Err: matcher.ErrYouthNotAccepted}
	case !m.Blind() && req.AddressElement != "":
		return reg, &matcher.FieldError{Field: "address_element", Err: matcher.ErrYouthNotAccepted}
	}
	if err := familyOf(&reg, req.Parents, req.Address); err != nil {
		return reg, err
	}
	return reg, familyElementsOf(&reg, req.ParentElements, req.AddressElement)
}

// familyElementsOf parses a blind request's parents' and address's
// elements into reg (the matcher refuses them in an hmac deployment). Its
// errors are *matcher.FieldError values that never quote a value.
func familyElementsOf(reg *matcher.Registration, parents []string, addr string) error {
	if len(parents) > matcher.MaxParents {
		return &matcher.FieldError{Field: "parent_elements", Err: matcher.ErrParentElements}
	}
	for _, s := range parents {
		var el oprf.Element
		if err := el.UnmarshalText([]byte(s)); err != nil {
			return &matcher.FieldError{Field: "parent_elements", Err: errors.Join(matcher.ErrParentElements, oprf.ErrInvalidElement)}
		}
		reg.ParentElements = append(reg.ParentElements, el)
	}
	if addr != "" {
		if err := reg.AddressElement.UnmarshalText([]byte(addr)); err != nil {
			return &matcher.FieldError{Field: "address_element", Err: errors.Join(matcher.ErrAddressElement, oprf.ErrInvalidElement)}
		}
	}
	return nil
}

// familyOf parses a request's parents and address into reg. Its errors
// are *matcher.FieldError values that never quote a value.
func familyOf(reg *matcher.Registration, parents []string, addr *AddressJSON) error {
	if len(parents) > matcher.MaxParents {
		return &matcher.FieldError{Field: "parents", Err: matcher.ErrParents}
	}
	for _, s := range parents {
		b, err := identity.ParseBSN(s)
		if err != nil {
			return &matcher.FieldError{Field: "parents", Err: errors.Join(matcher.ErrParents, err)}
		}
		reg.Parents = append(reg.Parents, b)
	}
	if addr == nil {
		return nil
	}
	a, err := identity.ParseAddress(addr.Postcode, addr.HouseNumber, addr.Addition)
	if err != nil {
		return &matcher.FieldError{Field: "address", Err: errors.Join(matcher.ErrAddress, err)}
	}
	reg.Address = &a
	return nil
}

// youthOf is the youth a request names: by BSN, or in a blind deployment
// (Matcher.Blind) by its element and the key holders' keys that made it
// (youthKey, needed while one of them replaces its key); each mode refuses
// the other's field (youth_key too in an hmac deployment). Its errors are
// *matcher.FieldError values that never quote the value.
func youthOf(m *matcher.Matcher, bsn, youth, youthKey string) (matcher.Youth, error) {
	switch {
	case m.Blind() && bsn != "":
		return matcher.Youth{}, &matcher.FieldError{Field: "bsn", Err: matcher.ErrBSNNotAccepted}
	case !m.Blind() && youth != "":
		return matcher.Youth{}, &matcher.FieldError{Field: "youth", Err: matcher.ErrYouthNotAccepted}
	case !m.Blind() && youthKey != "":
		return matcher.Youth{}, &matcher.FieldError{Field: "youth_key", Err: matcher.ErrYouthNotAccepted}
	case !m.Blind():
		return youthByBSN(m, bsn)
	case youth == "":
		return matcher.Youth{}, &matcher.FieldError{Field: "youth", Err: matcher.ErrMissingYouth}
	}
	var el oprf.Element
	if err := el.UnmarshalText([]byte(youth)); err != nil {
		return matcher.Youth{}, &matcher.FieldError{Field: "youth", Err: oprf.ErrInvalidElement}
	}
	return m.YouthByElementOf(el, youthKey)
}

// youthByBSN parses a request's BSN and makes it m's youth reference, which
// never prints it: the handlers pass on only the reference.
func youthByBSN(m *matcher.Matcher, s string) (matcher.Youth, error) {
	if s == "" {
		return matcher.Youth{}, &matcher.FieldError{Field: "bsn", Err: matcher.ErrMissingBSN}
	}
	b, err := identity.ParseBSN(s)
	if err != nil {
		return matcher.Youth{}, &matcher.FieldError{Field: "bsn", Err: err}
	}
	return m.YouthByBSN(b)
}

// birthDateOf parses the birth date of a request that names a youth to
// check it against (objection, subject access): required (bornOn), except
// in a blind deployment, which keeps no birth date and refuses one.
func birthDateOf(m *matcher.Matcher, s string) (identity.BirthDate, error) {
	switch {
	case m.Blind() && s != "":
		return identity.BirthDate{}, &matcher.FieldError{Field: "birth_date", Err: matcher.ErrBirthDateNotAccepted}
	case m.Blind():
		return identity.BirthDate{}, nil
	}
	return bornOn(s)
}

// bornOn parses a request's required birth date; its errors are
// *matcher.FieldError values for "birth_date" that never quote it.
func bornOn(s string) (identity.BirthDate, error) {
	if s == "" {
		return identity.BirthDate{}, &matcher.FieldError{Field: "birth_date", Err: matcher.ErrMissingBirthDate}
	}
	b, err := identity.ParseBirthDate(s)
	if err != nil {
		return identity.BirthDate{}, &matcher.FieldError{Field: "birth_date", Err: err}
	}
	return b, nil
}

func (h *Handler) registration(r *http.Request) (matcher.ID, error) {
	id, err := matcher.ParseID(r.PathValue("id"))
	if err != nil {
		// The same answer as for another institution's registration.
		return matcher.ID{}, matcher.ErrNotFound
	}
	return id, nil
}

func (h *Handler) register(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req RegistrationRequest
	if err := h.decode(r, &req, false); err != nil {
		return nil, 0, err
	}
	key := req.IdempotencyKey
	if hk := r.Header.Get("Idempotency-Key"); hk != "" {
		if key != "" && key != hk {
			return nil, 0, problem(http.StatusBadRequest, CodeIdempotencyConflict, "idempotency_key", "the Idempotency-Key header and the body's idempotency_key differ")
		}
		key = hk
	}
	reg, err := req.Registration(h.m, h.loc)
	if err != nil {
		return nil, 0, err
	}
	reg.IdempotencyKey = key
	res, err := h.m.Register(r.Context(), actor, reg)
	if err != nil {
		return nil, 0, err
	}
	out := RegistrationResponse{
		ViewResponse: h.view(matcher.View{ID: res.ID, Matched: res.Matched, Involved: res.Involved,
			Coordinator: res.Coordinator, NoCoordinator: res.NoCoordinator, ClientRef: res.ClientRef}),
		Refreshed: res.Refreshed, Replayed: res.Replayed,
	}
	status := http.StatusCreated
	if res.Refreshed || res.Replayed {
		status = http.StatusOK
	}
	return out, status, nil
}

func (h *Handler) end(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req EndRequest
	if err := h.decode(r, &req, true); err != nil {
		return nil, 0, err
	}
	on, err := h.date("on", req.On)
	if err != nil {
		return nil, 0, err
	}
	reason, err := matcher.ParseEndReason(req.Reason)
	if err != nil {
		return nil, 0, &matcher.FieldError{Field: "reason", Err: err}
	}
	id, err := h.registration(r)
	if err != nil {
		return nil, 0, err
	}
	if err := h.m.End(r.Context(), actor, id, on, reason); err != nil {
		return nil, 0, err
	}
	return nil, http.StatusNoContent, nil
}

func (h *Handler) remove(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req RemoveRequest
	if err := h.decode(r, &req, true); err != nil {
		return nil, 0, err
	}
	reason := req.Reason
	if q := r.URL.Query().Get("reason"); q != "" {
		if reason != "" && reason != q {
			return nil, 0, problem(http.StatusBadRequest, CodeInvalidReason, "reason", "the reason in the query and in the body differ")
		}
		reason = q
	}
	var rr matcher.RemoveReason
	switch reason {
	case "wrong":
		rr = matcher.RemoveWrong
	case "objection":
		rr = matcher.RemoveObjection
	default:
		return nil, 0, &matcher.FieldError{Field: "reason", Err: matcher.ErrRemoveReason}
	}
	id, err := h.registration(r)
	if err != nil {
		return nil, 0, err
	}
	if err := h.m.Remove(r.Context(), actor, id, rr); err != nil {
		return nil, 0, err
	}
	return nil, http.StatusNoContent, nil
}

// youthBody decodes a body that names one youth by BSN.
func (h *Handler) youthBody(r *http.Request) (matcher.Youth, error) {
	var req BSNRequest
	if err := h.decode(r, &req, false); err != nil {
		return matcher.Youth{}, err
	}
	return youthOf(h.m, req.BSN, req.Youth, req.YouthKey)
}

func (h *Handler) lookup(r *http.Request, actor matcher.Actor) (any, int, error) {
	youth, err := h.youthBody(r)
	if err != nil {
		return nil, 0, err
	}
	v, err := h.m.Lookup(r.Context(), actor, youth)
	if err != nil {
		return nil, 0, err
	}
	return h.view(v), http.StatusOK, nil
}

func (h *Handler) view(v matcher.View) ViewResponse {
	return ViewResponse{ID: v.ID.String(), Matched: v.Matched, Involved: h.parties(v.Involved),
		Coordinator: coordinator(v.Coordinator), NoCoordinator: v.NoCoordinator, ClientRef: v.ClientRef, Plan: planJSON(v.Plan),
		Coordination: coordinationJSON(v.Coordination)}
}

// youthVerb serves a call that changes a youth's case and answers 204.
func (h *Handler) youthVerb(verb func(context.Context, matcher.Actor, matcher.Youth) error) apiFunc {
	return func(r *http.Request, actor matcher.Actor) (any, int, error) {
		youth, err := h.youthBody(r)
		if err != nil {
			return nil, 0, err
		}
		if err := verb(r.Context(), actor, youth); err != nil {
			return nil, 0, err
		}
		return nil, http.StatusNoContent, nil
	}
}

func (h *Handler) events(r *http.Request, actor matcher.Actor) (any, int, error) {
	q := r.URL.Query()
	var after uint64
	limit := 100
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, 0, problem(http.StatusBadRequest, CodeInvalidParameter, "after", "after must be a sequence number (0 or more)")
		}
		after = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > matcher.MaxEvents {
			return nil, 0, problem(http.StatusBadRequest, CodeInvalidParameter, "limit", fmt.Sprintf("limit must be 1 to %d", matcher.MaxEvents))
		}
		limit = n
	}
	evs, err := h.m.Events(r.Context(), actor, after, limit)
	if err != nil {
		return nil, 0, err
	}
	if h.polled != nil {
		h.polled(actor.Institution, after)
	}
	out := EventsResponse{Events: make([]EventJSON, 0, len(evs)), Next: after}
	for _, e := range evs {
		ej := EventJSON{
			Seq: e.Seq, Type: e.Type.String(), At: e.At.UTC().Format(time.RFC3339),
			Registration: e.Registration.String(), Urgent: e.Urgent, Others: h.parties(e.Others),
			Coordinator: coordinator(e.Coordinator), Subject: e.Subject, Reason: e.Reason, ClientRef: e.ClientRef,
			Collapsed: e.Collapsed, Agreement: e.Agreement,
		}
		out.Events = append(out.Events, ej)
		out.Next = e.Seq
	}
	return out, http.StatusOK, nil
}

func (h *Handler) parties(ps []matcher.Party) []PartyJSON {
	out := make([]PartyJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, PartyJSON{Institution: p.Institution, Name: p.Name, Kind: p.Kind.String(),
			Contact: ContactJSON(p.Contact), Since: p.Since.UTC().Format(time.RFC3339)})
	}
	return out
}

func coordinator(c matcher.Coordinator) *CoordinatorJSON {
	if c.Institution == "" {
		return nil
	}
	return &CoordinatorJSON{Institution: c.Institution, Rule: c.Rule}
}

// auditCheckpoint serves the audit log's newest signed checkpoint, as
// text, to anyone: a copy of bytes in memory, so it costs no more than
// /healthz.
func (h *Handler) auditCheckpoint(w http.ResponseWriter, r *http.Request) {
	if h.checkpoint == nil {
		writeProblem(w, problem(http.StatusNotFound, CodeNotFound, "", "this server keeps no audit log"))
		return
	}
	text := h.checkpoint()
	if text == nil {
		writeProblem(w, problem(http.StatusServiceUnavailable, CodeNoCheckpoint, "", "the audit log has no checkpoint yet; one is signed at the first checkpoint interval after the first entry"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(text)
}
