package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// auditEntry is a sample audit entry by institution for verb.
func auditEntry(institution string, verb store.AuditVerb) store.AuditEntry {
	return store.AuditEntry{At: t0, Institution: institution, Credential: "token:" + institution, Verb: verb,
		Registration: store.NewID(), Youth: Youth(9, 1), Outcome: "ok"}
}

// sameAudit compares two audit entries, At by instant.
func sameAudit(a, b store.AuditEntry) bool {
	a.At, b.At = a.At.UTC(), b.At.UTC()
	return a == b
}

// AuditAll reads a store's whole audit log, in pages.
func AuditAll(t testing.TB, s store.AuditLog) []store.AuditEntry {
	t.Helper()
	return auditPages(t, func(after uint64) ([]store.AuditEntry, error) { return s.AuditEntries(ctx, after, 2) })
}

// auditPages reads every page of read, each from the last entry of the
// page before.
func auditPages(t testing.TB, read func(after uint64) ([]store.AuditEntry, error)) []store.AuditEntry {
	t.Helper()
	var (
		out   []store.AuditEntry
		after uint64
	)
	for {
		page, err := read(after)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

// testAudit: entries staged in an update commit with it, appended ones on
// their own; both are numbered 1, 2, 3, … in commit order and read back
// whole, in pages; an update that fails, or whose entry is invalid, writes
// nothing; an invalid entry appends nothing.
func testAudit(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	reg := Reg(y, "ggd", t0)
	first := auditEntry("ggd", store.AuditRegister)
	first.Registration = reg.ID
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.Put(reg)
		tx.Audit(first)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	lookup := auditEntry("school", store.AuditLookup)
	lookup.Registration, lookup.Outcome = store.ID{}, "not_involved"
	keys := store.AuditEntry{At: t0.Add(time.Hour), Institution: "operator", Verb: store.AuditKeyRotate, Outcome: "ok"}
	if err := s.AppendAudit(ctx, lookup, keys); err != nil {
		t.Fatal(err)
	}
	// Nothing of a failed update, nor of one with an invalid entry.
	failed := errors.New("no")
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.Audit(auditEntry("ggd", store.AuditEnd))
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("failed update: %v", err)
	}
	other := Reg(Youth(1, 2), "wij", t0)
	if err := s.Update(ctx, []pseudonym.Pseudonym{other.Youth}, func(tx store.Tx) error {
		tx.Put(other)
		tx.Audit(store.AuditEntry{Verb: 0})
		return nil
	}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("update with an invalid audit entry: %v", err)
	}
	if _, err := s.Registration(ctx, other.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the update with an invalid audit entry wrote its registration: %v", err)
	}
	long := auditEntry("ggd", store.AuditLookup)
	long.Outcome = string(make([]byte, store.MaxAuditOutcome+1))
	if err := s.AppendAudit(ctx, auditEntry("ggd", store.AuditLookup), long); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("append with an entry too long: %v", err)
	}

	got := AuditAll(t, s)
	want := []store.AuditEntry{first, lookup, keys}
	if len(got) != len(want) {
		t.Fatalf("%d audit entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		want[i].Seq = uint64(i + 1)
		if !sameAudit(got[i], want[i]) {
			t.Errorf("entry %d:\n got  %+v\n want %+v", i+1, got[i], want[i])
		}
	}
	if page, err := s.AuditEntries(ctx, 1, 1); err != nil || len(page) != 1 || page[0].Seq != 2 {
		t.Fatalf("the page after 1: %+v %v", page, err)
	}
	if page, err := s.AuditEntries(ctx, 3, 10); err != nil || len(page) != 0 {
		t.Fatalf("after the last: %+v %v", page, err)
	}
}

// testAuditAfterReopen: the numbering goes on after a reopen, and every
// entry acknowledged before it is there.
func testAuditAfterReopen(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	if err := s.AppendAudit(ctx, auditEntry("ggd", store.AuditLookup), auditEntry("ggd", store.AuditEvents)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, open)
	if err := s.AppendAudit(ctx, auditEntry("wij", store.AuditLookup)); err != nil {
		t.Fatal(err)
	}
	got := AuditAll(t, s)
	if len(got) != 3 || got[0].Seq != 1 || got[2].Seq != 3 || got[2].Institution != "wij" {
		t.Fatalf("after reopen: %+v", got)
	}
}

// testAuditConcurrent: appends and updates from many goroutines get every
// number from 1 to n once, and a reader polling meanwhile never sees a
// number before a lower one it then misses.
func testAuditConcurrent(t *testing.T, open Opener) {
	s := openStore(t, open)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := auditEntry("ggd", store.AuditLookup)
				if w%2 == 0 {
					errs <- s.AppendAudit(ctx, e)
					continue
				}
				y := Youth(2, w*1000+i)
				errs <- s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
					tx.Put(Reg(y, "ggd", t0))
					tx.Audit(e)
					return nil
				})
			}
		})
	}
	seen := uint64(0)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for polling := true; polling; {
		select {
		case <-done:
			polling = false
		default:
		}
		page, err := s.AuditEntries(ctx, seen, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if e.Seq != seen+1 {
				t.Fatalf("read %d after %d: a gap", e.Seq, seen)
			}
			seen = e.Seq
		}
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if all := AuditAll(t, s); len(all) != workers*each || all[len(all)-1].Seq != workers*each {
		t.Fatalf("%d entries, last %d; want %d", len(all), all[len(all)-1].Seq, workers*each)
	}
}

// AuditOf reads every audit entry of youth, in pages.
func AuditOf(t testing.TB, s store.AuditLog, youth pseudonym.Pseudonym) []store.AuditEntry {
	t.Helper()
	return auditPages(t, func(after uint64) ([]store.AuditEntry, error) { return s.AuditEntriesOf(ctx, youth, after, 2) })
}

// auditOfTwo writes the entries of two youths, interleaved, in updates and
// appends, with one entry of no youth among them; it returns the entries of
// the first and of the second, numbered, in order.
func auditOfTwo(t *testing.T, s store.Store) (first, second []store.AuditEntry) {
	t.Helper()
	a, b := Youth(3, 1), Youth(3, 2)
	entry := func(institution string, verb store.AuditVerb, youth pseudonym.Pseudonym, outcome string) store.AuditEntry {
		e := auditEntry(institution, verb)
		e.Youth, e.Outcome = youth, outcome
		return e
	}
	reg := Reg(a, "ggd", t0)
	register := entry("ggd", store.AuditRegister, a, "ok")
	register.Registration = reg.ID
	if err := s.Update(ctx, []pseudonym.Pseudonym{reg.Youth}, func(tx store.Tx) error {
		tx.Put(reg)
		tx.Audit(register)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	appended := []store.AuditEntry{
		entry("school", store.AuditLookup, b, "not_involved"),
		entry("wij", store.AuditLookup, a, "not_involved"),
		{At: t0, Institution: "operator", Verb: store.AuditKeyRotate, Outcome: "ok"},
		entry("ggd", store.AuditLookup, a, "ok"),
		entry("school", store.AuditRegister, b, "ok"),
	}
	for _, e := range appended {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	all := append([]store.AuditEntry{register}, appended...)
	for i := range all {
		all[i].Seq = uint64(i + 1)
		switch all[i].Youth {
		case a:
			first = append(first, all[i])
		case b:
			second = append(second, all[i])
		}
	}
	return first, second
}

// sameAuditList compares two lists of audit entries.
func sameAuditList(t *testing.T, what string, got, want []store.AuditEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d: %+v", what, len(got), len(want), got)
	}
	for i := range want {
		if !sameAudit(got[i], want[i]) {
			t.Errorf("%s, entry %d:\n got  %+v\n want %+v", what, i, got[i], want[i])
		}
	}
}

// testAuditOfYouth: AuditEntriesOf returns the entries of one youth only,
// in order, paged by after and limit; a youth with none, a zero youth and
// a limit not positive read nothing.
func testAuditOfYouth(t *testing.T, open Opener) {
	s := openStore(t, open)
	first, second := auditOfTwo(t, s)
	sameAuditList(t, "the first youth", AuditOf(t, s, first[0].Youth), first)
	sameAuditList(t, "the second youth", AuditOf(t, s, second[0].Youth), second)
	page, err := s.AuditEntriesOf(ctx, first[0].Youth, first[0].Seq, 1)
	if err != nil || len(page) != 1 || page[0].Seq != first[1].Seq {
		t.Fatalf("the page after the first entry: %+v %v", page, err)
	}
	for name, youth := range map[string]pseudonym.Pseudonym{"a youth never named": Youth(3, 3),
		"the first youth under another key": Youth(4, 1), "the zero youth": {}} {
		if page, err := s.AuditEntriesOf(ctx, youth, 0, 10); err != nil || len(page) != 0 {
			t.Errorf("%s: %+v %v", name, page, err)
		}
	}
	if page, err := s.AuditEntriesOf(ctx, first[0].Youth, 0, 0); err != nil || len(page) != 0 {
		t.Errorf("limit 0: %+v %v", page, err)
	}
	// The newest entries of a youth, in order.
	latest, err := s.LatestAuditEntriesOf(ctx, first[0].Youth, 2)
	if err != nil {
		t.Fatal(err)
	}
	sameAuditList(t, "the first youth's latest two", latest, first[len(first)-2:])
	if all, err := s.LatestAuditEntriesOf(ctx, second[0].Youth, 100); err != nil {
		t.Fatal(err)
	} else {
		sameAuditList(t, "the second youth's latest, all", all, second)
	}
	if none, err := s.LatestAuditEntriesOf(ctx, Youth(3, 3), 5); err != nil || len(none) != 0 {
		t.Errorf("latest of a youth never named: %+v %v", none, err)
	}
}

// testAuditOfYouthAfterReopen: the entries of a youth written before a
// reopen are found after it, with those written after.
func testAuditOfYouthAfterReopen(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	first, _ := auditOfTwo(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, open)
	later := auditEntry("jbn", store.AuditLookup)
	later.Youth = first[0].Youth
	if err := s.AppendAudit(ctx, later); err != nil {
		t.Fatal(err)
	}
	later.Seq = 7
	sameAuditList(t, "after reopen", AuditOf(t, s, later.Youth), append(first, later))
}
