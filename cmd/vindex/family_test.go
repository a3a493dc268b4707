package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/internal/canary"
)

// TestDevFamilyMailsHoldNoParent: two institutions report two children
// with a parent in common to vindex serve --dev; each gets a family-match
// mail naming the other's professional. No mail, no log line, no metric
// and no file of the store holds the parent's BSN (the scan finds the
// professional's address, stored in the clear, so it sees what is
// written).
func TestDevFamilyMailsHoldNoParent(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--listen", "127.0.0.1:0", "--notify-poll", "50ms")
	wij := devClient(t, dir, "vindex-data", p, "wij-groningen")
	school := devClient(t, dir, "vindex-data", p, "school-example-lyceum")
	parent, other := validBSN(t, 801), validBSN(t, 802)
	for _, r := range []struct {
		c    *client
		body map[string]any
	}{
		{wij, map[string]any{"bsn": validBSN(t, 81), "birth_date": "2013-09-04", "municipality": "GM0014", "kind": "involvement",
			"contact": map[string]string{"name": "M. de Vries", "phone": "050-7654321", "email": "m.devries@wij.example"}, "parents": []string{parent, other}}},
		{school, map[string]any{"bsn": validBSN(t, 82), "birth_date": "2011-02-14", "municipality": "GM0014", "kind": "signal", "code": "S01",
			"contact": map[string]string{"name": "J. Bakker", "phone": "050-1112222", "email": "j.bakker@lyceum.example"}, "parents": []string{parent}}},
	} {
		if st, b, err := r.c.post("/v1/registrations", r.body); err != nil || st != 201 {
			t.Fatalf("report: %d %s %v", st, b, err)
		}
	}
	mail := filepath.Join(dir, "vindex-data", "mail")
	family := map[string]bool{}
	var all []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && len(family) < 2; time.Sleep(50 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(mail, "*.eml"))
		all = nil
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
			if bytes.Contains(b, []byte("gezinsmatch")) || bytes.Contains(b, []byte("family match")) {
				switch {
				case strings.Contains(filepath.Base(f), "wij-groningen") && bytes.Contains(b, []byte("050-1112222")):
					family["wij"] = true
				case strings.Contains(filepath.Base(f), "school-example-lyceum") && bytes.Contains(b, []byte("050-7654321")):
					family["school"] = true
				}
			}
		}
	}
	if len(family) != 2 {
		t.Fatalf("family-match mails naming the other professional: %v", family)
	}
	_, metrics, err := p.scrape()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(metrics, []byte(`vindex_outbox_events_total{type="family-match"} 2`)) {
		t.Errorf("metrics do not count the family matches:\n%s", grepLines(metrics, "family"))
	}
	p.stop(t)
	needles := canary.Needles{}
	needles.BSN("parent", parent)
	needles.BSN("other parent", other)
	for where, b := range map[string][]byte{"mails": all, "metrics": metrics, "stdout": p.stdout.Bytes(), "stderr": p.stderr.Bytes()} {
		if found := needles.Scan(where, b); len(found) > 0 {
			t.Errorf("a parent's BSN in the %s:\n%s", where, strings.Join(found, "\n"))
		}
	}
	needles["contact"] = [][]byte{[]byte("m.devries@wij.example")}
	found, err := needles.ScanDir(filepath.Join(dir, "vindex-data", "store"))
	if err != nil {
		t.Fatal(err)
	}
	sawContact := false
	for _, f := range found {
		if strings.Contains(f, ": contact as") {
			sawContact = true
			continue
		}
		t.Errorf("a parent's BSN in the store: %s", f)
	}
	if !sawContact {
		t.Error("the scan did not find the stored contact: it would find nothing")
	}
}
