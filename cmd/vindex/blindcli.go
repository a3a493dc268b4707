package main

// The key-holder flags of the operator's commands that name youths
// (import, objection, subject-access) in a blind deployment: with them the
// command turns BSNs into elements itself, through the key holders, as a
// client system does, so that nothing but elements reaches the index. The
// BSNs live in the command's memory only; no message quotes one, an
// element or a token.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	vclient "github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
)

// keyholderHelp is the part of the --help of import, objection and
// subject-access that explains the key-holder flags.
const keyholderHelp = `The key holders of a blind deployment (docs/blind.md), with which the
command turns BSNs into elements itself, as a client system does: one, or
two for a split key, in the order the client systems ask them; each flag
once per key holder:
  --keyholder             the key holder's base URL (https://HOST:PORT)
  --keyholder-token-file  a file holding the bearer token the key holder
                          issued (vindex keyholder token new, or the
                          "token dev TOKEN" line keyholder serve --dev prints)
  --keyholder-public-key  its public key, base64 (vindex keyholder
                          public-key); every answer's proof is checked
                          against it
  --keyholder-cacert      CA certificate (PEM) of the key holders' TLS
                          certificates, if the system does not trust them
                          (keyholder serve --dev: DIR/dev-tls.crt); repeatable
A key holder refuses more than its rate of elements a second (keyholder
serve --elements-per-second): the command then waits as it asks (Retry-After)
and says so on standard error.
`

// stringsFlag is a flag that may be given more than once.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// holderFlags are the key-holder flags, each given once per key holder.
type holderFlags struct {
	urls, tokenFiles, publicKeys, cacerts stringsFlag
}

// bind adds the flags to fs.
func (k *holderFlags) bind(fs *flag.FlagSet) {
	fs.Var(&k.urls, "keyholder", "blind deployment: a key holder's base `URL` (https://HOST:PORT); once per key holder, two for a split key")
	fs.Var(&k.tokenFiles, "keyholder-token-file", "with --keyholder: `file` holding the key holder's bearer token; once per key holder, in the same order")
	fs.Var(&k.publicKeys, "keyholder-public-key", "with --keyholder: the key holder's public `key` (base64); once per key holder, in the same order")
	fs.Var(&k.cacerts, "keyholder-cacert", "with --keyholder: CA certificate `file` (PEM) of the key holders' certificates; repeatable; empty: the system's roots")
}

// given reports whether any key-holder flag was given.
func (k *holderFlags) given() bool {
	return len(k.urls)+len(k.tokenFiles)+len(k.publicKeys)+len(k.cacerts) > 0
}

// errBlindNeedsKeyholders refuses a BSN in a blind deployment without the
// key holders.
var errBlindNeedsKeyholders = errors.New("this deployment is blind: it takes the youth's element, never a BSN; " +
	"give the key holders (--keyholder URL --keyholder-token-file FILE --keyholder-public-key KEY, once per key holder) to turn BSNs into elements")

// errNotBlind refuses elements and key holders in an hmac deployment.
var errNotBlind = errors.New("this deployment is not blind (vindex keys init --pseudonyms hmac): it takes the BSN, never an element; " +
	"--youth, a youth column and the --keyholder flags are for a blind one")

// blinder makes the Blinder of the flags: the key holders' URLs, tokens
// and public keys, in order, over TLS that trusts the system's roots or
// the --keyholder-cacert files. Its errors name a flag or a file, never a
// token.
func (k *holderFlags) blinder() (*vclient.Blinder, error) {
	n := len(k.urls)
	switch {
	case n == 0:
		return nil, errors.New("--keyholder-token-file, --keyholder-public-key and --keyholder-cacert need --keyholder")
	case n > 2:
		return nil, fmt.Errorf("%d --keyholder flags: one key holder, or two for a split key", n)
	case len(k.tokenFiles) != n || len(k.publicKeys) != n:
		return nil, fmt.Errorf("%d --keyholder, %d --keyholder-token-file, %d --keyholder-public-key: give each once per key holder", n, len(k.tokenFiles), len(k.publicKeys))
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(k.cacerts) > 0 {
		tc.RootCAs = x509.NewCertPool()
		for _, f := range k.cacerts {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("--keyholder-cacert: %w", err)
			}
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--keyholder-cacert: no PEM certificate in %s", f)
			}
		}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}, Timeout: time.Minute}
	b := &vclient.Blinder{}
	for i, raw := range k.urls {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("--keyholder %q: want the key holder's base URL, https://HOST:PORT", raw)
		}
		token, err := holderToken(k.tokenFiles[i])
		if err != nil {
			return nil, err
		}
		var pub oprf.PublicKey
		if err := pub.UnmarshalText([]byte(strings.TrimSpace(k.publicKeys[i]))); err != nil {
			return nil, fmt.Errorf("--keyholder-public-key (key holder %d): not a public key, the base64 that vindex keyholder public-key prints: %w", i+1, err)
		}
		b.Holders = append(b.Holders, vclient.KeyHolder{URL: strings.TrimSuffix(raw, "/"), Token: token, PublicKey: pub, HTTP: hc})
	}
	return b, nil
}

// holderToken reads the one token of file: a bare token, or one
// "client token" line (as keyholder serve --dev prints it, after "token").
func holderToken(file string) (string, error) {
	var tok string
	lines := 0
	err := scanTokens(file, func(line int, _, token string) error {
		if lines++; lines > 1 {
			return fmt.Errorf("%s:%d: want one token, the key holder's for this index", file, line)
		}
		tok = token
		return nil
	})
	switch {
	case err != nil:
		return "", fmt.Errorf("--keyholder-token-file: %w", err)
	case tok == "":
		return "", fmt.Errorf("--keyholder-token-file: no token in %s", file)
	}
	return tok, nil
}

// maxRateWaits is how many times in a row elements waits for a key holder
// that refuses a batch as over its rate before it gives up.
const maxRateWaits = 20

// elements turns bsns into their elements through b's key holders,
// waiting when a key holder refuses a batch as over the client's rate (as
// its Retry-After says, at least a second, at most a minute; saying so on
// stderr the first time). Its errors name the key holder and its problem
// code, never a BSN.
func elements(ctx context.Context, b *vclient.Blinder, bsns []identity.BSN, stderr io.Writer, told *atomic.Bool) ([]oprf.Element, error) {
	ins := make([]oprf.Input, len(bsns))
	for i, x := range bsns {
		ins[i] = oprf.YouthInput(x)
	}
	return inputElements(ctx, b, ins, "BSNs", stderr, told)
}

// inputElements is elements for inputs of any domain; what names them in
// errors ("BSNs", "addresses").
func inputElements(ctx context.Context, b *vclient.Blinder, ins []oprf.Input, what string, stderr io.Writer, told *atomic.Bool) ([]oprf.Element, error) {
	// One key-holder request at a time, so that a refusal repeats only
	// that request: a rate that lets a full batch through now and then
	// would never let two through at once.
	out := make([]oprf.Element, 0, len(ins))
	for lo := 0; lo < len(ins); lo += oprf.MaxBatch {
		ys, err := elementsOnce(ctx, b, ins[lo:min(lo+oprf.MaxBatch, len(ins))], what, stderr, told)
		if err != nil {
			return nil, err
		}
		out = append(out, ys...)
	}
	return out, nil
}

// elementsOnce is inputElements for at most oprf.MaxBatch inputs: one
// request to each key holder, repeated while it is refused as over the
// rate.
func elementsOnce(ctx context.Context, b *vclient.Blinder, ins []oprf.Input, what string, stderr io.Writer, told *atomic.Bool) ([]oprf.Element, error) {
	for waits := 0; ; waits++ {
		ys, err := b.InputElements(ctx, ins...)
		var ke *vclient.KeyHolderError
		if err == nil || !errors.As(err, &ke) || ke.Status != http.StatusTooManyRequests {
			return ys, keyholderErr(err, what)
		}
		if waits == maxRateWaits {
			return nil, fmt.Errorf("key holder %s refused a batch of %d as over this client's rate %d times in a row: "+
				"is its token in use elsewhere too? Ask its operator for a higher rate (keyholder serve --elements-per-second)", ke.URL, len(ins), waits+1)
		}
		wait := min(max(ke.RetryAfter, time.Second), time.Minute)
		if told.CompareAndSwap(false, true) {
			fmt.Fprintf(stderr, "key holder %s limits this client's rate (429 rate_limited): waiting %v as it asks, and so on for as long as it asks; "+
				"a migration goes faster with a higher rate for this token (keyholder serve --elements-per-second)\n", ke.URL, wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// keyholderErr words a Blinder's error for the operator; what names the
// inputs ("BSNs").
func keyholderErr(err error, what string) error {
	var ke *vclient.KeyHolderError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke) && ke.Status == http.StatusUnauthorized:
		return fmt.Errorf("key holder %s refused the token of --keyholder-token-file (%d %s)", ke.URL, ke.Status, ke.Code)
	case errors.Is(err, oprf.ErrProof):
		return fmt.Errorf("%w: the key holder's answer does not prove the key of --keyholder-public-key; nothing was sent to the index", err)
	}
	return fmt.Errorf("turning %s into elements: %w", what, err)
}
