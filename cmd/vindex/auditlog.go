package main

// The audit log's running part in vindex serve: its signing key (wrapped
// like the keysets), the sealing of new entries into the Merkle tree with a
// signed checkpoint every audit_checkpoint_interval (to the store, to
// audit_checkpoint_file and to GET /v1/audit/checkpoint), the retention
// cut, and the metrics that show the log advancing.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vindex-nl/vindex/audit"
	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/rules"
)

// auditKeyFile is the audit log's checkpoint signing key: an Ed25519 note
// key, wrapped with the key-encryption key and bound to the deployment as
// the keysets are, with its public (verifier) key beside it in the clear.
type auditKeyFile struct {
	path, pub string
	ad        []byte
	// origin names the log: the first line of its checkpoints.
	origin string
}

func auditKeyOf(c config) auditKeyFile {
	return auditKeyFile{path: c.AuditKey, pub: strings.TrimSuffix(c.AuditKey, ".key") + ".pub",
		ad: keys.AuditAssociatedData(c.Deployment), origin: "vindex/" + c.Deployment + "/audit"}
}

// make creates the signing key, wraps it with k, and writes the public key.
func (f auditKeyFile) make(k *kek) error {
	skey, vkey, err := audit.GenerateKey(f.origin)
	if err != nil {
		return fmt.Errorf("audit key (origin %q, from the deployment name): %w", f.origin, err)
	}
	if err := keys.SaveSealed(f.path, []byte(skey), k.aead, f.ad); err != nil {
		return err
	}
	return keys.WriteFileAtomic(f.pub, []byte(vkey+"\n"))
}

// load unwraps the signing key with k, and writes its public key if the
// file is missing.
func (f auditKeyFile) load(k *kek) (*audit.Signer, error) {
	skey, err := keys.LoadSealed(f.path, k.aead, f.ad)
	if errors.Is(err, keys.ErrNotFound) {
		return nil, fmt.Errorf("%w: the audit log's signing key; `vindex keys init` makes it (it keeps the keysets that exist)", err)
	}
	if err != nil {
		return nil, err
	}
	defer clear(skey)
	s, err := audit.NewSigner(string(skey))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	if !exists(f.pub) {
		if err := keys.WriteFileAtomic(f.pub, []byte(s.VerifierKey()+"\n")); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// readVerifierKey reads a note verifier key from a file (one line).
func readVerifierKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("audit key: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// auditor runs the audit log beside the API.
type auditor struct {
	log       *audit.Log
	file      string
	retention int // years
	logger    *slog.Logger
	metrics   *auditMetrics
	// checkpoint is the newest checkpoint's text, for the API.
	checkpoint atomic.Pointer[[]byte]
	// filed is the size of the checkpoint last written to file.
	filed uint64

	// What a replicated node needs to open the log again when it becomes
	// leader (leadAudit), and whether it leads (nil: a single server).
	st      backend
	signer  *audit.Signer
	opened  openedKeys
	conf    config
	leading func() bool
}

// openAuditor opens the audit log of st, signing with signer.
func openAuditor(ctx context.Context, c config, cov *rules.Covenant, st backend, signer *audit.Signer, metrics *auditMetrics, logger *slog.Logger) (*auditor, error) {
	l, err := audit.Open(ctx, st, signer)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	a := &auditor{log: l, file: c.AuditFile, retention: cov.Limits.AuditRetentionYears, logger: logger, metrics: metrics}
	if cp := l.Latest(); cp.Text != nil {
		a.checkpoint.Store(&cp.Text) // a replicated follower's, until it leads
	}
	return a, nil
}

// Checkpoint returns the newest checkpoint's text (nil before the first).
func (a *auditor) Checkpoint() []byte {
	if p := a.checkpoint.Load(); p != nil {
		return *p
	}
	return nil
}

// seal seals the new entries, and publishes a new checkpoint to the file,
// the API and the metrics.
func (a *auditor) seal(ctx context.Context) error {
	cp, err := a.log.Seal(ctx)
	if err != nil {
		a.metrics.failures.Inc()
		return fmt.Errorf("audit log: sealing: %w", err)
	}
	if cp.Text == nil {
		return nil
	}
	a.checkpoint.Store(&cp.Text)
	if a.filed != cp.Size || !exists(a.file) {
		// Written again at the next seal if this write fails.
		if err := keys.WriteFileAtomic(a.file, cp.Text); err != nil {
			a.metrics.failures.Inc()
			return fmt.Errorf("audit log: writing the checkpoint: %w", err)
		}
		a.filed = cp.Size
	}
	a.metrics.size.Set(float64(cp.Size))
	a.metrics.at.Set(float64(cp.At.UnixNano()) / 1e9)
	return nil
}

// followCheckpoint, on a replicated node that follows, serves the newest
// checkpoint the log has brought to the store (the leader signs them),
// read at once and then every interval until ctx ends.
func (a *auditor) followCheckpoint(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		state, err := a.st.AuditTree(ctx)
		if err != nil {
			return // the next tick tries again; the served one stays
		}
		cp := state.Latest
		if cp.Text == nil {
			cp = state.Cut.Checkpoint
		}
		if cp.Text != nil {
			a.checkpoint.Store(&cp.Text)
		}
	})
}

// cut destroys the entries older than the covenant's retention.
func (a *auditor) cut(ctx context.Context) {
	before := time.Now().AddDate(-a.retention, 0, 0)
	n, err := a.log.Cut(ctx, before)
	if err != nil {
		a.logger.Error("audit log retention failed", slog.String("error", err.Error()))
		return
	}
	if n > 0 {
		a.metrics.cut.Set(float64(n))
		a.logger.Info("audit log entries destroyed at the end of their retention", slog.Uint64("through_entry", n),
			slog.Int("retention_years", a.retention))
	}
}

// run seals every interval until ctx is done, then once more (with its
// own deadline), so that a clean stop leaves every entry sealed.
func (a *auditor) run(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		if err := a.seal(ctx); err != nil && ctx.Err() == nil {
			a.logger.Error("audit log", slog.String("error", err.Error()))
		}
	})
	if a.leading != nil && !a.leading() {
		return // stepped down: the next leader seals
	}
	final, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.seal(final); err != nil {
		a.logger.Error("audit log: the last seal", slog.String("error", err.Error()))
	}
}

// auditMetrics show the audit log advancing.
type auditMetrics struct {
	size, at, cut prometheus.Gauge
	failures      prometheus.Counter
}

func newAuditMetrics() *auditMetrics {
	return &auditMetrics{
		size: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vindex_audit_checkpoint_size",
			Help: "Audit entries the newest signed checkpoint covers."}),
		at: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vindex_audit_checkpoint_timestamp_seconds",
			Help: "When the newest audit checkpoint was signed (a new one is signed each interval in which the log grew)."}),
		cut: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vindex_audit_retention_cut",
			Help: "Audit entries destroyed at the end of their retention (the cut's size), as of this process's last cut."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "vindex_audit_seal_failures_total",
			Help: "Failed seals of the audit log (its entries are safe in the store; the checkpoint does not advance)."}),
	}
}

// Describe implements prometheus.Collector.
func (m *auditMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *auditMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *auditMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.size, m.at, m.cut, m.failures}
}
