package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/testbsn"
	"github.com/vindex-nl/vindex/internal/tmpfs"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// equivalenceCSV writes the rows of the bulk import's equivalence test:
// youths first..first+n-1 reported in many ways (a match of two, three
// institutions, one alone, a refresh with another contact and end day, a
// signal code that changes), and rows that are rejected, either when read
// (a BSN failing the eleven-check, an unknown institution, a signal
// without a code, a contact that quotes the BSN) or by the matcher against
// the store (a birth date that differs from the one a youth is registered
// with). The rows are shuffled, each youth's rows keeping their order.
func equivalenceCSV(t *testing.T, path string, first, n int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var youths [][]string
	for i := range n {
		bsn := testbsn.For(40000000, first+i)
		row := func(inst, kind, code, name, phone, endsOn string) string {
			return fmt.Sprintf("%s,%s,2013-04-01,GM0014,%s,%s,%s,%s,%s", inst, bsn, kind, code, name, phone, endsOn)
		}
		var rows []string
		switch i % 6 {
		case 0, 1: // a match of two
			rows = append(rows, row("school-example-lyceum", "signal", "S01", "M. Bakker", "050-1111111", ""),
				row("wij-groningen", "involvement", "", "A. Jansen", "050-2222222", "2027-06-30"))
		case 2: // three, the first coordinating
			rows = append(rows, row("accare-groningen", "involvement", "", "A. Jansen", "050-1111111", ""),
				row("halt-noord-nederland", "involvement", "", "B. de Vries", "050-2222222", ""),
				row("school-example-lyceum", "signal", "S01", "M. Bakker", "050-3333333", ""))
		case 3: // one alone, refreshed twice, once with another end day
			rows = append(rows, row("wij-groningen", "involvement", "", "A. Jansen", "050-2222222", ""),
				row("wij-groningen", "involvement", "", "C. Visser", "050-4444444", "2027-01-31"),
				row("wij-groningen", "involvement", "", "C. Visser", "050-4444444", ""))
		case 4: // a signal whose code changes, then a match
			rows = append(rows, row("school-example-lyceum", "signal", "S01", "M. Bakker", "050-1111111", ""),
				row("school-example-lyceum", "signal", "S02", "M. Bakker", "050-1111111", ""),
				row("accare-groningen", "involvement", "", "A. Jansen", "050-1111111", ""))
		case 5: // rejected rows beside a good one
			rows = append(rows, row("wij-groningen", "involvement", "", "A. Jansen", "050-2222222", ""),
				row("nobody", "involvement", "", "A. Jansen", "050-2222222", ""),
				row("school-example-lyceum", "signal", "", "M. Bakker", "050-1111111", ""),
				row("school-example-lyceum", "signal", "S01", "M. "+bsn, "050-1111111", ""),
				strings.Replace(row("accare-groningen", "involvement", "", "A. Jansen", "050-1111111", ""), "2013-04-01", "2013-05-01", 1),
				"wij-groningen,123456789,2013-04-01,GM0014,involvement,,A. Jansen,050-2222222,")
		}
		youths = append(youths, rows)
	}
	var out strings.Builder
	out.WriteString("institution,bsn,birth_date,municipality,kind,code,contact_name,contact_phone,ends_on\n")
	for len(youths) > 0 {
		i := r.IntN(len(youths))
		out.WriteString(youths[i][0] + "\n")
		if youths[i] = youths[i][1:]; len(youths[i]) == 0 {
			youths = slices.Delete(youths, i, i+1)
		}
	}
	if err := os.WriteFile(path, []byte(out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBulkImportEqualsRows: a file imported in bulk (its sort and its load
// both spilling) and the same file imported row by row, each into a copy
// of one store that holds some of the file's youths already, report the
// same rows imported, matched and rejected (with the same lines and
// reasons), and leave stores with the same records: every youth's case
// and registrations, every event, audit entry and figure, and the same
// number of records of every kind; leaving out only what is random or
// the time of day (IDs, times, sealed values, sequence numbers).
func TestBulkImportEqualsRows(t *testing.T) {
	dir := t.TempDir()
	rows, bulk := filepath.Join(dir, "rows"), filepath.Join(dir, "bulk")
	before, file := filepath.Join(dir, "before.csv"), filepath.Join(dir, "import.csv")
	equivalenceCSV(t, before, 0, 60, 1)
	equivalenceCSV(t, file, 30, 400, 2) // youths 30 to 59 are in the store
	storeWith(t, rows, before)
	if out, err := exec.Command("cp", "-a", rows, bulk).CombinedOutput(); err != nil {
		t.Fatalf("copying the data directory: %v\n%s", err, out)
	}
	want := vindexImporting(t, "import", file, "--dev", "--data", rows, "--bulk=false")
	got := vindexImporting(t, "import", file, "--dev", "--data", bulk, "--memory", "16384")
	var sorted, sortRuns, sortMiB, tables, tableMiB, direct, loadRuns, loadMiB int
	var readTime, loadTime, writeTime string
	note := got[max(strings.Index(got, "read and sorted "), 0):]
	if _, err := fmt.Sscanf(note, "read and sorted %d rows in %s (%d runs, %d MiB, sealed); loaded them in %s wrote %d tables in %s (%d MiB, %d of them while loading; %d runs, %d MiB, on the way)",
		&sorted, &readTime, &sortRuns, &sortMiB, &loadTime, &tables, &writeTime, &tableMiB, &direct, &loadRuns, &loadMiB); err != nil || sortRuns < 10 || loadRuns < 10 {
		t.Errorf("the bulk import did not spill (%v): the test does not test it:\n%s", err, got)
	}
	// The youths come in their order: their records, and the audit log,
	// are written while loading, past the runs.
	if direct < 2 {
		t.Errorf("%d of %d tables written while loading; want the youths' and the audit log's at least:\n%s", direct, tables, got)
	}
	summary := func(out string) []string {
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			switch {
			case strings.HasPrefix(l, "imported "):
				lines = append(lines, l[:strings.Index(l, " in ")]+l[strings.LastIndex(l, ";"):])
			case strings.Contains(l, ".csv:"):
				lines = append(lines, l)
			}
		}
		return lines
	}
	if w, g := summary(want), summary(got); !slices.Equal(w, g) || len(w) < 2 {
		t.Errorf("row by row:\n%s\nbulk:\n%s", strings.Join(w, "\n"), strings.Join(g, "\n"))
	}
	if strings.Contains(want, "rejected 0 rows") || !strings.Contains(want, "birth date differs") {
		t.Errorf("the file does not test rejections, by the matcher too:\n%s", want)
	}
	w, g := storeLines(t, filepath.Join(rows, "store")), storeLines(t, filepath.Join(bulk, "store"))
	if !slices.Equal(w, g) {
		for i := range min(len(w), len(g)) {
			if w[i] != g[i] {
				t.Fatalf("stores differ (%d and %d lines); first at line %d:\nrow by row: %s\nbulk:       %s", len(w), len(g), i, w[i], g[i])
			}
		}
		t.Fatalf("stores differ: %d and %d lines", len(w), len(g))
	}
	t.Logf("%d lines alike; %s", len(w), summary(got)[0])
	if matches := strings.Count(strings.Join(w, "\n"), "event match"); matches < 200 {
		t.Errorf("only %d match events: the file does not test matching", matches)
	}
}

// vindexImporting runs vindex with args and returns what it printed on
// standard output: an import that rejected rows (exit status 1) passes,
// any other failure fails t.
func vindexImporting(t *testing.T, args ...string) string {
	t.Helper()
	var out, errs strings.Builder
	err := vindex(args, &out, &errs)
	var rejected exitError
	if err != nil && !(errors.As(err, &rejected) && rejected.code == 1) {
		t.Fatalf("vindex %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errs.String())
	}
	return out.String()
}

// storeWith makes the keysets of a --dev start in data and a store with
// the registrations of file, imported row by row with settings.
func storeWith(t *testing.T, data, file string, settings ...string) {
	t.Helper()
	vindexImporting(t, "keys", "init", "--dev", "--data", data, "--create-dev-kek")
	vindexImporting(t, append([]string{"import", file, "--dev", "--data", data, "--bulk=false"}, settings...)...)
}

// storeLines lists what the store in dir holds as sorted lines that name
// no random or time-of-day value: per youth (by pseudonym) its case and
// live registrations; the events and audit entries, each with the
// institution and youth of the registration it names; the figures'
// counters; and the number of records of each kind.
func storeLines(t *testing.T, dir string) []string {
	t.Helper()
	ctx := context.Background()
	rep, err := pebblestore.Verify(ctx, dir)
	if err != nil {
		t.Fatalf("verify %s: %v", dir, err)
	}
	var lines []string
	for kind, n := range rep.Records {
		lines = append(lines, fmt.Sprintf("records %s %d", kind, n))
	}
	st, err := pebblestore.Open(dir, &pebblestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	regs := map[store.ID]string{} // registration -> "institution@youth"
	var after pseudonym.Pseudonym
	for {
		youths, err := st.Youths(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(youths) == 0 {
			break
		}
		for _, p := range youths {
			err := st.View(ctx, []pseudonym.Pseudonym{p}, func(rd store.Reader) error {
				who := fmt.Sprintf("%x", p.Sum[:6])
				if c, ok := rd.Case(); ok {
					lines = append(lines, fmt.Sprintf("case %s matched=%v coordinator=%s rule=%s age=%d municipality=%s birth=%x ends=%d notices=%d",
						who, c.Matched, c.Coordinator, c.Rule, c.Age, c.Municipality, c.BirthCheck.Sum[:4], len(c.Ends), len(c.Notices)))
				}
				for _, r := range append(rd.Registrations(), rd.History()...) {
					regs[r.ID] = r.Institution + "@" + who
					lines = append(lines, fmt.Sprintf("registration %s@%s kind=%v code=%s urgent=%v sector=%s municipality=%s contact=%v ends=%s ended=%v reason=%v purge=%s clientref=%v band=%v inform=%+v",
						r.Institution, who, r.Kind, r.SignalCode, r.Urgent, r.Sector, r.Municipality, r.Contact, day(r.EndsOn), !r.EndedAt.IsZero(), r.EndReason, day(r.PurgeOn), len(r.ClientRef) > 0, r.AgeBand, r.Inform))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		after = youths[len(youths)-1]
	}
	evs, err := st.Events(ctx, "", 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		lines = append(lines, fmt.Sprintf("event %s of %s urgent=%v", eventLine(e), regs[e.Registration], e.Urgent))
	}
	audit, err := st.AuditEntries(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range audit {
		lines = append(lines, fmt.Sprintf("audit %s %v %s of %s youth=%v", a.Institution, a.Verb, a.Outcome, regs[a.Registration], !a.Youth.IsZero()))
	}
	month := time.Now().Format("2006-01")
	figs, err := st.Figures(ctx, month, month)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range figs.Counts {
		lines = append(lines, fmt.Sprintf("figure %+v", c))
	}
	slices.Sort(lines)
	return lines
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.DateOnly)
}

// TestBulkImportKilled: a bulk import killed while it loads (its sort and
// its load having spilled to the data directory) leaves the store as it
// was, with nothing of the import; what it left beside the store goes
// when the store is next opened (the load's runs) or at the next import
// (the sort's sealed runs), and that import takes the file whole.
func TestBulkImportKilled(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	before, file := filepath.Join(dir, "before.csv"), filepath.Join(dir, "import.csv")
	equivalenceCSV(t, before, 0, 60, 1)
	equivalenceCSV(t, file, 30, 30000, 3)
	storeWith(t, data, before)
	was := storeLines(t, filepath.Join(data, "store"))

	p := launch(t, dir, "import", file, "--dev", "--data", data, "--memory", "65536")
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(p.stderr.String(), "load: imported"); {
		if err, done := p.exited(); done {
			t.Fatalf("the import ended (%v) before it could be killed while loading:\n%s", err, p.stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import did not begin to load:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.kill(t)
	sorts, _ := filepath.Glob(filepath.Join(data, sortDirPrefix+"*"))
	loads, _ := filepath.Glob(filepath.Join(data, "store.load-*"))
	if len(sorts) != 1 || len(loads) != 1 {
		t.Fatalf("killed while loading, the import left sorts %v and loads %v: the test does not kill it where it means to", sorts, loads)
	}
	if got := storeLines(t, filepath.Join(data, "store")); !slices.Equal(got, was) {
		t.Fatalf("the killed import changed the store: %d lines, %d before", len(got), len(was))
	}
	if loads, _ := filepath.Glob(filepath.Join(data, "store.load-*")); len(loads) != 0 {
		t.Errorf("the load's runs are still there after the store was opened: %v", loads)
	}
	if out := vindexImporting(t, "import", file, "--dev", "--data", data); !strings.Contains(out, "imported 70000 registrations") {
		t.Errorf("import after the killed one:\n%s", out)
	}
	if sorts, _ := filepath.Glob(filepath.Join(data, sortDirPrefix+"*")); len(sorts) != 0 {
		t.Errorf("the killed import's sort is still there after the next import: %v", sorts)
	}
}

// TestBulkImportDiskFull: a bulk import that meets a full disk (a real
// file system with 40 MiB free, less than its runs and tables need) stops
// with the store as it was and nothing of it left in the data directory;
// once space is freed, the same import takes the file whole.
func TestBulkImportDiskFull(t *testing.T) {
	mnt := tmpfs.Mount(t, "160m")
	dir := t.TempDir()
	data := filepath.Join(mnt, "d")
	before, file := filepath.Join(dir, "before.csv"), filepath.Join(dir, "import.csv")
	equivalenceCSV(t, before, 0, 60, 1)
	equivalenceCSV(t, file, 30, 30000, 3)
	storeWith(t, data, before, "--min-free-disk", "-1")
	was := storeLines(t, filepath.Join(data, "store"))
	ballast := filepath.Join(mnt, "ballast")
	tmpfs.Fill(t, ballast, 40<<20)

	// The disk guard (--min-free-disk) off: the writes themselves fail.
	args := []string{"import", file, "--dev", "--data", data, "--memory", "1048576", "--min-free-disk", "-1"}
	var out, errs strings.Builder
	err := vindex(args, &out, &errs)
	var rejected exitError
	if err == nil || errors.As(err, &rejected) {
		t.Fatalf("import on a full disk: %v, want it stopped\n%s", err, out.String())
	}
	if !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("import on a full disk: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(data, "*"))
	for _, name := range left {
		if base := filepath.Base(name); strings.HasPrefix(base, sortDirPrefix) || strings.HasPrefix(base, "store.load-") {
			t.Errorf("left in the data directory: %s", base)
		}
	}
	if got := storeLines(t, filepath.Join(data, "store")); !slices.Equal(got, was) {
		t.Fatalf("the import on a full disk changed the store: %d lines, %d before", len(got), len(was))
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if out := vindexImporting(t, args...); !strings.Contains(out, "imported 70000 registrations") {
		t.Errorf("import with space again:\n%s", out)
	}
}
