package matcher_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu         sync.Mutex
	registered []string
	commits    []matcher.Commit
}

var _ matcher.Observer = (*recorder)(nil)

func (r *recorder) Registered(kind matcher.Kind, o matcher.Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.registered = append(r.registered, kind.String()+" "+o.String())
}

func (r *recorder) Committed(c matcher.Commit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.Events = slices.Clone(c.Events) // only valid during the call
	r.commits = append(r.commits, c)
}

// take returns and forgets what r was told.
func (r *recorder) take() ([]string, []matcher.Commit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg, com := r.registered, r.commits
	r.registered, r.commits = nil, nil
	return reg, com
}

func eventTypes(c matcher.Commit) string {
	var s []string
	for _, t := range c.Events {
		s = append(s, t.String())
	}
	return strings.Join(s, " ")
}

// withObserver returns a matcher over e's store, keys and clock that tells
// obs what it commits.
func (e *env) withObserver(t *testing.T, obs matcher.Observer) *matcher.Matcher {
	t.Helper()
	m, err := matcher.New(matcher.Config{
		Store: e.store, Pseudonymiser: e.ps, Covenant: exampleCovenant(t),
		Clock: e.clock.Now, Location: time.UTC, Logger: quiet(), Observer: obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestObserver(t *testing.T) {
	e := newEnv(t)
	var rec recorder
	m := e.withObserver(t, &rec)
	expect := func(step string, wantReg []string, want ...matcher.Commit) {
		t.Helper()
		reg, com := rec.take()
		if !slices.Equal(reg, wantReg) {
			t.Errorf("%s: registered %q, want %q", step, reg, wantReg)
		}
		if len(com) != len(want) {
			t.Fatalf("%s: %d commits observed, want %d: %+v", step, len(com), len(want), com)
		}
		for i := range com {
			g, w := com[i], want[i]
			if g.Matched != w.Matched || g.Assigned != w.Assigned || eventTypes(g) != eventTypes(w) {
				t.Errorf("%s: commit %d = matched %v assigned %v events [%s], want matched %v assigned %v events [%s]",
					step, i, g.Matched, g.Assigned, eventTypes(g), w.Matched, w.Assigned, eventTypes(w))
			}
		}
	}
	register := func(inst string, r matcher.Registration) matcher.Result {
		t.Helper()
		res, err := m.Register(ctx, matcher.Actor{Institution: inst}, r)
		if err != nil {
			t.Fatalf("register by %s: %v", inst, err)
		}
		return res
	}
	ev := func(names ...string) []matcher.EventType {
		var out []matcher.EventType
		for _, n := range names {
			for t := matcher.EventType(1); t < 32; t++ {
				if t.String() == n {
					out = append(out, t)
				}
			}
		}
		return out
	}

	register(school, e.signal(t, 1))
	expect("a lone report", []string{"signal new"}, matcher.Commit{Events: ev("no-match")})

	w := e.involvement(t, 1)
	wres := register(wij, w)
	expect("a match", []string{"involvement new"},
		matcher.Commit{Matched: true, Assigned: true, Events: ev("match", "match")})

	w.Contact = contact("B. de Boer")
	register(wij, w)
	expect("a refresh", []string{"involvement refreshed"}, matcher.Commit{})

	w.IdempotencyKey = "once"
	register(wij, w)
	rec.take()
	if res := register(wij, w); !res.Replayed {
		t.Fatalf("not replayed: %+v", res)
	}
	expect("a replay", []string{"involvement replayed"})

	g := e.involvement(t, 1)
	g.IdempotencyKey = "ggd-once"
	register(ggd, g)
	expect("a third institution", []string{"involvement new"},
		matcher.Commit{Matched: true, Events: ev("match", "match", "match")})

	e.clock.Add(time.Hour)
	if err := m.End(ctx, matcher.Actor{Institution: wij}, wres.ID, time.Time{}, matcher.EndRiskGone); err != nil {
		t.Fatal(err)
	}
	expect("the coordinator ends", nil,
		matcher.Commit{Assigned: true, Events: ev("ended", "ended", "coordinator", "coordinator")})

	// Failed updates report nothing.
	if err := m.CloseCase(ctx, matcher.Actor{Institution: school}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotCoordinator) {
		t.Fatalf("close by a non-coordinator: %v", err)
	}
	if err := m.End(ctx, matcher.Actor{Institution: school}, wres.ID, time.Time{}, matcher.EndRiskGone); !errors.Is(err, matcher.ErrNotFound) {
		t.Fatalf("end of another's registration: %v", err)
	}
	bad := e.involvement(t, 2)
	bad.Contact.Name = ""
	if _, err := m.Register(ctx, matcher.Actor{Institution: ggd}, bad); !errors.Is(err, matcher.ErrContact) {
		t.Fatalf("bad report: %v", err)
	}
	// (WIJ's "once" went with its ended registration; GGD's is live.)
	other := e.involvement(t, 2)
	other.IdempotencyKey = "ggd-once"
	if _, err := m.Register(ctx, matcher.Actor{Institution: ggd}, other); !errors.Is(err, matcher.ErrIdempotencyReuse) {
		t.Fatalf("key reused for another youth: %v", err)
	}
	expect("failed updates", nil)

	// Expiry is observed like any other change.
	e.clock.Add(3 * 365 * 24 * time.Hour)
	if st, err := m.ExpireDue(ctx); err != nil || st.Ended != 2 {
		t.Fatalf("expiry: %+v %v", st, err)
	}
	_, com := rec.take()
	if len(com) == 0 || !slices.Contains(com[0].Events, ev("ended")[0]) {
		t.Fatalf("expiry observed as %+v", com)
	}
}
