package replication

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrTrimUnsafe: a trim would remove entries a node still needs: one that
// has reported its position has not applied every entry before the first
// one kept, or the first entry kept is beyond the stream's end.
var ErrTrimUnsafe = errors.New("replication: the trim would remove entries a node has not applied")

// Trim removes the stream's entries before position keepFrom, so that the
// stream holds no more than the nodes and their backups still need: a node
// restored from a backup whose last applied entry is at keepFrom-1 or later
// catches up from the stream; one from an older backup cannot (ErrTrimmed).
// So keepFrom is at most one after the oldest backup still kept. Trim refuses
// (ErrTrimUnsafe) while a node that has reported its position (the status
// bucket) has applied less than keepFrom-1, and a keepFrom beyond the
// stream's last entry, which always stays. A node reports a position only
// once it is synced to its disk. It returns how many entries it removed.
//
// Trimming is also how the stream forgets what the stores have destroyed:
// the stream keeps every entry it is given until it is trimmed, records a
// store has since purged among them. The NATS servers' files may keep the
// last 4 MiB of the entries removed until a later trim (the package doc,
// "How long the servers' disks hold an entry").
func Trim(ctx context.Context, cfg Config, keepFrom uint64) (uint64, error) {
	cfg.ensureDefaults()
	if len(cfg.URLs) == 0 {
		return 0, fmt.Errorf("%w: no NATS URL", ErrConfig)
	}
	if keepFrom < 2 {
		return 0, nil
	}
	nc, err := connect(&cfg, false)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, fmt.Errorf("replication: %w", err)
	}
	st, s, err := readStatus(ctx, js, cfg)
	if err != nil {
		return 0, err
	}
	if keepFrom > st.LastSeq {
		// The last entry always stays: a node checks its position
		// against it (or against the first entry's link to it).
		return 0, fmt.Errorf("%w: the stream ends at %d, which it keeps: the most it can trim is --keep-from %d", ErrTrimUnsafe, st.LastSeq, st.LastSeq)
	}
	if len(st.Nodes) == 0 {
		return 0, fmt.Errorf("%w: no node has reported its position", ErrTrimUnsafe)
	}
	for _, n := range st.Nodes {
		if n.Applied+1 < keepFrom {
			return 0, fmt.Errorf("%w: node %s has applied up to %d, and needs the entries from %d", ErrTrimUnsafe, n.Name, n.Applied, n.Applied+1)
		}
	}
	if keepFrom <= st.FirstSeq {
		return 0, nil
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSequence(keepFrom)); err != nil {
		return 0, fmt.Errorf("replication: trim: %w", err)
	}
	return keepFrom - st.FirstSeq, nil
}
