package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// mod is the module path; rules name the project's packages relative to it.
const mod = "github.com/vindex-nl/vindex"

// pebble matches every package of the Pebble storage engine.
const pebble = "github.com/cockroachdb/pebble/..."

// nats matches every package of NATS, its server and its client.
const nats = "github.com/nats-io/..."

// A rule forbids the packages From (except Except) to depend on the
// packages Never (but But). A pattern is a package path, relative to the
// module unless its first element has a dot, and "/..." at its end also
// matches every package below. With Direct only the packages' own imports
// count (the arrow may be taken through another layer); otherwise every
// package they depend on, however deep.
type rule struct {
	Name   string
	From   []string
	Except []string
	Never  []string
	But    []string
	Direct bool
	Reason string
}

var rules = []rule{
	{
		Name: "pebble", From: []string{"..."}, Except: []string{"store/pebblestore", "cmd/...", "bench/..."},
		Never: []string{pebble}, Reason: "only the Pebble backend knows Pebble; everything else goes through the store contract (DESIGN.md invariant 10)",
	},
	{
		Name: "crypto-store", From: []string{"crypto/..."}, Never: []string{"store/..."},
		Reason: "crypto knows no storage: keys, pseudonyms and sealed references are computed, not stored, there",
	},
	{
		Name: "httpapi-pebble", From: []string{"httpapi/..."}, Never: []string{"store/pebblestore/...", pebble},
		Reason: "handlers go through the matcher, never to the backend",
	},
	{
		Name: "httpapi-store", From: []string{"httpapi"}, Never: []string{"store"}, Direct: true,
		Reason: "handlers go through the matcher: what they need of registrations and storage errors the matcher names",
	},
	{
		Name: "httpapi-pseudonym", From: []string{"httpapi/..."}, Never: []string{"crypto/pseudonym"}, Direct: true,
		Reason: "handlers never touch pseudonyms: the matcher makes them",
	},
	{
		Name: "notify", From: []string{"notify/..."}, Never: []string{"matcher/...", "httpapi/..."},
		Reason: "delivery reads the outbox, not the engine, and knows no inbound transport",
	},
	{
		Name: "rules", From: []string{"rules/..."}, Never: []string{"..."}, But: []string{"rules/...", "identity"},
		Reason: "rules are pure (no I/O, no store), know nothing of the engine and never see pseudonyms",
	},
	{
		Name: "store", From: []string{"store/..."}, Never: []string{"matcher/...", "httpapi/...", "notify/..."},
		Reason: "storage implements the contract and knows no domain engine and no transport",
	},
	{
		Name: "matcher", From: []string{"matcher/..."}, Never: []string{"httpapi/...", "notify/...", "store/pebblestore/...", pebble},
		Reason: "the core knows no transport and only the store contract",
	},
	{
		Name: "letters", From: []string{"letters/..."}, Never: []string{"httpapi/...", "notify/...", "store/pebblestore/...", pebble},
		Reason: "a letter is written from what the matcher answers: it knows no transport, no delivery and no backend",
	},
	{
		Name: "figures", From: []string{"figures/..."}, Never: []string{"..."}, But: []string{"figures/...", "rules"},
		Reason: "management figures are computed from aggregate counts alone: no store, no engine, no pseudonyms",
	},
	{
		Name: "identity", From: []string{"identity/..."}, Never: []string{"..."}, But: []string{"identity/..."},
		Reason: "identity is the bottom floor",
	},
	{
		Name: "pseudonym", From: []string{"crypto/pseudonym/..."}, Never: []string{"..."}, But: []string{"crypto/pseudonym/...", "identity"},
		Reason: "pseudonyms are computed from identities, not stored, here",
	},
	{
		Name: "oprf", From: []string{"crypto/oprf/..."}, Never: []string{"..."}, But: []string{"crypto/oprf/...", "identity"},
		Reason: "the blind-mode primitives are computed from identities and keys: no store, no engine, no transport, no pseudonymiser",
	},
	{
		Name: "client", From: []string{"..."}, Except: []string{"client/...", "cmd/...", "bench/..."}, Never: []string{"client/..."},
		Reason: "the SDK a vendor embeds sits above everything: nothing of the index may reach it",
	},
	{
		Name: "client-side", From: []string{"client/..."}, Never: []string{"store/...", "matcher/...", "crypto/pseudonym/...", "crypto/keys/..."},
		Reason: "a client system holds no index, no store and no index key: it blinds, and talks HTTPS",
	},
	{
		Name: "keyholder", From: []string{"keyholder/..."}, Never: []string{"store/...", "matcher/...", "httpapi/...", "crypto/pseudonym/...", "crypto/keys/...", pebble},
		Reason: "the key holder is its own service, which another organisation may run: it evaluates blinded elements and knows no store, engine, index transport or index keys",
	},
	{
		Name: "bench-targets", From: []string{"bench/baseline/...", "bench/target/..."}, Never: []string{"bench"},
		Reason: "a target does not import the load generator that drives it; what they share is in bench/target",
	},
	{
		Name: "replication", From: []string{"replication/..."}, Never: []string{"matcher/...", "httpapi/...", "notify/...", "audit/...", "store/pebblestore/...", pebble},
		Reason: "replication drives a store through the store contract and its own Replica interface: it knows no engine, transport, delivery or backend",
	},
	{
		Name: "replication-above", From: []string{"..."}, Except: []string{"replication/...", "cmd/...", "bench/..."}, Never: []string{"replication/..."},
		Reason: "replication sits above the store: nothing below may reach it (DESIGN.md: planned packages are not reached from below)",
	},
	{
		Name: "nats", From: []string{"..."}, Except: []string{"replication/...", "cmd/...", "bench/...", "internal/natstest"}, Never: []string{nats},
		Reason: "only the replication package knows NATS (and internal/natstest, which starts a NATS cluster for tests)",
	},
	{
		Name: "audit", From: []string{"audit/..."}, Never: []string{"httpapi/...", "matcher/...", "notify/...", "store/pebblestore/...", pebble},
		Reason: "the audit log builds on the store contract (its entries and verbs); it knows no engine, transport, delivery or backend",
	},
}

// pkg is what go list says of one package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

type graph map[string]*pkg

// loadGraph lists the module's packages (tests excluded) and everything they
// depend on.
func loadGraph(t *testing.T) graph {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,Deps", "./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	g := graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		g[p.ImportPath] = p
	}
	return g
}

// match reports whether path matches pattern (see rule).
func match(pattern, path string) bool {
	if first, _, _ := strings.Cut(pattern, "/"); pattern == "..." || !strings.Contains(first, ".") {
		pattern = mod + "/" + pattern
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, path) })
}

// violation is one forbidden dependency, with the chain of imports that
// leads to it.
type violation struct {
	rule  rule
	chain []string
}

func (v violation) String() string {
	from, to := v.chain[0], v.chain[len(v.chain)-1]
	return fmt.Sprintf("rule %s: %s imports %s\n\tchain: %s\n\twhy: %s",
		v.rule.Name, short(from), to, strings.Join(mapShort(v.chain), " -> "), v.rule.Reason)
}

func short(p string) string { return strings.TrimPrefix(p, mod+"/") }

func mapShort(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = short(p)
	}
	return out
}

// check returns r's violations in g: for each of the module's packages r
// is about, the forbidden packages it reaches first (a search along the
// imports that does not go on past a forbidden package), each with its
// chain.
func check(g graph, r rule) []violation {
	var out []violation
	for _, path := range sortedKeys(g) {
		if !strings.HasPrefix(path, mod+"/") || !matchAny(r.From, path) || matchAny(r.Except, path) {
			continue
		}
		out = append(out, reach(g, r, path)...)
	}
	return out
}

func (r rule) forbids(path, from string) bool {
	return path != from && matchAny(r.Never, path) && !matchAny(r.But, path)
}

// reach walks g breadth-first from start and returns the forbidden
// packages found, each with the shortest chain to it.
func reach(g graph, r rule, start string) []violation {
	var out []violation
	parent := map[string]string{start: ""}
	queue := []string{start}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		p := g[cur]
		if p == nil {
			continue
		}
		for _, imp := range p.Imports {
			if _, seen := parent[imp]; seen {
				continue
			}
			parent[imp] = cur
			if r.forbids(imp, start) {
				out = append(out, violation{rule: r, chain: chainTo(parent, imp)})
				continue
			}
			if !r.Direct {
				queue = append(queue, imp)
			}
		}
	}
	return out
}

func chainTo(parent map[string]string, end string) []string {
	var c []string
	for p := end; p != ""; p = parent[p] {
		c = append(c, p)
	}
	slices.Reverse(c)
	return c
}

func sortedKeys(g graph) []string {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestArchitecture(t *testing.T) {
	g := loadGraph(t)
	for _, r := range rules {
		t.Run(r.Name, func(t *testing.T) {
			// A rule about no package (one renamed or moved) checks nothing.
			if !slices.ContainsFunc(sortedKeys(g), func(p string) bool { return strings.HasPrefix(p, mod+"/") && matchAny(r.From, p) }) {
				t.Fatalf("rule %s is about no package of the module (%v)", r.Name, r.From)
			}
			for _, v := range check(g, r) {
				t.Error(v)
			}
		})
	}
}

// The checker finds a forbidden package however deep, names it and the
// chain to it, and stops at the first forbidden package on a path.
func TestCheckReportsChain(t *testing.T) {
	g := graph{}
	add := func(path string, imports ...string) { g[path] = &pkg{ImportPath: path, Imports: imports} }
	add(mod+"/notify", mod+"/store", "fmt")
	add(mod+"/store", mod+"/crypto/pseudonym")
	add(mod+"/crypto/pseudonym", mod+"/matcher")
	add(mod+"/matcher", mod+"/httpapi")
	add(mod + "/httpapi")
	add("fmt")
	var r rule
	for _, r = range rules {
		if r.Name == "notify" {
			break
		}
	}
	vs := check(g, r)
	if len(vs) != 1 {
		t.Fatalf("check found %d violations, want 1 (matcher; not httpapi behind it): %v", len(vs), vs)
	}
	want := "rule notify: notify imports " + mod + "/matcher\n\tchain: notify -> store -> crypto/pseudonym -> matcher\n\twhy: " + r.Reason
	if got := vs[0].String(); got != want {
		t.Fatalf("violation reads\n%s\nwant\n%s", got, want)
	}
	// A direct rule ignores the same package reached through another.
	r.Direct = true
	if vs := check(g, r); len(vs) != 0 {
		t.Fatalf("a direct rule reported an indirect import: %v", vs)
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"store/...", mod + "/store", true},
		{"store/...", mod + "/store/pebblestore", true},
		{"store/...", mod + "/storefront", false},
		{"store", mod + "/store/pebblestore", false},
		{"...", mod + "/rules", true},
		{"...", "github.com/other/x", false},
		{pebble, "github.com/cockroachdb/pebble/v2/internal/base", true},
		{pebble, "github.com/cockroachdb/pebbleish", false},
	} {
		if got := match(tc.pattern, tc.path); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}
