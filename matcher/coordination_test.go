package matcher_test

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// TestCoordinationScenarios runs the scenarios of testdata/coordination
// against a matcher on a real Pebble store: the coordinator's acceptance,
// decline and hand-over, and the escalation ladder's deadlines on the
// working-day calendar. The format is the first comment block of each
// file.
func TestCoordinationScenarios(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "coordination", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no coordination scenarios")
	}
	for _, file := range files {
		for _, sc := range readScenarios(t, file) {
			t.Run(filepath.Base(file)+"/"+sc.name, func(t *testing.T) {
				r := &coordinationRun{lifecycleRun: lifecycleRun{e: newEnv(t), youths: map[string]lifecycleYouth{}, regs: map[string]matcher.ID{}},
					seen: map[string]uint64{}}
				for i, st := range sc.steps {
					if err := r.step(t, i, st.args); err != nil {
						t.Fatalf("%s:%d: %s: %v", file, st.line, strings.Join(st.args, " "), err)
					}
				}
			})
		}
	}
}

type coordinationRun struct {
	lifecycleRun
	seen map[string]uint64 // the last event each institution was shown
}

// coordinationErrors are the outcomes a step may expect after "=>".
var coordinationErrors = map[string]error{
	"not_involved":     matcher.ErrNotInvolved,
	"not_coordinator":  matcher.ErrNotCoordinating,
	"not_eligible":     matcher.ErrNotEligible,
	"no_handover":      matcher.ErrNoHandover,
	"already_accepted": matcher.ErrAlreadyAccepted,
	"invalid_reason":   matcher.ErrDeclineReason,
	"out_of_order":     matcher.ErrEscalationOrder,
	"unknown_step":     matcher.ErrEscalationStep,
	"invalid_decision": matcher.ErrDecision,
}

// step runs the i-th line of a scenario; a verb may end in "=> ERROR".
func (r *coordinationRun) step(t *testing.T, i int, a []string) error {
	var want error
	if n := len(a); n >= 2 && a[n-2] == "=>" {
		var ok bool
		if want, ok = coordinationErrors[a[n-1]]; !ok {
			return fmt.Errorf("unknown outcome %q", a[n-1])
		}
		a = a[:n-2]
	}
	err := r.do(t, i, a)
	switch {
	case want == nil:
		return err
	case err == nil:
		return fmt.Errorf("succeeded, want %v", want)
	case !errors.Is(err, want):
		return fmt.Errorf("error %v, want %v", err, want)
	}
	return nil
}

func (r *coordinationRun) do(t *testing.T, i int, a []string) error {
	want := map[string]int{"youth": 4, "on": 2, "report": 3, "end": 4, "accept": 3, "decline": 4, "handover": 4,
		"handover-accept": 3, "handover-decline": 4, "escalate": 4, "expect": 3, "restart": 1}
	if n, ok := want[a[0]]; !ok || len(a) < n {
		return errors.New("unknown step, or too few words")
	}
	actor := func() matcher.Actor { return matcher.Actor{Institution: a[1]} }
	who := func() (matcher.Youth, error) {
		_, w, err := r.youth(t, a[2])
		return w, err
	}
	switch a[0] {
	case "youth", "end":
		return r.lifecycleRun.step(t, a)
	case "on": // on DATE [HH:MM]: the clock, then the wake-ups and the expiry run
		at, err := time.Parse("2006-01-02 15:04", a[1]+" "+cmpOr(a, 2, "09:00"))
		if err != nil {
			return err
		}
		if i > 0 && at.Before(r.e.clock.Now()) {
			return errors.New("time only goes forward (but for a scenario's first step)")
		}
		r.e.clock.Set(at)
		if _, err := r.e.m.SendHeld(ctx); err != nil {
			return err
		}
		_, err = r.e.m.ExpireDue(ctx)
		return err
	case "report": // report INST NAME [signal|SECTOR]
		return r.report(t, a[1], a[2], cmpOr(a, 3, ""))
	case "restart":
		dir, ps, now := r.e.dir, r.e.ps, r.e.clock.Now()
		if err := r.e.store.Close(); err != nil {
			return err
		}
		r.e = newEnvWith(t, ps, dir, quiet())
		r.e.clock.Set(now)
		return nil
	case "expect":
		return r.expectCoordination(t, a[1:])
	}
	w, err := who()
	if err != nil {
		return err
	}
	switch a[0] {
	case "accept": // accept INST NAME
		return r.e.m.Accept(ctx, actor(), w)
	case "decline": // decline INST NAME REASON
		return r.e.m.Decline(ctx, actor(), w, matcher.DeclineReason(a[3]))
	case "handover": // handover INST NAME TO
		return r.e.m.Handover(ctx, actor(), w, a[3])
	case "handover-accept": // handover-accept INST NAME
		return r.e.m.AcceptHandover(ctx, actor(), w)
	case "handover-decline": // handover-decline INST NAME REASON
		return r.e.m.DeclineHandover(ctx, actor(), w, matcher.DeclineReason(a[3]))
	case "escalate": // escalate INST NAME STEP [COORDINATOR]
		return r.e.m.Escalate(ctx, actor(), w, matcher.Escalation{Step: a[3], Coordinator: cmpOr(a, 4, "")})
	}
	return errors.New("unknown step")
}

func cmpOr(a []string, i int, def string) string {
	if i < len(a) {
		return a[i]
	}
	return def
}

// report is lifecycleRun.report, with a sector for an involvement.
func (r *coordinationRun) report(t *testing.T, inst, name, what string) error {
	y, who, err := r.youth(t, name)
	if err != nil {
		return err
	}
	reg := matcher.Registration{Youth: who, BirthDate: y.born, Municipality: y.muni, Kind: matcher.Involvement, Contact: contact("A. Jansen")}
	switch what {
	case "":
	case "signal":
		reg.Kind, reg.SignalCode = matcher.Signal, "S01"
	default:
		reg.Sector = rules.Sector(what)
	}
	res, err := r.e.m.Register(ctx, matcher.Actor{Institution: inst}, reg)
	if err == nil {
		r.regs[inst+"/"+name] = res.ID
	}
	return err
}

// expectCoordination checks one of
//
//	expect coordinator NAME INST|none [rule RULE]
//	expect accepted NAME yes|no
//	expect accept-due NAME DATE HH:MM|none
//	expect escalation NAME STEP due DATE HH:MM|none
//	expect events INST TYPE…|-
//	expect excluded NAME INST…|-
func (r *coordinationRun) expectCoordination(t *testing.T, a []string) error {
	if a[0] == "events" {
		return r.expectEvents(a[1], a[2:])
	}
	y, ok := r.youths[a[1]]
	if !ok {
		return fmt.Errorf("no youth %q", a[1])
	}
	kase, _ := r.e.records(t, r.e.ps, y.n)
	when := func(t time.Time) string {
		if t.IsZero() {
			return "none"
		}
		return t.UTC().Format("2006-01-02 15:04")
	}
	rest := strings.Join(a[2:], " ")
	var got string
	switch a[0] {
	case "coordinator":
		got = cmp.Or(kase.Coordinator, "none")
		if strings.Contains(rest, " rule ") {
			got += " rule " + kase.Rule
		}
	case "accepted":
		got = "no"
		if !kase.AcceptedAt.IsZero() {
			got = "yes"
		}
	case "accept-due":
		got = when(kase.AcceptDue)
	case "escalation":
		got = "none"
		if n := len(kase.Escalation); n > 0 {
			s := kase.Escalation[n-1]
			got = s.Step + " due " + when(s.Due)
		}
	case "excluded":
		got = strings.Join(kase.Excluded, " ")
		if got == "" {
			got = "-"
		}
	default:
		return errors.New("unknown expectation")
	}
	if got != rest {
		return fmt.Errorf("got %q (case %+v)", got, kase)
	}
	return nil
}

// expectEvents checks the types of the events inst got since the last
// check, in order ("-": none).
func (r *coordinationRun) expectEvents(inst string, want []string) error {
	evs, err := r.e.m.Events(ctx, matcher.Actor{Institution: inst}, r.seen[inst], matcher.MaxEvents)
	if err != nil {
		return err
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Type.String())
		r.seen[inst] = e.Seq
	}
	if slices.Equal(want, []string{"-"}) {
		want = nil
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("events %v, want %v", got, want)
	}
	return nil
}

// A covenant without a term to accept replaces no coordinator for not
// answering: client systems that do not accept yet keep their
// coordinators, however many working days pass.
func TestNoTermNoLapse(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "covenant-groningen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "coordination:\n  accept_within_working_days: 2\n") {
		t.Fatal("the example covenant lacks its coordination section")
	}
	cov, err := rules.Load(strings.NewReader(strings.Replace(s, "coordination:\n  accept_within_working_days: 2\n", "", 1)), "covenant.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	m, err := matcher.New(matcher.Config{Store: e.store, Pseudonymiser: e.ps, Covenant: cov, Clock: e.clock.Now, Location: time.UTC, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range []string{school, wij, ggd} {
		r := e.involvement(t, 1)
		if inst == school {
			r = e.signal(t, 1)
		}
		if _, err := m.Register(ctx, matcher.Actor{Institution: inst}, r); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Add(30 * 24 * time.Hour)
	if _, err := m.SendHeld(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := m.Lookup(ctx, matcher.Actor{Institution: ggd}, e.youth(t, 1))
	if err != nil || v.Coordinator.Institution != wij {
		t.Fatalf("after 30 days without an acceptance: %+v %v, want %s still", v.Coordinator, err, wij)
	}
	for _, ev := range e.events(t, "") {
		if ev.Type == store.EventAcceptLapsed {
			t.Fatalf("a lapse without a term: %+v", ev)
		}
	}
}

// A coordinator whose term to accept has passed cannot accept in the
// moment before the case's wake-up assigns the next: the term is over.
func TestNoAcceptanceAfterTheTerm(t *testing.T) {
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	e.register(t, wij, e.involvement(t, 1))
	var due time.Time
	e.store.View(ctx, mustYouth(t, e, 1), func(r store.Reader) error {
		c, _ := r.Case()
		due = c.AcceptDue
		return nil
	})
	if due.IsZero() {
		t.Fatal("no term to accept")
	}
	e.clock.Set(due.Add(-time.Minute))
	if err := e.m.Accept(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1)); err != nil {
		t.Fatalf("a minute before the term is over: %v", err)
	}
	e2 := newEnv(t)
	e2.register(t, school, e2.signal(t, 1))
	e2.register(t, wij, e2.involvement(t, 1))
	e2.clock.Set(due)
	if err := e2.m.Accept(ctx, matcher.Actor{Institution: wij}, e2.youth(t, 1)); !errors.Is(err, matcher.ErrNotCoordinating) {
		t.Fatalf("when the term is over: %v, want ErrNotCoordinating", err)
	}
}
