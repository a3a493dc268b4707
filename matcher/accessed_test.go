package matcher_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// accessLine is an access as a test compares it.
type accessLine struct {
	inst, verb, outcome string
	on                  time.Time
}

func accessLines(a []matcher.Accessed) []accessLine {
	var out []accessLine
	for _, x := range a {
		out = append(out, accessLine{x.Institution, x.Verb.String(), x.Outcome, x.On})
	}
	return out
}

func sameLines(t *testing.T, got, want []accessLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("accesses:\n got  %v\n want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("access %d:\n got  %v\n want %v", i, got[i], want[i])
		}
	}
}

// TestSubjectAccessListsWhoAccessed: two institutions register a youth and
// one looks it up; an uninvolved institution's lookup (not_involved) is an
// access attempt too. Subject access lists each, in order, by institution,
// verb, day and outcome, with the covenant's name; not the accesses to
// another youth, and not its own call, which the next one lists.
func TestSubjectAccessListsWhoAccessed(t *testing.T) {
	e := newEnv(t)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	e.register(t, wij, e.involvement(t, 1))
	e.register(t, ggd, e.involvement(t, 2)) // another youth
	e.clock.Add(24 * time.Hour)
	e.register(t, school, e.signal(t, 1))
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1)); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(24 * time.Hour)
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: police}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("the uninvolved lookup: %v", err)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: police}, e.youth(t, 2)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("the uninvolved lookup of another youth: %v", err)
	}
	a, err := e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1), birth(t, "2014-05-17"))
	if err != nil {
		t.Fatal(err)
	}
	want := []accessLine{
		{wij, "register", "ok", day(2)},
		{school, "register", "ok", day(3)},
		{wij, "lookup", "ok", day(3)},
		{police, "lookup", "not_involved", day(4)},
	}
	sameLines(t, accessLines(a.Accesses), want)
	if a.AccessesCut || a.Accesses[0].Name != "WIJ Groningen" || !a.Accesses[0].At.Equal(start) {
		t.Errorf("the first access: %+v (cut %v)", a.Accesses[0], a.AccessesCut)
	}

	// The municipality's own request is listed by the next one.
	e.clock.Add(time.Hour)
	a, err = e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1), birth(t, "2014-05-17"))
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, accessLines(a.Accesses), append(want, accessLine{gemeente, "subject-access", "ok", day(4)}))
}

// TestWhoAccessedAcrossRotation: after a key rotation, the accesses under
// the old key are listed with those under the new one.
func TestWhoAccessedAcrossRotation(t *testing.T) {
	e, h := newRotatableEnv(t)
	e.register(t, wij, e.involvement(t, 1))
	m2, _ := e.rotated(t, h)
	who, err := m2.YouthByBSN(bsnFor(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Lookup(ctx, matcher.Actor{Institution: school}, who); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("lookup after the rotation: %v", err)
	}
	a, err := m2.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, who, birth(t, "2014-05-17"))
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, accessLines(a.Accesses), []accessLine{
		{wij, "register", "ok", civilDay(start)},
		{school, "lookup", "not_involved", civilDay(start)},
	})
}

// TestExtractAuditBounded: ExtractAudit returns the first limit entries in
// order and says there are more; a limit not positive reads nothing. Each
// extract leaves its own entry, by the operator (no institution), which
// the next one lists.
func TestExtractAuditBounded(t *testing.T) {
	e := newEnv(t)
	operator := matcher.Operator
	e.register(t, wij, e.involvement(t, 1))
	for range 4 {
		e.m.Lookup(ctx, matcher.Actor{Institution: police}, e.youth(t, 1))
	}
	all, more, err := e.m.ExtractAudit(ctx, operator, e.youth(t, 1), 100)
	if err != nil || more || len(all) != 5 {
		t.Fatalf("all: %d entries, more %v, %v", len(all), more, err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq || all[i].Verb != store.AuditLookup {
			t.Fatalf("entry %d: %+v after %+v", i, all[i], all[i-1])
		}
	}
	first, more, err := e.m.ExtractAudit(ctx, operator, e.youth(t, 1), 3)
	if err != nil || !more || len(first) != 3 || first[2] != all[2] {
		t.Fatalf("the first three: %+v, more %v, %v", first, more, err)
	}
	if got, more, err := e.m.ExtractAudit(ctx, operator, e.youth(t, 1), 0); err != nil || more || len(got) != 0 {
		t.Fatalf("limit 0: %+v %v %v", got, more, err)
	}
	if _, _, err := e.m.ExtractAudit(ctx, operator, matcher.Youth{}, 10); !errors.Is(err, matcher.ErrMissingYouth) {
		t.Fatalf("no youth: %v", err)
	}
	got, _, err := e.m.ExtractAudit(ctx, operator, e.youth(t, 1), 100)
	if err != nil || len(got) != 8 {
		t.Fatalf("after three extracts: %d entries, %v", len(got), err)
	}
	for _, x := range got[5:] {
		if x.Verb != store.AuditExtract || x.Institution != "operator" || x.Outcome != "ok" {
			t.Errorf("an extract's entry: %+v", x)
		}
	}
}

// TestSubjectAccessShowsTheNewest: a flood of refused lookups (anyone may
// look a youth up and be refused) cannot hide a later access: subject
// access lists the newest MaxAccesses and says older ones are left out.
func TestSubjectAccessShowsTheNewest(t *testing.T) {
	e := newEnv(t)
	e.register(t, wij, e.involvement(t, 1))
	ref, err := e.ps.Of(pseudonym.DomainYouthAudit, []byte(bsnDigits(t, 1)))
	if err != nil {
		t.Fatal(err)
	}
	flood := make([]store.AuditEntry, matcher.MaxAccesses)
	for i := range flood {
		flood[i] = store.AuditEntry{At: e.clock.Now(), Institution: police, Verb: store.AuditLookup, Youth: ref.Primary, Outcome: "not_involved"}
	}
	if err := e.store.AppendAudit(ctx, flood...); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(24 * time.Hour)
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1)); err != nil {
		t.Fatal(err)
	}
	a, err := e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1), birth(t, "2014-05-17"))
	if err != nil {
		t.Fatal(err)
	}
	last := a.Accesses[len(a.Accesses)-1]
	if !a.AccessesCut || len(a.Accesses) != matcher.MaxAccesses || last.Institution != wij || last.Verb != store.AuditLookup {
		t.Fatalf("after a flood: %d accesses, cut %v, the last %+v", len(a.Accesses), a.AccessesCut, last)
	}
}
