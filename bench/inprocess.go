package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vindex-nl/vindex/bench/target"
	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// InProcess drives a Matcher directly, as a vendor embedding the matcher
// package would.
type InProcess struct {
	name  string
	m     *matcher.Matcher
	ids   RegistrationIDs[store.ID]
	close func() error
}

// NewInProcess returns a target for m, named name. Close does nothing to
// m's store: the caller owns it.
func NewInProcess(name string, m *matcher.Matcher) *InProcess {
	return &InProcess{name: name, m: m, close: func() error { return nil }}
}

// OpenInProcess opens a Pebble store in dir (which should be new or empty)
// and a matcher over it under cov, with a fresh keyset held in memory only.
// Close closes the store.
func OpenInProcess(dir string, cov *rules.Covenant) (*InProcess, error) {
	st, err := pebblestore.Open(dir, &pebblestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	ps, err := NewPseudonymiser()
	if err != nil {
		st.Close()
		return nil, err
	}
	m, err := matcher.New(matcher.Config{Store: st, Pseudonymiser: ps, Covenant: cov})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &InProcess{name: "vindex", m: m, close: st.Close}, nil
}

// NewPseudonymiser returns a pseudonymiser over a new PRF keyset held in
// memory only: what a benchmark target computes its pseudonyms with (the
// baselines too, so that they hash as vindex does).
func NewPseudonymiser() (*pseudonym.Pseudonymiser, error) {
	h, err := keys.Create()
	if err != nil {
		return nil, err
	}
	return pseudonym.New(h)
}

// Name implements Target.
func (t *InProcess) Name() string { return t.name }

// Register implements Target.
func (t *InProcess) Register(ctx context.Context, inst string, y Youth) (Outcome, error) {
	youth, err := t.m.YouthByBSN(y.BSN())
	if err != nil {
		return 0, err
	}
	r := matcher.Registration{
		Youth: youth, BirthDate: y.BirthDate(), Municipality: target.Municipality,
		Kind: matcher.Involvement, Contact: target.Contact,
	}
	if target.IsSignal(inst) {
		r.Kind, r.SignalCode = matcher.Signal, target.SignalCode
	}
	res, err := t.m.Register(ctx, matcher.Actor{Institution: inst}, r)
	if err != nil {
		return 0, err
	}
	t.ids.Remember(inst, y, res.ID)
	return registerOutcome(res.Refreshed, len(res.Involved) > 0), nil
}

func registerOutcome(refreshed, others bool) Outcome {
	switch {
	case refreshed:
		return Refreshed
	case others:
		return NewMatch
	}
	return Registered
}

// Lookup implements Target.
func (t *InProcess) Lookup(ctx context.Context, inst string, y Youth) (Outcome, error) {
	youth, err := t.m.YouthByBSN(y.BSN())
	if err != nil {
		return 0, err
	}
	_, err = t.m.Lookup(ctx, matcher.Actor{Institution: inst}, youth)
	switch {
	case errors.Is(err, matcher.ErrNotInvolved):
		return NotInvolved, nil
	case err != nil:
		return 0, err
	}
	return Viewed, nil
}

// End implements Target.
func (t *InProcess) End(ctx context.Context, inst string, y Youth) (Outcome, error) {
	id, ok := t.ids.Take(inst, y)
	if !ok {
		return Skipped, nil
	}
	if err := t.m.End(ctx, matcher.Actor{Institution: inst}, id, time.Time{}, matcher.EndRiskGone); err != nil {
		return 0, fmt.Errorf("end: %w", err)
	}
	return Ended, nil
}

// eventsAbout counts inst's outbox events about its registration for y,
// by type, reading the whole outbox through the matcher.
func (t *InProcess) eventsAbout(ctx context.Context, inst string, y Youth) (map[string]int64, error) {
	id, ok := t.ids.Get(inst, y)
	if !ok {
		return nil, fmt.Errorf("bench: %s has no registration for the youth", inst)
	}
	out := map[string]int64{}
	for after := uint64(0); ; {
		evs, err := t.m.Events(ctx, matcher.Actor{Institution: inst}, after, matcher.MaxEvents)
		if err != nil || len(evs) == 0 {
			return out, err
		}
		for _, e := range evs {
			if e.Registration == id {
				out[e.Type.String()]++
			}
			after = e.Seq
		}
	}
}

// Close implements Target.
func (t *InProcess) Close() error { return t.close() }
