package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/vindex-nl/vindex/store"
)

// ErrUndelivered is wrapped by CheckSettled's error when events wait for
// delivery.
var ErrUndelivered = errors.New("notify: events not yet delivered")

// settledLimit is how many waiting events CheckSettled counts per outbox
// and channel before it says "more than".
const settledLimit = 1 << 16

// CheckSettled checks that every event in the outbox of each of
// institutions is settled (delivered, or given up as dead) on each channel
// that channels names for it. It returns an error wrapping ErrUndelivered
// naming the first institution and channel where events wait.
//
// MarkDelivered skips everything up to a sequence number; CheckSettled
// first makes sure that this skips no event an institution still waits
// for.
func CheckSettled(ctx context.Context, st Store, institutions []string, channels func(institution string) []string) error {
	for _, inst := range institutions {
		for _, ch := range channels(inst) {
			evs, _, err := store.Undelivered(ctx, st, inst, ch, settledLimit+1)
			switch {
			case err != nil:
				return err
			case len(evs) > settledLimit:
				return fmt.Errorf("%w: %s has more than %d on %s", ErrUndelivered, inst, settledLimit, ch)
			case len(evs) > 0:
				return fmt.Errorf("%w: %s has %d on %s", ErrUndelivered, inst, len(evs), ch)
			}
		}
	}
	return nil
}

// MarkDelivered records every event up to and including upto(institution)
// in the outbox of each of institutions as delivered on each of channels,
// by moving the delivery cursors there: a Worker will not deliver them.
// Sequence numbers are per recipient, so upto is asked once per
// institution; pass the store's LastSeq to skip everything committed so
// far. It is for events the institutions already know of, such as those
// an import from another index makes. Give every channel name, configured
// now or not, so that a channel configured later does not deliver them
// either. Cursors only move forward: one already past upto stays where it
// is.
func MarkDelivered(ctx context.Context, st store.DeliveryStore, institutions, channels []string, upto func(institution string) uint64) error {
	for _, inst := range institutions {
		seq := upto(inst)
		for _, ch := range channels {
			log, err := st.DeliveryLog(ctx, inst, ch)
			if err != nil {
				return err
			}
			if log.Cursor >= seq {
				continue
			}
			if err := st.RecordDeliveries(ctx, inst, ch, seq, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// StartLike moves the cursor of channel to, if it has no delivery state
// yet, to where channel from's stands, for each of institutions: a channel
// split off from another starts where that one stood instead of at the
// first event. (The mailbox copies were sent on "email" until they became
// the "mailbox" channel: without this, an upgraded server would mail every
// earlier event to the mailbox again.) A channel with any state is left
// alone.
func StartLike(ctx context.Context, st store.DeliveryStore, institutions []string, from, to string) error {
	for _, inst := range institutions {
		log, err := st.DeliveryLog(ctx, inst, to)
		if err != nil {
			return err
		}
		if log.Cursor != 0 || len(log.States) > 0 || log.Waiting > 0 || log.Dead > 0 {
			continue
		}
		old, err := st.DeliveryLog(ctx, inst, from)
		if err != nil {
			return err
		}
		if old.Cursor == 0 {
			continue
		}
		if err := st.RecordDeliveries(ctx, inst, to, old.Cursor, nil); err != nil {
			return err
		}
	}
	return nil
}
