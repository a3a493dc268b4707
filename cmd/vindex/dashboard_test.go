package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"
)

// The operator's files: a Grafana dashboard and Prometheus alerting rules
// with their promtool unit tests.
var (
	dashboardFile  = filepath.Join("..", "..", "docs", "grafana", "vindex.json")
	alertsFile     = filepath.Join("..", "..", "docs", "prometheus", "vindex-alerts.yml")
	alertTestsFile = filepath.Join("..", "..", "docs", "prometheus", "vindex-alerts.test.yml")
)

// exportedMetrics are the metrics the registry of vindex serve describes
// (every collector of every layer, whether or not it has a series yet),
// with the names of their labels.
func exportedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	e := newScrapeEnv(t, t.TempDir(), 0)
	ch := make(chan *prometheus.Desc)
	go func() { e.metrics.registry.Describe(ch); close(ch) }()
	// Desc has no accessors; its String is the documented way to read it.
	descRE := regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), .*, variableLabels: \{([^}]*)\}\}$`)
	out := map[string][]string{}
	for d := range ch {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read %s", d)
		}
		name, err := strconv.Unquote(m[1])
		if err != nil {
			t.Fatal(err)
		}
		var labels []string
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
				labels = append(labels, l)
			}
		}
		out[name] = labels
	}
	if len(out) < 30 || out["vindex_http_requests_total"] == nil || out["vindex_vault_token_renewals_total"] == nil {
		t.Fatalf("the registry describes too little: %v", out)
	}
	return out
}

// promql checks PromQL expressions against the metrics vindex exports.
type promql struct {
	metrics map[string][]string
}

var (
	stringRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	rangeRE    = regexp.MustCompile(`\[[^\]]*\]`)
	bracesRE   = regexp.MustCompile(`\{[^}]*\}`)
	groupingRE = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	selectorRE = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"`)
	identRE    = regexp.MustCompile(`\$?[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
)

// The PromQL functions, aggregations and keywords the files may use.
var promqlWords = []string{
	"sum", "min", "max", "avg", "count", "rate", "increase", "irate", "delta", "histogram_quantile",
	"predict_linear", "absent", "time", "vector", "and", "or", "unless", "bool", "offset", "label_values",
}

// targetLabels are added by Prometheus at the scrape.
var targetLabels = []string{"job", "instance"}

// metric returns the exported metric a series name in an expression is
// from: itself, or the histogram or summary a _bucket, _sum or _count
// series belongs to (vindex's histograms and summaries are in seconds).
func (q promql) metric(name string) (string, bool) {
	if _, ok := q.metrics[name]; ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if _, known := q.metrics[base]; ok && known && strings.HasSuffix(base, "_seconds") {
			return base, true
		}
	}
	return "", false
}

// labelValuesRE is Grafana's label_values(METRIC, LABEL) variable query.
var labelValuesRE = regexp.MustCompile(`^label_values\(\s*([^,]+?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

// asPromQL turns a Grafana variable query label_values(METRIC, LABEL)
// into the PromQL it asks, and leaves any other expression as it is.
func asPromQL(expr string) string {
	if m := labelValuesRE.FindStringSubmatch(expr); m != nil {
		return fmt.Sprintf("count by (%s) (%s)", m[2], m[1])
	}
	return expr
}

// check returns what is wrong with expr: a series vindex does not export,
// a label it does not have, a word that is neither.
func (q promql) check(expr string) []string {
	expr = asPromQL(expr)
	var problems []string
	labelsOf := map[string]bool{}
	for _, l := range targetLabels {
		labelsOf[l] = true
	}
	// Selectors with matchers: the series and its labels.
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		if slices.Contains(promqlWords, m[1]) {
			continue
		}
		base, ok := q.metric(m[1])
		if !ok {
			continue // reported below
		}
		for _, mm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(q.metrics[base], mm[1]) && !slices.Contains(targetLabels, mm[1]) &&
				(mm[1] != "le" || !strings.HasSuffix(m[1], "_bucket")) {
				problems = append(problems, fmt.Sprintf("%s has no label %s", m[1], mm[1]))
			}
		}
	}
	bare := rangeRE.ReplaceAllString(stringRE.ReplaceAllString(expr, `""`), "")
	bare = bracesRE.ReplaceAllString(bare, "")
	// Series names and functions; label names in groupings are checked
	// once the series of the expression are known.
	var grouped []string
	for _, m := range groupingRE.FindAllStringSubmatch(bare, -1) {
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				grouped = append(grouped, l)
			}
		}
	}
	bare = groupingRE.ReplaceAllString(bare, " ")
	for _, loc := range identRE.FindAllStringSubmatchIndex(bare, -1) {
		word := bare[loc[0]:loc[1]]
		if strings.HasPrefix(word, "$") {
			continue // a Grafana variable
		}
		name := strings.TrimRight(strings.TrimSuffix(strings.TrimSpace(word), "("), " ")
		if start := loc[0]; start > 0 && (bare[start-1] >= '0' && bare[start-1] <= '9' || bare[start-1] == '.') {
			continue // a number's exponent or unit
		}
		if loc[2] >= 0 || slices.Contains(promqlWords, name) || slices.Contains([]string{"by", "without", "on", "ignoring", "group_left", "group_right"}, name) {
			if loc[2] >= 0 && !slices.Contains(promqlWords, name) {
				problems = append(problems, "unknown function "+name)
			}
			continue
		}
		base, ok := q.metric(name)
		if !ok {
			problems = append(problems, "vindex exports no "+name)
			continue
		}
		for _, l := range q.metrics[base] {
			labelsOf[l] = true
		}
		if strings.HasSuffix(name, "_bucket") {
			labelsOf["le"] = true
		}
	}
	for _, l := range grouped {
		if !labelsOf[l] {
			problems = append(problems, "no series of the expression has the label "+l)
		}
	}
	return problems
}

// grafanaPanel is what the test reads of a Grafana panel.
type grafanaPanel struct {
	Type       string     `json:"type"`
	ID         int        `json:"id"`
	Title      string     `json:"title"`
	Datasource *grafanaDS `json:"datasource"`
	GridPos    struct{ H, W, X, Y int }
	Targets    []grafanaTarget `json:"targets"`
}

type grafanaDS struct{ Type, UID string }

type grafanaTarget struct {
	Datasource *grafanaDS `json:"datasource"`
	Expr       string     `json:"expr"`
	RefID      string     `json:"refId"`
}

// TestDashboard: docs/grafana/vindex.json is a Grafana dashboard whose
// every query goes to the Prometheus data source the user picks
// ($datasource), names only metrics and labels vindex exports and only
// PromQL words, and whose panels do not overlap. With promtool on PATH,
// every query also parses as PromQL.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string         `json:"uid"`
		Title      string         `json:"title"`
		Panels     []grafanaPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name, Type string
				Query      any
				Datasource *grafanaDS
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("no uid or title")
	}
	q := promql{exportedMetrics(t)}
	var exprs []string
	hasDS := false
	for _, v := range d.Templating.List {
		switch {
		case v.Type == "datasource" && v.Name == "datasource" && v.Query == "prometheus":
			hasDS = true
		case v.Type == "query":
			query, _ := v.Query.(map[string]any)["query"].(string)
			if v.Datasource == nil || v.Datasource.UID != "${datasource}" || query == "" {
				t.Errorf("variable %s: data source %v, query %q", v.Name, v.Datasource, query)
			}
			for _, problem := range q.check(query) {
				t.Errorf("variable %s: %s in %s", v.Name, problem, query)
			}
			exprs = append(exprs, query)
		}
	}
	if !hasDS {
		t.Error("no Prometheus data source variable $datasource")
	}
	ids := map[int]bool{}
	cells := map[[2]int]string{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] || p.Title == "" {
			t.Errorf("panel %d %q: id taken or no title", p.ID, p.Title)
		}
		ids[p.ID] = true
		for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
			for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
				if other, ok := cells[[2]int{x, y}]; ok || x >= 24 {
					t.Errorf("panel %q overlaps %q or the edge at (%d,%d)", p.Title, other, x, y)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %v, %d queries", p.Title, p.Datasource, len(p.Targets))
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" || tg.RefID == "" || tg.Expr == "" {
				t.Errorf("panel %q: a query without data source, refId or expression", p.Title)
			}
			for _, problem := range q.check(tg.Expr) {
				t.Errorf("panel %q: %s in %s", p.Title, problem, tg.Expr)
			}
			for _, m := range identRE.FindAllString(tg.Expr, -1) {
				used[m] = true
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	// What an operator must see is on it.
	for _, name := range []string{"vindex_http_requests_total", "vindex_http_request_duration_seconds_bucket",
		"vindex_rate_limited_total", "vindex_registrations_total", "vindex_matches_total",
		"vindex_delivery_backlog_events", "vindex_delivery_oldest_seconds", "vindex_delivery_dead_events",
		"vindex_deliveries_total", "vindex_outbox_backlog_events", "vindex_store_disk_free_bytes",
		"vindex_store_disk_bytes", "vindex_key_live_registrations", "vindex_vault_token_renewals_total"} {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
	promtoolParses(t, exprs)
}

// promtoolParses has promtool parse exprs (as recording rules, Grafana's
// variables replaced by values), where promtool is on PATH.
func promtoolParses(t *testing.T, exprs []string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("no promtool on PATH: the queries are not parsed")
		return
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__range", "6h", "$instance", ".*")
	var rules []map[string]string
	for i, e := range exprs {
		rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:query%d", i), "expr": vars.Replace(asPromQL(e))})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
}

// TestDashboardAlertRules: every rule of docs/prometheus/vindex-alerts.yml
// names only metrics and labels vindex exports, waits (for:), has a
// severity (critical or warning) and tells the operator what happened and
// what to do (summary, description, runbook); and the promtool unit tests
// fire every one of them.
func TestDashboardAlertRules(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr, For string
				Labels           map[string]string
				Annotations      map[string]string
			}
		}
	}
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		}
	}
	if b, err = os.ReadFile(alertTestsFile); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatal(err)
	}
	fired := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, at := range tc.AlertRuleTest {
			fired[at.Alertname] = fired[at.Alertname] || len(at.ExpAlerts) > 0
		}
	}
	q := promql{exportedMetrics(t)}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.For == "" || !slices.Contains([]string{"critical", "warning"}, r.Labels["severity"]) {
				t.Errorf("rule %q: for %q, severity %q", r.Alert, r.For, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s", r.Alert, a)
				}
			}
			for _, problem := range q.check(r.Expr) {
				t.Errorf("%s: %s in %s", r.Alert, problem, r.Expr)
			}
			if !fired[r.Alert] {
				t.Errorf("%s: no promtool test fires it", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("no rules")
	}
}

// TestPromQLCheck: the check finds a series vindex does not export, a
// label a series does not have, a function PromQL does not have and a
// grouping label no series has, and passes what vindex exports.
func TestPromQLCheck(t *testing.T) {
	q := promql{map[string][]string{"vindex_a_total": {"route"}, "vindex_b_seconds": {"route"}, "vindex_c": nil}}
	for expr, want := range map[string]string{
		`sum by (route) (rate(vindex_a_total{instance=~"$instance",route="x"}[$__rate_interval]))`:         "",
		`histogram_quantile(0.9, sum by (le, route) (rate(vindex_b_seconds_bucket{route="x"}[5m]))) > 1e3`: "",
		`vindex_c < 2 * vindex_c and on (job, instance) vindex_c`:                                          "",
		`rate(vindex_missing_total[5m])`:                                                                   "vindex exports no vindex_missing_total",
		`vindex_a_total{code="2xx"}`:                                                                       "vindex_a_total has no label code",
		`vindex_c_bucket`:                                                                                  "vindex exports no vindex_c_bucket",
		`rates(vindex_a_total[5m])`:                                                                        "unknown function rates",
		`sum by (institution) (vindex_a_total)`:                                                            "no series of the expression has the label institution",
		`vindex_a_total_count`:                                                                             "vindex exports no vindex_a_total_count",
		`sum(vindex_a_total{route="POST /v1/lookups"}) > 0`:                                                "",
		`label_values(vindex_c, instance)`:                                                                 "",
		`label_values(vindex_c, route)`:                                                                    "no series of the expression has the label route",
	} {
		got := strings.Join(q.check(expr), "; ")
		if got != want {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
}
