package matcher_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

var ctx = context.Background()

// Institutions of the example covenant.
const (
	ggd      = "ggd-groningen"
	wij      = "wij-groningen"
	school   = "school-example-lyceum"
	police   = "politie-noord-nederland"
	jbn      = "jbn-groningen"
	gemeente = "gemeente-groningen"
	// gemeenteElders is a municipality that serves Het Hogeland only.
	gemeenteElders = "gemeente-het-hogeland"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

var (
	covOnce sync.Once
	cov     *rules.Covenant
	covErr  error
)

func exampleCovenant(t testing.TB) *rules.Covenant {
	t.Helper()
	covOnce.Do(func() {
		cov, covErr = rules.LoadFile(filepath.Join(repoRoot(), "examples", "covenant-groningen.yaml"))
	})
	if covErr != nil {
		t.Fatalf("example covenant: %v", covErr)
	}
	return cov
}

// bsnFor returns the n-th valid BSN of a deterministic sequence: eight digits
// from n and the check digit that satisfies the eleven-check (numbers whose
// check digit would be 10 are skipped). Distinct n give distinct BSNs.
func bsnFor(t testing.TB, n int) identity.BSN {
	t.Helper()
	for k := 2 * n; ; k++ { // spaced by two: a skipped number never collides with the next n
		s := fmt.Sprintf("%08d", 10000000+k%90000000)
		sum := 0
		for i := 0; i < 8; i++ {
			sum += (9 - i) * int(s[i]-'0')
		}
		d := sum % 11 // 9·d1+…+2·d8 − d9 ≡ 0 (mod 11) → d9 = sum mod 11
		if d == 10 {
			continue
		}
		b, err := identity.ParseBSN(s + strconv.Itoa(d))
		if err != nil {
			t.Fatalf("generated BSN does not parse: %v", err)
		}
		return b
	}
}

// bsnDigits returns the digits of bsnFor(n), for canary scans.
func bsnDigits(t testing.TB, n int) string { return bsnFor(t, n).RevealDigits() }

func birth(t testing.TB, s string) identity.BirthDate {
	t.Helper()
	b, err := identity.ParseBirthDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type env struct {
	m     *matcher.Matcher
	store *pebblestore.Store
	clock *clock
	ps    *pseudonym.Pseudonymiser
	dir   string
	// sealer is the element sealer of the blind matchers over store
	// (env.refs), made at the first use.
	sealer matcher.RefSealer
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newEnv builds a matcher on a real Pebble store on disk, a fresh PRF keyset
// and the example covenant.
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, freshPseudonymiser(t), t.TempDir(), quiet())
}

// freshPseudonymiser returns a pseudonymiser over a new PRF keyset.
func freshPseudonymiser(t testing.TB) *pseudonym.Pseudonymiser {
	t.Helper()
	_, ps := freshKeyset(t)
	return ps
}

// freshKeyset returns a new PRF keyset and a pseudonymiser over it.
func freshKeyset(t testing.TB) (*keyset.Handle, *pseudonym.Pseudonymiser) {
	t.Helper()
	h, err := keys.Create()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pseudonym.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return h, ps
}

func newEnvWith(t testing.TB, ps *pseudonym.Pseudonymiser, dir string, logger *slog.Logger) *env {
	t.Helper()
	st, err := pebblestore.Open(dir, &pebblestore.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{now: start}
	m, err := matcher.New(matcher.Config{
		Store: st, Pseudonymiser: ps, ClientRefs: testkeys.Sealer(t), Covenant: exampleCovenant(t),
		Clock: c.Now, Location: time.UTC, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{m: m, store: st, clock: c, ps: ps, dir: dir}
}

func contact(name string) matcher.Contact {
	return matcher.Contact{Name: name, Phone: "+31 50 000 0000", Email: "prof@example.org"}
}

// youth returns the Youth of bsnFor(n).
func (e *env) youth(t testing.TB, n int) matcher.Youth {
	t.Helper()
	y, err := e.m.YouthByBSN(bsnFor(t, n))
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// involvement returns an involvement registration for the n-th youth.
func (e *env) involvement(t testing.TB, n int) matcher.Registration {
	return matcher.Registration{
		Youth: e.youth(t, n), BirthDate: birth(t, "2014-05-17"), Municipality: "GM0014",
		Kind: matcher.Involvement, Contact: contact("A. Jansen"),
	}
}

// signal returns a signal for the n-th youth.
func (e *env) signal(t testing.TB, n int) matcher.Registration {
	r := e.involvement(t, n)
	r.Kind, r.SignalCode, r.Contact = matcher.Signal, "S01", contact("M. Bakker")
	return r
}

func (e *env) register(t testing.TB, inst string, r matcher.Registration) matcher.Result {
	t.Helper()
	res, err := e.m.Register(ctx, matcher.Actor{Institution: inst}, r)
	if err != nil {
		t.Fatalf("register by %s: %v", inst, err)
	}
	return res
}

func (e *env) events(t testing.TB, recipient string) []store.Event {
	t.Helper()
	ev, err := e.store.Events(ctx, recipient, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// newEvents returns the events of now that are not in before. Sequence
// numbers are per recipient, so an event is known by both.
func newEvents(before, now []store.Event) []store.Event {
	type key struct {
		recipient string
		seq       uint64
	}
	seen := make(map[key]bool, len(before))
	for _, e := range before {
		seen[key{e.Recipient, e.Seq}] = true
	}
	var out []store.Event
	for _, e := range now {
		if !seen[key{e.Recipient, e.Seq}] {
			out = append(out, e)
		}
	}
	return out
}

func types(ev []store.Event) []string {
	var out []string
	for _, e := range ev {
		out = append(out, e.Type.String())
	}
	return out
}

// idemKey returns the keyed hash under which the store keeps institution's
// idempotency key (under the primary key).
func (e *env) idemKey(t testing.TB, institution, key string) pseudonym.Pseudonym {
	t.Helper()
	set, err := matcher.IdempotencyKeys(e.m, institution, key)
	if err != nil {
		t.Fatal(err)
	}
	return set.Primary
}

// newRotatableEnv is an env whose pseudonymiser runs on a keyset of its
// own, returned for a test to rotate.
func newRotatableEnv(t testing.TB) (*env, *keyset.Handle) {
	t.Helper()
	h, ps := freshKeyset(t)
	return newEnvWith(t, ps, t.TempDir(), quiet()), h
}

// rotated rotates h, the keyset of e's pseudonymiser (newRotatableEnv),
// and returns a matcher on e's store under the new keyset, and the new
// keyset's pseudonymiser (its primary key is the new one).
func (e *env) rotated(t *testing.T, h *keyset.Handle) (*matcher.Matcher, *pseudonym.Pseudonymiser) {
	t.Helper()
	h2, newID, err := keys.Rotate(h)
	if err != nil {
		t.Fatal(err)
	}
	ps2, err := pseudonym.New(h2)
	if err != nil {
		t.Fatal(err)
	}
	if ps2.PrimaryKeyID() != newID {
		t.Fatalf("rotation made key %d, but %d is primary", newID, ps2.PrimaryKeyID())
	}
	m2, err := matcher.New(matcher.Config{Store: e.store, Pseudonymiser: ps2, Covenant: exampleCovenant(t), Clock: e.clock.Now, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	return m2, ps2
}
