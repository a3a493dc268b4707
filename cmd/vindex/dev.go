package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/insecurelocalkek"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/rules"
)

type devToken struct{ institution, token string }

// devSetup makes what `serve --dev` needs in the data directory before the
// key-encryption key is opened, keeping whatever an earlier start made: the
// development KEK, a self-signed certificate, and a token per institution
// (in the clear in dev-tokens.txt, so that they can be printed again;
// hashed in tokens). devKeyset makes the keyset once the KEK is open.
func devSetup(c config, cov *rules.Covenant, logger *slog.Logger) ([]devToken, error) {
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, err
	}
	if c.KEK == "file" && !exists(c.KEKFile) {
		if err := insecurelocalkek.Create(c.KEKFile); err != nil {
			return nil, err
		}
		logger.Warn("made a development key-encryption key; never use it in production", slog.String("file", c.KEKFile))
	}
	if err := devCertificate(c.TLSCert, c.TLSKey, logger); err != nil {
		return nil, err
	}
	if c.Tokens != filepath.Join(c.Data, "tokens") {
		return nil, nil // the operator's own token file
	}
	clearFile := filepath.Join(c.Data, "dev-tokens.txt")
	have := map[string]string{}
	if b, err := os.ReadFile(clearFile); err == nil {
		scanFields(bytes.NewReader(b), func(_ int, f []string) error {
			if len(f) == 2 { // anything else is not ours: made anew below
				have[f[0]] = f[1]
			}
			return nil
		})
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []devToken
	var clear, hashed strings.Builder
	clear.WriteString("# Development tokens, in the clear: for `vindex serve --dev` only.\n")
	hashed.WriteString("# institution-id sha256:HASH of its token (see dev-tokens.txt)\n")
	for _, inst := range cov.Institutions {
		tok, ok := have[inst.ID]
		if !ok {
			tok, _ = httpapi.NewToken(inst.ID)
		}
		out = append(out, devToken{inst.ID, tok})
		fmt.Fprintf(&clear, "%s %s\n", inst.ID, tok)
		fmt.Fprintf(&hashed, "%s %s\n", inst.ID, httpapi.TokenHash(tok))
	}
	if err := keys.WriteFileAtomic(clearFile, []byte(clear.String())); err != nil {
		return nil, err
	}
	if err := keys.WriteFileAtomic(c.Tokens, []byte(hashed.String())); err != nil {
		return nil, err
	}
	return out, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// demoReport is what the printed curl command registers.
const demoReport = `{"bsn":"111222333","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"A. Jansen","phone":"050-1234567"},"client_ref":"DOSSIER-0001"}`

// printDev prints the tokens and a curl command to try.
func printDev(w io.Writer, addr string, c config, tokens []devToken) {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "https://" + net.JoinHostPort(host, port)
	fmt.Fprintf(w, "vindex (development mode) on %s, data in %s\n", url, c.Data)
	var example string
	for _, t := range tokens {
		fmt.Fprintf(w, "token %s %s\n", t.institution, t.token)
		if t.institution == "ggd-groningen" || example == "" {
			example = t.token
		}
	}
	if example != "" {
		fmt.Fprintf(w, "try:\ncurl --cacert %s -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '%s' %s/v1/registrations\n",
			c.TLSCert, example, demoReport, url)
	}
}

// devKeyset makes the keys of `serve --dev` that do not exist yet (the
// PRF keyset, the reference keyset and the audit log's signing key),
// wrapped with k.
func devKeyset(c config, k *kek, logger *slog.Logger) error {
	prf, refs := keysetFiles(c)
	for _, f := range []keysetFile{prf, refs} {
		if exists(f.path) {
			continue
		}
		if err := f.make(k); err != nil {
			return err
		}
		logger.Info("made a "+f.what, slog.String("file", f.path))
	}
	if ak := auditKeyOf(c); !exists(ak.path) {
		if err := ak.make(k); err != nil {
			return err
		}
		logger.Info("made the audit log's signing key", slog.String("file", ak.path), slog.String("public_key", ak.pub))
	}
	return nil
}

// devCertificate makes a self-signed certificate for 127.0.0.1, localhost
// and ::1 at certFile and keyFile, unless either exists (--dev of vindex
// serve and of vindex keyholder serve).
func devCertificate(certFile, keyFile string, logger *slog.Logger) error {
	if exists(certFile) || exists(keyFile) {
		return nil
	}
	cert, err := pki.SelfSigned("127.0.0.1", "localhost", "::1")
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := pki.EncodePEM(cert)
	if err != nil {
		return err
	}
	if err := keys.WriteFileAtomic(keyFile, keyPEM); err != nil {
		return err
	}
	if err := keys.WriteFileAtomic(certFile, certPEM); err != nil {
		return err
	}
	logger.Info("made a self-signed certificate", slog.String("file", certFile))
	return nil
}
