package rules_test

import (
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/rules"
)

// The duty to inform's settings: 14 days and no record required unless
// the covenant says otherwise.
func TestInformSettings(t *testing.T) {
	const base = "name: x\ninstitutions: [{id: a, name: A, type: ggd, may_coordinate: true}]\nrules: [{name: r, assign: {any: true}}]\n"
	for _, tc := range []struct {
		extra   string
		days    int
		require bool
	}{
		{"", rules.DefaultInformWithinDays, false},
		{"inform_within_days: 5\nrequire_inform_record: true\n", 5, true},
	} {
		cov, err := rules.Load(strings.NewReader(base+tc.extra), "x.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if cov.InformWithinDays != tc.days || cov.RequireInformRecord != tc.require {
			t.Fatalf("%q: within %d, require %v; want %d, %v", tc.extra, cov.InformWithinDays, cov.RequireInformRecord, tc.days, tc.require)
		}
	}
	if rules.DefaultInformWithinDays != 14 {
		t.Fatalf("default %d days, want 14 (the issue's and the README's)", rules.DefaultInformWithinDays)
	}
}
