package store

import (
	"context"
	"errors"
)

// Replication. A replicated store writes nothing of its own accord: the
// node that leads appends every write (the same atomic batch it applies
// to its own disk: pseudonyms and that-information only, nothing the store
// does not already hold) to a replicated log, in order, and a write is
// acknowledged only when the log has it on a quorum of nodes; every node,
// the leader included, holds the log's entries applied in order, and
// records the last one it applied in the same atomic write as the entry's
// data, so that applying an entry twice changes nothing. The log fences
// the leader: an entry is appended only as the one after the entry the
// leader last appended, so a deposed leader's next append fails
// (ErrFenced) and no two leaders ever both acknowledge a write.
//
// The contract is small so that the log can be any engine with a
// quorum-replicated, ordered append with an expected last position
// (package replication puts it on NATS JetStream).

// Log is the replicated log a leading store appends its writes to.
type Log interface {
	// Append appends entry as the log's entry seq, provided the log's
	// last entry is seq-1, and returns at once; the store calls it in
	// the order of seq, one call at a time, so that the log may send
	// entries one after another without waiting. wait returns nil once
	// a quorum of the log's nodes holds the entry durably, ErrFenced if
	// the log's last entry was not seq-1 (another leader appended), or
	// another error if the log could not say (the entry may or may not
	// be in the log: the store then treats it as not acknowledged and
	// stops leading). An entry after a failed one fails too.
	Append(seq uint64, entry []byte) (wait func(ctx context.Context) error)
}

// Replication errors.
var (
	// ErrNotLeader: the store is a replicated store that does not lead:
	// it takes no write until it is made leader.
	ErrNotLeader = errors.New("store: not the leader: this node takes no writes")
	// ErrFenced: the log refused an append because another leader had
	// appended the entry at that position.
	ErrFenced = errors.New("store: fenced: another leader appended to the log")
	// ErrDiverged: the store holds an entry the log does not (its last
	// applied entry is not the log's at that position): it was a leader
	// whose last writes were never acknowledged, and must be rebuilt from
	// a copy of another node before it serves.
	ErrDiverged = errors.New("store: diverged from the replicated log: rebuild this node from another's backup")
	// ErrGap: an entry given to apply is not the one after the last
	// applied.
	ErrGap = errors.New("store: log entry out of order")
	// ErrCutOff: an append found the node cut off from the log (its
	// connection lost): the entry did not reach the log. The leader stops
	// leading, as for any append not acknowledged; it is what a network
	// partition does, not a fault of the log.
	ErrCutOff = errors.New("store: cut off from the replicated log")
)

// EntryID names one log entry: its position and a random identifier the
// leader gave it, so that a node can tell whether the entry it applied
// at a position is the log's.
type EntryID struct {
	Seq uint64
	ID  [16]byte
}
