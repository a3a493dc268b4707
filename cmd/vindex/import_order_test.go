package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/internal/testbsn"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// TestImportIsDeterministic: the rows of one youth are applied in the order
// of the file, whatever the number of writers, so the same file imported
// into fresh stores gives the same matches, coordinators and events every
// time. Each youth here is reported first by a care provider that the
// covenant's rules make coordinator as the first, then by another and by a
// school: if rows of one youth ran out of order, the other would be chosen
// now and then, and another institution would get the "no match yet".
func TestImportIsDeterministic(t *testing.T) {
	const youths, imports = 40, 5
	var csv strings.Builder
	csv.WriteString("institution,bsn,birth_date,municipality,kind,code,contact_name,contact_phone\n")
	for n := range youths {
		bsn := testbsn.For(30000000, n)
		fmt.Fprintf(&csv, "accare-groningen,%s,2013-04-01,GM0014,involvement,,A. Jansen,050-1111111\n", bsn)
		fmt.Fprintf(&csv, "halt-noord-nederland,%s,2013-04-01,GM0014,involvement,,B. de Vries,050-2222222\n", bsn)
		fmt.Fprintf(&csv, "school-example-lyceum,%s,2013-04-01,GM0014,signal,S01,M. Bakker,050-3333333\n", bsn)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "youths.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	var want []string
	for i := range imports {
		data := filepath.Join(dir, fmt.Sprintf("d%d", i))
		// Row by row with 16 writers, and in bulk, in turn.
		for _, args := range [][]string{
			{"keys", "init", "--dev", "--data", data, "--create-dev-kek"},
			{"import", file, "--dev", "--data", data, "--workers", "16", fmt.Sprintf("--bulk=%v", i%2 == 1)},
		} {
			if err := vindex(args, io.Discard, io.Discard); err != nil {
				t.Fatalf("vindex %s: %v", strings.Join(args[:2], " "), err)
			}
		}
		got := outboxOf(t, filepath.Join(data, "store"))
		// Per youth: no match yet for the first, a match naming the
		// coordinator for the first two, a match for all three.
		if len(got) != youths*6 {
			t.Fatalf("import %d: %d events, want %d", i, len(got), youths*6)
		}
		if i == 0 {
			want = got
			continue
		}
		if !slices.Equal(got, want) {
			t.Fatalf("import %d differs from the first:\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// outboxOf lists the events of the store in dir as sorted lines that name
// no key-dependent or random value: type, recipient, coordinator, rule,
// subject.
func outboxOf(t *testing.T, dir string) []string {
	t.Helper()
	st, err := pebblestore.Open(dir, &pebblestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.Events(context.Background(), "", 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, eventLine(e))
	}
	slices.Sort(out)
	return out
}

func eventLine(e store.Event) string {
	return fmt.Sprintf("%s to %s coordinator=%s rule=%s subject=%s", e.Type, e.Recipient, e.Coordinator, e.Rule, e.Subject)
}
