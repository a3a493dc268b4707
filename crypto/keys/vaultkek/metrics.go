package vaultkek

import (
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus metrics of the token renewal: give them to
// Open in Config.Metrics and register them (Metrics is a
// prometheus.Collector). Neither names a token, a role or a path:
//
//   - vindex_vault_token_renewals_total{result}: attempts to renew the
//     token, by result: renewed, or failed (Vault unreachable, sealed or
//     answering with an error; the renewal is tried again every 30
//     seconds while the token lives). A renewal Vault denies (permission
//     denied: the token was revoked, or its policy no longer allows it) is
//     not a failure here: the token is then kept, unrenewed, until it
//     expires, as one Vault does not renew. Both series are there from the
//     start, at zero.
//   - vindex_vault_token_expiry_timestamp_seconds: when the token expires,
//     as of the login or the last renewal (Unix time); zero while no
//     renewable token is held.
//
// Metrics that were never given to Open stay at zero: a server whose
// key-encryption key is not in Vault registers them all the same, so that
// its dashboards and alerts have the series.
type Metrics struct {
	renewals *prometheus.CounterVec
	expiry   prometheus.Gauge
}

var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics returns the renewal metrics, at zero.
func NewMetrics() *Metrics {
	m := &Metrics{
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vindex_vault_token_renewals_total", Help: "Attempts to renew the Vault token, by result (renewed, failed).",
		}, []string{"result"}),
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vindex_vault_token_expiry_timestamp_seconds", Help: "When the Vault token expires, as of the login or the last renewal; 0 while no renewable token is held.",
		}),
	}
	m.renewals.WithLabelValues("renewed")
	m.renewals.WithLabelValues("failed")
	return m
}

// leased records that s, a login or a renewal answered at, holds the token
// until its lease ends.
func (m *Metrics) leased(at time.Time, s *api.Secret) {
	if m == nil {
		return
	}
	if ttl, err := s.TokenTTL(); err == nil && ttl > 0 {
		m.expiry.Set(float64(at.Add(ttl).Unix()))
	}
}

// renewal counts a renewal attempt.
func (m *Metrics) renewal(ok bool) {
	if m == nil {
		return
	}
	result := "failed"
	if ok {
		result = "renewed"
	}
	m.renewals.WithLabelValues(result).Inc()
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.renewals.Describe(ch)
	m.expiry.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.renewals.Collect(ch)
	m.expiry.Collect(ch)
}
