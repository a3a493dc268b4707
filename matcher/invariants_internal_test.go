//go:build invariants

package matcher

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// Each rule of checkYouth trips on a youth state that breaks it, and the
// panic names the rule and never the pseudonym or a registration ID.
func TestCheckYouthTrips(t *testing.T) {
	var sum [pseudonym.Size]byte
	for i := range sum {
		sum[i] = 0xa5
	}
	p := pseudonym.Pseudonym{KeyID: 7, Sum: sum}
	other := pseudonym.Pseudonym{KeyID: 8, Sum: sum}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	reg := func(inst string, kind store.Kind) store.Registration {
		return store.Registration{ID: store.NewID(), Youth: p, Institution: inst, Kind: kind, CreatedAt: day, EndsOn: day.AddDate(2, 0, 0)}
	}
	ended := func(r store.Registration) store.Registration {
		r.EndedAt, r.EndReason, r.PurgeOn = day, store.EndedByInstitution, day.AddDate(5, 0, 0)
		return r
	}
	wij, ggd, school := reg("wij", store.KindInvolvement), reg("ggd", store.KindInvolvement), reg("school", store.KindSignal)
	good := store.Case{Youth: p, Matched: true, Coordinator: "wij", Rule: "r", Age: 12}

	for _, tc := range []struct {
		name string // "" for a state that keeps every rule
		regs []store.Registration
		kase *store.Case
	}{
		{"", []store.Registration{wij, ggd, ended(school)}, &good},
		{"", nil, nil},
		{"", []store.Registration{ended(wij)}, &store.Case{Youth: p, Age: -1}},
		{"records-have-case", []store.Registration{wij}, nil},
		{"one-pseudonym", []store.Registration{wij, func() store.Registration { r := ggd; r.Youth = other; return r }()}, &good},
		{"ended-dated", []store.Registration{wij, ggd, func() store.Registration { r := ended(school); r.PurgeOn = time.Time{}; return r }()}, &good},
		{"ended-dated", []store.Registration{wij, ggd, func() store.Registration { r := school; r.EndReason = store.EndedByExpiry; return r }()}, &good},
		{"destroyed-at-23", []store.Registration{wij, ggd, func() store.Registration { r := ended(school); r.DestroyOn = day.AddDate(1, 0, 0); return r }()}, &good},
		{"destroyed-at-23", []store.Registration{func() store.Registration { r := wij; r.DestroyOn = day.AddDate(1, 0, 0); return r }(), ggd}, &good},
		{"one-live-per-institution", []store.Registration{wij, ggd, reg("wij", store.KindInvolvement)}, &good},
		{"matched-iff-two", []store.Registration{wij, ggd}, &store.Case{Youth: p, Coordinator: "wij"}},
		{"matched-iff-two", []store.Registration{wij, ended(ggd)}, &store.Case{Youth: p, Matched: true}},
		{"coordinator-involved", []store.Registration{wij, ended(ggd), school}, &store.Case{Youth: p, Matched: true, Coordinator: "ggd"}},
		{"coordinator-involved", []store.Registration{wij, school}, &store.Case{Youth: p, Matched: true, Coordinator: "school"}},
		{"", []store.Registration{wij, ggd}, withPlan(good, day.AddDate(0, 0, 8), store.Agreement{N: 1, Due: day.AddDate(0, 0, 7)}, store.Agreement{N: 3, Due: day, Overdue: true})},
		{"plan-with-case", []store.Registration{ended(wij)}, withPlan(store.Case{Youth: p, Age: -1}, time.Time{})},
		{"plan-bounded", []store.Registration{wij, ggd}, withPlan(good, time.Time{}, make([]store.Agreement, MaxAgreements+1)...)},
		{"agreements-numbered", []store.Registration{wij, ggd}, withPlan(good, day, store.Agreement{N: 2, Overdue: true}, store.Agreement{N: 2, Overdue: true})},
		{"agreement-woken", []store.Registration{wij, ggd}, withPlan(good, time.Time{}, store.Agreement{N: 1, Institution: "ggd", Due: day})},
		{"agreement-woken", []store.Registration{wij, ggd}, withPlan(good, day.AddDate(0, 0, 9), store.Agreement{N: 1, Institution: "ggd", Due: day.AddDate(0, 0, 7)})},
		{"", []store.Registration{wij, ggd}, &store.Case{Youth: p, Matched: true, Coordinator: "wij", AcceptDue: day.AddDate(0, 0, 2), WakeAt: day.AddDate(0, 0, 2)}},
		{"excluded-never-coordinates", []store.Registration{wij, ggd}, &store.Case{Youth: p, Matched: true, Coordinator: "wij", Excluded: []string{"wij"}}},
		{"accept-term-woken", []store.Registration{wij, ggd}, &store.Case{Youth: p, Matched: true, Coordinator: "wij", AcceptDue: day.AddDate(0, 0, 2)}},
		{"accept-term-woken", []store.Registration{wij, ggd}, &store.Case{Youth: p, Matched: true, AcceptDue: day, WakeAt: day}},
		{"escalation-woken", []store.Registration{wij, ggd}, &store.Case{Youth: p, Matched: true, Coordinator: "wij",
			Escalation: []store.EscalationStep{{Step: "own-management", By: "wij", At: day, Due: day.AddDate(0, 0, 3)}}, WakeAt: day.AddDate(0, 0, 4)}},
	} {
		msg := panicOf(func() { checkYouth(fakeReader{tc.regs, tc.kase}) })
		if tc.name == "" {
			if msg != "" {
				t.Errorf("a sound state tripped: %s", msg)
			}
			continue
		}
		if !strings.HasPrefix(msg, "matcher: invariant violated: "+tc.name+":") {
			t.Errorf("%s: panic %q, want one naming the rule", tc.name, msg)
		}
		for _, secret := range []string{hex.EncodeToString(sum[:]), "a5a5", p.String(), wij.ID.String(), ggd.ID.String(), school.ID.String()} {
			if strings.Contains(msg, secret) {
				t.Errorf("%s: panic %q quotes %q", tc.name, msg, secret)
			}
		}
	}
}

// withPlan returns c, woken at wake, with a plan of agreements.
func withPlan(c store.Case, wake time.Time, agreements ...store.Agreement) *store.Case {
	c.WakeAt = wake
	c.Plan = &store.Plan{Agreements: agreements}
	return &c
}

func panicOf(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg, _ = r.(string)
			if msg == "" {
				msg = "non-string panic"
			}
		}
	}()
	f()
	return ""
}

type fakeReader struct {
	regs []store.Registration
	kase *store.Case
}

func (f fakeReader) Registrations() []store.Registration { return f.regs }

func (fakeReader) Ended(store.ID) (store.Registration, bool) { return store.Registration{}, false }

func (fakeReader) History() []store.Registration { return nil }

func (f fakeReader) Case() (store.Case, bool) {
	if f.kase == nil {
		return store.Case{}, false
	}
	return *f.kase, true
}

func (fakeReader) Idempotency(pseudonym.Pseudonym) (store.Idempotency, bool) {
	return store.Idempotency{}, false
}
