package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vindex-nl/vindex/audit"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/bufferedlog"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

const serveUsage = `Usage: vindex serve [--dev] [--config FILE] [flags]

Runs the index: the HTTPS API of httpapi/openapi.yaml, authenticated by
client certificates pinned in the covenant and by bearer tokens.

  vindex serve --dev
      needs nothing else: it keeps everything in ./vindex-data (--data):
      the store, a development key-encryption key, the keyset, a
      self-signed certificate for 127.0.0.1 and localhost, and a bearer
      token for every institution of the example covenant. It listens on
      127.0.0.1:8443 and prints "token INSTITUTION TOKEN" lines and a curl
      command to try. The files persist across restarts.

  vindex serve --config /etc/vindex/vindex.yaml
      production: the covenant, the TLS certificate and key, the keyset
      (vindex keys init) and Vault, whose transit key wraps it, must be
      given; see examples/vindex.yaml for a documented configuration file.
      If Vault is unreachable, sealed or refuses at start-up, vindex does
      not start; once started it no longer needs Vault.

At start, before it listens, vindex serve runs the retention purge (what
has passed its term is ended, archived or destroyed), as it does every
expire_interval after. It listens on DIR/backup.sock (0600, in the data
directory, never on the network) for vindex backup's checkpoint requests
and no other.

  vindex serve --replication nats://H1:4222,nats://H2:4222,nats://H3:4222 --node NAME
      one node of a replicated index: three nodes (each with the same
      keysets and covenant, and a name of its own) share a log on a NATS
      JetStream cluster of three servers. One node leads: it takes the
      writes, and answers each only once the log holds it on two of the
      three servers. The others apply the log to their own store and
      answer every write with 503 not_leader naming the leader (lookups
      too: each is audited, and the audit entry is a write); /readyz says
      they are ready, and they serve the audit checkpoint the leader
      signed. If the leader dies
      another takes over within about 1.25 times --replication-lease-ttl
      (longer if the NATS server that led the log died with it); one that
      stops on SIGTERM hands over at once. Only the leader runs the
      retention purge (when it becomes leader, then every
      expire_interval), the audit checkpoints and the deliveries. A node
      that led takes back its own writes the log never took before it
      follows. A node whose store has diverged from the log otherwise, or
      lacks entries the log no longer holds, says so and exits non-zero:
      restore it from a backup of another node (vindex backup there,
      vindex restore here). NATS
      over TLS: tls:// URLs, --replication-ca, and --replication-cert and
      --replication-key for a client certificate. vindex cluster status
      shows the leader and each node's position.

SIGINT or SIGTERM stops accepting connections, lets in-flight requests
finish (--shutdown-timeout) and closes the store. SIGHUP rereads the token
file.
`

func serve(args []string, stdout, stderr io.Writer) error {
	c, _, err := loadConfig("serve", serveUsage, args, nil)
	if err != nil {
		return err
	}
	if err := c.validateKEK(); err != nil {
		return err // before anything is made
	}
	// The access log has a line per request: lines are written in batches
	// (at least every 200 ms; warnings and errors at once).
	logger := bufferedlog.New(stderr, level(c.LogLevel), 200*time.Millisecond)
	defer logger.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, c, stdout, logger.Logger)
}

func newLogger(w io.Writer, name string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level(name)}))
}

// level parses a validated log level name.
func level(name string) slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(name))
	return l
}

// run serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, c config, stdout io.Writer, logger *slog.Logger) error {
	// Before anything is made in it, or Vault is asked.
	if err := checkDataDir(c.Data); err != nil {
		return err
	}
	cov, devTokens, err := serveCovenant(c, logger)
	if err != nil {
		return err
	}
	// The keyset is unwrapped once, here, and kept in memory only; Vault
	// is not needed again while serving.
	k, opened, signer, err := unwrapServeKeys(c, logger)
	if err != nil {
		return err
	}
	defer k.Close()
	st, closeStore, err := openServeStore(c, logger)
	if err != nil {
		return err
	}
	defer closeStore()
	metrics, m, worker, err := assemble(c, cov, st, k, opened, logger)
	if err != nil {
		return err
	}
	replicated := c.Replication != ""
	auditLog, err := startAudit(c, cov, st, opened, signer, metrics.audit, !replicated, logger)
	if err != nil {
		return err
	}
	tokens, tlsConf, err := serveAuth(c, cov, logger)
	if err != nil {
		return err
	}
	// A replicated node follows the log from the start, and writes only
	// once it leads: then the background's leader tasks run (see
	// startBackground), the retention purge first.
	var repl *replicatedNode
	var leading func() bool
	if replicated {
		if repl, err = serveReplication(c, st, metrics, logger); err != nil {
			return err
		}
		defer repl.stop()
		leading = repl.st.Leading
		auditLog.leading = leading
	} else {
		// What has passed its term (a store restored from a backup may
		// hold much of it) is ended, archived or destroyed before anyone
		// is served; startBackground repeats it every expire_interval.
		expireNow(ctx, m, auditLog, logger)
	}
	stopBackups, err := listenBackups(c, st, logger)
	if err != nil {
		return err
	}
	defer stopBackups()
	var draining atomic.Bool
	handler, err := newHandler(c, cov, m, tokens, metrics, st, auditLog, &draining, repl, logger)
	if err != nil {
		return err
	}
	var replFailed <-chan error
	if repl != nil {
		replFailed = repl.failed
		// Nothing is served, not even /readyz or the audit checkpoint,
		// before the store has been checked against the replicated log:
		// a diverged store holds writes the log never took.
		logger.Info("replication: checking the store against the replicated log before serving")
		select {
		case err := <-replFailed:
			// Stopped before the API listens: never served.
			err = replicationFailure(err)
			logger.Error("not serving", slog.String("error", err.Error()))
			return err
		case <-repl.node.Checked():
		case <-ctx.Done():
			return nil
		}
	}
	l, err := listen(c, handler, tlsConf, metrics, logger)
	if err != nil {
		return err
	}
	var onLead func(ctx context.Context)
	if replicated {
		onLead = func(ctx context.Context) {
			// What a single server does at start, with the data as the
			// log left it.
			if err := auditLog.leadAudit(ctx); err != nil && ctx.Err() == nil {
				logger.Error("audit log", slog.String("error", err.Error()))
			}
			if worker != nil {
				if err := leadDeliveries(ctx, c, cov, st); err != nil && ctx.Err() == nil {
					logger.Error("deliveries", slog.String("error", err.Error()))
				}
			}
		}
	}
	stopBackground := startBackground(c, tokens, m, rekeyTarget(opened), st, auditLog, metrics, worker, leading, onLead, logger)
	logger.Info("serving", slog.String("addr", l.addr), slog.String("covenant", cov.Name),
		slog.Int("institutions", len(cov.Institutions)), slog.Bool("mtls", tlsConf.ClientCAs != nil), slog.Bool("tokens", tokens != nil),
		slog.Int("keys", len(opened.ps.KeyIDs())))
	if c.Dev {
		printDev(stdout, l.addr, c, devTokens)
	}

	var replErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", slog.Duration("timeout", c.ShutdownTimeout))
	case err := <-l.failed:
		logger.Error("server failed", slog.String("error", err.Error()))
	case err := <-replFailed:
		// The store no longer follows the log: stop serving at once.
		replErr = replicationFailure(err)
		logger.Error("stopping", slog.String("error", replErr.Error()))
		l.srv.Close()
	}
	draining.Store(true)
	shutdownErr := l.shutdown(c.ShutdownTimeout)
	stopBackground()
	stopBackups()
	if repl != nil {
		repl.stop() // steps down, if it leads
	}
	if err := closeStore(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	if replErr != nil {
		return replErr
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	logger.Info("stopped")
	return nil
}

// serveCovenant loads the covenant and, with --dev, makes what the
// development mode needs before the key-encryption key is opened.
func serveCovenant(c config, logger *slog.Logger) (*rules.Covenant, []devToken, error) {
	cov, err := covenantOf(c)
	if err != nil {
		return nil, nil, err
	}
	var devTokens []devToken
	if c.Dev {
		if devTokens, err = devSetup(c, cov, logger); err != nil {
			return nil, nil, err
		}
	}
	return cov, devTokens, nil
}

// unwrapServeKeys opens the key-encryption key (with --dev making the
// keys that do not exist yet) and unwraps the keysets and the audit log's
// signing key. The caller closes the key-encryption key.
func unwrapServeKeys(c config, logger *slog.Logger) (*kek, openedKeys, *audit.Signer, error) {
	k, err := openKEK(c, logger)
	if err != nil {
		return nil, openedKeys{}, nil, err
	}
	fail := func(err error) (*kek, openedKeys, *audit.Signer, error) {
		k.Close()
		return nil, openedKeys{}, nil, err
	}
	if c.Dev {
		if err := devKeyset(c, k, logger); err != nil {
			return fail(err)
		}
	}
	opened, err := openKeysets(c, k)
	if err != nil {
		return fail(err)
	}
	signer, err := auditKeyOf(c).load(k)
	if err != nil {
		return fail(err)
	}
	logger.Info("keysets unwrapped", slog.String("kek", k.describe(c)), slog.String("audit_origin", signer.Origin()))
	return k, opened, signer, nil
}

// startAudit opens the audit log's tree (refusing a signing key other than
// its checkpoints'), records the key changes since the last start, and
// seals what is unsealed (what the last run left, and those entries), so
// that the API serves a checkpoint from the start.
//
// Without write (a replicated node, which does not lead yet) it only
// opens the tree; the node records and seals when it leads (leadAudit).
func startAudit(c config, cov *rules.Covenant, st backend, opened openedKeys, signer *audit.Signer, metrics *auditMetrics, write bool, logger *slog.Logger) (*auditor, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := openAuditor(ctx, c, cov, st, signer, metrics, logger)
	if err != nil {
		return nil, err
	}
	a.st, a.signer, a.opened, a.conf = st, signer, opened, c
	if !write {
		return a, nil
	}
	return a, a.recordKeys(ctx)
}

// recordKeys records the key changes since they were last recorded, and
// seals.
func (a *auditor) recordKeys(ctx context.Context) error {
	n, err := recordKeyChanges(ctx, a.conf, a.st, a.opened)
	if err != nil {
		return err
	}
	if n > 0 {
		a.logger.Info("key changes recorded in the audit log", slog.Int("entries", n))
	}
	return a.seal(ctx)
}

// leadAudit, on a replicated node that has just become leader, opens the
// audit log's tree again (the entries it applied as follower changed it),
// records the key changes and seals.
func (a *auditor) leadAudit(ctx context.Context) error {
	l, err := audit.Open(ctx, a.st, a.signer)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	a.log = l
	return a.recordKeys(ctx)
}

// openServeStore opens the store; the function it returns closes it, and
// may be called more than once.
func openServeStore(c config, logger *slog.Logger) (backend, func() error, error) {
	use := serveUse(logger)
	use.replicated = c.Replication != ""
	st, err := openStore(c, use)
	if err != nil {
		return nil, nil, err
	}
	var closeOnce sync.Once
	closeStore := func() error {
		var err error
		closeOnce.Do(func() { err = st.Close() })
		return err
	}
	return st, closeStore, nil
}

// assemble makes the metrics (with those of k), the matcher and the delivery worker (nil when
// nothing is delivered) on the store.
func assemble(c config, cov *rules.Covenant, st backend, k *kek, opened openedKeys, logger *slog.Logger) (*serveMetrics, *matcher.Matcher, *notify.Worker, error) {
	ps, refs := opened.ps, opened.refs
	metrics := newRegistry(st.Collector(), k.metrics, ps, cov, st, c.NotifyPoll)
	refreshWindow := c.RefreshWindow
	if refreshWindow == 0 {
		refreshWindow = -1 // never
	}
	excluded, err := excludedElementsOf(cov, opened.blind)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := matcher.New(matcher.Config{Store: st, Pseudonymiser: ps, ClientRefs: refs, Covenant: cov, Logger: logger, Observer: metrics.matcher,
		EventsPerHour: c.EventsPerHour, RefreshWindow: refreshWindow, Blind: opened.blind, Layer: opened.layer, ExcludedAddressElements: excluded})
	if err != nil {
		return nil, nil, nil, excludedElementsErr(cov, err)
	}

	worker, err := newWorker(c, cov, st, refs, metrics.delivery, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	return metrics, m, worker, nil
}

// serveAuth reads how institutions get in: the token file, and the CAs of
// their client certificates, with the server's certificate in the TLS
// configuration. It refuses a configuration with neither.
func serveAuth(c config, cov *rules.Covenant, logger *slog.Logger) (*httpapi.Tokens, *tls.Config, error) {
	var tokens *httpapi.Tokens
	var err error
	if c.Tokens != "" {
		if tokens, err = httpapi.LoadTokens(c.Tokens, cov, logger); err != nil {
			return nil, nil, err
		}
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS certificate: %w", err)
	}
	var clientCAs *x509.CertPool
	if c.ClientCA != "" {
		b, err := os.ReadFile(c.ClientCA)
		if err != nil {
			return nil, nil, fmt.Errorf("client CA: %w", err)
		}
		clientCAs = x509.NewCertPool()
		if !clientCAs.AppendCertsFromPEM(b) {
			return nil, nil, fmt.Errorf("client CA: no PEM certificate in %s", c.ClientCA)
		}
	}
	if tokens == nil && clientCAs == nil {
		return nil, nil, errors.New("no way in: set --tokens, --client-ca or both")
	}
	return tokens, httpapi.TLSConfig(cert, clientCAs), nil
}

// newHandler makes the API's handler. It is ready while the store is and
// the server is not draining.
//
// A replicated node that does not lead is ready too: it answers reads, and
// writes with 503 not_leader naming the leader (repl.Leader).
func newHandler(c config, cov *rules.Covenant, m *matcher.Matcher, tokens *httpapi.Tokens, metrics *serveMetrics, st backend, a *auditor, draining *atomic.Bool, repl *replicatedNode, logger *slog.Logger) (http.Handler, error) {
	var leader func() string
	if repl != nil {
		leader = repl.Leader
	}
	return httpapi.New(httpapi.Config{
		Leader:  leader,
		Matcher: m, Covenant: cov, Tokens: tokens, Metrics: metrics.http, Polled: metrics.polls.Polled,
		Logger: logger, MaxBodyBytes: c.MaxBodyBytes, AuditCheckpoint: a.Checkpoint,
		Ready: func(ctx context.Context) error {
			if draining.Load() {
				return errors.New("shutting down")
			}
			return st.Check(ctx)
		},
	})
}

// listeners are the running servers: the API, and /metrics on its own
// listener (never the API's) unless --metrics-listen is off.
type listeners struct {
	addr   string
	srv    *http.Server
	msrv   *http.Server // nil: --metrics-listen off
	failed chan error   // a server that stopped serving
}

// listen starts serving the API over TLS on c.Listen, and /metrics on
// c.MetricsListen unless it is off.
func listen(c config, handler http.Handler, tlsConf *tls.Config, metrics *serveMetrics, logger *slog.Logger) (*listeners, error) {
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", c.Listen, err)
	}
	l := &listeners{addr: ln.Addr().String(), failed: make(chan error, 2)}
	l.srv = httpapi.NewServer(c.Listen, handler, tlsConf, logger)
	go func() { l.failed <- l.srv.ServeTLS(ln, "", "") }()

	if c.MetricsListen != metricsOff {
		mln, err := net.Listen("tcp", c.MetricsListen)
		if err != nil {
			l.srv.Close()
			return nil, fmt.Errorf("--metrics-listen %s: %w", c.MetricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.handler())
		l.msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { l.failed <- l.msrv.Serve(mln) }()
		logger.Info("serving metrics", slog.String("addr", mln.Addr().String()))
	}
	return l, nil
}

// shutdown stops accepting connections and waits up to timeout for
// in-flight requests to finish.
func (l *listeners) shutdown(timeout time.Duration) error {
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := l.srv.Shutdown(sctx)
	if l.msrv != nil {
		l.msrv.Shutdown(sctx)
	}
	return err
}

// startBackground starts what runs beside the API: token file reloading
// (on a timer and on SIGHUP, which it handles from now on), expiry, the
// poll backlog's counting and delivery. The function it returns stops them
// and waits until they have.
//
// On a replicated node (leading not nil) what writes to the store runs
// only while the node leads, after onLead each time it becomes leader: the expiry (at once when it becomes leader,
// then every expire_interval), the audit log's sealing, the summaries, the
// delivery worker and the blind layer's rekeying; they stop when it steps
// down. Token reloading, the poll backlog's counting and the compaction
// run on every node; while it follows, the node serves the newest audit
// checkpoint the log brought.
func startBackground(c config, tokens *httpapi.Tokens, m *matcher.Matcher, target rekeyKeys, st store.Compacter, a *auditor, metrics *serveMetrics, worker *notify.Worker, leading func() bool, onLead func(context.Context), logger *slog.Logger) (stop func()) {
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if tokens != nil {
		wg.Go(func() { tokens.Watch(bg, c.TokenReload) })
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		wg.Go(func() { reloadOnHUP(bg, hup, tokens, logger) })
	}
	wg.Go(func() { ticks(bg, c.CompactInterval, func() { compact(bg, st, logger) }) })
	wg.Go(func() { metrics.polls.Run(bg, logger) })

	writers := func(ctx context.Context, expireFirst bool) {
		var wg sync.WaitGroup
		expiry := func() { retentionPurge(ctx, m, a, logger) }
		wg.Go(func() {
			if expireFirst {
				every(ctx, c.ExpireInterval, expiry)
			} else {
				ticks(ctx, c.ExpireInterval, expiry)
			}
		})
		wg.Go(func() { a.run(ctx, c.AuditInterval) })
		wg.Go(func() { every(ctx, summaryInterval, func() { sendHeld(ctx, m, logger) }) })
		if worker != nil {
			wg.Go(func() { worker.Run(ctx) })
		}
		if m.Blind() {
			wg.Go(func() { rekey(ctx, c, m, target, logger) })
		}
		wg.Wait()
	}
	if leading == nil {
		// The retention purge ran before the server listened.
		wg.Go(func() { writers(bg, false) })
	} else {
		// A follower serves the checkpoints the leader signed.
		following := func() bool { return !leading() }
		wg.Go(func() {
			whileLeading(bg, following, 100*time.Millisecond, func(ctx context.Context) { a.followCheckpoint(ctx, c.AuditInterval) })
		})
		wg.Go(func() {
			whileLeading(bg, leading, 100*time.Millisecond, func(ctx context.Context) {
				logger.Info("leading: the retention purge, the audit log, the summaries and the deliveries run on this node")
				onLead(ctx)
				writers(ctx, true)
			})
		})
	}
	return func() {
		stopBG()
		wg.Wait()
	}
}

// reloadOnHUP rereads the token file on every signal on hup (SIGHUP)
// until ctx ends.
func reloadOnHUP(ctx context.Context, hup chan os.Signal, tokens *httpapi.Tokens, logger *slog.Logger) {
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := tokens.Reload(); err != nil {
				logger.Error("token file not reloaded; keeping the tokens in use", slog.String("error", err.Error()))
			} else {
				logger.Info("token file reloaded", slog.Int("tokens", tokens.Len()))
			}
		}
	}
}

// summaryInterval is how often held events are summed up: a summary goes
// out at most this long after its hour is over.
const summaryInterval = 30 * time.Second

// every runs fn at once and then every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	fn()
	ticks(ctx, interval, fn)
}

// ticks runs fn every interval, not at once, until ctx ends.
func ticks(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

// sendHeld sends the summaries of held events (matcher.SendHeld).
func sendHeld(ctx context.Context, m *matcher.Matcher, logger *slog.Logger) {
	if _, err := m.SendHeld(ctx); err != nil && ctx.Err() == nil {
		logger.Error("summaries failed", slog.String("error", err.Error()))
	}
}

// compact rewrites st's files and logs it, so that what the expiry, a
// death or an objection destroyed is gone from the disk too (see
// pebblestore.Store.Compact); vindex serve runs it every compact_interval,
// not at start.
func compact(ctx context.Context, st store.Compacter, logger *slog.Logger) {
	start := time.Now()
	if err := st.Compact(ctx); err != nil {
		if ctx.Err() == nil {
			logger.Error("compaction failed", slog.String("error", err.Error()))
		}
		return
	}
	logger.Info("compaction", slog.Duration("took", time.Since(start)))
}

// expireNow runs the expiry and the audit log's retention cut once, as
// serve does before it listens.
func expireNow(ctx context.Context, m *matcher.Matcher, a *auditor, logger *slog.Logger) {
	start := time.Now()
	retentionPurge(ctx, m, a, logger)
	logger.Info("retention purge before serving", slog.Duration("took", time.Since(start)))
}

// retentionPurge is the retention purge: the matcher's expiry, then the
// audit log's retention cut.
func retentionPurge(ctx context.Context, m *matcher.Matcher, a *auditor, logger *slog.Logger) {
	expire(ctx, m, logger)
	a.cut(ctx)
}

// expire runs the matcher's expiry and logs what it did.
func expire(ctx context.Context, m *matcher.Matcher, logger *slog.Logger) {
	stats, err := m.ExpireDue(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		logger.Error("expiry failed", slog.String("error", err.Error()))
	case err == nil && stats != (matcher.ExpireStats{}):
		logger.Info("expiry", slog.Int("ended", stats.Ended), slog.Int("purged", stats.Purged), slog.Int("idempotency", stats.Idempotency))
	}
}
