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

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/bufferedlog"
	"github.com/vindex-nl/vindex/matcher"
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

SIGINT or SIGTERM stops accepting connections, lets in-flight requests
finish (--shutdown-timeout) and closes the store. SIGHUP rereads the token
file.
`

func serve(args []string, stdout, stderr io.Writer) error {
	c, _, err := loadConfig("serve", serveUsage, args, nil)
	if err != nil {
		return err
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
	cov, err := covenantOf(c)
	if err != nil {
		return err
	}
	var devTokens []devToken
	if c.Dev {
		if devTokens, err = devSetup(c, cov, logger); err != nil {
			return err
		}
	}

	// The keyset is unwrapped once, here, and kept in memory only; Vault
	// is not needed again while serving.
	k, err := openKEK(c, logger)
	if err != nil {
		return err
	}
	defer k.Close()
	if c.Dev {
		if err := devKeyset(c, k, logger); err != nil {
			return err
		}
	}
	ps, refs, err := openKeysets(c, k)
	if err != nil {
		return err
	}
	logger.Info("keysets unwrapped", slog.String("kek", k.describe(c)))

	st, err := openStore(c, serveUse(logger))
	if err != nil {
		return err
	}
	var closeOnce sync.Once
	closeStore := func() error {
		var err error
		closeOnce.Do(func() { err = st.Close() })
		return err
	}
	defer closeStore()

	metrics := newRegistry(st.Collector(), ps, cov, st, c.NotifyPoll)
	m, err := matcher.New(matcher.Config{Store: st, Pseudonymiser: ps, ClientRefs: refs, Covenant: cov, Logger: logger, Observer: metrics.matcher})
	if err != nil {
		return err
	}

	worker, err := newWorker(c, cov, st, refs, metrics.delivery, logger)
	if err != nil {
		return err
	}

	var tokens *httpapi.Tokens
	if c.Tokens != "" {
		if tokens, err = httpapi.LoadTokens(c.Tokens, cov, logger); err != nil {
			return err
		}
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	var clientCAs *x509.CertPool
	if c.ClientCA != "" {
		b, err := os.ReadFile(c.ClientCA)
		if err != nil {
			return fmt.Errorf("client CA: %w", err)
		}
		clientCAs = x509.NewCertPool()
		if !clientCAs.AppendCertsFromPEM(b) {
			return fmt.Errorf("client CA: no PEM certificate in %s", c.ClientCA)
		}
	}
	if tokens == nil && clientCAs == nil {
		return errors.New("no way in: set --tokens, --client-ca or both")
	}

	var draining atomic.Bool
	handler, err := httpapi.New(httpapi.Config{
		Matcher: m, Covenant: cov, Tokens: tokens, Metrics: metrics.http, MetricsHandler: metrics.apiHandler(c), Polled: metrics.polls.Polled,
		Logger: logger, MaxBodyBytes: c.MaxBodyBytes,
		Ready: func(ctx context.Context) error {
			if draining.Load() {
				return errors.New("shutting down")
			}
			return st.Check(ctx)
		},
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	srv := httpapi.NewServer(c.Listen, handler, httpapi.TLSConfig(cert, clientCAs), logger)
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.ServeTLS(ln, "", "") }()

	var msrv *http.Server
	if c.MetricsListen != "" {
		mln, err := net.Listen("tcp", c.MetricsListen)
		if err != nil {
			srv.Close()
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.handler())
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { serveErr <- msrv.Serve(mln) }()
		logger.Info("serving metrics", slog.String("addr", mln.Addr().String()))
	}
	logger.Info("serving", slog.String("addr", ln.Addr().String()), slog.String("covenant", cov.Name),
		slog.Int("institutions", len(cov.Institutions)), slog.Bool("mtls", clientCAs != nil), slog.Bool("tokens", tokens != nil),
		slog.Int("keys", len(ps.KeyIDs())))
	if c.Dev {
		printDev(stdout, ln.Addr().String(), c, devTokens)
	}

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if tokens != nil {
		wg.Go(func() { tokens.Watch(bg, c.TokenReload) })
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		wg.Go(func() {
			defer signal.Stop(hup)
			for {
				select {
				case <-bg.Done():
					return
				case <-hup:
					if err := tokens.Reload(); err != nil {
						logger.Error("token file not reloaded; keeping the tokens in use", slog.String("error", err.Error()))
					} else {
						logger.Info("token file reloaded", slog.Int("tokens", tokens.Len()))
					}
				}
			}
		})
	}
	wg.Go(func() { expireLoop(bg, m, c.ExpireInterval, logger) })
	wg.Go(func() { metrics.polls.Run(bg) })
	if worker != nil {
		wg.Go(func() { worker.Run(bg) })
	}

	select {
	case <-ctx.Done():
		logger.Info("shutting down", slog.Duration("timeout", c.ShutdownTimeout))
	case err := <-serveErr:
		logger.Error("server failed", slog.String("error", err.Error()))
	}
	draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	if msrv != nil {
		msrv.Shutdown(sctx)
	}
	stopBG()
	wg.Wait()
	if err := closeStore(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	logger.Info("stopped")
	return nil
}

// expireLoop runs the matcher's expiry at start and then every interval.
func expireLoop(ctx context.Context, m *matcher.Matcher, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		stats, err := m.ExpireDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error("expiry failed", slog.String("error", err.Error()))
		case err == nil && stats != (matcher.ExpireStats{}):
			logger.Info("expiry", slog.Int("ended", stats.Ended), slog.Int("purged", stats.Purged), slog.Int("idempotency", stats.Idempotency))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
