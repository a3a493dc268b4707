package matcher_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// TestLifecycleScenarios runs the scenarios of testdata/lifecycle against
// a matcher on a real Pebble store: day by day, what is live, archived and
// destroyed. The format is written to be read without Go; the first
// comment block of each file says it.
func TestLifecycleScenarios(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "lifecycle", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no lifecycle scenarios")
	}
	for _, file := range files {
		for _, sc := range readScenarios(t, file) {
			t.Run(filepath.Base(file)+"/"+sc.name, func(t *testing.T) {
				r := &lifecycleRun{e: newEnv(t), youths: map[string]lifecycleYouth{}, regs: map[string]matcher.ID{}}
				for _, st := range sc.steps {
					if err := r.step(t, st.args); err != nil {
						t.Fatalf("%s:%d: %s: %v", file, st.line, strings.Join(st.args, " "), err)
					}
				}
			})
		}
	}
}

type scenarioStep struct {
	line int
	args []string
}

type lifecycleScenario struct {
	name  string
	steps []scenarioStep
}

// readScenarios splits file into its scenarios: each starts with a line
// "scenario NAME"; "#" starts a comment.
func readScenarios(t *testing.T, file string) []lifecycleScenario {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []lifecycleScenario
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		args := strings.Fields(line)
		switch {
		case len(args) == 0:
		case args[0] == "scenario":
			out = append(out, lifecycleScenario{name: strings.Join(args[1:], " ")})
		case len(out) == 0:
			t.Fatalf("%s:%d: a step before the first scenario", file, n)
		default:
			out[len(out)-1].steps = append(out[len(out)-1].steps, scenarioStep{n, args})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type lifecycleYouth struct {
	n     int
	born  identity.BirthDate
	muni  identity.Municipality
	items int // reports made, for idempotency keys
}

// lifecycleRun is one scenario's state: its youths by name, and the
// registrations by "INSTITUTION/YOUTH" with the idempotency keys of their
// reports.
type lifecycleRun struct {
	e      *env
	youths map[string]lifecycleYouth
	regs   map[string]matcher.ID
	keys   map[string][]string
}

func (r *lifecycleRun) youth(t *testing.T, name string) (lifecycleYouth, matcher.Youth, error) {
	y, ok := r.youths[name]
	if !ok {
		return y, matcher.Youth{}, fmt.Errorf("no youth %q (say \"youth %s born DATE\" first)", name, name)
	}
	return y, r.e.youth(t, y.n), nil
}

// step runs one line of a scenario.
func (r *lifecycleRun) step(t *testing.T, a []string) error {
	want := map[string]int{"youth": 4, "on": 2, "report": 3, "end": 4, "close": 3, "death": 3, "object": 4, "expect": 4}
	if n, ok := want[a[0]]; !ok || len(a) < n {
		return errors.New("unknown step, or too few words")
	}
	switch a[0] {
	case "youth": // youth NAME born DATE
		bd, err := identity.ParseBirthDate(a[3])
		if err != nil {
			return err
		}
		r.youths[a[1]] = lifecycleYouth{n: 100 + len(r.youths), born: bd, muni: "GM0014"}
		return nil
	case "on": // on DATE: the clock at 00:30 UTC, and the expiry run
		d, err := time.Parse(time.DateOnly, a[1])
		if err != nil {
			return err
		}
		if d.Before(civilDay(r.e.clock.Now())) {
			return errors.New("days only go forward")
		}
		if at := d.Add(30 * time.Minute); at.After(r.e.clock.Now()) {
			r.e.clock.Set(at)
		}
		_, err = r.e.m.ExpireDue(ctx)
		return err
	case "report": // report INST YOUTH [signal]
		return r.report(t, a[1], a[2], len(a) > 3 && a[3] == "signal")
	case "end": // end INST YOUTH REASON
		reason, err := matcher.ParseEndReason(a[3])
		if err != nil {
			return err
		}
		return r.e.m.End(ctx, matcher.Actor{Institution: a[1]}, r.regs[a[1]+"/"+a[2]], time.Time{}, reason)
	case "close": // close COORDINATOR YOUTH
		_, who, err := r.youth(t, a[2])
		if err != nil {
			return err
		}
		return r.e.m.CloseCase(ctx, matcher.Actor{Institution: a[1]}, who)
	case "death": // death MUNICIPALITY YOUTH
		_, who, err := r.youth(t, a[2])
		if err != nil {
			return err
		}
		return r.e.m.RecordDeath(ctx, matcher.Actor{Institution: a[1]}, who)
	case "object": // object MUNICIPALITY YOUTH all|INSTITUTION
		y, who, err := r.youth(t, a[2])
		if err != nil {
			return err
		}
		scope := matcher.OneInstitution(a[3])
		if a[3] == "all" {
			scope = matcher.AllInstitutions()
		}
		_, err = r.e.m.Object(ctx, matcher.Actor{Institution: a[1]}, who, y.born, scope)
		return err
	}
	return r.expect(t, a[1:])
}

func (r *lifecycleRun) report(t *testing.T, inst, name string, signal bool) error {
	y, who, err := r.youth(t, name)
	if err != nil {
		return err
	}
	y.items++
	r.youths[name] = y
	reg := matcher.Registration{Youth: who, BirthDate: y.born, Municipality: y.muni, Kind: matcher.Involvement, Contact: contact("A. Jansen")}
	if signal {
		reg.Kind, reg.SignalCode = matcher.Signal, "S01"
	}
	reg.IdempotencyKey = fmt.Sprintf("report-%d", y.items)
	res, err := r.e.m.Register(ctx, matcher.Actor{Institution: inst}, reg)
	if err != nil {
		return err
	}
	if r.keys == nil {
		r.keys = map[string][]string{}
	}
	r.regs[inst+"/"+name] = res.ID
	r.keys[inst+"/"+name] = append(r.keys[inst+"/"+name], reg.IdempotencyKey)
	return nil
}

// expect checks one of
//
//	expect INST YOUTH live|archived|destroyed
//	expect INST YOUTH match|no-match
//	expect YOUTH nothing kept
func (r *lifecycleRun) expect(t *testing.T, a []string) error {
	if a[1] == "nothing" {
		return r.nothingKept(t, a[0])
	}
	id, ok := r.regs[a[0]+"/"+a[1]]
	if !ok {
		return fmt.Errorf("%s never reported %s", a[0], a[1])
	}
	switch a[2] {
	case "match", "no-match":
		_, who, err := r.youth(t, a[1])
		if err != nil {
			return err
		}
		v, err := r.e.m.Lookup(ctx, matcher.Actor{Institution: a[0]}, who)
		if matched := err == nil && len(v.Involved) > 0; matched != (a[2] == "match") {
			return fmt.Errorf("lookup: %+v, %v", v.Involved, err)
		}
		return nil
	}
	reg, err := r.e.store.Registration(ctx, id)
	got := "live"
	switch {
	case errors.Is(err, store.ErrNotFound):
		got = "destroyed"
	case err != nil:
		return err
	case !reg.IsLive():
		got = "archived"
	}
	if got != a[2] {
		return fmt.Errorf("the registration is %s (%s)", got, describe(reg))
	}
	if got == "destroyed" {
		return r.noIdempotency(t, a[0], a[1])
	}
	return nil
}

func describe(r store.Registration) string {
	return fmt.Sprintf("ends on %s, ended %s for %s, purge on %s, destroy on %s",
		r.EndsOn.Format(time.DateOnly), r.EndedAt.Format(time.DateOnly), r.EndReason, r.PurgeOn.Format(time.DateOnly), r.DestroyOn.Format(time.DateOnly))
}

// noIdempotency checks that no idempotency record of inst's reports of the
// youth is left: a replay would be a new report.
func (r *lifecycleRun) noIdempotency(t *testing.T, inst, name string) error {
	y, _, err := r.youth(t, name)
	if err != nil {
		return err
	}
	set, err := r.e.ps.Youth(bsnFor(t, y.n))
	if err != nil {
		return err
	}
	var left []string
	err = r.e.store.View(ctx, set.All, func(rd store.Reader) error {
		for _, k := range r.keys[inst+"/"+name] {
			if _, ok := rd.Idempotency(r.e.idemKey(t, inst, k)); ok {
				left = append(left, k)
			}
		}
		return nil
	})
	if err == nil && len(left) > 0 {
		err = fmt.Errorf("idempotency records left: %v", left)
	}
	return err
}

// nothingKept checks that the store holds nothing under the youth's
// pseudonyms: no live registration, no archive, no case.
func (r *lifecycleRun) nothingKept(t *testing.T, name string) error {
	y, _, err := r.youth(t, name)
	if err != nil {
		return err
	}
	kase, regs := r.e.records(t, r.e.ps, y.n)
	if len(regs) > 0 || !kase.Youth.IsZero() {
		return fmt.Errorf("kept: case %+v, %d registrations", kase, len(regs))
	}
	for inst, id := range r.regs {
		if strings.HasSuffix(inst, "/"+name) {
			if _, err := r.e.store.Registration(ctx, id); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("registration of %s: %v", inst, err)
			}
		}
	}
	return nil
}
