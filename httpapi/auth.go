package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vindex-nl/vindex/internal/tokenfile"
	"github.com/vindex-nl/vindex/rules"
)

// ErrTokenFile is returned for a token file that cannot be used.
var ErrTokenFile = errors.New("httpapi: token file")

// TokenPrefix starts every bearer token vindex issues, so that a leaked
// token is easy to recognise (and to scan for).
const TokenPrefix = "vx_"

// NewToken returns a fresh bearer token (256 random bits) and the line to
// add to a token file for institution, which holds only the token's hash.
func NewToken(institution string) (token, line string) {
	return tokenfile.New(TokenPrefix, institution)
}

// TokenHash returns the form in which a token file stores a token:
// "sha256:" and the hex SHA-256 of the token.
func TokenHash(token string) string { return tokenfile.Hash(token) }

// sha256Hex is the form of a certificate pin (and of a token hash):
// "sha256:" and the lower-case hex SHA-256 of b.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Tokens are the bearer tokens the service accepts, read from a token file
// that holds only their hashes: one "institution-id sha256:HEX" per line,
// blank lines and lines starting with # ignored. An institution may have
// several tokens (to rotate: add the new one, move the client over, remove
// the old one). Tokens.Watch rereads the file when it changes, so tokens are
// rotated without a restart. Safe for concurrent use.
type Tokens struct {
	path string
	cov  *rules.Covenant
	log  *slog.Logger

	mu      sync.RWMutex
	entries []tokenfile.Entry
	stamp   fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// LoadTokens reads the token file at path. Every institution it names must
// be one of the covenant's. logger receives reload messages; if nil, they
// are discarded.
func LoadTokens(path string, cov *rules.Covenant, logger *slog.Logger) (*Tokens, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Tokens{path: path, cov: cov, log: logger}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload rereads the token file. On an error the tokens in use are kept.
func (t *Tokens) Reload() error {
	b, fi, err := tokenfile.Read(t.path, ErrTokenFile)
	if err != nil {
		return err
	}
	entries, err := tokenfile.Parse(b, t.path, "institution-id", ErrTokenFile, func(inst string) error {
		if _, ok := t.cov.Institution(inst); !ok {
			return fmt.Errorf("institution %q is not in the covenant", inst)
		}
		return nil
	})
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.entries = entries
	t.stamp = fileStamp{fi.ModTime(), fi.Size()}
	t.mu.Unlock()
	return nil
}

// Watch rereads the token file when its modification time or size has
// changed and then stayed the same for one interval (so that a file being
// written in place is not read half-written), checking every interval,
// until ctx is done. A file that fails to load is logged and the tokens in
// use are kept. Replacing the file by a rename, as `vindex tokens new`
// does, is safest.
func (t *Tokens) Watch(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var pending fileStamp
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		fi, err := os.Stat(t.path)
		if err != nil {
			t.log.Error("token file unreadable; keeping the tokens in use", slog.String("error", err.Error()))
			continue
		}
		now := fileStamp{fi.ModTime(), fi.Size()}
		t.mu.RLock()
		same := t.stamp == now
		t.mu.RUnlock()
		if same {
			continue
		}
		if now != pending {
			pending = now // changed: reload once it has settled
			continue
		}
		if err := t.Reload(); err != nil {
			t.log.Error("token file not reloaded; keeping the tokens in use", slog.String("error", err.Error()))
			continue
		}
		t.log.Info("token file reloaded", slog.Int("tokens", t.Len()))
	}
}

// Len returns the number of tokens accepted.
func (t *Tokens) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.entries)
}

// Authenticate returns the institution a bearer token belongs to. It
// compares the token's hash with every entry in constant time, without
// stopping at the first match.
func (t *Tokens) Authenticate(token string) (string, bool) {
	return t.bySum(sha256.Sum256([]byte(token)))
}

// bySum is Authenticate for the token whose SHA-256 is sum.
func (t *Tokens) bySum(sum [sha256.Size]byte) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return tokenfile.Find(t.entries, sum)
}

// CertificatePin returns the pin of a certificate as a covenant writes it
// (rules.Institution.ClientCertificates): "sha256:" and the lower-case hex
// SHA-256 of its SubjectPublicKeyInfo.
func CertificatePin(cert *x509.Certificate) string { return sha256Hex(cert.RawSubjectPublicKeyInfo) }

// certPins maps each client certificate pin of a covenant to the
// institution that pins it. The covenant's loader has checked that no pin
// belongs to two institutions.
type certPins map[string]string

func pinsOf(cov *rules.Covenant) certPins {
	pins := certPins{}
	for _, inst := range cov.Institutions {
		for _, pin := range inst.ClientCertificates {
			pins[pin] = inst.ID
		}
	}
	return pins
}

// institution returns the institution that pins cert.
func (p certPins) institution(cert *x509.Certificate) (string, bool) {
	inst, ok := p[CertificatePin(cert)]
	return inst, ok
}

// TokenID names a bearer token in the audit log: "token:" and the first 16
// hex digits of its SHA-256, the hash the token file keeps (so an operator
// finds its line), never the token itself.
func TokenID(token string) string { return tokenID(sha256.Sum256([]byte(token))) }

// tokenID is TokenID of the token whose SHA-256 is sum.
func tokenID(sum [sha256.Size]byte) string { return "token:" + hex.EncodeToString(sum[:8]) }

// authenticate returns the institution behind a request, and the
// credential it was known by for the audit log: by its verified TLS client
// certificate, pinned in the covenant ("cert:" and the pin), or by its
// bearer token (TokenID). If both are given they must name the same
// institution; the credential is then the certificate's.
func (h *Handler) authenticate(r *http.Request) (inst, credential string, _ *problemError) {
	var byCert, certCred string
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
		inst, ok := h.pins.institution(r.TLS.PeerCertificates[0])
		if !ok {
			return "", "", problem(http.StatusUnauthorized, CodeUnknownCertificate, "", "the client certificate is not pinned by any institution of the covenant")
		}
		byCert, certCred = inst, "cert:"+CertificatePin(r.TLS.PeerCertificates[0])
	}
	var byToken, tokenCred string
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, ok := strings.Cut(a, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", "", problem(http.StatusUnauthorized, CodeUnauthenticated, "", "use an Authorization: Bearer token or a client certificate")
		}
		if h.tokens == nil {
			return "", "", problem(http.StatusUnauthorized, CodeInvalidToken, "", "this server accepts no bearer tokens")
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		inst, ok := h.tokens.bySum(sum)
		if !ok {
			return "", "", problem(http.StatusUnauthorized, CodeInvalidToken, "", "the bearer token is not valid")
		}
		byToken, tokenCred = inst, tokenID(sum)
	}
	switch {
	case byCert != "" && byToken != "" && byCert != byToken:
		return "", "", problem(http.StatusUnauthorized, CodeCredentialsConflict, "", "the client certificate and the bearer token belong to different institutions")
	case byCert != "":
		return byCert, certCred, nil
	case byToken != "":
		return byToken, tokenCred, nil
	}
	return "", "", problem(http.StatusUnauthorized, CodeUnauthenticated, "", "no credentials: use a client certificate or an Authorization: Bearer token")
}
