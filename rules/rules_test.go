package rules_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/rules"
)

func TestLoadErrors(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "load-errors", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no load-error files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = rules.Load(f, filepath.Base(file))
			if err == nil {
				t.Fatal("loaded without error")
			}
			if !errors.Is(err, rules.ErrCovenant) {
				t.Errorf("error does not match ErrCovenant: %v", err)
			}
			var le *rules.LoadError
			if !errors.As(err, &le) || le.Line == 0 && !strings.Contains(le.Msg, "empty") {
				t.Errorf("no line in %v", err)
			}
			want, err2 := os.ReadFile(strings.TrimSuffix(file, ".yaml") + ".err")
			if err2 != nil {
				t.Fatal(err2)
			}
			if got := err.Error() + "\n"; got != string(want) {
				t.Errorf("errors differ\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func exampleCovenant(t testing.TB) *rules.Covenant {
	t.Helper()
	c, err := rules.LoadFile(filepath.Join("..", "examples", "covenant-groningen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// randomCase draws a case over the covenant's institutions plus an unknown one.
func randomCase(rng *rand.Rand, cov *rules.Covenant) rules.Case {
	ids := []string{"not-in-covenant"}
	for _, i := range cov.Institutions {
		ids = append(ids, i.ID)
	}
	c := rules.Case{Age: rng.IntN(25) - 1}
	if len(cov.Municipalities) > 0 {
		c.Municipality = cov.Municipalities[rng.IntN(len(cov.Municipalities))]
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 1 + rng.IntN(6) {
		v := rules.Involvement{
			Institution:  ids[rng.IntN(len(ids))],
			Kind:         []rules.Kind{rules.KindSignal, rules.KindInvolvement}[rng.IntN(2)],
			RegisteredAt: base.Add(time.Duration(rng.IntN(5)) * 24 * time.Hour),
		}
		if rng.IntN(4) == 0 {
			v.Sector = []rules.Sector{rules.SectorChildProtection, rules.SectorYouthProbation}[rng.IntN(2)]
		}
		c.Involved = append(c.Involved, v)
	}
	return c
}

// randomCovenant writes and loads a covenant with random institutions and rules.
func randomCovenant(t *testing.T, rng *rand.Rand) *rules.Covenant {
	types := rules.KnownTypes()
	var b strings.Builder
	b.WriteString("name: random\nmunicipalities: [GM0014, GM1952]\nsignal_codes: [{code: S01, label: Zorg}]\ninstitutions:\n")
	var coordTypes []string
	for i := range 3 + rng.IntN(6) {
		typ := types[rng.IntN(len(types))]
		may := !rules.SignalOnly(typ) && typ != rules.TypeMunicipality && rng.IntN(4) != 0
		if may {
			coordTypes = append(coordTypes, typ)
		}
		fmt.Fprintf(&b, "  - {id: inst-%d, name: I%d, type: %s, may_coordinate: %v", i, i, typ, may)
		if rng.IntN(3) == 0 {
			b.WriteString(", municipalities: [GM1952]")
		}
		b.WriteString("}\n")
	}
	b.WriteString("rules:\n")
	for r := range 1 + rng.IntN(4) {
		fmt.Fprintf(&b, "  - name: r%d\n    when: {", r)
		var conds []string
		if rng.IntN(2) == 0 {
			lo := rng.IntN(12)
			conds = append(conds, fmt.Sprintf("age: {min: %d, max: %d}", lo, lo+rng.IntN(10)))
		}
		if rng.IntN(3) == 0 {
			conds = append(conds, "sector: [child-protection]")
		}
		if rng.IntN(3) == 0 {
			conds = append(conds, fmt.Sprintf("min_involved: %d", 1+rng.IntN(3)))
		}
		if len(coordTypes) > 0 && rng.IntN(3) == 0 {
			conds = append(conds, "involves: ["+coordTypes[rng.IntN(len(coordTypes))]+"]")
		}
		b.WriteString(strings.Join(conds, ", ") + "}\n")
		if len(coordTypes) > 0 && rng.IntN(2) == 0 {
			fmt.Fprintf(&b, "    assign: {type: %s}\n", coordTypes[rng.IntN(len(coordTypes))])
		} else {
			b.WriteString("    assign: {any: true}\n")
		}
	}
	cov, err := rules.Load(strings.NewReader(b.String()), "random.yaml")
	if err != nil {
		t.Fatalf("generated covenant does not load: %v\n%s", err, b.String())
	}
	return cov
}

// Properties of Decide, on the example covenant and on random covenants.
func TestDecideProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	covs := []*rules.Covenant{exampleCovenant(t)}
	for range 40 {
		covs = append(covs, randomCovenant(t, rng))
	}
	for ci, cov := range covs {
		for range 500 {
			c := randomCase(rng, cov)
			d := rules.Decide(c, cov)

			// Deterministic, and independent of the order of involvements.
			for range 3 {
				shuffled := c
				shuffled.Involved = slices.Clone(c.Involved)
				rng.Shuffle(len(shuffled.Involved), func(i, j int) {
					shuffled.Involved[i], shuffled.Involved[j] = shuffled.Involved[j], shuffled.Involved[i]
				})
				if d2 := rules.Decide(shuffled, cov); d2 != d {
					t.Fatalf("covenant %d: order changed the decision: %+v vs %+v for %+v", ci, d, d2, c)
				}
			}
			// Either a coordinator and a rule, or a reason.
			if (d.Coordinator == "") != (d.Rule == "") || (d.Coordinator == "") != (d.Reason != "") {
				t.Fatalf("covenant %d: incomplete decision %+v", ci, d)
			}
			if d.Coordinator != "" {
				inst, ok := cov.Institution(d.Coordinator)
				if !ok || !inst.MayCoordinate || rules.SignalOnly(inst.Type) {
					t.Fatalf("covenant %d: assigned an ineligible institution %+v", ci, inst)
				}
				involved := slices.ContainsFunc(c.Involved, func(v rules.Involvement) bool {
					return v.Institution == d.Coordinator && v.Kind == rules.KindInvolvement
				})
				if !involved {
					t.Fatalf("covenant %d: assigned %s, which has no involvement in %+v", ci, d.Coordinator, c)
				}
			}
			// Adding a signal of a non-eligible institution never changes it.
			for _, inst := range cov.Institutions {
				if inst.MayCoordinate {
					continue
				}
				more := c
				more.Involved = append(slices.Clone(c.Involved), rules.Involvement{Institution: inst.ID, Kind: rules.KindSignal,
					RegisteredAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
				if d2 := rules.Decide(more, cov); d2 != d {
					t.Fatalf("covenant %d: a signal of %s changed the decision %+v to %+v", ci, inst.ID, d, d2)
				}
			}
		}
	}
}

func TestFinalSay(t *testing.T) {
	cov := exampleCovenant(t)
	d := rules.Decide(rules.Case{Age: 9, Municipality: "GM0014", Involved: []rules.Involvement{
		{Institution: "wij-groningen", Kind: rules.KindInvolvement},
		{Institution: "jbn-groningen", Kind: rules.KindInvolvement, Sector: rules.SectorChildProtection},
	}}, cov)
	if !d.FinalSay || d.Coordinator != "jbn-groningen" {
		t.Fatalf("decision = %+v, want jbn with the final say", d)
	}
	d = rules.Decide(rules.Case{Age: 9, Municipality: "GM0014", Involved: []rules.Involvement{
		{Institution: "wij-groningen", Kind: rules.KindInvolvement},
	}}, cov)
	if d.FinalSay {
		t.Fatalf("an ordinary rule has the final say: %+v", d)
	}
}

func TestLimitsDefaultToTheLaw(t *testing.T) {
	cov, err := rules.Load(strings.NewReader("name: x\ninstitutions: [{id: a, name: A, type: ggd, may_coordinate: true}]\nrules: [{name: r, assign: {any: true}}]\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cov.Limits != (rules.Limits{MaxYears: 2, EndAge: 23, RetentionDays: 1825, AuditRetentionYears: rules.DefaultAuditRetentionYears, LiberationDay: rules.LiberationLustrum}) {
		t.Fatalf("limits = %+v", cov.Limits)
	}
}

// TestArchiveTerm: a covenant sets the archive term in years or in days,
// at most five years either way.
func TestArchiveTerm(t *testing.T) {
	for _, tc := range []struct {
		limits string
		days   int
	}{
		{"{archive_years: 3}", 3 * 365},
		{"{archive_years: 5}", 1825},
		{"{retention_days: 400}", 400},
		{"{max_years: 1}", 1825},
	} {
		src := "name: x\nlimits: " + tc.limits + "\ninstitutions: [{id: a, name: A, type: ggd, may_coordinate: true}]\nrules: [{name: r, assign: {any: true}}]\n"
		cov, err := rules.Load(strings.NewReader(src), "x.yaml")
		if err != nil || cov.Limits.RetentionDays != tc.days {
			t.Errorf("%s: %d days, %v; want %d", tc.limits, cov.Limits.RetentionDays, err, tc.days)
		}
	}
}

func Example() {
	cov, err := rules.LoadFile("../examples/covenant-groningen.yaml")
	if err != nil {
		panic(err)
	}
	d := rules.Decide(rules.Case{
		Age:          3,
		Municipality: "GM0014",
		Involved: []rules.Involvement{
			{Institution: "school-example-lyceum", Kind: rules.KindSignal, RegisteredAt: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
			{Institution: "ggd-groningen", Kind: rules.KindInvolvement, RegisteredAt: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)},
		},
	}, cov)
	fmt.Println(d.Coordinator, "by rule", d.Rule, "final say:", d.FinalSay)
	// Output: ggd-groningen by rule ggd-jongste-kinderen final say: false
}

func BenchmarkDecide(b *testing.B) {
	cov := exampleCovenant(b)
	rng := rand.New(rand.NewPCG(3, 4))
	cases := make([]rules.Case, 1024)
	for i := range cases {
		cases[i] = randomCase(rng, cov)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rules.Decide(cases[i%len(cases)], cov)
		i++
	}
}

func FuzzLoad(f *testing.F) {
	for _, p := range []string{"../examples/covenant-groningen.yaml", "testdata/load-errors/semantic.yaml", "testdata/load-errors/unknown-key.yaml", "testdata/load-errors/signal-codes.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("name: [\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cov, err := rules.Load(strings.NewReader(string(b)), "fuzz.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if len(cov.Rules) == 0 || len(cov.Institutions) == 0 {
			t.Fatal("a covenant without rules or institutions loaded")
		}
	})
}

// FuzzDecide: for any case over the example covenant, Decide is
// deterministic, does not depend on the order of the involvements, names a
// rule for every coordinator and a reason for every case without one, only
// assigns an eligible institution (a care provider involved, not only
// signalling, serving the youth's municipality), and is not changed by an
// added signal.
func FuzzDecide(f *testing.F) {
	cov, err := rules.LoadFile("../examples/covenant-groningen.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{3, 0, 1, 0, 0, 1, 9, 1, 3}, uint8(12))
	f.Add([]byte{0, 0, 2, 1, 5, 3, 1, 1, 2, 4, 0, 7}, uint8(2))
	f.Add([]byte{6, 1, 1, 7, 1, 2, 2, 0, 3}, uint8(17))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, age uint8) {
		c := rules.Case{Age: int(age%30) - 1, Municipality: cov.Municipalities[int(age)%len(cov.Municipalities)]}
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		seen := map[string]bool{}
		for i := 0; i+2 < len(b) && len(c.Involved) < 8; i += 3 {
			inst := cov.Institutions[int(b[i])%len(cov.Institutions)]
			if seen[inst.ID] {
				continue // one live registration per institution
			}
			seen[inst.ID] = true
			v := rules.Involvement{Institution: inst.ID, Kind: rules.KindSignal, RegisteredAt: base.Add(time.Duration(b[i+1]) * time.Hour)}
			if b[i+2]&1 == 1 && inst.MayCoordinate {
				v.Kind = rules.KindInvolvement
			}
			switch b[i+2] >> 1 & 3 {
			case 1:
				v.Sector = rules.SectorChildProtection
			case 2:
				v.Sector = rules.SectorYouthProbation
			}
			c.Involved = append(c.Involved, v)
		}
		d := rules.Decide(c, cov)
		if again := rules.Decide(c, cov); again != d {
			t.Fatalf("not deterministic: %+v then %+v", d, again)
		}
		rev := c
		rev.Involved = slices.Clone(c.Involved)
		slices.Reverse(rev.Involved)
		if got := rules.Decide(rev, cov); got != d {
			t.Fatalf("order matters: %+v, reversed %+v", d, got)
		}
		if d.Coordinator == "" {
			if d.Reason == "" {
				t.Fatalf("no coordinator and no reason: %+v", d)
			}
		} else {
			inst, ok := cov.Institution(d.Coordinator)
			if !ok || !inst.MayCoordinate || !inst.Serves(c.Municipality) || d.Rule == "" {
				t.Fatalf("ineligible coordinator %+v for %+v", d, c)
			}
			if !slices.ContainsFunc(c.Involved, func(v rules.Involvement) bool {
				return v.Institution == d.Coordinator && v.Kind == rules.KindInvolvement
			}) {
				t.Fatalf("coordinator %s has no involvement registration", d.Coordinator)
			}
		}
		for _, inst := range cov.Institutions {
			if !rules.SignalOnly(inst.Type) || seen[inst.ID] {
				continue
			}
			more := c
			more.Involved = append(slices.Clone(c.Involved), rules.Involvement{Institution: inst.ID, Kind: rules.KindSignal, RegisteredAt: base})
			if got := rules.Decide(more, cov); got != d {
				t.Fatalf("a signal of %s changed the decision: %+v → %+v", inst.ID, d, got)
			}
			break
		}
	})
}

// Every rule of the example covenant has a label, and RuleLabel gives it;
// a rule without a label, or an unknown one, is named by its name.
func TestRuleLabels(t *testing.T) {
	c := exampleCovenant(t)
	for _, r := range c.Rules {
		if r.Label == "" || c.RuleLabel(r.Name) != r.Label {
			t.Errorf("rule %s: label %q, RuleLabel %q", r.Name, r.Label, c.RuleLabel(r.Name))
		}
	}
	if got := c.RuleLabel("jeugdbescherming-doorzettingsmacht"); got != "Jeugdbescherming heeft doorzettingsmacht" {
		t.Errorf("RuleLabel = %q", got)
	}
	if got := c.RuleLabel("no-such-rule"); got != "no-such-rule" {
		t.Errorf("RuleLabel of an unknown rule = %q", got)
	}
	bare, err := rules.Load(strings.NewReader("name: n\ninstitutions: [{id: a, name: A, type: ggd, may_coordinate: true}]\nrules: [{name: any, assign: {any: true}}]\n"), "bare.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := bare.RuleLabel("any"); got != "any" {
		t.Errorf("RuleLabel of a rule without a label = %q", got)
	}
}

// TestRateLimits: a class the covenant does not size has the default; the
// covenant's rate_limits size every institution's; an institution's own
// override only what they give (per_second without burst keeps the
// burst); a class that does not exist is refused.
func TestRateLimits(t *testing.T) {
	const base = "name: x\ninstitutions:\n  - {id: a, name: A, type: ggd, may_coordinate: true}\n" +
		"  - {id: b, name: B, type: school, rate_limits: {reports: {per_second: 200}, events: {per_second: 1, burst: 2}}}\n" +
		"rules: [{name: r, assign: {any: true}}]\nsignal_codes: [{code: S01, label: Zorg}]\n"
	cov, err := rules.Load(strings.NewReader(base), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := rules.DefaultRateLimits()
	for _, class := range rules.RateClasses() {
		if got := cov.RateLimit("a", class); got != def[class] || got.PerSecond <= 0 || got.Burst < 1 {
			t.Errorf("a %s: %+v, want the default %+v", class, got, def[class])
		}
	}
	if got := cov.RateLimit("b", rules.RateReports); got != (rules.Rate{PerSecond: 200, Burst: def[rules.RateReports].Burst}) {
		t.Errorf("b reports: %+v", got)
	}
	if got := cov.RateLimit("b", rules.RateEvents); got != (rules.Rate{PerSecond: 1, Burst: 2}) {
		t.Errorf("b events: %+v", got)
	}
	if got := cov.RateLimit("b", rules.RateLookups); got != def[rules.RateLookups] {
		t.Errorf("b lookups: %+v", got)
	}
	if got := cov.RateLimit("nobody", rules.RateReports); got != (rules.Rate{}) {
		t.Errorf("an unknown institution: %+v", got)
	}

	cov, err = rules.Load(strings.NewReader("rate_limits:\n  lookups: {per_second: 2, burst: 3}\n"+base), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range []string{"a", "b"} {
		if got := cov.RateLimit(inst, rules.RateLookups); got != (rules.Rate{PerSecond: 2, Burst: 3}) {
			t.Errorf("%s lookups under the covenant's rate_limits: %+v", inst, got)
		}
	}
	if got := cov.RateLimit("b", rules.RateReports); got.PerSecond != 200 {
		t.Errorf("b's own reports rate lost: %+v", got)
	}

	_, err = rules.Load(strings.NewReader("rate_limits:\n  deaths: {per_second: 2}\n"+base), "x.yaml")
	if !errors.Is(err, rules.ErrCovenant) || !strings.Contains(err.Error(), "x.yaml:2:") || !strings.Contains(err.Error(), "deaths") {
		t.Errorf("an unknown class: %v", err)
	}
}

// The example covenant lists its signal codes with Dutch labels, in file
// order; SignalCode finds only a listed one. A covenant of care providers
// only may list none: it then refuses every signal.
func TestSignalCodes(t *testing.T) {
	c := exampleCovenant(t)
	if len(c.SignalCodes) < 2 || c.SignalCodes[0].Code != "S01" {
		t.Fatalf("signal codes = %+v", c.SignalCodes)
	}
	for _, code := range []string{"S01", "S12"} {
		if s, ok := c.SignalCode(code); !ok || s.Label == "" || s.Line == 0 {
			t.Errorf("SignalCode(%q) = %+v, %v", code, s, ok)
		}
	}
	if s, _ := c.SignalCode("S03"); s.Label != "Zorg over schoolgang of verzuim" {
		t.Errorf("S03 label = %q", s.Label)
	}
	for _, code := range []string{"", "s01", "S01 ", "vermoeden mishandeling", "S99"} {
		if _, ok := c.SignalCode(code); ok {
			t.Errorf("SignalCode(%q) found", code)
		}
	}
	bare, err := rules.Load(strings.NewReader("name: n\ninstitutions: [{id: a, name: A, type: ggd, may_coordinate: true}]\nrules: [{name: any, assign: {any: true}}]\n"), "bare.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := bare.SignalCode("S01"); ok || len(bare.SignalCodes) != 0 {
		t.Fatalf("a covenant without signal codes has %+v", bare.SignalCodes)
	}
}

// TestAuditRetention: the audit log is kept five years unless the
// covenant says otherwise, from 1 to 20.
func TestAuditRetention(t *testing.T) {
	for _, tc := range []struct {
		limits string
		years  int
		ok     bool
	}{
		{"{}", 5, true},
		{"{audit_retention_years: 7}", 7, true},
		{"{audit_retention_years: 1}", 1, true},
		{"{audit_retention_years: 0}", 0, false},
		{"{audit_retention_years: 21}", 0, false},
	} {
		src := "name: x\nlimits: " + tc.limits + "\ninstitutions: [{id: a, name: A, type: ggd, may_coordinate: true}]\nrules: [{name: r, assign: {any: true}}]\n"
		cov, err := rules.Load(strings.NewReader(src), "x.yaml")
		switch {
		case !tc.ok && err == nil:
			t.Errorf("%s: accepted", tc.limits)
		case tc.ok && (err != nil || cov.Limits.AuditRetentionYears != tc.years):
			t.Errorf("%s: %v; want %d years", tc.limits, err, tc.years)
		}
	}
}
