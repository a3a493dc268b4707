package matcher_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
)

// TestEveryVerbIsAudited: each verb, answered or refused, leaves exactly one
// entry in the audit log, in the order of the calls, with the caller's
// institution and credential, the registration or the youth reference it
// named, and its outcome. The youth reference is the same for one youth in
// every entry, differs between youths, and is none of the store's
// pseudonyms of the youth.
func TestEveryVerbIsAudited(t *testing.T) {
	e := newEnv(t)
	as := func(inst string) matcher.Actor { return matcher.Actor{Institution: inst, Credential: "token:" + inst} }
	y1, y2 := e.youth(t, 1), e.youth(t, 2)
	type want struct {
		inst    string
		verb    store.AuditVerb
		reg     bool // names a registration
		youth   int  // 1 or 2; 0: none
		outcome string
	}
	var wants []want
	step := func(w want, err error) {
		t.Helper()
		if (w.outcome == "ok") != (err == nil) {
			t.Fatalf("%s %s: %v", w.inst, w.verb, err)
		}
		wants = append(wants, w)
	}
	s, err := e.m.Register(ctx, as(school), e.signal(t, 1))
	step(want{school, store.AuditRegister, true, 1, "ok"}, err)
	_, err = e.m.Register(ctx, as(ggd), e.involvement(t, 1))
	step(want{ggd, store.AuditRegister, true, 1, "ok"}, err)
	_, err = e.m.Register(ctx, as(ggd), e.involvement(t, 1))
	step(want{ggd, store.AuditRefresh, true, 1, "ok"}, err)
	_, err = e.m.Lookup(ctx, as(school), y1)
	step(want{school, store.AuditLookup, true, 1, "ok"}, err)
	_, err = e.m.Lookup(ctx, as(police), y2)
	step(want{police, store.AuditLookup, false, 2, "not_involved"}, err)
	err = e.m.RecordInformed(ctx, as(school), s.ID, matcher.Inform{Not: matcher.NotInformedDanger})
	step(want{school, store.AuditInform, true, 0, "ok"}, err)
	_, err = e.m.Letter(ctx, as(school), s.ID)
	step(want{school, store.AuditLetter, true, 0, "ok"}, err)
	err = e.m.End(ctx, as(police), s.ID, time.Time{}, matcher.EndRiskGone)
	step(want{police, store.AuditEnd, true, 0, "not_involved"}, err)
	err = e.m.End(ctx, as(school), s.ID, time.Time{}, matcher.EndRiskGone)
	step(want{school, store.AuditEnd, true, 0, "ok"}, err)
	_, err = e.m.Events(ctx, as(ggd), 0, 10)
	step(want{ggd, store.AuditEvents, false, 0, "ok"}, err)
	_, err = e.m.SubjectAccess(ctx, as(gemeente), y1, birth(t, "2014-05-17"))
	step(want{gemeente, store.AuditSubjectAccess, false, 1, "ok"}, err)
	_, err = e.m.SubjectAccess(ctx, as(gemeenteElders), y1, birth(t, "2014-05-17"))
	step(want{gemeenteElders, store.AuditSubjectAccess, false, 1, "not_involved"}, err)
	err = e.m.CloseCase(ctx, as(police), y1)
	step(want{police, store.AuditClose, false, 1, "not_involved"}, err)
	_, err = e.m.Object(ctx, as(gemeente), y2, birth(t, "2014-05-17"), matcher.AllInstitutions())
	step(want{gemeente, store.AuditObjection, false, 2, "ok"}, err)
	err = e.m.RecordDeath(ctx, as(school), y1)
	step(want{school, store.AuditDeath, false, 1, "forbidden"}, err)
	err = e.m.RecordDeath(ctx, as(gemeente), y1)
	step(want{gemeente, store.AuditDeath, false, 1, "ok"}, err)
	_, _, err = e.m.ExtractAudit(ctx, matcher.Operator, y1, 10)
	step(want{"operator", store.AuditExtract, false, 1, "ok"}, err)

	got := storetest.AuditAll(t, e.store)
	if len(got) != len(wants) {
		t.Fatalf("%d audit entries for %d calls", len(got), len(wants))
	}
	refs := map[int]pseudonym.Pseudonym{}
	for i, w := range wants {
		g := got[i]
		cred := "token:" + w.inst
		if w.inst == matcher.Operator.Institution {
			cred = "" // at the machine
		}
		if g.Seq != uint64(i+1) || g.Institution != w.inst || g.Credential != cred || g.Verb != w.verb ||
			g.Outcome != w.outcome || (g.Registration != store.ID{}) != w.reg || g.Youth.IsZero() != (w.youth == 0) || g.At.IsZero() {
			t.Errorf("entry %d: %+v; want %+v", i+1, g, w)
		}
		if w.youth == 0 {
			continue
		}
		if ref, ok := refs[w.youth]; ok && ref != g.Youth {
			t.Errorf("entry %d: youth %d under another reference", i+1, w.youth)
		}
		refs[w.youth] = g.Youth
	}
	if refs[1] == refs[2] {
		t.Error("two youths under one reference")
	}
	for n, ref := range refs {
		set, err := e.ps.Youth(bsnFor(t, n))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range set.All {
			if p == ref {
				t.Errorf("youth %d: the audit reference is the store's pseudonym", n)
			}
		}
	}
}

// failingAudit is a store whose audit log takes nothing.
type failingAudit struct{ store.Store }

var errAuditDisk = errors.New("audit disk full")

func (failingAudit) AppendAudit(context.Context, ...store.AuditEntry) error { return errAuditDisk }

// TestNoAnswerWithoutItsEntry: when the audit log cannot take a read's
// entry, the read answers nothing but the failure (fail closed).
func TestNoAnswerWithoutItsEntry(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	e.register(t, ggd, e.involvement(t, 1))
	e.rematch(t, failingAudit{e.store}, nil)
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: school}, e.youth(t, 1))
	if !errors.Is(err, errAuditDisk) || len(v.Involved) != 0 || v.ID != (store.ID{}) {
		t.Fatalf("lookup without its audit entry: %+v %v", v, err)
	}
	if _, err := e.m.Events(ctx, matcher.Actor{Institution: school}, 0, 10); !errors.Is(err, errAuditDisk) {
		t.Fatalf("events without their audit entry: %v", err)
	}
}

// appendSpy counts the audit entries appended on their own.
type appendSpy struct {
	store.Store
	appends int
}

func (s *appendSpy) AppendAudit(ctx context.Context, entries ...store.AuditEntry) error {
	s.appends += len(entries)
	return s.Store.AppendAudit(ctx, entries...)
}

// TestChangeAndEntryCommitTogether: a verb that changes records writes its
// entry in the commit of the change, not on its own; a read appends its
// entry on its own.
func TestChangeAndEntryCommitTogether(t *testing.T) {
	e := newEnv(t)
	spy := &appendSpy{Store: e.store}
	e.rematch(t, spy, nil)
	s := e.register(t, school, e.signal(t, 1))
	e.register(t, ggd, e.involvement(t, 1))
	if err := e.m.RecordInformed(ctx, matcher.Actor{Institution: school}, s.ID, matcher.Inform{Not: matcher.NotInformedLater}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.End(ctx, matcher.Actor{Institution: school}, s.ID, time.Time{}, matcher.EndOther); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RecordDeath(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, 1)); err != nil {
		t.Fatal(err)
	}
	if spy.appends != 0 {
		t.Fatalf("%d entries of changes appended on their own", spy.appends)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatal(err)
	}
	if spy.appends != 1 || len(storetest.AuditAll(t, e.store)) != 6 {
		t.Fatalf("%d appended, %d in the log; want the lookup's 1 of 6", spy.appends, len(storetest.AuditAll(t, e.store)))
	}
}

// TestExpiryIsAudited: what the expiry ends or destroys by its term is an
// entry of the audit log, in the commit that does it: by the operator,
// naming the registration (never the youth: the expiry has no BSN).
func TestExpiryIsAudited(t *testing.T) {
	e := newEnv(t)
	young, aged := e.involvement(t, 1), e.involvement(t, 2)
	young.EndsOn = e.clock.Now().AddDate(0, 0, 3)
	aged.BirthDate = birth(t, "2004-01-10") // 23 in January 2027
	yr, ar := e.register(t, ggd, young), e.register(t, ggd, aged)
	e.clock.Set(time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC))
	if _, err := e.m.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[store.ID]string{}
	for _, a := range storetest.AuditAll(t, e.store) {
		if a.Verb != store.AuditExpire {
			continue
		}
		if a.Institution != matcher.Operator.Institution || !a.Youth.IsZero() || a.At.IsZero() {
			t.Errorf("an expiry's entry: %+v", a)
		}
		got[a.Registration] = a.Outcome
	}
	if got[yr.ID] != "ended" || got[ar.ID] != "destroyed" || len(got) != 2 {
		t.Fatalf("expiry entries %v; want %s ended, %s destroyed", got, yr.ID, ar.ID)
	}
	// The archive's term over: the ended one is destroyed.
	e.clock.Set(time.Date(2033, 1, 1, 0, 30, 0, 0, time.UTC))
	if st, err := e.m.ExpireDue(ctx); err != nil || st.Purged != 1 {
		t.Fatalf("after the archive term: %+v %v", st, err)
	}
	all := storetest.AuditAll(t, e.store)
	if last := all[len(all)-1]; last.Verb != store.AuditExpire || last.Registration != yr.ID || last.Outcome != "destroyed" {
		t.Fatalf("the archive's destruction: %+v", last)
	}
}
