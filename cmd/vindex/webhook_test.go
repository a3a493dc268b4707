package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/notify"
)

// hookReceiver is a client system's webhook endpoint over HTTPS: it checks
// each request's signature and answers the statuses given, then 204.
type hookReceiver struct {
	srv      *httptest.Server
	secret   notify.WebhookSecret
	mu       sync.Mutex
	statuses []int
	ids      []string // every verified request's webhook-id, in order
	got      []notify.HookEvent
	bodies   [][]byte
	bad      int
}

func startHookReceiver(t *testing.T, ca *pki.CA, statuses ...int) *hookReceiver {
	t.Helper()
	r := &hookReceiver{secret: notify.NewWebhookSecret(), statuses: statuses}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id, err := notify.VerifyWebhook(r.secret, req.Header, body, time.Now(), 0)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.ids = append(r.ids, id)
		r.bodies = append(r.bodies, body)
		status := http.StatusNoContent
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		if status/100 == 2 {
			var ev notify.HookEvent
			if err := json.Unmarshal(body, &ev); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			r.got = append(r.got, ev)
		}
		w.WriteHeader(status)
	}))
	cert, err := ca.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	r.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	r.srv.StartTLS()
	t.Cleanup(r.srv.Close)
	return r
}

// TestWebhooksFromServe: vindex serve posts WIJ's events to its client
// system over HTTPS (a receiver certificate from a private CA, trusted
// through --webhook-ca), signed so that notify.VerifyWebhook accepts them;
// the first post gets a 500 and comes again with the same webhook-id; each
// body quotes WIJ's own client reference and nothing that identifies the
// youth. A webhooks file others may read is refused at start-up.
func TestWebhooksFromServe(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("receivers")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "receivers.pem"), ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := startHookReceiver(t, ca, http.StatusInternalServerError)
	hooks := filepath.Join(dir, "webhooks.txt")
	line := "# institution URL secret\nwij-groningen " + rc.srv.URL + "/vx " + rc.secret.Text() + "\n"
	if err := os.WriteFile(hooks, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := failing(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0", "--webhooks", hooks); !strings.Contains(out, "chmod 600") {
		t.Fatalf("a readable webhooks file:\n%s", out)
	}
	if err := os.Chmod(hooks, 0o600); err != nil {
		t.Fatal(err)
	}

	p := start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0", "--notify-poll", "50ms",
		"--webhooks", hooks, "--webhook-ca", filepath.Join(dir, "receivers.pem"))
	wij := devClient(t, dir, "vindex-data", p, "wij-groningen")
	school := devClient(t, dir, "vindex-data", p, "school-example-lyceum")
	bsn := validBSN(t, 91)
	for _, r := range []struct {
		c    *client
		body map[string]any
	}{
		{wij, map[string]any{"bsn": bsn, "birth_date": "2012-03-08", "municipality": "GM0014", "kind": "involvement",
			"contact": map[string]string{"name": "M. de Vries", "phone": "050-7654321"}, "client_ref": "WIJ-DOS-0091"}},
		{school, map[string]any{"bsn": bsn, "birth_date": "2012-03-08", "municipality": "GM0014", "kind": "signal", "code": "S01",
			"contact": map[string]string{"name": "J. Bakker", "phone": "050-1112222"}, "client_ref": "LL-0091"}},
	} {
		if st, b, err := r.c.post("/v1/registrations", r.body); err != nil || st != 201 {
			t.Fatalf("report: %d %s %v", st, b, err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		rc.mu.Lock()
		n := len(rc.got)
		rc.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks delivered, want 3", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a fourth would have come by now
	p.stop(t)

	rc.mu.Lock()
	defer rc.mu.Unlock()
	// The 500's event came again later (the others went on meanwhile),
	// with the same ID.
	if rc.bad != 0 || len(rc.got) != 3 || len(rc.ids) != 4 || slices.Index(rc.ids[1:], rc.ids[0]) < 0 {
		t.Fatalf("webhooks: %d badly signed, %d delivered, ids %v (want the 500's id again)", rc.bad, len(rc.got), rc.ids)
	}
	slices.SortFunc(rc.got, func(a, b notify.HookEvent) int { return strings.Compare(a.ID, b.ID) })
	var types []string
	for _, ev := range rc.got {
		types = append(types, ev.Type)
		if ev.ClientRef != "WIJ-DOS-0091" {
			t.Errorf("%s: client_ref %q", ev.Type, ev.ClientRef)
		}
	}
	if strings.Join(types, ",") != "no-match,match,coordinator" {
		t.Errorf("event types %v", types)
	}
	if m := rc.got[1]; len(m.Others) != 1 || m.Others[0].Name != "J. Bakker" || m.Others[0].Phone != "050-1112222" {
		t.Errorf("the match does not name the school's professional: %+v", m.Others)
	}
	all := bytes.Join(rc.bodies, nil)
	for _, needle := range []string{bsn, "2012-03-08", "08-03-2012", "20120308", "LL-0091"} {
		if bytes.Contains(all, []byte(needle)) {
			t.Errorf("a webhook body holds %q", needle)
		}
	}
}
