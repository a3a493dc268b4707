package vaultkek_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vindex-nl/vindex/crypto/keys/vaultkek"
)

// renewals is the vindex_vault_token_renewals_total{result} of m.
func renewals(t *testing.T, m *vaultkek.Metrics, result string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, x := range mf.GetMetric() {
			if mf.GetName() == "vindex_vault_token_renewals_total" && x.GetLabel()[0].GetValue() == result {
				return x.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no vindex_vault_token_renewals_total{result=%q}", result)
	return 0
}

// TestMetricsFromZero: the renewal metrics have their series from the
// start, at zero, so that a server whose key is not in Vault has them too.
func TestMetricsFromZero(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(vaultkek.NewMetrics())
	want := `
# HELP vindex_vault_token_expiry_timestamp_seconds When the Vault token expires, as of the login or the last renewal; 0 while no renewable token is held.
# TYPE vindex_vault_token_expiry_timestamp_seconds gauge
vindex_vault_token_expiry_timestamp_seconds 0
# HELP vindex_vault_token_renewals_total Attempts to renew the Vault token, by result (renewed, failed).
# TYPE vindex_vault_token_renewals_total counter
vindex_vault_token_renewals_total{result="failed"} 0
vindex_vault_token_renewals_total{result="renewed"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
