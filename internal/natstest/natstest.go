// Package natstest starts a NATS cluster with JetStream inside a test
// process, for the tests of replicated vindex nodes: three servers
// (nats-server as a library) on loopback, routed to one another, with
// JetStream's file storage in the test's temporary directories and
// SyncAlways set, so that a message JetStream acknowledges is on the disk
// of a quorum of the servers (JetStream's default syncs every two
// minutes). The servers speak TLS only, to one another and to clients,
// and require a client certificate issued by the cluster's own CA.
//
// The servers log nothing unless VINDEX_NATS_LOG is set (then their lines
// go to the test's log).
package natstest

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/vindex-nl/vindex/internal/pki"
)

// Cluster is a running NATS cluster of three servers.
type Cluster struct {
	t       testing.TB
	opts    []*server.Options
	servers []*server.Server
	ca      *pki.CA
	client  tls.Certificate
	// ClientTLS is the configuration a client of the cluster connects
	// with: the cluster's CA and a client certificate it issued.
	ClientTLS *tls.Config
}

// Size is the number of servers of a Cluster.
const Size = 3

// Start starts a cluster and waits until JetStream has a meta leader; it
// shuts the servers down when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	ca, err := pki.NewCA("nats test CA")
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ca.Peer("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := ca.Client("vindex node")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, ca: ca, client: clientCert, ClientTLS: &tls.Config{
		RootCAs: ca.Pool(), Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS13,
	}}
	var clientPorts, routePorts [Size]int
	for i := range Size {
		clientPorts[i], routePorts[i] = freePort(t), freePort(t)
	}
	dir := t.TempDir()
	tlsFor := func() *tls.Config {
		return &tls.Config{
			Certificates: []tls.Certificate{peer}, RootCAs: ca.Pool(), ClientCAs: ca.Pool(),
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13,
		}
	}
	for i := range Size {
		var routes []string
		for j := range Size {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[j]))
			}
		}
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("nats-%d", i),
			Host:       "127.0.0.1", Port: clientPorts[i],
			TLS: true, TLSVerify: true, TLSConfig: tlsFor(), TLSTimeout: 5,
			JetStream: true, StoreDir: filepath.Join(dir, fmt.Sprintf("nats-%d", i)),
			SyncAlways: true,
			Cluster: server.ClusterOpts{
				Name: "vindex-test", Host: "127.0.0.1", Port: routePorts[i],
				TLSConfig: tlsFor(), TLSTimeout: 5,
			},
			Routes: server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:  true, NoSigs: true,
		})
		c.servers = append(c.servers, nil)
	}
	for i := range Size {
		c.Start(i)
	}
	start := time.Now()
	// Ready: a meta leader that sees all three servers (a leader that
	// does not yet would report a server offline to the first client).
	for !c.ready() {
		if time.Since(start) > 20*time.Second {
			t.Fatal("natstest: no JetStream meta leader that sees every server")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("natstest: JetStream cluster ready in %v", time.Since(start))
	t.Cleanup(func() {
		for i, s := range c.servers {
			if s != nil {
				s.Shutdown()
				s.WaitForShutdown()
				c.servers[i] = nil
			}
		}
	})
	return c
}

func (c *Cluster) ready() bool {
	for _, s := range c.servers {
		if s != nil && s.JetStreamIsLeader() {
			return len(s.JetStreamClusterPeers()) == len(c.servers)
		}
	}
	return false
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts (or restarts, on its store directory) server i.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	o := *c.opts[i]
	s, err := server.NewServer(&o)
	if err != nil {
		c.t.Fatal(err)
	}
	if os.Getenv("VINDEX_NATS_LOG") != "" {
		s.SetLoggerV2(serverLog{c.t, i}, false, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		c.t.Fatalf("natstest: server %d not ready", i)
	}
	c.servers[i] = s
}

// Stop shuts server i down.
func (c *Cluster) Stop(i int) {
	if c.servers[i] == nil {
		return
	}
	c.servers[i].Shutdown()
	c.servers[i].WaitForShutdown()
	c.servers[i] = nil
}

// URL is server i's client URL (tls://127.0.0.1:PORT).
func (c *Cluster) URL(i int) string { return fmt.Sprintf("tls://127.0.0.1:%d", c.opts[i].Port) }

// URLs are the client URLs of all the servers.
func (c *Cluster) URLs() []string {
	var out []string
	for i := range Size {
		out = append(out, c.URL(i))
	}
	return out
}

// StoreDir is server i's JetStream store directory.
func (c *Cluster) StoreDir(i int) string { return c.opts[i].StoreDir }

// ClientFiles writes the cluster's CA certificate and a client certificate
// and key, PEM, into dir (0600), for a process that connects to the
// cluster, and returns their paths.
func (c *Cluster) ClientFiles(dir string) (caFile, certFile, keyFile string) {
	c.t.Helper()
	certPEM, keyPEM, err := pki.EncodePEM(c.client)
	if err != nil {
		c.t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "nats-ca.pem"), filepath.Join(dir, "nats-client.pem"), filepath.Join(dir, "nats-client.key")
	for f, b := range map[string][]byte{caFile: c.ca.PEM(), certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			c.t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}

// serverLog writes a server's log lines to the test's log.
type serverLog struct {
	t testing.TB
	i int
}

func (l serverLog) Noticef(f string, a ...any) { l.t.Logf("nats-%d: "+f, append([]any{l.i}, a...)...) }
func (l serverLog) Warnf(f string, a ...any) {
	l.t.Logf("nats-%d: WARN "+f, append([]any{l.i}, a...)...)
}
func (l serverLog) Fatalf(f string, a ...any) {
	l.t.Logf("nats-%d: FATAL "+f, append([]any{l.i}, a...)...)
}
func (l serverLog) Errorf(f string, a ...any) {
	l.t.Logf("nats-%d: ERROR "+f, append([]any{l.i}, a...)...)
}
func (l serverLog) Debugf(string, ...any) {}
func (l serverLog) Tracef(string, ...any) {}
