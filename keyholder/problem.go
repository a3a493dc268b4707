package keyholder

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Problem is an RFC 9457 problem detail, the body of every refusal (media
// type application/problem+json). Code is stable; Title and Detail may be
// reworded. Detail never quotes the request.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Code is the stable, machine-readable error code.
	Code string `json:"code"`
}

// ProblemTypePrefix is the prefix of every problem's type URI; the code
// follows it. It is vindex serve's, so a client reads both alike.
const ProblemTypePrefix = "urn:vindex:problem:"

// The stable problem codes.
const (
	CodeInvalidBody          = "invalid_body"           // 400: not the strict JSON body, or an empty batch
	CodeInvalidElement       = "invalid_element"        // 400: an element that is not a canonical, non-identity element
	CodeBatchTooLarge        = "batch_too_large"        // 413: more than oprf.MaxBatch elements
	CodeBodyTooLarge         = "body_too_large"         // 413: more than oprf.MaxBodySize bytes
	CodeUnsupportedMediaType = "unsupported_media_type" // 415: a body that is not application/json
	CodeUnauthenticated      = "unauthenticated"        // 401: no bearer token
	CodeInvalidToken         = "invalid_token"          // 401: a token the token file does not hold
	CodeRateLimited          = "rate_limited"           // 429: over the client's rate; Retry-After says when to retry
	CodeNotFound             = "not_found"              // 404: no such endpoint
	CodeMethodNotAllowed     = "method_not_allowed"     // 405: the endpoint exists; Allow names its method
	CodeInternal             = "internal"               // 500
)

// codeOK is the code label of a request that was answered.
const codeOK = "ok"

func problem(status int, code, detail string) *Problem {
	return &Problem{Type: ProblemTypePrefix + code, Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	b, err := json.Marshal(p)
	if err != nil {
		b = []byte(`{"type":"urn:vindex:problem:internal","title":"Internal Server Error","status":500,"code":"internal"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="vindex-keyholder"`)
	}
	w.WriteHeader(p.Status)
	w.Write(b)
}
