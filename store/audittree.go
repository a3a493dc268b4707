package store

import (
	"context"
	"time"
)

// The audit log's Merkle tree, as the store keeps it. The audit package
// builds the tree over the entries after they are committed (the entries'
// order is fixed by their numbers, so the tree follows it exactly) and
// seals them in batches: for each entry the tree's root just after it, the
// tree's state after the batch, and now and then a signed checkpoint of
// that state, all in one atomic write. The store keeps these as opaque
// bytes: it never computes a hash, and never imports the audit package.
//
// Retention cuts the log at a checkpoint: the entries up to it, their roots
// and the checkpoints before it are destroyed; the cut keeps the tree's
// state and the signed checkpoint at that size, so the rest can still be
// verified against every later checkpoint.

// AuditRoot is the tree's root just after entry Seq was appended.
type AuditRoot struct {
	Seq  uint64
	Root [32]byte
}

// AuditCheckpoint is a signed checkpoint of the tree at Size entries (a
// C2SP tlog-checkpoint note), and when it was signed.
type AuditCheckpoint struct {
	Size uint64
	At   time.Time
	Text []byte
}

// AuditSeal is one batch of sealed entries.
type AuditSeal struct {
	// From is the number of entries sealed before this batch; Roots are
	// the roots of entries From+1, From+2, ….
	From  uint64
	Roots [][32]byte
	// Tree is the tree's state after the batch (opaque to the store).
	Tree []byte
	// Checkpoint, if its Text is not empty, is a checkpoint of the tree
	// after the batch (its Size must be From+len(Roots)).
	Checkpoint AuditCheckpoint
}

// AuditTreeState is where sealing stands: entries 1 to Size are sealed,
// and Tree is the tree's state after them. Cut is the retention cut:
// entries 1 to Cut.Size are destroyed (zero if none are); its checkpoint
// is not among the kept ones.
type AuditTreeState struct {
	Size uint64
	Tree []byte
	Cut  AuditCut
	// Latest is the newest checkpoint kept (zero if none): read in one
	// step, however many checkpoints the store keeps.
	Latest AuditCheckpoint
}

// AuditCut is where retention cut the log: entries 1 to Size destroyed, the
// tree's state after them, and the checkpoint signed at Size.
type AuditCut struct {
	Size       uint64
	Tree       []byte
	Checkpoint AuditCheckpoint
}

// AuditTree is the store's keeping of the audit tree.
type AuditTree interface {
	// AuditTree returns where sealing stands (all zero before the first
	// seal).
	AuditTree(ctx context.Context) (AuditTreeState, error)
	// SealAudit keeps a batch in one durable, atomic write. It fails with
	// ErrConflict unless the batch continues the last seal (From is the
	// sealed size), and with ErrInvalid when it seals entries a reader
	// cannot see yet (AuditEntries), or its checkpoint's size is not the
	// batch's end.
	SealAudit(ctx context.Context, seal AuditSeal) error
	// AuditRoots returns up to limit roots of entries numbered above
	// after, in order.
	AuditRoots(ctx context.Context, after uint64, limit int) ([]AuditRoot, error)
	// AuditCheckpoints returns up to limit checkpoints of sizes above
	// after, by size.
	AuditCheckpoints(ctx context.Context, after uint64, limit int) ([]AuditCheckpoint, error)
	// CutAudit destroys entries 1 to cut.Size, with their roots and the
	// checkpoints of sizes below cut.Size, and keeps cut, in one durable
	// write. cut.Checkpoint must be a checkpoint the store keeps, of size
	// cut.Size, and cut.Size must not be below an earlier cut (ErrInvalid).
	// The bytes leave the disk at the next compaction.
	CutAudit(ctx context.Context, cut AuditCut) error
}
