package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"slices"
	"time"
)

// Server timeouts that NewServer sets.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 15 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 16 << 10
)

// NewServer returns an http.Server for h on addr with the timeouts above
// and tlsConfig (see TLSConfig). Its own error log goes to logger at Warn
// level (TLS handshake errors and the like); if nil, to slog.Default().
func NewServer(addr string, h http.Handler, tlsConfig *tls.Config, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// cipherSuites are the TLS 1.2 cipher suites the server accepts: ECDHE
// key exchange (forward secrecy) with an AEAD cipher only; no CBC mode, no
// SHA-1 MAC, no RSA key exchange. (TLS 1.3's suites are fixed by Go and
// are all AEAD.)
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns the server TLS configuration: TLS 1.2 (ECDHE with an
// AEAD cipher only) or later with cert, and, if clientCAs is not nil,
// client certificates requested and verified against clientCAs when given
// (a client may instead use a bearer token; a client certificate that fails
// verification fails the handshake). The Handler adds HSTS to every answer
// over TLS.
func TLSConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: slices.Clone(cipherSuites),
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if clientCAs != nil {
		c.ClientCAs = clientCAs
		c.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return c
}
