package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/httpapi"
)

// TestImport: a CSV of 150 youths reported by a school and WIJ, with three
// bad rows, is imported: every good row is registered (the pairs match),
// every bad one is reported with its line and reason, none quotes a BSN;
// the server then sees the matches.
func TestImport(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("institution,bsn,birth_date,municipality,kind,code,contact_name,contact_phone\n")
	line := 1
	for n := range 150 {
		fmt.Fprintf(&b, "school-example-lyceum,%s,2013-04-0%d,GM0014,signal,S01,M. Bakker,050-1111111\n", validBSN(t, 5000+n), 1+n%9)
		fmt.Fprintf(&b, "wij-groningen,%s,2013-04-0%d,GM0014,involvement,,A. Jansen,050-2222222\n", validBSN(t, 5000+n), 1+n%9)
		line += 2
	}
	bad := []struct{ row, reason string }{
		{"wij-groningen,123456789,2013-04-01,GM0014,involvement,,A,1", "eleven-check (bsn)"},
		{"nobody," + validBSN(t, 9000) + ",2013-04-01,GM0014,involvement,,A,1", "unknown institution"},
		{"school-example-lyceum," + validBSN(t, 9001) + ",2013-04-01,GM0014,signal,,A,1", "needs a signal code"},
		{"school-example-lyceum," + validBSN(t, 9002) + ",2013-04-01,GM0014,signal,vermoeden mishandeling,A,1", "not one of the covenant's (code)"},
	}
	for _, x := range bad {
		b.WriteString(x.row + "\n")
	}
	os.WriteFile(filepath.Join(dir, "in.csv"), []byte(b.String()), 0o600)

	// The keyset and the store come from a first --dev start.
	p := start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	p.stop(t)
	c := exec.Command(binary, "import", "in.csv", "--dev", "--data", "d")
	c.Dir = dir
	var stdout, stderr strings.Builder
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	if c.ProcessState.ExitCode() != 1 {
		t.Fatalf("import with rejected rows: exit %d (%v)\n%s%s", c.ProcessState.ExitCode(), err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "imported 300 registrations (150 made a match)") || !strings.Contains(out, "rejected 4 rows") {
		t.Fatalf("summary:\n%s", out)
	}
	for i, x := range bad {
		want := fmt.Sprintf("in.csv:%d: ", line+1+i)
		if !strings.Contains(out, want) || !strings.Contains(out, x.reason) {
			t.Errorf("rejection of line %d (%s) not reported:\n%s", line+1+i, x.reason, out)
		}
	}
	for _, bsn := range []string{"123456789", validBSN(t, 9000), validBSN(t, 9001), validBSN(t, 5000)} {
		if strings.Contains(out+stderr.String(), bsn) {
			t.Fatalf("the import's output quotes a BSN")
		}
	}

	p = start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	school := devClient(t, dir, "d", p, "school-example-lyceum")
	for _, n := range []int{0, 77, 149} {
		s, b, err := school.post("/v1/lookups", httpapi.BSNRequest{BSN: validBSN(t, 5000+n)})
		if v := must[httpapi.ViewResponse](t, s, b, err, 200); !v.Matched || v.Coordinator == nil || v.Coordinator.Institution != "wij-groningen" {
			t.Fatalf("imported youth %d: %+v", n, v)
		}
	}
	p.stop(t)

	// A file with an unknown column is refused before anything is read.
	os.WriteFile(filepath.Join(dir, "bad.csv"), []byte("institution,bsn,birth_date,municipality,kind,diagnosis\n"), 0o600)
	if out := failing(t, dir, "import", "bad.csv", "--dev", "--data", "d"); !strings.Contains(out, `bad.csv:1: unknown column "diagnosis"`) {
		t.Fatalf("unknown column: %s", out)
	}
}

// TestImportNotify: with --notify=false an import's events are not mailed
// (the outbox shows nothing undelivered, and a server mails only what
// comes after), and its client references are stored and returned; a
// second such import is refused while events wait for delivery; a default
// import's events are mailed.
func TestImportNotify(t *testing.T) {
	dir := t.TempDir()
	csv := func(name string, from int) {
		var b strings.Builder
		b.WriteString("institution,bsn,birth_date,municipality,kind,code,contact_name,contact_email,client_ref\n")
		for n := from; n < from+5; n++ {
			fmt.Fprintf(&b, "school-example-lyceum,%s,2013-04-01,GM0014,signal,S01,M. Bakker,m.bakker@lyceum.example,LL-%d\n", validBSN(t, n), n)
			fmt.Fprintf(&b, "wij-groningen,%s,2013-04-01,GM0014,involvement,,A. Jansen,a.jansen@wij.example,WIJ-%d\n", validBSN(t, n), n)
		}
		os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o600)
	}
	csv("first.csv", 7000)
	csv("second.csv", 7100)
	csv("third.csv", 7200)
	p := start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0")
	p.stop(t)
	out := runCLI(t, dir, "import", "first.csv", "--dev", "--data", "d", "--notify=false")
	if !strings.Contains(out, "imported 10 registrations (5 made a match)") || !strings.Contains(out, "will not be delivered") {
		t.Fatalf("import --notify=false:\n%s", out)
	}
	if st := runCLI(t, dir, "outbox", "status", "--dev", "--data", "d"); len(strings.Split(strings.TrimSpace(st), "\n")) != 1 {
		t.Fatalf("outbox after import --notify=false:\n%s", st)
	}
	// A default import: its events wait for delivery, so a further
	// --notify=false import is refused before anything is read.
	if out := runCLI(t, dir, "import", "second.csv", "--dev", "--data", "d"); !strings.Contains(out, "imported 10 registrations") {
		t.Fatalf("import:\n%s", out)
	}
	if out := failing(t, dir, "import", "first.csv", "--dev", "--data", "d", "--notify=false"); !strings.Contains(out, "not yet delivered") {
		t.Fatalf("import --notify=false over undelivered events:\n%s", out)
	}

	p = start(t, dir, "serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0", "--notify-poll", "50ms")
	wij := devClient(t, dir, "d", p, "wij-groningen")
	s, b, err := wij.post("/v1/lookups", httpapi.BSNRequest{BSN: validBSN(t, 7003)})
	if v := must[httpapi.ViewResponse](t, s, b, err, 200); !v.Matched || v.ClientRef != "WIJ-7003" {
		t.Fatalf("imported youth: %+v", v)
	}
	// The second import's events: per youth, the school's no-match and
	// match, and WIJ's match (each match names the coordinator).
	mail := filepath.Join(dir, "d", "mail")
	var files []string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if files, _ = filepath.Glob(filepath.Join(mail, "*.eml")); len(files) >= 15 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // anything more would have come by now
	files, _ = filepath.Glob(filepath.Join(mail, "*.eml"))
	if len(files) != 15 {
		t.Fatalf("%d mails, want the second import's 15", len(files))
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("LL-70")) || bytes.Contains(b, []byte("WIJ-70")) {
			t.Fatalf("%s is about the first import", filepath.Base(f))
		}
		if !bytes.Contains(b, []byte("-71")) {
			t.Fatalf("%s quotes no reference of the second import", filepath.Base(f))
		}
	}
	p.stop(t)
	// Everything is mailed; no webhook is configured, so its never
	// delivered events do not stand in the way.
	if out := runCLI(t, dir, "import", "third.csv", "--dev", "--data", "d", "--notify=false"); !strings.Contains(out, "will not be delivered") {
		t.Fatalf("import --notify=false after delivery:\n%s", out)
	}
}
