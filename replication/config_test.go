package replication

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/vindex-nl/vindex/internal/pki"
)

// The example server configuration (testdata/nats-server.conf) parses,
// and asks for what the package doc says: every write synced, JetStream
// on, TLS to clients and between servers, routes to the other two.
func TestExampleServerConfig(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("nats CA")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.crt", ca.PEM())
	for name, issue := range map[string]func(...string) (tls.Certificate, error){"server": ca.Server, "peer": ca.Peer} {
		c, err := issue("nats-a.example.nl")
		if err != nil {
			t.Fatal(err)
		}
		crt, key, err := pki.EncodePEM(c)
		if err != nil {
			t.Fatal(err)
		}
		write(name+".crt", crt)
		write(name+".key", key)
	}
	conf, err := os.ReadFile("testdata/nats-server.conf")
	if err != nil {
		t.Fatal(err)
	}
	write("nats.conf", []byte(strings.ReplaceAll(string(conf), "$DIR", dir)))
	o, err := server.ProcessConfigFile(filepath.Join(dir, "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	verified := func(c *tls.Config) bool { return c != nil && c.ClientAuth == tls.RequireAndVerifyClientCert }
	if !o.SyncAlways || !o.JetStream || !verified(o.TLSConfig) || !verified(o.Cluster.TLSConfig) || len(o.Routes) != 2 {
		t.Fatalf("sync always %v, JetStream %v, client TLS verified %v, route TLS verified %v, %d routes",
			o.SyncAlways, o.JetStream, verified(o.TLSConfig), verified(o.Cluster.TLSConfig), len(o.Routes))
	}
}
