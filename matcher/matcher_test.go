package matcher_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

func TestRegisterMatchAndCoordinator(t *testing.T) {
	e := newEnv(t)
	first := e.register(t, school, e.signal(t, 1))
	if first.Matched || len(first.Involved) != 0 || first.Coordinator.Institution != "" || first.Refreshed {
		t.Fatalf("lone report: %+v", first)
	}
	if got := types(e.events(t, school)); !slices.Equal(got, []string{"no-match"}) {
		t.Fatalf("school events after a lone report: %v", got)
	}

	e.clock.Add(time.Hour)
	second := e.register(t, wij, e.involvement(t, 1))
	if !second.Matched || len(second.Involved) != 1 || second.Involved[0].Institution != school {
		t.Fatalf("second report: %+v", second)
	}
	if second.Involved[0].Contact.Name != "M. Bakker" || second.Involved[0].Name == "" {
		t.Fatalf("involved party lacks contact or name: %+v", second.Involved[0])
	}
	if second.Coordinator.Institution != wij || second.Coordinator.Rule == "" {
		t.Fatalf("coordinator = %+v, want %s with a rule", second.Coordinator, wij)
	}
	// One event per recipient: the match names the coordinator and its
	// rule; no coordinator event of its own.
	sev := e.events(t, school)
	if got := types(sev); !slices.Equal(got, []string{"no-match", "match"}) {
		t.Fatalf("school events: %v", got)
	}
	if m := sev[1]; m.Coordinator != wij || m.Rule != second.Coordinator.Rule {
		t.Fatalf("school match event names coordinator %q rule %q, want %s %s", m.Coordinator, m.Rule, wij, second.Coordinator.Rule)
	}
	ev := e.events(t, wij)
	if got := types(ev); !slices.Equal(got, []string{"match"}) {
		t.Fatalf("wij events: %v", got)
	}
	if ev[0].Registration != second.ID || len(ev[0].Others) != 1 || ev[0].Others[0].Institution != school {
		t.Fatalf("wij match event: %+v", ev[0])
	}
	if ev[0].Coordinator != wij || ev[0].Rule != second.Coordinator.Rule {
		t.Fatalf("wij match event names coordinator %q rule %q", ev[0].Coordinator, ev[0].Rule)
	}

	// The school now sees the match too.
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: school}, e.youth(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !v.Matched || v.ID != first.ID || len(v.Involved) != 1 || v.Involved[0].Institution != wij || v.Coordinator.Institution != wij {
		t.Fatalf("school's view: %+v", v)
	}
}

func TestRefreshMakesNoNewMatch(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	a := e.register(t, wij, e.involvement(t, 1))
	before := len(e.events(t, ""))

	r := e.involvement(t, 1)
	r.Contact = contact("B. de Boer")
	b := e.register(t, wij, r)
	if b.ID != a.ID || !b.Refreshed || !b.Matched {
		t.Fatalf("refresh: %+v (first %+v)", b, a)
	}
	if after := len(e.events(t, "")); after != before {
		t.Fatalf("a refresh raised %d events", after-before)
	}
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: school}, e.youth(t, 1))
	if err != nil || len(v.Involved) != 1 || v.Involved[0].Contact.Name != "B. de Boer" {
		t.Fatalf("refreshed contact not seen: %+v %v", v, err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	r := e.involvement(t, 1)
	r.IdempotencyKey = "req-0001"
	first := e.register(t, ggd, r)
	nEvents := len(e.events(t, ""))

	e.clock.Add(time.Minute)
	again := e.register(t, ggd, r)
	if !again.Replayed || again.ID != first.ID || again.Matched != first.Matched ||
		again.Coordinator != first.Coordinator || len(again.Involved) != len(first.Involved) {
		t.Fatalf("retry: %+v\nfirst: %+v", again, first)
	}
	if n := len(e.events(t, "")); n != nEvents {
		t.Fatalf("retry raised %d events", n-nEvents)
	}

	other := e.involvement(t, 2)
	other.IdempotencyKey = "req-0001"
	_, err := e.m.Register(ctx, matcher.Actor{Institution: ggd}, other)
	if !errors.Is(err, matcher.ErrIdempotencyReuse) {
		t.Fatalf("same key for another youth: err = %v", err)
	}
	// After the idempotency window the key is forgotten: a retry is a
	// new report again (a refresh, as the registration is still there).
	e.clock.Add(30*24*time.Hour + 48*time.Hour) // the default window, 30 days
	if st, err := e.m.ExpireDue(ctx); err != nil || st.Idempotency != 1 {
		t.Fatalf("expiry of idempotency keys: %+v %v", st, err)
	}
	if late := e.register(t, ggd, r); late.Replayed || !late.Refreshed || late.ID != first.ID {
		t.Fatalf("retry after the window: %+v", late)
	}
	// Another institution's key space is its own.
	r2 := e.involvement(t, 2)
	r2.IdempotencyKey = "req-0001"
	if res := e.register(t, wij, r2); res.Replayed {
		t.Fatal("another institution's key replayed ggd's result")
	}
}

func TestBadInputIsRejectedAndWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.clock.Set(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	valid := e.involvement(t, 1)
	cases := []struct {
		name  string
		inst  string
		edit  func(*matcher.Registration)
		want  error
		field string
	}{
		{"unknown institution", "nobody", func(*matcher.Registration) {}, matcher.ErrUnknownInstitution, ""},
		{"no youth", ggd, func(r *matcher.Registration) { r.Youth = matcher.Youth{} }, matcher.ErrMissingYouth, "youth"},
		{"no birth date", ggd, func(r *matcher.Registration) { r.BirthDate = identity.BirthDate{} }, matcher.ErrMissingBirthDate, "birth_date"},
		{"born tomorrow", ggd, func(r *matcher.Registration) { r.BirthDate = birth(t, "2026-06-02") }, matcher.ErrNotAYouth, "birth_date"},
		{"turned 23", ggd, func(r *matcher.Registration) { r.BirthDate = birth(t, "2003-06-01") }, matcher.ErrNotAYouth, "birth_date"},
		{"municipality outside the covenant", ggd, func(r *matcher.Registration) { r.Municipality = "GM0363" }, matcher.ErrMunicipality, "municipality"},
		{"malformed municipality", ggd, func(r *matcher.Registration) { r.Municipality = "0014" }, matcher.ErrMunicipality, "municipality"},
		{"no kind", ggd, func(r *matcher.Registration) { r.Kind = 0 }, matcher.ErrKind, "kind"},
		{"signal without code", ggd, func(r *matcher.Registration) { r.Kind = matcher.Signal }, matcher.ErrSignalCode, "code"},
		{"involvement with code", ggd, func(r *matcher.Registration) { r.SignalCode = "S01" }, matcher.ErrSignalCode, "code"},
		{"free text as a signal code", ggd, func(r *matcher.Registration) { r.Kind, r.SignalCode = matcher.Signal, "vermoeden mishandeling" }, matcher.ErrUnknownSignalCode, "code"},
		{"a code the covenant does not list", ggd, func(r *matcher.Registration) { r.Kind, r.SignalCode = matcher.Signal, "S99" }, matcher.ErrUnknownSignalCode, "code"},
		{"a listed code in lower case", ggd, func(r *matcher.Registration) { r.Kind, r.SignalCode = matcher.Signal, "s01" }, matcher.ErrUnknownSignalCode, "code"},
		{"a listed code with a zero-width space", ggd, func(r *matcher.Registration) { r.Kind, r.SignalCode = matcher.Signal, "S01\u200b" }, matcher.ErrUnknownSignalCode, "code"},
		{"school registers involvement", school, func(*matcher.Registration) {}, matcher.ErrKindNotAllowed, "kind"},
		{"unknown sector", jbn, func(r *matcher.Registration) { r.Sector = "adoption" }, matcher.ErrSector, "sector"},
		{"contact without name", ggd, func(r *matcher.Registration) { r.Contact.Name = "" }, matcher.ErrContact, "contact"},
		{"contact unreachable", ggd, func(r *matcher.Registration) { r.Contact.Phone, r.Contact.Email = "", "" }, matcher.ErrContact, "contact"},
		{"control character in contact", ggd, func(r *matcher.Registration) { r.Contact.Name = "A\nB" }, matcher.ErrContactName, "contact.name"},
		{"free text as a name", ggd, func(r *matcher.Registration) { r.Contact.Name = "J. Jansen - vader drinkt" }, matcher.ErrContactName, "contact.name"},
		{"a BSN as a phone", ggd, func(r *matcher.Registration) { r.Contact.Phone = "164214768" }, matcher.ErrContactPhone, "contact.phone"},
		{"a display name in the e-mail", ggd, func(r *matcher.Registration) { r.Contact.Email = "Jansen <j@example.nl>" }, matcher.ErrContactEmail, "contact.email"},
		{"the birth date in the name", ggd, func(r *matcher.Registration) { r.Contact.Name = "A. Jansen 17 mei 2014" }, matcher.ErrIdentifiesYouth, "contact.name"},
		{"the BSN in the idempotency key", ggd, func(r *matcher.Registration) { r.IdempotencyKey = "retry-" + bsnFor(t, 1).RevealDigits() }, matcher.ErrIdentifiesYouth, "idempotency_key"},
		{"end date in the past", ggd, func(r *matcher.Registration) { r.EndsOn = time.Date(2026, 5, 31, 0, 0, 0, 0, time.UTC) }, matcher.ErrEndsOn, "ends_on"},
		{"idempotency key too long", ggd, func(r *matcher.Registration) { r.IdempotencyKey = string(make([]byte, 129)) }, matcher.ErrIdempotencyKey, "idempotency_key"},
	}
	seen := map[error]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := valid
			tc.edit(&r)
			_, err := e.m.Register(ctx, matcher.Actor{Institution: tc.inst}, r)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var fe *matcher.FieldError
			if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
				t.Fatalf("err = %#v, want a FieldError for %q", err, tc.field)
			}
			seen[tc.want] = true
		})
	}
	if ev := e.events(t, ""); len(ev) != 0 {
		t.Fatalf("rejected reports left %d events", len(ev))
	}
	if due, err := e.store.Due(ctx, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 10); err != nil || len(due) != 0 {
		t.Fatalf("rejected reports left registrations: %v %v", due, err)
	}
	// The valid report still goes through, as the first for this youth.
	if res := e.register(t, ggd, valid); res.Matched || res.Refreshed {
		t.Fatalf("valid report after rejections: %+v", res)
	}
}

func TestNoOracle(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	e.register(t, wij, e.involvement(t, 1))

	_, errKnown := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 1))
	_, errUnknown := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 99))
	if !errors.Is(errKnown, matcher.ErrNotInvolved) || !errors.Is(errUnknown, matcher.ErrNotInvolved) {
		t.Fatalf("uninvolved lookups: %v / %v", errKnown, errUnknown)
	}
	if errKnown.Error() != errUnknown.Error() {
		t.Fatalf("answers differ: %q vs %q", errKnown, errUnknown)
	}
	// Closing or ending for a youth one is not involved with says the same.
	if err := e.m.CloseCase(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("close by uninvolved: %v", err)
	}
	if err := e.m.CloseCase(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 99)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("close of unknown youth: %v", err)
	}
	// An ended registration no longer gives a view.
	res := e.register(t, ggd, e.involvement(t, 1))
	if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, res.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("lookup after ending: %v", err)
	}
}

func TestEnd(t *testing.T) {
	e := newEnv(t)
	s := e.register(t, school, e.signal(t, 1))
	w := e.register(t, wij, e.involvement(t, 1))
	g := e.register(t, ggd, e.involvement(t, 1))
	if w.Coordinator.Institution != wij {
		t.Fatalf("coordinator = %+v", w.Coordinator)
	}
	// Not one's own: the same answer as an unknown identifier.
	if err := e.m.End(ctx, matcher.Actor{Institution: school}, w.ID, time.Time{}, matcher.EndRiskGone); !errors.Is(err, matcher.ErrNotFound) {
		t.Fatalf("ending another's registration: %v", err)
	}
	if err := e.m.End(ctx, matcher.Actor{Institution: school}, store.NewID(), time.Time{}, matcher.EndRiskGone); !errors.Is(err, matcher.ErrNotFound) {
		t.Fatalf("ending an unknown registration: %v", err)
	}
	// The coordinator ends: the case gets a new coordinator.
	e.clock.Add(time.Hour)
	if err := e.m.End(ctx, matcher.Actor{Institution: wij}, w.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: school}, e.youth(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if v.Coordinator.Institution != ggd || len(v.Involved) != 1 || v.Involved[0].Institution != ggd {
		t.Fatalf("after the coordinator ended: %+v", v)
	}
	if got := types(e.events(t, ggd)); !slices.Contains(got, "ended") || got[len(got)-1] != "coordinator" {
		t.Fatalf("ggd events: %v", got)
	}
	// Ending twice is not an error; ending with a later day schedules it.
	if err := e.m.End(ctx, matcher.Actor{Institution: wij}, w.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatalf("second end: %v", err)
	}
	later := start.AddDate(0, 1, 0)
	if err := e.m.End(ctx, matcher.Actor{Institution: ggd}, g.ID, later, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	r, err := e.store.Registration(ctx, g.ID)
	if err != nil || !r.IsLive() || !r.EndsOn.Equal(time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("scheduled end: %+v %v", r, err)
	}
	if err := e.m.End(ctx, matcher.Actor{Institution: school}, s.ID, start.AddDate(0, 0, -1), matcher.EndRiskGone); !errors.Is(err, matcher.ErrEndDate) {
		t.Fatalf("end before it was made: %v", err)
	}
}

func TestCloseCase(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	w := e.register(t, wij, e.involvement(t, 1))
	if err := e.m.CloseCase(ctx, matcher.Actor{Institution: school}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotCoordinator) {
		t.Fatalf("close by a non-coordinator: %v", err)
	}
	if err := e.m.CloseCase(ctx, matcher.Actor{Institution: w.Coordinator.Institution}, e.youth(t, 1)); err != nil {
		t.Fatal(err)
	}
	for _, inst := range []string{school, wij} {
		if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: inst}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
			t.Fatalf("%s after close: %v", inst, err)
		}
		if got := types(e.events(t, inst)); got[len(got)-1] != "case-closed" {
			t.Fatalf("%s events: %v", inst, got)
		}
	}
	// A new report afterwards starts afresh.
	if res := e.register(t, ggd, e.involvement(t, 1)); res.Matched {
		t.Fatalf("report after close matched an ended registration: %+v", res)
	}
}

func TestRemove(t *testing.T) {
	e := newEnv(t)
	s := e.register(t, school, e.signal(t, 1))
	w := e.register(t, wij, e.involvement(t, 1))
	g := e.register(t, ggd, e.involvement(t, 1))
	wrong := matcher.RemoveWrong
	if err := e.m.Remove(ctx, matcher.Actor{Institution: ggd}, s.ID, wrong); !errors.Is(err, matcher.ErrNotCoordinator) {
		t.Fatalf("remove by non-coordinator: %v", err)
	}
	if err := e.m.Remove(ctx, matcher.Actor{Institution: police}, s.ID, wrong); !errors.Is(err, matcher.ErrNotFound) {
		t.Fatalf("remove by uninvolved: %v", err)
	}
	if err := e.m.Remove(ctx, matcher.Actor{Institution: wij}, s.ID, 0); !errors.Is(err, matcher.ErrRemoveReason) {
		t.Fatalf("remove without reason: %v", err)
	}
	if err := e.m.Remove(ctx, matcher.Actor{Institution: wij}, s.ID, wrong); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Registration(ctx, s.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removed registration still stored: %v", err)
	}
	if ev := e.events(t, school); ev[len(ev)-1].Type != store.EventRemoved || ev[len(ev)-1].Reason != "wrong" || ev[len(ev)-1].Subject != wij {
		t.Fatalf("school's last event: %+v", ev[len(ev)-1])
	}
	if got := types(e.events(t, wij)); got[len(got)-1] != "removed" {
		t.Fatalf("audit event for the remover missing: %v", got)
	}
	// A municipality after an upheld objection; others may not.
	if err := e.m.Remove(ctx, matcher.Actor{Institution: school}, g.ID, matcher.RemoveObjection); !errors.Is(err, matcher.ErrForbidden) {
		t.Fatalf("objection removal by a school: %v", err)
	}
	if err := e.m.Remove(ctx, matcher.Actor{Institution: gemeente}, g.ID, matcher.RemoveObjection); err != nil {
		t.Fatal(err)
	}
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1))
	if err != nil || v.Matched || len(v.Involved) != 0 || v.ID != w.ID {
		t.Fatalf("after removals: %+v %v", v, err)
	}
}

// TestRemoveWrongOnlyLive: the coordinator removes only live registrations
// as wrong; an ended one is kept as history, and the answer is the one for
// an unknown ID.
func TestRemoveWrongOnlyLive(t *testing.T) {
	e := newEnv(t)
	s := e.register(t, school, e.signal(t, 1))
	e.register(t, wij, e.involvement(t, 1))
	if err := e.m.End(ctx, matcher.Actor{Institution: school}, s.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	errEnded := e.m.Remove(ctx, matcher.Actor{Institution: wij}, s.ID, matcher.RemoveWrong)
	errUnknown := e.m.Remove(ctx, matcher.Actor{Institution: wij}, matcher.ID{1, 2, 3}, matcher.RemoveWrong)
	if !errors.Is(errEnded, matcher.ErrNotFound) || errEnded.Error() != errUnknown.Error() {
		t.Fatalf("removing an ended registration as wrong: %v (unknown ID: %v)", errEnded, errUnknown)
	}
	if r, err := e.store.Registration(ctx, s.ID); err != nil || r.IsLive() {
		t.Fatalf("the ended registration is gone: %+v %v", r, err)
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t)
	// Turns 23 on 2027-01-10: both registrations end on the first day of
	// that month (the store learns the birth month, never the day).
	r := e.involvement(t, 1)
	r.BirthDate = birth(t, "2004-01-10")
	a := e.register(t, ggd, r)
	s := e.signal(t, 1)
	s.BirthDate = r.BirthDate
	e.register(t, school, s)
	// Another youth reported now: ends two years later.
	b := e.register(t, ggd, e.involvement(t, 2))

	e.clock.Set(time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC))
	if st, err := e.m.ExpireDue(ctx); err != nil || st.Ended != 0 {
		t.Fatalf("the day before the month of the 23rd birthday: %+v %v", st, err)
	}
	e.clock.Set(time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC))
	st, err := e.m.ExpireDue(ctx)
	if err != nil || st.Ended != 2 || st.Purged != 2 {
		t.Fatalf("on the first day of the month of the 23rd birthday: %+v %v", st, err)
	}
	// Ended and destroyed in one run: nothing of a youth of 23 is kept,
	// not even in the archive (Jeugdwet art. 7.1.4.5).
	if _, err := e.store.Registration(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("registration after the 23rd birthday: %v", err)
	}
	if kase, regs := e.records(t, e.ps, 1); len(regs) != 0 || !kase.Youth.IsZero() {
		t.Fatalf("records after the 23rd birthday: %+v %+v", kase, regs)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("lookup of an expired youth: %v", err)
	}
	// Two years after the report.
	e.clock.Set(time.Date(2028, 3, 1, 12, 0, 0, 0, time.UTC))
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 2)); err != nil {
		t.Fatalf("the day before two years: %v", err)
	}
	e.clock.Set(time.Date(2028, 3, 2, 12, 0, 0, 0, time.UTC))
	// Even before the expiry run, a due registration no longer matches.
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 2)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("lookup on the day two years on: %v", err)
	}
	if st, err := e.m.ExpireDue(ctx); err != nil || st.Ended != 1 {
		t.Fatalf("two years on: %+v %v", st, err)
	}
	// Purged after the retention period (five years by default).
	e.clock.Set(time.Date(2033, 3, 3, 0, 0, 0, 0, time.UTC))
	st, err = e.m.ExpireDue(ctx)
	if err != nil || st.Purged != 1 {
		t.Fatalf("purge: %+v %v", st, err)
	}
	if _, err := e.store.Registration(ctx, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("purged registration still there: %v", err)
	}
	if st, err := e.m.ExpireDue(ctx); err != nil || st != (matcher.ExpireStats{}) {
		t.Fatalf("second run: %+v %v", st, err)
	}
}

// TestRecordDeath: a municipality serving one of the youth's registrations
// ends them all, and each institution hears of it once, with the
// municipality named; a municipality serving none of them, like one
// reporting a youth nobody registered, changes nothing and gets the same
// answer; an institution that is not a municipality is refused.
func TestRecordDeath(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	e.register(t, wij, e.involvement(t, 1))
	ggdReg := e.involvement(t, 1)
	ggdReg.Municipality = "GM1966" // Het Hogeland: the youth moved
	e.register(t, ggd, ggdReg)
	if err := e.m.RecordDeath(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1)); !errors.Is(err, matcher.ErrForbidden) {
		t.Fatalf("death recorded by a care provider: %v", err)
	}

	// Another municipality's youth, and a youth nobody registered: the same
	// answer, and nothing written.
	e.register(t, wij, e.involvement(t, 3)) // GM0014 only
	before := len(e.events(t, ""))
	notServed := e.m.RecordDeath(ctx, matcher.Actor{Institution: gemeenteElders}, e.youth(t, 3))
	unknown := e.m.RecordDeath(ctx, matcher.Actor{Institution: gemeenteElders}, e.youth(t, 4))
	if notServed != nil || unknown != nil {
		t.Fatalf("answers differ from an unknown youth's (nil): %v, %v", notServed, unknown)
	}
	if n := len(e.events(t, "")); n != before {
		t.Fatalf("a municipality not serving the youth wrote %d events", n-before)
	}
	if v, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 3)); err != nil {
		t.Fatalf("a municipality not serving the youth ended a registration: %+v %v", v, err)
	}

	// An archived registration of the youth (ended by its institution
	// more than a refresh window ago), and one idempotency record.
	melding := e.signal(t, 1)
	melding.IdempotencyKey = "melding-7"
	archived := e.register(t, police, melding)
	if err := e.m.End(ctx, matcher.Actor{Institution: police}, archived.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(matcher.DefaultRefreshWindow + time.Hour)
	regs := []store.ID{archived.ID}
	for _, inst := range []string{school, wij, ggd} {
		v, err := e.m.Lookup(ctx, matcher.Actor{Institution: inst}, e.youth(t, 1))
		if err != nil {
			t.Fatal(err)
		}
		regs = append(regs, v.ID)
	}

	// Het Hogeland serves the GGD's registration: the death ends all three,
	// and destroys everything about the youth, the archive included.
	earlier := e.events(t, "")
	if err := e.m.RecordDeath(ctx, matcher.Actor{Institution: gemeenteElders}, e.youth(t, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Fatalf("lookup after death: %v", err)
	}
	got := newEvents(earlier, e.events(t, ""))
	if len(got) != 3 {
		t.Fatalf("%d events for a death of a youth with three registrations: %+v", len(got), got)
	}
	for _, ev := range got {
		if ev.Type != store.EventEnded || ev.Reason != "death" || ev.Subject != gemeenteElders {
			t.Errorf("death event: %+v", ev)
		}
	}
	for _, id := range regs {
		if _, err := e.store.Registration(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("registration %s after the death: %v, want ErrNotFound", id, err)
		}
	}
	if err := e.store.View(ctx, mustYouth(t, e, 1), func(r store.Reader) error {
		_, hasCase := r.Case()
		if len(r.Registrations()) != 0 || len(r.History()) != 0 || hasCase {
			t.Errorf("after the death: %d live, %d archived, case %v", len(r.Registrations()), len(r.History()), hasCase)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.noIdempotency(t, 1, police, "melding-7")
}

// Two institutions reporting the same youth at the same moment make exactly
// one match, and both hear of it.
func TestConcurrentReportsMakeOneMatch(t *testing.T) {
	e := newEnv(t)
	const youths = 40
	results := make([][2]matcher.Result, youths)
	var wg sync.WaitGroup
	for i := range youths {
		for j, inst := range []string{wij, ggd} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := e.m.Register(ctx, matcher.Actor{Institution: inst}, e.involvement(t, i))
				if err != nil {
					t.Error(err)
				}
				results[i][j] = res
			}()
		}
	}
	wg.Wait()
	for i, pair := range results {
		if pair[0].Matched == pair[1].Matched {
			t.Fatalf("youth %d: matched = %v and %v, want exactly one", i, pair[0].Matched, pair[1].Matched)
		}
	}
	for _, inst := range []string{wij, ggd} {
		n := 0
		for _, ev := range e.events(t, inst) {
			if ev.Type == store.EventMatch {
				n++
			}
		}
		if n != youths {
			t.Fatalf("%s got %d match events for %d youths", inst, n, youths)
		}
	}
}

// A coordinator keeps the case when another care provider joins, even one a
// rule would prefer; only a rule with the final say takes it over.
func TestCoordinatorIsKeptUnlessFinalSay(t *testing.T) {
	e := newEnv(t)
	toddler := func(r matcher.Registration) matcher.Registration {
		r.BirthDate = birth(t, "2024-01-15") // 2 years old
		return r
	}
	e.register(t, school, toddler(e.signal(t, 1)))
	w := e.register(t, wij, toddler(e.involvement(t, 1)))
	if w.Coordinator.Institution != wij {
		t.Fatalf("first coordinator = %+v", w.Coordinator)
	}
	g := e.register(t, ggd, toddler(e.involvement(t, 1)))
	if g.Coordinator.Institution != wij {
		t.Fatalf("the GGD took over a working coordinator: %+v", g.Coordinator)
	}
	j := toddler(e.involvement(t, 1))
	j.Sector = "child-protection"
	res := e.register(t, jbn, j)
	if res.Coordinator.Institution != jbn || res.Coordinator.Rule != "jeugdbescherming-doorzettingsmacht" {
		t.Fatalf("final say not taken: %+v", res.Coordinator)
	}
	// The report that gave JBN the final say made a match: the old
	// coordinator learns of the new one in that match event, the only
	// event the report gave it.
	ev := e.events(t, wij)
	if last := ev[len(ev)-1]; last.Type != store.EventMatch || last.Coordinator != jbn || last.Rule != "jeugdbescherming-doorzettingsmacht" {
		t.Fatalf("the old coordinator was not told: %+v", last)
	}
	if prev := ev[len(ev)-2]; prev.Type != store.EventMatch || prev.Subject != ggd || prev.Coordinator != wij {
		t.Fatalf("wij's event of the GGD's report: %+v", prev)
	}
}

func TestEventsAreTheCallersOwn(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	e.register(t, wij, e.involvement(t, 1))
	e.register(t, wij, e.involvement(t, 2))

	all, err := e.m.Events(ctx, matcher.Actor{Institution: wij}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range all {
		got = append(got, ev.Type.String())
	}
	if !slices.Equal(got, []string{"match", "no-match"}) {
		t.Fatalf("wij events: %v", got)
	}
	for _, ev := range all {
		if ev.Recipient != wij {
			t.Fatalf("wij reads an event for %s", ev.Recipient)
		}
	}
	// Polling after the first event's number gives the rest, and a limit
	// bounds the page.
	rest, err := e.m.Events(ctx, matcher.Actor{Institution: wij}, all[0].Seq, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 1 || rest[0].Seq != all[1].Seq {
		t.Fatalf("page after %d: %+v", all[0].Seq, rest)
	}
	if _, err := e.m.Events(ctx, matcher.Actor{Institution: "nobody"}, 0, 10); !errors.Is(err, matcher.ErrUnknownInstitution) {
		t.Fatalf("unknown institution: %v", err)
	}
}

// Ending an ended registration is not an error, and what it finds due in
// the same youth's records (a registration whose end day has come) is
// ended with its events, as any other write of the youth does.
func TestEndOfAnEndedRegistrationCommitsWhatIsDue(t *testing.T) {
	e := newEnv(t)
	g := e.involvement(t, 1)
	g.EndsOn = start.AddDate(0, 0, 1)
	e.register(t, ggd, g)
	w := e.register(t, wij, e.involvement(t, 1))
	if err := e.m.End(ctx, matcher.Actor{Institution: wij}, w.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(24 * time.Hour)
	if err := e.m.End(ctx, matcher.Actor{Institution: wij}, w.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatalf("second end: %v", err)
	}
	ev := e.events(t, ggd)
	if last := ev[len(ev)-1]; last.Type != store.EventEnded || last.Subject != ggd || last.Reason != "expired" {
		t.Fatalf("ggd was not told its registration expired: %v, last %+v", types(ev), last)
	}
	if st, err := e.m.ExpireDue(ctx); err != nil || st.Ended != 0 {
		t.Fatalf("expiry run after: %+v %v", st, err)
	}
}

// One update tells each recipient once: a report that makes a match and
// assigns a coordinator gives each institution one match event naming the
// coordinator and its rule; a coordinator event goes out only when the
// coordinator changes without a match (its registration ends, or a rule with
// the final say takes over on a refresh).
func TestOneEventPerRecipientPerUpdate(t *testing.T) {
	e := newEnv(t)
	seen := map[string]int{}
	// news returns the events inst got since the last call.
	news := func(inst string) []store.Event {
		t.Helper()
		all := e.events(t, inst)
		out := all[seen[inst]:]
		seen[inst] = len(all)
		return out
	}
	expect := func(step, inst string, typ store.EventType, coordinator, rule string) {
		t.Helper()
		got := news(inst)
		if len(got) != 1 || got[0].Type != typ || got[0].Coordinator != coordinator || got[0].Rule != rule {
			t.Fatalf("%s: %s got %+v, want one %s event naming coordinator %q rule %q", step, inst, got, typ, coordinator, rule)
		}
	}

	e.register(t, school, e.signal(t, 1))
	expect("a lone report", school, store.EventNoMatch, "", "")

	e.register(t, wij, e.involvement(t, 1))
	for _, inst := range []string{school, wij} {
		expect("a match", inst, store.EventMatch, wij, "wij-team-stad-groningen")
	}

	// A third institution: a match for everyone, naming the coordinator,
	// who stays.
	e.register(t, ggd, e.involvement(t, 1))
	for _, inst := range []string{school, wij, ggd} {
		expect("a third institution", inst, store.EventMatch, wij, "wij-team-stad-groningen")
	}

	// The coordinator's registration ends while two others stay: they hear
	// that it ended and who coordinates now.
	e.clock.Add(time.Hour)
	v, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.End(ctx, matcher.Actor{Institution: wij}, v.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	if got := news(wij); len(got) != 0 {
		t.Fatalf("wij ended its own registration and got %+v", got)
	}
	for _, inst := range []string{school, ggd} {
		got := news(inst)
		if !slices.Equal(types(got), []string{"ended", "coordinator"}) || got[1].Coordinator != ggd || got[1].Rule != "eerste-zorgaanbieder" {
			t.Fatalf("the coordinator ended: %s got %+v", inst, got)
		}
	}

	// Youth protection joins: a match naming the coordinator, who stays;
	// on a refresh as a child-protection client its final say takes over,
	// with no match: a coordinator event for each.
	e.register(t, jbn, e.involvement(t, 1))
	for _, inst := range []string{school, ggd, jbn} {
		expect("youth protection joins", inst, store.EventMatch, ggd, "eerste-zorgaanbieder")
	}
	j := e.involvement(t, 1)
	j.Sector = "child-protection"
	if res := e.register(t, jbn, j); !res.Refreshed || res.Coordinator.Institution != jbn {
		t.Fatalf("refresh as a child-protection client: %+v", res)
	}
	for _, inst := range []string{school, ggd, jbn} {
		expect("the final say", inst, store.EventCoordinator, jbn, "jeugdbescherming-doorzettingsmacht")
	}
}
