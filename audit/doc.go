// Package audit is vindex's tamper-evident audit log: a record of every
// access to and change of the index, kept as the leaves of an append-only
// Merkle tree whose roots are published in signed checkpoints, so that an
// outsider holding the checkpoints can prove that nobody rewrote the record.
//
// # What an entry holds, and what it never holds
//
// An Entry says when (Time), who (Institution and the Credential it used:
// a token's hash or a certificate pin, never a secret), what (a Verb from a
// closed list), on which registration (its 16-byte ID, if any), about which
// youth (Youth, an opaque 32-byte reference), and with what result (Outcome,
// a short code). The youth reference is made by the caller under a key
// domain of its own: it must never be the store's pseudonym, so that the
// log cannot be joined to the store without that key. An entry holds no
// BSN, birth date, name, contact, client reference or free text: its only
// strings are the institution, credential and outcome codes, each from a
// small alphabet ([A-Za-z0-9._:-]) and of bounded length.
//
// Entries have one canonical, versioned binary encoding (Entry.MarshalBinary,
// UnmarshalEntry): decoding is strict, so every byte string that decodes
// re-encodes to itself, and an altered byte either fails to decode or
// decodes to a different entry.
//
// # The tree and its checkpoints
//
// The encoded entries are the leaves of an RFC 6962 Merkle tree (SHA-256,
// github.com/transparency-dev/merkle). A Tree keeps only the compact range
// of the leaves so far: O(log n) hashes, which MarshalBinary turns into a
// few hundred bytes that the caller persists in the same atomic write as
// the entry. Append returns the tree's root after the entry: the caller
// stores it with the entry (a Record), which is what lets Verify name the
// first altered entry exactly (see Verify). Tree.Add does all three: it
// encodes an entry and returns its record and the tree's new state. To
// keep the tree equal to what was committed, append to a Clone and keep
// the clone once the write has committed (for a group commit, one clone
// for the whole batch).
//
// A Signer signs checkpoints in the C2SP tlog-checkpoint format
// (https://c2sp.org/tlog-checkpoint): a signed note
// (golang.org/x/mod/sumdb/note, Ed25519) whose body is the log's origin,
// the tree size and the base64 root hash. The origin is the signer key's
// name. The private key is a note signer key string; the caller keeps it
// wrapped like its other keys and hands it over unwrapped only to NewSigner.
//
// # Witnesses
//
// A witness is another party, with its own Ed25519 note key, that checks a
// checkpoint (the log's signature, and that the new tree extends the one it
// saw before, with a consistency proof) and adds its own signature with
// Cosign. ParseCheckpoint takes the verifiers whose signatures it requires:
// the log's key alone, or the log's key and the witnesses'. A witness
// signature here is a plain Ed25519 note signature over the checkpoint
// body, not the timestamped C2SP tlog-cosignature/v1 kind.
//
// # Verifying
//
// Verify recomputes the tree over the logged records and checks it against
// every checkpoint; it returns a *TamperError naming the first entry that
// was changed, removed, reordered or inserted, or the first missing one
// when the log is shorter than a checkpoint. Prove and VerifyInclusion give
// and check RFC 6962 inclusion proofs for single entries.
package audit
