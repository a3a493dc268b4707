// Package replication replicates a store's writes to three (or five)
// nodes through a NATS JetStream stream, so that an acknowledged write
// survives the loss of a machine.
//
// A Node runs one Replica (a store: store/pebblestore's meets the
// interface) in a cluster. It follows the stream, applying each entry to
// the replica in order; it takes the leader lease when it is free, and
// then leads: the replica takes writes and appends each to the stream
// through a Log (a store.Log), and acknowledges a write only once the
// stream has it. Leading ends when a lease renewal or an append fails,
// or the node stops; the node then follows again.
//
// # What is guaranteed
//
//   - An append is acknowledged only once the stream has stored it on a
//     quorum of its servers (two of three). On disk, as far as each server
//     syncs: JetStream syncs its files every two minutes by default, so
//     the servers must be run with sync_interval: always (the Options field
//     SyncAlways), which this package cannot set; see "The NATS servers".
//   - No two leaders both have an append acknowledged at one position, and
//     every node applies the same entries in the same order. Each publish
//     carries the condition that the stream's last position is the one
//     before its first entry, and a log has one publish in flight at a
//     time (the entries appended meanwhile go next, as one atomic batch),
//     so that a deposed leader's next append fails with store.ErrFenced,
//     and the entries after it fail unpublished. The lease only decides who
//     tries to lead; the stream decides whose entries land. Each entry
//     also names the one its leader appended before it (Vindex-Prev), and
//     a node applies it only after that one: an entry that names another
//     stops the node (store.ErrDiverged) before it is applied.
//   - A node leads only once it has applied every entry the stream held
//     when it won the lease (and the stream's last position has held
//     still for a moment, for the entries a leader that did not step down
//     cleanly had in flight). A leader that steps down cleanly releases the
//     lease once its entries in flight are settled.
//   - Before a node follows (at the start, and after leading), it checks
//     its replica against the stream: the replica's last applied entry
//     must be the stream's entry at that position (same random ID), or,
//     when the stream was trimmed up to it, the entry the stream's first
//     entry names as the one before it. Otherwise the replica holds an
//     entry the stream does not: it led, and a write of its own was never
//     acknowledged (it died, was cut off or was fenced with the write in
//     flight). The node has the replica take its last entry back
//     (Replica.Rewind: a store keeps what each of its own entries replaced
//     until the stream acknowledges it), and checks again, until its last
//     entry is the stream's. Only if the replica cannot take an entry back
//     (one it did not write as leader) does Run return store.ErrDiverged:
//     the replica must then be rebuilt from another node's backup. A
//     replica that lacks entries the stream no longer holds gets
//     ErrTrimmed.
//   - An append whose acknowledgement is lost (a timeout, a dropped
//     connection) fails, though the entry may be in the stream: the store
//     treats the write as not acknowledged, the node steps down, and the
//     check above settles it: the entry is the stream's at its position
//     (and the node follows on), or the node takes it back. An entry taken
//     back that the stream takes after all is applied again from the
//     stream, on the same state, as any other entry.
//
// # What the stream holds
//
// Only the store's entries, as the store encodes them: the same atomic
// batch it writes to its own disk, pseudonyms and that-information, never
// anything the store does not already hold. Each message has one header
// of its own, Vindex-Prev, the previous entry's random ID. The lease
// bucket holds the leader's node name; the status bucket each node's
// applied position and the time it wrote it. Log lines name positions,
// node names and errors, never an entry's content. This package never
// trims the stream: that is for whoever keeps the backups (below the
// oldest checkpoint still needed).
//
// # How long the servers' disks hold an entry
//
// Trim removes entries from the stream at once: no node or client reads
// them again. Each NATS server's files keep an entry's bytes until
// JetStream deletes or rewrites the file that holds them (JetStream 2.15,
// file storage, neither compressed nor encrypted at rest, as this package
// and internal/natstest set it up; TestTrimRemovesFromDisk checks it with
// a canary entry on a three-server cluster):
//
//   - The stream's message blocks (streams/<Stream>/msgs/*.blk in a
//     server's JetStream store; a block fills up to 8 MiB, then the next
//     one is written). A trim deletes every block that holds only trimmed
//     entries, and rewrites the block it cuts without its trimmed entries
//     when that block holds over 2 MiB and more than half of it is
//     trimmed; otherwise the cut block keeps them until a later trim (or
//     JetStream's background pass, every two minutes, on a block no longer
//     written) finds it more than half trimmed. So a trim can leave on disk
//     at most the last 4 MiB of the entries it removes (those just before
//     the first one kept), and nothing older. JetStream offers no purge
//     that overwrites: its per-message erase (random bytes over one
//     message, the block rewritten) is for deletes, which the stream
//     denies, and purges never use it.
//   - The raft log of the stream's raft group ($SYS/_js_/S-R3F-*/msgs in
//     the store; 4 MiB blocks) holds every entry as appended (an entry over
//     8 KiB S2-compressed, which hides nothing) until the group's next
//     snapshot, which each server takes every two to three minutes and
//     after every 8 MiB of entries; the log then drops what the snapshot
//     covers: all of it when every entry has been applied, else its blocks
//     before the snapshot (and the head of the block it cuts, by the rule
//     above). So an entry leaves the raft logs at the first snapshot taken
//     while no entry is in flight, minutes after it was written unless
//     writes never pause, and at the latest at the first snapshot after 4
//     MiB of later entries. A trim does not hasten it, and need not. The
//     snapshots hold the stream's positions, never an entry.
//   - A server that is down during a trim applies it when it is back.
//   - Deleting and rewriting are file operations (an unlink; a rewritten
//     copy renamed over the old file): the old bytes stay in the file
//     system's free space until it reuses them. Keep the JetStream store on
//     an encrypted disk.
//
// # Failover
//
// A leader that stops cleanly is replaced at once (the lease is released).
// A leader that dies holds the lease until it expires: Config.LeaseTTL,
// 4s by default. If the machine that dies also runs the NATS server
// leading the stream's or the lease bucket's raft group, JetStream elects
// another first, which NATS 2.15 does within its election timeout of 4 to
// 9 seconds; no write is acknowledged meanwhile.
//
// # The NATS servers
//
// Three servers (one per machine), clustered over TLS with client
// certificates, JetStream on with file storage and sync_interval: always.
// A node is given the URLs of the servers it may use (Config.URLs) and
// never the ones the cluster advertises. The stream and the buckets are
// created by the first node to start, as file-stored R3 (Config.Replicas),
// the stream allowing atomic batches; a stream must start empty for a new
// cluster (position 1 is the first entry). (JetStream's expected last
// message ID would fence a pipelined append as well, but JetStream 2.15
// checks it as each server applies an entry, and takes a refusal there for
// a broken stream: do not add it.)
package replication
