package matcher

import (
	"context"
	"log/slog"
	"slices"

	"github.com/vindex-nl/vindex/figures"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// RemoveReason says why a registration is removed.
type RemoveReason int

const (
	// RemoveWrong: the coordinator removes a registration that is clearly
	// wrong.
	RemoveWrong RemoveReason = 1
	// RemoveObjection: the municipality removes a registration after an
	// upheld objection (bezwaar).
	RemoveObjection RemoveReason = 2
)

// String names the reason.
func (r RemoveReason) String() string {
	switch r {
	case RemoveWrong:
		return "wrong"
	case RemoveObjection:
		return "objection"
	}
	return "unknown"
}

// Remove deletes a registration outright (a hard delete) and leaves an audit
// event in the outbox for the remover and for the registration's
// institution; the other institutions still involved are told if it was
// live (an archived registration is none of their business). The
// coordinator of the youth's case may remove a wrong registration while it
// is live (an ended one answers ErrNotFound); a municipality (an
// institution of type gemeente serving the registration's municipality)
// may remove one after an upheld objection.
//
// No answer tells a caller that a registration exists unless it may know:
// an institution that is not a municipality gets ErrForbidden for an
// objection removal whatever the id (before anything is read), and a
// municipality gets ErrNotFound for a registration outside its
// municipalities, as for an id nobody holds.
func (m *Matcher) Remove(ctx context.Context, actor Actor, id ID, reason RemoveReason) (err error) {
	a := m.audit(actor, store.AuditRemove, Youth{}, id)
	defer a.done(ctx, &err)
	inst, err := m.institution(actor)
	if err != nil {
		return err
	}
	if reason != RemoveWrong && reason != RemoveObjection {
		return fieldErr("reason", ErrRemoveReason)
	}
	if reason == RemoveObjection && inst.Type != rules.TypeMunicipality {
		return ErrForbidden
	}
	err = m.updateByID(ctx, id, m.clock(), a.stage(func(y *youth) error {
		reg := y.byID(id)
		if reg == nil {
			return ErrNotFound
		}
		switch reason {
		case RemoveWrong:
			// Only a live registration can be wrong: an ended one is kept
			// for its retention, as history, and the coordinator's view
			// does not reach it (the same answer as an unknown ID).
			if y.liveOf(actor.Institution) == nil || !reg.IsLive() {
				return ErrNotFound
			}
			if y.kase.Coordinator != actor.Institution {
				return ErrNotCoordinator
			}
		case RemoveObjection:
			if len(inst.Municipalities) > 0 && !slices.Contains(inst.Municipalities, reg.Municipality) {
				return ErrNotFound
			}
		}
		removed := *reg
		y.count(reason.measure(), removed)
		y.remove(removed)
		y.tellRemoved(actor.Institution, removed, reason)
		return nil
	}))
	m.log.LogAttrs(ctx, slog.LevelInfo, "remove", slog.String("institution", actor.Institution), slog.String("reason", reason.String()), slog.String("outcome", outcome(err)))
	return err
}

// measure is the figures measure that counts a removal for r.
func (r RemoveReason) measure() figures.Measure {
	if r == RemoveObjection {
		return figures.RemovalsObjection
	}
	return figures.RemovalsWrong
}

// tellRemoved tells whoever should know that r, which this update removed
// for reason, went: the remover (an audit event naming r's institution),
// r's institution (its registration is gone), and, if r was live, every
// other live institution. An archived registration is no other
// institution's business: it never appears in their events.
func (y *youth) tellRemoved(remover string, r store.Registration, reason RemoveReason) {
	y.emit(store.Event{Type: store.EventRemoved, Recipient: remover, Subject: r.Institution, Reason: reason.String()})
	if r.Institution != remover {
		y.emit(store.Event{Type: store.EventRemoved, Recipient: r.Institution, Registration: r.ID, Subject: remover, Reason: reason.String()})
	}
	if !r.IsLive() {
		return
	}
	for _, o := range y.live {
		if o.Institution != remover && o.Institution != r.Institution {
			y.emit(store.Event{Type: store.EventRemoved, Recipient: o.Institution, Registration: o.ID, Subject: r.Institution, Reason: reason.String()})
		}
	}
}
