package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/smtptest"
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
			"contact": map[string]string{"name": "M. de Vries", "phone": "050-7654321", "email": "m.devries@wij.example"}, "client_ref": "WIJ-DOS-0042"}},
		{school, map[string]any{"bsn": bsn, "birth_date": "2013-09-04", "municipality": "GM0014", "kind": "signal", "code": "S01",
			"contact": map[string]string{"name": "J. Bakker", "phone": "050-1112222", "email": "j.bakker@lyceum.example"}, "client_ref": "LL-2026-17"}},
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
		if len(files) >= 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// WIJ: no match yet, the match; the school: the match. Each match
	// names the coordinator: no mail of its own for it.
	if len(files) != 3 {
		t.Fatalf("%d .eml files, want 3: %v", len(files), files)
	}
	var all []byte
	toSchool := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
		// Each mail quotes its institution's own client reference, never
		// the other's.
		own, other := "WIJ-DOS-0042", "LL-2026-17"
		if strings.Contains(filepath.Base(f), "school-example-lyceum") {
			own, other = other, own
		}
		if !bytes.Contains(b, []byte(own)) || bytes.Contains(b, []byte(other)) {
			t.Errorf("%s: not its own reference %s alone", filepath.Base(f), own)
		}
		if bytes.Contains(b, []byte("j.bakker@lyceum.example")) && strings.Contains(filepath.Base(f), "school-example-lyceum") {
			toSchool++
			if !bytes.Contains(b, []byte("050-7654321")) {
				t.Errorf("%s does not give WIJ's professional", filepath.Base(f))
			}
		}
	}
	if toSchool != 1 {
		t.Errorf("%d mails to the school's professional, want 1", toSchool)
	}
	for _, needle := range []string{bsn, "2013-09-04", "04-09-2013", "20130904"} {
		if bytes.Contains(all, []byte(needle)) {
			t.Errorf("a mail holds %q", needle)
		}
	}
	// The delivery metrics are the worker's figures as of its last look,
	// which follows the last mail by at most a poll.
	var (
		st  int
		b   []byte
		err error
	)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, b, err = p.scrape()
		ok := err == nil && st == 200 && bytes.Contains(b, []byte(`vindex_deliveries_total{channel="email",result="delivered"} 3`)) &&
			bytes.Contains(b, []byte(`vindex_delivery_backlog_events{channel="email"} 0`)) &&
			!bytes.Contains(b, []byte(`vindex_delivery_backlog_events{channel="webhook"}`))
		if ok || time.Now().After(deadline) {
			if !ok {
				t.Errorf("metrics: %d %v\n%s", st, err, grepLines(b, "deliver"))
			}
			break
		}
	}
	p.stop(t)
	// The references are in the store only sealed; the professional's
	// address, stored in the clear, shows the scan sees what is written.
	found, err := canary.Needles{
		"reference WIJ": {[]byte("WIJ-DOS-0042")}, "reference school": {[]byte("LL-2026-17")},
		"contact": {[]byte("m.devries@wij.example")},
	}.ScanDir(filepath.Join(dir, "vindex-data", "store"))
	if err != nil || !slices.ContainsFunc(found, func(f string) bool { return strings.Contains(f, ": contact as") }) {
		t.Errorf("the scan did not find the stored contact: %v %v", found, err)
	}
	for _, f := range found {
		if strings.Contains(f, ": reference") {
			t.Errorf("a client reference in the clear in the store: %s", f)
		}
	}
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

// The server is killed with SIGKILL while it is mailing events, and
// restarted: every event of the outbox is mailed at least once, a repeat
// has the same Message-ID, and after the restart the outbox drains.
func TestDeliveryAfterKill(t *testing.T) {
	sink := smtptest.Start(t, nil) // in the clear: the server is told --smtp-tls none
	sink.SlowData(15 * time.Millisecond)
	dir := t.TempDir()
	args := []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--smtp-addr", sink.Addr, "--smtp-tls", "none", "--notify-poll", "20ms"}
	p := start(t, dir, args...)
	wij := devClient(t, dir, "vindex-data", p, "wij-groningen")
	school := devClient(t, dir, "vindex-data", p, "school-example-lyceum")
	const youths = 25
	for n := range youths {
		for _, r := range []struct {
			c    *client
			kind string
		}{{wij, "involvement"}, {school, "signal"}} {
			body := map[string]any{"bsn": validBSN(t, 500+n), "birth_date": "2013-09-04", "municipality": "GM0014", "kind": r.kind,
				"contact": map[string]string{"name": "A. Jansen", "email": "prof@example.org"}}
			if r.kind == "signal" {
				body["code"] = "S01"
			}
			if st, b, err := r.c.post("/v1/registrations", body); err != nil || st != 201 {
				t.Fatalf("report: %d %s %v", st, b, err)
			}
		}
	}
	// Kill it once some, not all, mails are out.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && len(sink.MessageIDs()) < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	p.kill(t)
	before := len(sink.MessageIDs())

	p = start(t, dir, args...)
	wij = devClient(t, dir, "vindex-data", p, "wij-groningen")
	school = devClient(t, dir, "vindex-data", p, "school-example-lyceum")
	want := map[string]bool{}
	for inst, c := range map[string]*client{"wij-groningen": wij, "school-example-lyceum": school} {
		st, b, err := c.get("/v1/events?limit=1000")
		evs := must[struct {
			Events []struct {
				Seq uint64 `json:"seq"`
			} `json:"events"`
		}](t, st, b, err, 200)
		for _, e := range evs.Events {
			want[fmt.Sprintf("<vx_%s_%d@vindex>", inst, e.Seq)] = true
		}
	}
	// Per youth: WIJ's no-match and match, the school's match.
	if len(want) != 3*youths {
		t.Fatalf("%d events in the outboxes, want %d", len(want), 3*youths)
	}
	deadline = time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		got := sink.MessageIDs()
		missing := 0
		for id := range want {
			if got[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := sink.MessageIDs()
	dup := 0
	for id, n := range got {
		if !want[id] {
			t.Errorf("a mail with an unknown Message-ID %s", id)
		}
		dup += n - 1
	}
	for id := range want {
		if got[id] == 0 {
			t.Errorf("event %s never mailed", id)
		}
	}
	t.Logf("%d of %d mailed before the kill; %d mailed twice, with the same Message-ID", before, len(want), dup)
	p.stop(t)
}
