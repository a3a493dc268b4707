package matcher

import (
	"context"
	"errors"
	"fmt"

	"github.com/vindex-nl/vindex/store"
)

// Event is an outbox event as its recipient institution reads it.
type Event struct {
	store.Event
	// ClientRef is the recipient's own reference on the registration the
	// event is about ("" if none, or if that registration was removed).
	ClientRef string
}

// MaxEvents is the most events one call of Matcher.Events returns.
const MaxEvents = 1000

// Events returns up to limit of the actor's own outbox events with a
// sequence number greater than after, in sequence order: a client system
// polls with the last sequence number it has handled. A limit outside 1 to
// MaxEvents is taken as MaxEvents. An institution only ever reads events
// addressed to itself.
func (m *Matcher) Events(ctx context.Context, actor Actor, after uint64, limit int) ([]Event, error) {
	if _, err := m.institution(actor); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxEvents {
		limit = MaxEvents
	}
	evs, err := m.store.Events(ctx, actor.Institution, after, limit)
	if err != nil {
		return nil, fmt.Errorf("matcher: events: %w", err)
	}
	out := make([]Event, len(evs))
	refs := map[ID]string{}
	for i, e := range evs {
		out[i].Event = e
		if m.refs == nil {
			continue
		}
		ref, ok := refs[e.Registration]
		if !ok {
			ref, err = m.ClientRef(ctx, actor, e.Registration)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			refs[e.Registration] = ref
		}
		out[i].ClientRef = ref
	}
	return out, nil
}

// ClientRef returns the actor's own reference on its registration id ("" if
// it has none). A registration of another institution, or one that does not
// exist, is ErrNotFound.
func (m *Matcher) ClientRef(ctx context.Context, actor Actor, id ID) (string, error) {
	reg, err := m.store.Registration(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && reg.Institution != actor.Institution:
		return "", ErrNotFound
	case err != nil:
		return "", fmt.Errorf("matcher: %w", err)
	}
	return m.openRef(ctx, actor.Institution, reg), nil
}
