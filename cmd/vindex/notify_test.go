package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serve --dev without SMTP writes the mails as .eml files: two
// institutions report one youth, and the files say who to contact, in the
// professionals' names, and nothing that identifies the youth. `vindex
// outbox status` then shows nothing undelivered, and /metrics counts the
// deliveries.
func TestDevMailsAreFiles(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0", "--notify-poll", "50ms")
	wij := devClient(t, dir, "vindex-data", p, "wij-groningen")
	school := devClient(t, dir, "vindex-data", p, "school-example-lyceum")
	bsn := validBSN(t, 77)
	for _, r := range []struct {
		c    *client
		body map[string]any
	}{
		{wij, map[string]any{"bsn": bsn, "birth_date": "2013-09-04", "municipality": "GM0014", "kind": "involvement",
			"contact": map[string]string{"name": "M. de Vries", "phone": "050-7654321", "email": "m.devries@wij.example"}}},
		{school, map[string]any{"bsn": bsn, "birth_date": "2013-09-04", "municipality": "GM0014", "kind": "signal", "code": "S01",
			"contact": map[string]string{"name": "J. Bakker", "phone": "050-1112222", "email": "j.bakker@lyceum.example"}}},
	} {
		if st, b, err := r.c.post("/v1/registrations", r.body); err != nil || st != 201 {
			t.Fatalf("report: %d %s %v", st, b, err)
		}
	}
	mail := filepath.Join(dir, "vindex-data", "mail")
	var files []string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		files, _ = filepath.Glob(filepath.Join(mail, "*.eml"))
		if len(files) >= 5 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// WIJ: no match yet, the match, the coordinator; the school: the
	// match and the coordinator.
	if len(files) != 5 {
		t.Fatalf("%d .eml files, want 5: %v", len(files), files)
	}
	var all []byte
	toSchool := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
		if bytes.Contains(b, []byte("j.bakker@lyceum.example")) && strings.Contains(filepath.Base(f), "school-example-lyceum") {
			toSchool++
			if !bytes.Contains(b, []byte("050-7654321")) {
				t.Errorf("%s does not give WIJ's professional", filepath.Base(f))
			}
		}
	}
	if toSchool != 2 {
		t.Errorf("%d mails to the school's professional, want 2", toSchool)
	}
	for _, needle := range []string{bsn, "2013-09-04", "04-09-2013", "20130904"} {
		if bytes.Contains(all, []byte(needle)) {
			t.Errorf("a mail holds %q", needle)
		}
	}
	st, b, err := wij.get("/metrics")
	if err != nil || st != 200 || !bytes.Contains(b, []byte(`vindex_deliveries_total{channel="email",result="delivered"} 5`)) ||
		!bytes.Contains(b, []byte(`vindex_delivery_backlog_events{channel="email"} 0`)) {
		t.Errorf("metrics: %d %v\n%s", st, err, grepLines(b, "deliver"))
	}
	p.stop(t)
	out := runCLI(t, dir, "outbox", "status", "--dev")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 {
		t.Errorf("outbox status after delivery: %q", out)
	}
	if out := runCLI(t, dir, "outbox", "retry", "--dev"); !strings.Contains(out, "0 events put back") {
		t.Errorf("outbox retry: %s", out)
	}
}

func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
