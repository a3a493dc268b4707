package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/internal/hooktest"
	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/notify"
)

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
	rc := hooktest.Start(t, ca, http.StatusInternalServerError)
	hooks := filepath.Join(dir, "webhooks.txt")
	line := "# institution URL secret\nwij-groningen " + rc.URL + "/vx " + rc.Secret.Text() + "\n"
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
		n := len(rc.Seen().Got)
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks delivered, want 2", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a third would have come by now
	p.stop(t)

	// The 500's event came again later (the others went on meanwhile),
	// with the same ID.
	seen := rc.Seen()
	if seen.Bad != 0 || len(seen.Got) != 2 || len(seen.IDs) != 3 || slices.Index(seen.IDs[1:], seen.IDs[0]) < 0 {
		t.Fatalf("webhooks: %d badly signed, %d delivered, ids %v (want the 500's id again)", seen.Bad, len(seen.Got), seen.IDs)
	}
	slices.SortFunc(seen.Got, func(a, b notify.HookEvent) int { return strings.Compare(a.ID, b.ID) })
	var types []string
	for _, ev := range seen.Got {
		types = append(types, ev.Type)
		if ev.ClientRef != "WIJ-DOS-0091" {
			t.Errorf("%s: client_ref %q", ev.Type, ev.ClientRef)
		}
	}
	if strings.Join(types, ",") != "no-match,match" {
		t.Errorf("event types %v", types)
	}
	if m := seen.Got[1]; m.Coordinator != "wij-groningen" || m.Rule == "" {
		t.Errorf("the match does not name the coordinator and its rule: %q %q", m.Coordinator, m.Rule)
	}
	if m := seen.Got[1]; len(m.Others) != 1 || m.Others[0].Name != "J. Bakker" || m.Others[0].Phone != "050-1112222" {
		t.Errorf("the match does not name the school's professional: %+v", m.Others)
	}
	all := bytes.Join(seen.Bodies, nil)
	for _, needle := range []string{bsn, "2012-03-08", "08-03-2012", "20120308", "LL-0091"} {
		if bytes.Contains(all, []byte(needle)) {
			t.Errorf("a webhook body holds %q", needle)
		}
	}
}
