package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/vaultkek"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
	"github.com/vindex-nl/vindex/store/storetest"
)

// scrapeEnv is a store with n outbox events spread over the institutions of
// the example covenant, and the metrics registry vindex serve builds on it
// (with --dev: e-mail for every institution), after the start-up work of a
// server: one round of the delivery worker (whose mail fails, so that
// everything stays in the backlog) and one update of the poll backlog.
type scrapeEnv struct {
	st      *pebblestore.Store
	cov     *rules.Covenant
	metrics *serveMetrics
}

// fillBatch is how many events one Update appends when filling the store.
const fillBatch = 10000

func newScrapeEnv(tb testing.TB, dir string, n int) *scrapeEnv {
	tb.Helper()
	cov, err := covenantOf(config{Dev: true})
	if err != nil {
		tb.Fatal(err)
	}
	// The free-space check is on, as in vindex serve, with a minimum that
	// never refuses a write.
	st, err := pebblestore.Open(dir, &pebblestore.Options{Logger: slog.New(slog.DiscardHandler), MinFreeBytes: 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	ctx := context.Background()
	have, err := st.Events(ctx, "", 0, 1)
	if err != nil {
		tb.Fatal(err)
	}
	if len(have) == 0 && n > 0 {
		fillOutbox(tb, st, cov, n)
	}
	h, err := keys.Create()
	if err != nil {
		tb.Fatal(err)
	}
	ps, err := pseudonym.New(h)
	if err != nil {
		tb.Fatal(err)
	}
	e := &scrapeEnv{st: st, cov: cov, metrics: newRegistry(st.Collector(), vaultkek.NewMetrics(), ps, cov, st, time.Second)}
	w, err := notify.NewWorker(notify.WorkerConfig{
		Store: st, Channels: func(string) []notify.Channel { return []notify.Channel{failingMail{}} },
		Institutions: func() []string { return institutionIDs(cov) }, Metrics: e.metrics.delivery,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Round(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := e.metrics.polls.Update(ctx); err != nil {
		tb.Fatal(err)
	}
	return e
}

// fillOutbox appends n events through the store contract, fillBatch per
// update, to the institutions of cov in turn.
func fillOutbox(tb testing.TB, st store.Store, cov *rules.Covenant, n int) {
	tb.Helper()
	ids := institutionIDs(cov)
	at := time.Now().Add(-time.Hour)
	for i := 0; i < n; i += fillBatch {
		youth := storetest.Youth(1, i/fillBatch)
		err := st.Update(context.Background(), []pseudonym.Pseudonym{youth}, func(tx store.Tx) error {
			for j := i; j < min(i+fillBatch, n); j++ {
				tx.Append(store.Event{Type: store.EventMatch, At: at, Recipient: ids[j%len(ids)], Registration: store.NewID(),
					Others: []store.Party{{Registration: store.NewID(), Institution: ids[(j+1)%len(ids)], Kind: store.KindInvolvement,
						Contact: store.Contact{Name: "A. Jansen", Phone: "050-1234567", Email: "a.jansen@example.org"}, Since: at}}})
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// failingMail is an e-mail channel whose server is down.
type failingMail struct{}

func (failingMail) Name() string { return "email" }
func (failingMail) Deliver(context.Context, store.Event) error {
	return errors.New("connection refused")
}

// scrape serves one GET /metrics.
func (e *scrapeEnv) scrape(tb testing.TB, h http.Handler) []byte {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		tb.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.Bytes()
}

// TestRegistry: the registry of vindex serve has every layer's metrics, the
// backlogs counted at start-up, and nothing a linter objects to.
func TestRegistry(t *testing.T) {
	e := newScrapeEnv(t, t.TempDir(), 1500)
	body := string(e.scrape(t, e.metrics.handler()))
	perInst := 1500 / len(e.cov.Institutions)
	for _, want := range []string{
		`vindex_delivery_backlog_events{channel="email"} 1500`,
		`vindex_deliveries_total{channel="email",result="failed"} ` + fmt.Sprint(32*len(e.cov.Institutions)),
		`vindex_delivery_dead_events{channel="email"} 0`,
		`vindex_delivery_oldest_seconds{channel="email"} 36`,
		fmt.Sprintf(`vindex_outbox_backlog_events{institution=%q} %d`, e.cov.Institutions[0].ID, perInst),
		`vindex_outbox_events_total{type="match"} 0`,
		`vindex_keys_in_use 1`,
		`vindex_key_info{key_id="`,
		`vindex_store_disk_bytes `,
		`vindex_store_disk_free_bytes `,
		`vindex_store_disk_min_free_bytes 1`,
		`vindex_vault_token_renewals_total{result="failed"} 0`,
		`go_goroutines `,
		`process_`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if problems, err := testutil.GatherAndLint(e.metrics.registry); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// BenchmarkScrape times GET /metrics of the registry vindex serve builds,
// through its promhttp handler, with an empty outbox and with a million
// events in a store on disk, beside the delivery worker's state. A scrape
// reads no store, so the two should cost the same.
//
// Filling the store takes a while; VINDEX_SCRAPE_DIR keeps the stores in
// that directory between runs (events-N), filled once.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{0, 1_000_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			if keep := os.Getenv("VINDEX_SCRAPE_DIR"); keep != "" {
				dir = filepath.Join(keep, fmt.Sprintf("events-%d", n))
			}
			e := newScrapeEnv(b, dir, n)
			h := e.metrics.handler()
			if body := e.scrape(b, h); n > 0 && !bytes.Contains(body, []byte(`vindex_delivery_backlog_events{channel="email"} `+strconv.FormatFloat(float64(n), 'g', -1, 64))) {
				b.Fatalf("the backlog is not %d:\n%s", n, body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				e.scrape(b, h)
			}
		})
	}
}

// TestMetricsListenerByDefault: without metrics_listen, vindex serve
// serves /metrics on 127.0.0.1:9464 and not on the API's listener, to
// nobody: an outsider who reaches the API port cannot make the service
// count its outbox (a scrape costs the service work). metrics_listen off
// serves none; the API's own address is refused.
func TestMetricsListenerByDefault(t *testing.T) {
	if ln, err := net.Listen("tcp", defaultMetricsListen); err != nil {
		t.Skipf("%s is taken on this machine (%v): the default cannot be tried", defaultMetricsListen, err)
	} else {
		ln.Close()
	}
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VINDEX_METRICS_LISTEN=") {
			env = append(env, kv)
		}
	}
	p := startEnv(t, dir, env, "serve", "--dev", "--listen", "127.0.0.1:0")
	if p.metrics != defaultMetricsListen {
		t.Fatalf("metrics listener %q, want %s:\n%s", p.metrics, defaultMetricsListen, p.stderr.String())
	}
	if st, b, err := p.scrape(); err != nil || st != 200 || !bytes.Contains(b, []byte("vindex_registrations_total")) {
		t.Fatalf("scrape: %d %v", st, err)
	}
	for _, who := range []string{"", "wij-groningen"} {
		if st, b, err := devClient(t, dir, "vindex-data", p, who).get("/metrics"); err != nil || st != http.StatusNotFound || bytes.Contains(b, []byte("vindex_")) {
			t.Errorf("GET /metrics on the API listener as %q: %d %v", who, st, err)
		}
	}
	p.stop(t)

	p = startEnv(t, dir, env, "serve", "--dev", "--listen", "127.0.0.1:0", "--metrics-listen", "off")
	if p.metrics != "" || strings.Contains(p.stderr.String(), "serving metrics") {
		t.Errorf("metrics_listen off still serves metrics:\n%s", p.stderr.String())
	}
	p.stop(t)

	out := failing(t, dir, "serve", "--dev", "--listen", "127.0.0.1:8444", "--metrics-listen", "127.0.0.1:8444")
	if !strings.Contains(out, "metrics_listen: 127.0.0.1:8444 is the API's listen address") {
		t.Errorf("metrics on the API's address not refused:\n%s", out)
	}
}
