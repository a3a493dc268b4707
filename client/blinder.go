package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
)

// Sentinel errors of the Blinder.
var (
	// ErrConfig reports a Blinder that cannot work: no key holder, more
	// than two, one without a URL or public key.
	ErrConfig = errors.New("client: blinder configuration")
	// ErrKeyHolder reports a key holder that refused or failed (its
	// problem code in a *KeyHolderError), or answered something that is
	// not an evaluation of the request.
	ErrKeyHolder = errors.New("client: key holder")
)

// KeyHolder is one key holder a Blinder asks.
type KeyHolder struct {
	// URL is the key holder's base URL ("https://keyholder.example").
	URL string
	// Token is the bearer token the key holder gave this client.
	Token string
	// PublicKey is the key holder's public key, configured out of band
	// (never taken from the key holder's own answer): every evaluation's
	// proof is checked against it.
	PublicKey oprf.PublicKey
	// HTTP is the client to reach it with; nil: one with a 30 s timeout.
	HTTP *http.Client
}

// KeyHolderError is a refusal or failure of a key holder.
type KeyHolderError struct {
	// URL names the key holder.
	URL string
	// Status is the HTTP status; Code the problem's stable code, if the
	// answer was problem+json.
	Status int
	Code   string
	// RetryAfter is how long the key holder asked to wait before trying
	// again (its Retry-After header, with 429 rate_limited); zero if it
	// said nothing.
	RetryAfter time.Duration
}

func (e *KeyHolderError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("client: key holder %s: %d %s", e.URL, e.Status, e.Code)
	}
	return fmt.Sprintf("client: key holder %s: status %d", e.URL, e.Status)
}

// Is makes errors.Is(err, ErrKeyHolder) true.
func (e *KeyHolderError) Is(target error) bool { return target == ErrKeyHolder }

// Blinder turns BSNs into blind-mode elements. With one key holder the
// element is Y = k·H(x); with two (a split key) the client asks the first,
// blinds its result again with fresh blinds and asks the second, so that
// Y = k_B·k_A·H(x) and neither key holder alone can evaluate a BSN. A
// Blinder is safe for concurrent use.
type Blinder struct {
	// Holders are the key holders, asked in this order: one, or two.
	Holders []KeyHolder
}

// LayerID names the key holders' keys the Blinder's elements are made
// under (oprf.LayerID of their configured public keys): what a request
// sends as youth_key beside the element, so that an index in the middle of
// a key holder's rotation knows which key made it.
func (b *Blinder) LayerID() string {
	pubs := make([]oprf.PublicKey, len(b.Holders))
	for i, h := range b.Holders {
		pubs[i] = h.PublicKey
	}
	return oprf.LayerID(pubs...)
}

// Elements returns the element of each BSN, in order. BSNs are sent in
// batches of at most oprf.MaxBatch, each as an element blinded anew. It
// fails, returning nothing, if any key holder refuses or its proof does
// not verify.
func (b *Blinder) Elements(ctx context.Context, bsns ...identity.BSN) ([]oprf.Element, error) {
	ins := make([]oprf.Input, len(bsns))
	for i, bsn := range bsns {
		ins[i] = oprf.YouthInput(bsn)
	}
	defer func() {
		for _, in := range ins {
			in.Clear()
		}
	}()
	return b.InputElements(ctx, ins...)
}

// InputElements is Elements for inputs of any domain: a youth's BSN
// (oprf.YouthInput), a parent's (oprf.ParentInput) or a home address
// (oprf.AddressInput). A key holder cannot tell them apart: it sees
// random group elements only.
func (b *Blinder) InputElements(ctx context.Context, ins ...oprf.Input) ([]oprf.Element, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	out := make([]oprf.Element, 0, len(ins))
	for len(ins) > 0 {
		n := min(len(ins), oprf.MaxBatch)
		ys, err := b.batch(ctx, ins[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, ys...)
		ins = ins[n:]
	}
	return out, nil
}

func (b *Blinder) check() error {
	if len(b.Holders) == 0 || len(b.Holders) > 2 {
		return fmt.Errorf("%w: %d key holders (one, or two for a split key)", ErrConfig, len(b.Holders))
	}
	for i, h := range b.Holders {
		if h.URL == "" || h.PublicKey.IsZero() {
			return fmt.Errorf("%w: key holder %d needs a URL and a public key", ErrConfig, i+1)
		}
	}
	return nil
}

// batch evaluates one batch through every key holder in turn.
func (b *Blinder) batch(ctx context.Context, ins []oprf.Input) ([]oprf.Element, error) {
	st, blinded, err := oprf.BlindInputs(ins...)
	if err != nil {
		return nil, err
	}
	var ys []oprf.Element
	for i, h := range b.Holders {
		if i > 0 {
			if st, blinded, err = oprf.BlindElements(ys...); err != nil {
				return nil, err
			}
		}
		res, err := h.evaluate(ctx, blinded)
		if err != nil {
			return nil, err
		}
		if ys, err = oprf.Finish(st, res.Evaluated, res.Proof, h.PublicKey); err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrKeyHolder, h.URL, err)
		}
	}
	return ys, nil
}

// evaluate asks h to evaluate blinded.
func (h KeyHolder) evaluate(ctx context.Context, blinded []oprf.Element) (oprf.EvaluateResponse, error) {
	body, err := json.Marshal(oprf.EvaluateRequest{Blinded: blinded})
	if err != nil {
		return oprf.EvaluateResponse{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL+"/v1/evaluate", bytes.NewReader(body))
	if err != nil {
		return oprf.EvaluateResponse{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	c := h.HTTP
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return oprf.EvaluateResponse{}, fmt.Errorf("%w %s: %w", ErrKeyHolder, h.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var p struct {
			Code string `json:"code"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&p)
		e := &KeyHolderError{URL: h.URL, Status: resp.StatusCode, Code: p.Code}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return oprf.EvaluateResponse{}, e
	}
	res, err := oprf.DecodeEvaluateResponse(resp.Body)
	if err != nil {
		return oprf.EvaluateResponse{}, fmt.Errorf("%w %s: %w", ErrKeyHolder, h.URL, err)
	}
	return res, nil
}
