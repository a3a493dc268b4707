package httpapi_test

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/pki"
)

// The server has every timeout set (a slow client cannot hold a connection
// open for ever) and TLS 1.2 or later with optional client certificates.
func TestServerSettings(t *testing.T) {
	ca, err := pki.NewCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	s := httpapi.NewServer(":0", http.NotFoundHandler(), httpapi.TLSConfig(cert, ca.Pool()), nil)
	if s.ReadHeaderTimeout != httpapi.ReadHeaderTimeout || s.ReadTimeout != httpapi.ReadTimeout ||
		s.WriteTimeout != httpapi.WriteTimeout || s.IdleTimeout != httpapi.IdleTimeout || s.MaxHeaderBytes != httpapi.MaxHeaderBytes {
		t.Fatalf("timeouts: %+v", s)
	}
	for _, d := range []time.Duration{s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout} {
		if d == 0 {
			t.Fatal("a zero timeout")
		}
	}
	if s.TLSConfig.MinVersion != tls.VersionTLS12 || s.TLSConfig.ClientAuth != tls.VerifyClientCertIfGiven || s.TLSConfig.ClientCAs == nil {
		t.Fatalf("TLS: %+v", s.TLSConfig)
	}
	if c := httpapi.TLSConfig(cert, nil); c.ClientAuth != tls.NoClientCert {
		t.Fatal("client certificates requested without a client CA")
	}
}
