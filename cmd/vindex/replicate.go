package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/replication"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// Replication settings of vindex serve (and of vindex cluster status).
//
// A replicated node's store (opened with pebblestore.Options.Replicated)
// takes writes only while the node leads: replication.Node.Run drives it
// for the life of the server, and if Run returns (the store diverged from
// the log, the log was trimmed past it, or anything else) the server stops
// and exits non-zero: it never serves on without the log.

// natsURLs splits a comma-separated list of NATS URLs.
func natsURLs(s string) []string {
	var out []string
	for u := range strings.SplitSeq(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// validateReplication checks the replication settings.
func (c *config) validateReplication() []error {
	var errs []error
	if c.Replication == "" {
		if c.Node != "" {
			errs = append(errs, errors.New("node: only with replication"))
		}
		return errs
	}
	for _, u := range natsURLs(c.Replication) {
		if !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
			errs = append(errs, fmt.Errorf("replication: %q is not a nats:// or tls:// URL", u))
		}
	}
	if c.Node == "" {
		errs = append(errs, errors.New("node: a replicated server needs a name, unique in the cluster"))
	}
	if (c.ReplicationCert == "") != (c.ReplicationKey == "") {
		errs = append(errs, errors.New("replication_cert and replication_key go together"))
	}
	if c.LeaseTTL < time.Second || c.LeaseTTL > time.Minute {
		errs = append(errs, errors.New("replication_lease_ttl: from 1s to 1m"))
	}
	return errs
}

// natsTLS is the TLS configuration of the connections to the NATS
// servers: nil (TLS only if a URL is tls://, with the system's roots)
// unless a CA or a client certificate is given.
func natsTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	pool, err := certPool(caFile)
	if err != nil {
		return nil, fmt.Errorf("replication CA: %w", err)
	}
	conf.RootCAs = pool
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("replication client certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// replicationConfig is the replication.Config of c's settings.
func replicationConfig(c config, logger *slog.Logger) (replication.Config, error) {
	t, err := natsTLS(c.ReplicationCA, c.ReplicationCert, c.ReplicationKey)
	if err != nil {
		return replication.Config{}, err
	}
	return replication.Config{
		URLs: natsURLs(c.Replication), TLS: t, Name: c.Node, EntryOf: pebblestore.EntryOf,
		LeaseTTL: c.LeaseTTL, Logger: logger,
	}, nil
}

// replica is what a replicated node's store is to the server: the
// replication.Replica the node drives, and whether it leads now.
type replica interface {
	replication.Replica
	Leading() bool
}

// replicatedNode is a running replication.Node and the server's view of
// who leads.
type replicatedNode struct {
	node   *replication.Node
	st     replica
	failed chan error // Run's error, once it returned early
	stop   func()     // stops Run, stepping down if it leads
}

// startReplication starts node on st for the life of the server.
func startReplication(c config, rc replication.Config, node *replication.Node, st backend, logger *slog.Logger) (*replicatedNode, error) {
	r, ok := st.(replica)
	if !ok {
		return nil, fmt.Errorf("replication: the store (%T) cannot be replicated", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &replicatedNode{node: node, st: r, failed: make(chan error, 1)}
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		if err := node.Run(ctx, r); ctx.Err() == nil {
			n.failed <- err
		}
	}()
	n.stop = func() {
		cancel()
		<-runDone
	}
	logger.Info("replication started", slog.String("node", c.Node), slog.Any("nats", rc.URLs))
	return n, nil
}

// Leader names the node that leads, as far as this node knows (its own
// name while it leads; the lease's holder as the node last saw it; "" if
// none or not known). A leader that died keeps its name here until
// another takes the lease.
func (n *replicatedNode) Leader() string { return n.node.Leader() }

// replicationFailure is the error a server whose replication stopped
// exits with, saying what the operator does about it.
func replicationFailure(err error) error {
	var what string
	switch {
	case errors.Is(err, store.ErrDiverged):
		what = "this node's store holds writes the replicated log does not, and cannot take them back: " +
			"restore its data directory from a backup of another node (vindex backup there, vindex restore here) and start it again"
	case errors.Is(err, replication.ErrTrimmed):
		what = "the replicated log no longer holds the entries this node lacks: " +
			"restore its data directory from a newer backup of another node (vindex backup there, vindex restore here) and start it again"
	default:
		what = "this node no longer follows the replicated log and does not serve without it; " +
			"once the cause is fixed start it again (if its store is damaged, restore it from a backup of another node)"
	}
	return fmt.Errorf("replication stopped: %w: %s", err, what)
}

// whileLeading runs run each time leading() becomes true (looked at every
// poll) with a context that ends when it becomes false again, or ctx
// ends; it returns once ctx has ended and run has returned.
func whileLeading(ctx context.Context, leading func() bool, poll time.Duration, run func(ctx context.Context)) {
	wait := func(want bool) bool {
		for ctx.Err() == nil && leading() != want {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(poll):
			}
		}
		return ctx.Err() == nil
	}
	for wait(true) {
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			run(lctx)
		}()
		wait(false)
		cancel()
		<-done
	}
}

// serveReplication starts the replication of vindex serve's store, with
// the node's metrics in the server's registry.
func serveReplication(c config, st backend, metrics *serveMetrics, logger *slog.Logger) (*replicatedNode, error) {
	rc, err := replicationConfig(c, logger)
	if err != nil {
		return nil, err
	}
	node, err := replication.NewNode(rc)
	if err != nil {
		return nil, err
	}
	metrics.registry.MustRegister(node.Collector())
	return startReplication(c, rc, node, st, logger)
}
