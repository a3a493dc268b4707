package matcher_test

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// TestFamilyScenarios runs the scenarios of testdata/family against a
// matcher on a real Pebble store on disk. The format is written to be read
// without Go; the first comment block of each file says it.
func TestFamilyScenarios(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "family", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no family scenarios")
	}
	for _, file := range files {
		for _, sc := range readScenarios(t, file) {
			// Each scenario in both modes: hmac (BSNs and addresses) and
			// blind (their elements, made with a key holder's key).
			for _, blind := range []bool{false, true} {
				mode := "hmac"
				if blind {
					mode = "blind"
				}
				t.Run(filepath.Base(file)+"/"+sc.name+"/"+mode, func(t *testing.T) {
					r := &familyRun{people: map[string]familyPerson{}, regs: map[string]matcher.ID{}, seen: map[string]int{}}
					if blind {
						r.key = oprf.GenerateKey()
					}
					for _, st := range sc.steps {
						if err := r.step(t, st.args); err != nil {
							t.Fatalf("%s:%d: %s: %v", file, st.line, strings.Join(st.args, " "), err)
						}
					}
				})
			}
		}
	}
}

// newBlindFamilyEnv is newFamilyEnv for a blind deployment whose clients
// blind with key: the excluded addresses are given as their elements.
func newBlindFamilyEnv(t testing.TB, excluded []identity.Address, key *oprf.PrivateKey) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := pebblestore.Open(dir, &pebblestore.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cov := *exampleCovenant(t)
	cov.Family = rules.Family{AddressMatching: true, ExcludedAddresses: excluded}
	ex := &matcher.ExcludedElements{Key: oprf.LayerID(key.Public())}
	if len(excluded) > 0 {
		ins := make([]oprf.Input, len(excluded))
		for i, a := range excluded {
			ins[i] = oprf.AddressInput(a)
		}
		ex.Elements = testkeys.InputElements(t, ins, key)
	}
	ps := freshPseudonymiser(t)
	c := &clock{now: start}
	m, err := matcher.New(matcher.Config{Store: st, Pseudonymiser: ps, ClientRefs: testkeys.Sealer(t), Covenant: &cov, Clock: c.Now,
		Location: time.UTC, Logger: quiet(), Blind: true, ExcludedAddressElements: ex})
	if err != nil {
		t.Fatal(err)
	}
	return &env{m: m, store: st, clock: c, ps: ps, dir: dir}
}

// newFamilyEnv is newEnv under the example covenant with address matching
// on and the addresses excluded.
func newFamilyEnv(t testing.TB, excluded []identity.Address) *env {
	t.Helper()
	return newFamilyEnvWith(t, excluded, t.TempDir(), quiet())
}

// newFamilyEnvWith is newFamilyEnv with the store in dir and the matcher's
// logs to logger.
func newFamilyEnvWith(t testing.TB, excluded []identity.Address, dir string, logger *slog.Logger) *env {
	t.Helper()
	st, err := pebblestore.Open(dir, &pebblestore.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cov := *exampleCovenant(t)
	cov.Family = rules.Family{AddressMatching: true, ExcludedAddresses: excluded}
	ps := freshPseudonymiser(t)
	c := &clock{now: start}
	m, err := matcher.New(matcher.Config{Store: st, Pseudonymiser: ps, ClientRefs: testkeys.Sealer(t), Covenant: &cov, Clock: c.Now, Location: time.UTC, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return &env{m: m, store: st, clock: c, ps: ps, dir: dir}
}

type familyPerson struct {
	n    int
	born identity.BirthDate
}

// familyRun is one scenario's state: its people (youths and parents) by
// name, the registrations by "INSTITUTION/YOUTH", and how many of each
// institution's family events the expect steps have looked at.
type familyRun struct {
	e        *env
	excluded []identity.Address
	people   map[string]familyPerson
	regs     map[string]matcher.ID
	seen     map[string]int
	// key is the key holder's key of a blind run; nil in hmac mode.
	key *oprf.PrivateKey
}

func (r *familyRun) person(t *testing.T, name string) familyPerson {
	p, ok := r.people[name]
	if !ok {
		bd, _ := identity.ParseBirthDate("2014-05-17")
		p = familyPerson{n: 300 + len(r.people), born: bd}
		r.people[name] = p
	}
	return p
}

func (r *familyRun) env(t *testing.T) *env {
	if r.e == nil && r.key != nil {
		r.e = newBlindFamilyEnv(t, r.excluded, r.key)
	} else if r.e == nil {
		r.e = newFamilyEnv(t, r.excluded)
	}
	return r.e
}

// youth is the matcher's Youth of person p: by BSN, or in a blind run by
// the element of the BSN.
func (r *familyRun) youth(t *testing.T, p familyPerson) matcher.Youth {
	e := r.env(t)
	if r.key == nil {
		return e.youth(t, p.n)
	}
	y, err := e.m.YouthByElement(element(t, r.key, p.n))
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func parseAddress(s string) (identity.Address, error) {
	f := strings.Split(s, ":")
	if len(f) < 2 || len(f) > 3 {
		return identity.Address{}, errors.New("an address is POSTCODE:NUMBER[:ADDITION]")
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return identity.Address{}, err
	}
	f = append(f, "")
	return identity.ParseAddress(f[0], n, f[2])
}

func (r *familyRun) step(t *testing.T, a []string) error {
	switch a[0] {
	case "exclude": // exclude ADDRESS
		if r.e != nil {
			return errors.New("exclude before the first report")
		}
		addr, err := parseAddress(a[1])
		r.excluded = append(r.excluded, addr)
		return err
	case "youth": // youth NAME born DATE
		if len(a) != 4 || a[2] != "born" {
			return errors.New("youth NAME born DATE")
		}
		bd, err := identity.ParseBirthDate(a[3])
		if err != nil {
			return err
		}
		p := r.person(t, a[1])
		p.born = bd
		r.people[a[1]] = p
		return nil
	case "report": // report INST YOUTH [signal] [parents P,Q] [address ADDRESS]
		if len(a) < 3 {
			return errors.New("report INST YOUTH ...")
		}
		return r.report(t, a[1], a[2], a[3:])
	case "end": // end INST YOUTH REASON
		reason, err := matcher.ParseEndReason(a[3])
		if err != nil {
			return err
		}
		return r.env(t).m.End(ctx, matcher.Actor{Institution: a[1]}, r.regs[a[1]+"/"+a[2]], time.Time{}, reason)
	case "remove": // remove COORDINATOR INST YOUTH
		return r.env(t).m.Remove(ctx, matcher.Actor{Institution: a[1]}, r.regs[a[2]+"/"+a[3]], matcher.RemoveWrong)
	case "later": // later DURATION
		d, err := time.ParseDuration(a[1])
		r.env(t).clock.Add(d)
		return err
	case "expect":
		return r.expect(t, a[1:])
	}
	return errors.New("unknown step")
}

func (r *familyRun) report(t *testing.T, inst, name string, opts []string) error {
	e := r.env(t)
	p := r.person(t, name)
	reg := matcher.Registration{Youth: r.youth(t, p), BirthDate: p.born, Municipality: "GM0014", Kind: matcher.Involvement, Contact: contact("A. Jansen")}
	if r.key != nil {
		born := p.born.RevealDate()
		reg.BirthDate, reg.BornIn = identity.BirthDate{}, time.Date(born.Year(), born.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	for i := 0; i < len(opts); i++ {
		switch opts[i] {
		case "signal":
			reg.Kind, reg.SignalCode = matcher.Signal, "S01"
		case "parents":
			i++
			for _, pn := range strings.Split(opts[i], ",") {
				reg.Parents = append(reg.Parents, bsnFor(t, r.person(t, pn).n))
			}
		case "address":
			i++
			addr, err := parseAddress(opts[i])
			if err != nil {
				return err
			}
			reg.Address = &addr
		default:
			return fmt.Errorf("unknown report option %q", opts[i])
		}
	}
	if r.key != nil { // the client blinds the family as it blinds the youth
		var ins []oprf.Input
		for _, p := range reg.Parents {
			ins = append(ins, oprf.ParentInput(p))
		}
		if reg.Address != nil {
			ins = append(ins, oprf.AddressInput(*reg.Address))
		}
		if len(ins) > 0 {
			els := testkeys.InputElements(t, ins, r.key)
			reg.ParentElements = els[:len(reg.Parents)]
			if reg.Address != nil {
				reg.AddressElement = els[len(els)-1]
			}
		}
		reg.Parents, reg.Address = nil, nil
	}
	res, err := e.m.Register(ctx, matcher.Actor{Institution: inst}, reg)
	if err != nil {
		return err
	}
	r.regs[inst+"/"+name] = res.ID
	return nil
}

// familyEvents returns inst's family events of type typ so far.
func (r *familyRun) familyEvents(t *testing.T, inst string) []store.Event {
	var out []store.Event
	for _, ev := range r.env(t).events(t, inst) {
		if ev.Type == store.EventFamilyMatch || ev.Type == store.EventFamilyCoordination {
			out = append(out, ev)
		}
	}
	return out
}

// expect checks one of
//
//	expect INST nothing                    INST got no family event since the last expect about it
//	expect INST family-match REASON INSTS  INST's next family event is a family match by REASON
//	                                       (parent or address) naming INSTS (comma-separated)
//	expect INST family-coordination INST2  INST's next family event tells it INST2 coordinates
//	                                       for another child of the family
//	expect INST YOUTH match|no-match       INST's lookup of YOUTH names another institution (or not)
func (r *familyRun) expect(t *testing.T, a []string) error {
	if len(a) < 2 {
		return errors.New("expect INST ...")
	}
	inst := a[0]
	evs := r.familyEvents(t, inst)
	next := func() (store.Event, error) {
		if r.seen[inst] >= len(evs) {
			return store.Event{}, errors.New("no more family events")
		}
		ev := evs[r.seen[inst]]
		r.seen[inst]++
		return ev, nil
	}
	switch {
	case a[1] == "nothing":
		if extra := evs[r.seen[inst]:]; len(extra) > 0 {
			return fmt.Errorf("%d family events more: %s", len(extra), describeEvents(extra))
		}
		return nil
	case a[1] == "family-match" && len(a) == 4:
		ev, err := next()
		if err != nil {
			return err
		}
		if ev.Type != store.EventFamilyMatch || ev.Reason != a[2] || !slices.Equal(partyNames(ev.Others), strings.Split(a[3], ",")) {
			return fmt.Errorf("got %s", describeEvents([]store.Event{ev}))
		}
		if reg, err := r.e.store.Registration(ctx, ev.Registration); err != nil || reg.Institution != inst || !reg.IsLive() {
			return fmt.Errorf("the event is not about a live registration of %s", inst)
		}
		return nil
	case a[1] == "family-coordination" && len(a) == 3:
		ev, err := next()
		if err != nil {
			return err
		}
		if ev.Type != store.EventFamilyCoordination || ev.Subject != a[2] {
			return fmt.Errorf("got %s", describeEvents([]store.Event{ev}))
		}
		return nil
	case len(a) == 3 && (a[2] == "match" || a[2] == "no-match"):
		v, err := r.e.m.Lookup(ctx, matcher.Actor{Institution: inst}, r.youth(t, r.person(t, a[1])))
		if matched := err == nil && len(v.Involved) > 0; matched != (a[2] == "match") {
			return fmt.Errorf("lookup: %+v, %v", v.Involved, err)
		}
		return nil
	}
	return errors.New("unknown expectation")
}

func partyNames(ps []store.Party) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Institution)
	}
	slices.Sort(out)
	return out
}

func describeEvents(evs []store.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s %s naming %v (subject %q)", e.Type, e.Reason, partyNames(e.Others), e.Subject))
	}
	return strings.Join(out, "; ")
}
