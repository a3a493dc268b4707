package oprf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxBodySize bounds the JSON bodies of POST /v1/evaluate, request and
// response: MaxBatch elements of 44 base64 characters, quoted and separated
// (47 bytes each, 48,128 in all), a proof and the field names fit in it
// with room for white space.
const MaxBodySize = 64 << 10

// EvaluateRequest is the body of the key holder's POST /v1/evaluate:
//
//	{"blinded": ["<base64 of 32 bytes>", ...]}
//
// with 1 to MaxBatch blinded elements.
type EvaluateRequest struct {
	Blinded []Element `json:"blinded"`
}

// EvaluateResponse is the key holder's answer to POST /v1/evaluate:
//
//	{"evaluated": ["<base64 of 32 bytes>", ...], "proof": "<base64 of 64 bytes>"}
//
// with the evaluated elements in the order of the request's.
type EvaluateResponse struct {
	Evaluated []Element `json:"evaluated"`
	Proof     Proof     `json:"proof"`
}

// DecodeEvaluateRequest reads an EvaluateRequest strictly: one JSON object
// of at most MaxBodySize bytes with exactly the field "blinded" (no other,
// no repeat, names matched exactly), holding 1 to MaxBatch elements each
// in canonical base64. A bad element is ErrInvalidElement, a wrong count
// ErrBatchSize, anything else ErrBody.
func DecodeEvaluateRequest(r io.Reader) (EvaluateRequest, error) {
	var req EvaluateRequest
	if err := decodeObject(r, map[string]any{"blinded": &req.Blinded}); err != nil {
		return EvaluateRequest{}, err
	}
	if _, err := elements(req.Blinded); err != nil {
		return EvaluateRequest{}, err
	}
	return req, nil
}

// DecodeEvaluateResponse reads an EvaluateResponse as strictly as
// DecodeEvaluateRequest: exactly the fields "evaluated" (1 to MaxBatch
// elements) and "proof". A bad proof is ErrInvalidProof. That the count
// matches the request is Finish's to check.
func DecodeEvaluateResponse(r io.Reader) (EvaluateResponse, error) {
	var resp EvaluateResponse
	err := decodeObject(r, map[string]any{"evaluated": &resp.Evaluated, "proof": &resp.Proof})
	if err != nil {
		return EvaluateResponse{}, err
	}
	if _, err := elements(resp.Evaluated); err != nil {
		return EvaluateResponse{}, err
	}
	if resp.Proof.IsZero() {
		return EvaluateResponse{}, ErrInvalidProof
	}
	return resp, nil
}

// decodeObject reads one JSON object whose fields are exactly those of
// fields, each once, into their targets, and nothing after it.
func decodeObject(r io.Reader, fields map[string]any) error {
	lr := &io.LimitedReader{R: r, N: MaxBodySize + 1}
	dec := json.NewDecoder(lr)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return bodyError(lr, err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bodyError(lr, err)
		}
		name, _ := tok.(string)
		target, ok := fields[name]
		if !ok || seen[name] {
			return fmt.Errorf("%w: unknown or repeated field", ErrBody)
		}
		seen[name] = true
		if err := dec.Decode(target); err != nil {
			if errors.Is(err, ErrInvalidElement) || errors.Is(err, ErrInvalidProof) {
				return err
			}
			return bodyError(lr, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return bodyError(lr, err)
	}
	if len(seen) != len(fields) {
		return fmt.Errorf("%w: missing field", ErrBody)
	}
	if _, err := dec.Token(); err != io.EOF || lr.N <= 0 {
		return bodyError(lr, err)
	}
	return nil
}

// bodyError is ErrBody, saying whether the body was too large. The JSON
// decoder's own message is left out: it can quote the body.
func bodyError(lr *io.LimitedReader, _ error) error {
	if lr.N <= 0 {
		return fmt.Errorf("%w: larger than %d bytes", ErrBody, MaxBodySize)
	}
	return ErrBody
}
