package matcher_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// Random sequences of every verb over a few youths and institutions; after
// each step the stored state must satisfy the matcher's invariants.
func TestRandomOperationsKeepInvariants(t *testing.T) {
	e := newEnv(t)
	cov := exampleCovenant(t)
	rng := rand.New(rand.NewPCG(7, 11))
	insts := []string{ggd, wij, school, police, jbn, gemeente, "sociaal-team-midden-groningen"}
	births := []string{"2024-02-29", "2015-06-01", "2004-03-20"}
	const youths = 4
	var ids []store.ID
	matchedSeen, coordinatorSeen, succeeded := 0, 0, 0
	excludedSeen, acceptedSeen, escalationSeen := 0, 0, 0

	check := func(step int) {
		t.Helper()
		for y := range youths {
			set, _ := e.ps.Youth(bsnFor(t, y))
			err := e.store.View(ctx, set.All, func(r store.Reader) error {
				regs := r.Registrations()
				live := map[string]int{}
				for _, reg := range regs {
					if reg.Youth.KeyID != set.Primary.KeyID {
						t.Fatalf("step %d: record under an unknown key", step)
					}
					if reg.IsLive() {
						live[reg.Institution]++
						if reg.EndsOn.IsZero() {
							t.Fatalf("step %d: live registration without an end day", step)
						}
					} else if reg.PurgeOn.IsZero() || reg.EndedAt.IsZero() {
						t.Fatalf("step %d: ended registration without end time or purge day: %+v", step, reg)
					}
				}
				for inst, n := range live {
					if n > 1 {
						t.Fatalf("step %d: %s has %d live registrations for one youth", step, inst, n)
					}
				}
				c, ok := r.Case()
				if !ok {
					if len(regs) > 0 {
						t.Fatalf("step %d: registrations without a case", step)
					}
					return nil
				}
				if c.Matched {
					matchedSeen++
				}
				if c.Coordinator != "" {
					coordinatorSeen++
				}
				if c.Matched != (len(live) >= 2) {
					t.Fatalf("step %d: matched = %v with %d live institutions", step, c.Matched, len(live))
				}
				// Coordination: nobody the case excludes coordinates it; a
				// term to accept, a hand-over or an escalation only with a
				// coordinator; a hand-over to another live institution.
				if len(c.Excluded) > 0 {
					excludedSeen++
				}
				if !c.AcceptedAt.IsZero() {
					acceptedSeen++
				}
				if len(c.Escalation) > 0 {
					escalationSeen++
				}
				if slices.Contains(c.Excluded, c.Coordinator) && c.Coordinator != "" {
					t.Fatalf("step %d: coordinator %s is excluded", step, c.Coordinator)
				}
				if c.Coordinator == "" && (!c.AcceptDue.IsZero() || c.HandoverTo != "" || len(c.Escalation) > 0) {
					t.Fatalf("step %d: coordination state without a coordinator: %+v", step, c)
				}
				if c.HandoverTo != "" && (c.HandoverTo == c.Coordinator || live[c.HandoverTo] != 1) {
					t.Fatalf("step %d: a hand-over to %s, which is not another live institution", step, c.HandoverTo)
				}
				for _, x := range c.Excluded {
					if live[x] != 1 {
						t.Fatalf("step %d: %s excluded without a live registration", step, x)
					}
				}
				if c.Coordinator != "" {
					inst, ok := cov.Institution(c.Coordinator)
					if !ok || !inst.MayCoordinate {
						t.Fatalf("step %d: coordinator %q may not coordinate", step, c.Coordinator)
					}
					if live[c.Coordinator] != 1 {
						t.Fatalf("step %d: coordinator %s has no live registration", step, c.Coordinator)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		evs, err := e.store.Events(ctx, "", 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		// Each recipient's events are numbered 1, 2, 3, … without gaps.
		last := map[string]uint64{}
		for _, ev := range evs {
			if _, ok := cov.Institution(ev.Recipient); !ok {
				t.Fatalf("step %d: event for unknown recipient %q", step, ev.Recipient)
			}
			if ev.Seq != last[ev.Recipient]+1 {
				t.Fatalf("step %d: %s's event %d follows its %d", step, ev.Recipient, ev.Seq, last[ev.Recipient])
			}
			last[ev.Recipient] = ev.Seq
		}
	}

	for step := range 400 {
		y := rng.IntN(youths)
		inst := insts[rng.IntN(len(insts))]
		actor := matcher.Actor{Institution: inst}
		youth := e.youth(t, y)
		var err error
		switch op := rng.IntN(14); {
		case op < 4:
			r := e.involvement(t, y)
			r.BirthDate = birth(t, births[y%len(births)])
			if inst == school || inst == police || inst == gemeente || rng.IntN(3) == 0 {
				r.Kind, r.SignalCode = matcher.Signal, "S01"
			}
			if inst == jbn && rng.IntN(2) == 0 {
				r.Sector = "child-protection"
			}
			if rng.IntN(4) == 0 {
				r.IdempotencyKey = []string{"k1", "k2"}[rng.IntN(2)]
			}
			var res matcher.Result
			res, err = e.m.Register(ctx, actor, r)
			if err == nil {
				ids = append(ids, res.ID)
			}
		case op < 5 && len(ids) > 0:
			err = e.m.End(ctx, actor, ids[rng.IntN(len(ids))], time.Time{}, matcher.EndReason(rng.IntN(3)))
		case op < 6:
			_, err = e.m.Lookup(ctx, actor, youth)
		case op < 7:
			err = e.m.CloseCase(ctx, actor, youth)
		case op < 8 && len(ids) > 0:
			err = e.m.Remove(ctx, actor, ids[rng.IntN(len(ids))], matcher.RemoveReason(1+rng.IntN(2)))
		case op < 9:
			switch rng.IntN(20) {
			case 0:
				err = e.m.RecordDeath(ctx, actor, youth)
			case 1:
				scope := matcher.AllInstitutions()
				if rng.IntN(2) == 0 {
					scope = matcher.OneInstitution(insts[rng.IntN(len(insts))])
				}
				_, err = e.m.Object(ctx, actor, youth, birth(t, births[y%len(births)]), scope)
			}
		case op < 13:
			// Half the time as the case's coordinator (or the one offered
			// it), so that the verbs get past their refusals.
			next := rng.IntN(len(cov.Escalation))
			if rng.IntN(2) == 0 {
				set, _ := e.ps.Youth(bsnFor(t, y))
				e.store.View(ctx, set.All, func(r store.Reader) error {
					if c, ok := r.Case(); ok && c.Coordinator != "" {
						current := -1
						if n := len(c.Escalation); n > 0 {
							current = cov.EscalationStepNamed(c.Escalation[n-1].Step)
						}
						next = rules.NextEscalationStep(cov.Escalation, current)
						actor.Institution = c.Coordinator
						if c.HandoverTo != "" && rng.IntN(2) == 0 {
							actor.Institution = c.HandoverTo
						}
						if cov.Escalation[next].ByMunicipality {
							actor.Institution = gemeente
						}
					}
					return nil
				})
			}
			reason := matcher.DeclineReasons()[rng.IntN(len(matcher.DeclineReasons()))]
			// Weighted: accepting, plans and agreements more often than
			// declining, which takes a care provider out of the case.
			verbs := []string{"accept", "accept", "accept", "decline", "handover", "handover-accept", "handover-decline",
				"escalate", "escalate", "escalate"}
			switch verbs[rng.IntN(len(verbs))] {
			case "accept":
				err = e.m.Accept(ctx, actor, youth)
			case "decline":
				err = e.m.Decline(ctx, actor, youth, reason)
			case "handover":
				err = e.m.Handover(ctx, actor, youth, insts[rng.IntN(len(insts))])
			case "handover-accept":
				err = e.m.AcceptHandover(ctx, actor, youth)
			case "handover-decline":
				err = e.m.DeclineHandover(ctx, actor, youth, reason)
			default:
				step := cov.Escalation[next]
				esc := matcher.Escalation{Step: step.Name}
				if step.Decides {
					esc.Coordinator = insts[rng.IntN(len(insts))]
				}
				err = e.m.Escalate(ctx, actor, youth, esc)
			}
		default:
			if rng.IntN(2) == 0 {
				e.clock.Add(time.Duration(rng.IntN(120)) * 24 * time.Hour)
			} else {
				e.clock.Add(time.Duration(rng.IntN(72)) * time.Hour)
			}
			if _, err = e.m.SendHeld(ctx); err == nil {
				_, err = e.m.ExpireDue(ctx)
			}
		}
		if err == nil {
			succeeded++
		}
		var fe *matcher.FieldError
		switch {
		case err == nil, errors.As(err, &fe),
			errors.Is(err, matcher.ErrNotInvolved), errors.Is(err, matcher.ErrNotFound),
			errors.Is(err, matcher.ErrNotCoordinator), errors.Is(err, matcher.ErrForbidden),
			errors.Is(err, matcher.ErrNotEligible), errors.Is(err, matcher.ErrNoHandover), errors.Is(err, matcher.ErrAlreadyAccepted):
		default:
			t.Fatalf("step %d: unexpected error %v", step, err)
		}
		check(step)
	}
	// The walk must have reached the states the invariants are about.
	if matchedSeen == 0 || coordinatorSeen == 0 || succeeded < 100 {
		t.Fatalf("walk too shallow: %d matched, %d with coordinator, %d successful steps", matchedSeen, coordinatorSeen, succeeded)
	}
	if excludedSeen == 0 || acceptedSeen == 0 || escalationSeen == 0 {
		t.Fatalf("walk too shallow for coordination: exclusions seen %d times, acceptances %d, escalations %d", excludedSeen, acceptedSeen, escalationSeen)
	}
	t.Logf("%d successful steps; matched youth seen %d times, with a coordinator %d times; exclusions %d, acceptances %d, escalations %d",
		succeeded, matchedSeen, coordinatorSeen, excludedSeen, acceptedSeen, escalationSeen)
}
