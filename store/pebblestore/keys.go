package pebblestore

import (
	"encoding/binary"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// Key schema. Every key starts with one prefix byte naming its table. A youth
// is written as its pseudonym's key ID (4 bytes, big-endian) followed by the
// 32-byte pseudonym. A youth's case and registrations under one key are one
// record, so one point read (which Pebble's bloom filters make cheap for a
// youth never seen) gets them all, and one write replaces them atomically.
// Days are days since 1970-01-01 as 4 bytes big-endian, sequence numbers 8
// bytes big-endian, so byte order is time and sequence order. Institution
// identifiers are length-prefixed (uvarint), so no prefix of one is a
// prefix of another. An idempotency record is kept under the keyed hash
// the matcher makes of the institution and its idempotency key, written
// like a youth (key ID and 32 bytes), never under the key itself.
//
// A youth's live state (case and live registrations) is one record, read
// whole by every operation on the youth; its ended registrations are one
// record each under 'h', read only when asked for, so the live record does
// not grow with the youth's history. Schema 1 kept ended registrations in
// the youth record; Open moves them out (see migrateHistory) and the store
// is schema 2 from then on. Schema 2 kept no index of the audit log by
// youth reference; Open writes it (see migrateAuditIndex), and the store
// is schema 3 from then on.
//
//	'm' "schema"                        -> schema version (1 byte)
//	'y' youth                           -> youth record: the youth's case and live registrations
//	'h' youth id                        -> ended registration (the youth's history)
//	'i' id                              -> youth (the registration's pseudonym)
//	'x' day youth id                    -> (empty) live registration ending on day
//	'p' day youth id                    -> (empty) ended registration purgeable from day
//	'n' time youth                      -> (empty) case to wake at time (Case.WakeAt, Unix ns, 8 bytes)
//	'e' len institution seq             -> event record (the outbox, per recipient; seq counts the recipient's own events)
//	'd' hash                            -> idempotency record
//	'k' day hash                        -> (empty) idempotency record made on day
//	'j' id hash                         -> (empty) idempotency record naming registration id
//	'u' len institution len channel     -> delivery cursor (8 bytes)
//	'w' len institution len channel seq -> delivery state of a tried event above the cursor, or of one waiting for a retry
//	'q' len institution len channel urgent next seq -> (empty) delivery waiting for a retry (urgent 0 first; next: NextTry in ns)
//	'z' len institution len channel seq -> delivery state of a dead event
//	'a' seq                             -> audit entry (seq: 1, 2, 3, … in commit order)
//	'f' month 'c'|'d' …                 -> management figures' counter (see figures.go)
//	'v' youth seq                       -> (empty) audit entry seq has youth reference youth
//	'g' key id                          -> family index entry: live registration id carries a relation under key (key: a pseudonym, as a youth is written)
//	'o' id id                           -> (empty) the family pair of registrations was noted (both orders are written)
//	'l'                                 -> the last replicated log entry applied: position (8 bytes) and ID (16 bytes); only in a replicated store (replication.go)
//	'r' seq                             -> undo record of an entry the store applied as leader, until the log acknowledges it (rewind.go)
//
// A family index entry is written for each relation of a live
// registration, in the batch that writes the registration, and deleted in
// the batch that ends, deletes or migrates it; the family pair notes of a
// registration go in the batch that ends or deletes it.
//
// An audit entry with a youth reference and its 'v' index key are written
// in one batch, and must be deleted in one (the read of a youth's entries
// takes an index key without its entry for corruption).
//
// Stores written before idempotency keys were hashed hold records under
// 'd' len institution len key (the key in the clear), with their 'k' and
// 'j' entries. They are never looked up again (a retry of such a report
// gets what a new report would: a refresh of the live registration it
// made), and they go as every record does: with their
// registration when it ends or is removed, and by PurgeIdempotency when
// their window has passed (30 days by default). The index entries name
// their record's key whole, whatever its form, and the record's value has
// not changed, so nothing else needs to read them.
const (
	prefixMeta        = 'm'
	prefixYouth       = 'y'
	prefixHistory     = 'h'
	tagCase           = 'c'
	tagRegistration   = 'r'
	prefixByID        = 'i'
	prefixExpiry      = 'x'
	prefixPurge       = 'p'
	prefixWake        = 'n'
	prefixRecipient   = 'e'
	prefixIdempotency = 'd'
	prefixIdemByDay   = 'k'
	prefixIdemByReg   = 'j'
	prefixCursor      = 'u'
	prefixDelivery    = 'w'
	prefixDead        = 'z'
	prefixAudit       = 'a'
	prefixAuditTree   = 'T' // the audit tree: roots, state, checkpoints, cut (audittree.go)
	prefixAuditYouth  = 'v'
	prefixRetry       = 'q'
	prefixFamily      = 'g'
	prefixFamilyNote  = 'o'
	prefixReplication = 'l'
	// prefixUndo: see rewind.go.
)

// A migration rewrites records outside the replicated log: a store that
// holds undo records (rewind.go) must not be migrated, since undoing an
// entry would write records of the old schema back. None does today
// (undo records came with schema 3, the newest); a migration to a schema
// after 3 must refuse, or first drop, a store's undo records.
const (
	youthSize    = 4 + pseudonym.Size
	schemaV1     = 1 // ended registrations inside the youth record
	schemaV2     = 2 // ended registrations apart, under 'h'
	schemaV3     = 3 // audit entries indexed by youth reference, under 'v'
	seqSize      = 8
	daySize      = 4
	maxLenPrefix = binary.MaxVarintLen64
)

var schemaKey = []byte{prefixMeta, 's', 'c', 'h', 'e', 'm', 'a'}

func appendYouth(dst []byte, p pseudonym.Pseudonym) []byte {
	dst = binary.BigEndian.AppendUint32(dst, p.KeyID)
	return append(dst, p.Sum[:]...)
}

func parseYouth(b []byte) pseudonym.Pseudonym {
	var p pseudonym.Pseudonym
	p.KeyID = binary.BigEndian.Uint32(b)
	copy(p.Sum[:], b[4:youthSize])
	return p
}

func youthKey(p pseudonym.Pseudonym) []byte {
	k := make([]byte, 0, 1+youthSize)
	k = append(k, prefixYouth)
	return appendYouth(k, p)
}

// wakeKey is the wake index key of a case kept under p that wakes at t
// (nil for a zero t).
func wakeKey(t time.Time, p pseudonym.Pseudonym) []byte {
	if t.IsZero() {
		return nil
	}
	k := make([]byte, 0, 1+8+youthSize)
	k = append(k, prefixWake)
	k = binary.BigEndian.AppendUint64(k, uint64(max(t.UnixNano(), 0)))
	return appendYouth(k, p)
}

func parseWakeKey(k []byte) (t time.Time, p pseudonym.Pseudonym, ok bool) {
	if len(k) != 1+8+youthSize || k[0] != prefixWake {
		return t, p, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[1:]))).UTC(), parseYouth(k[9:]), true
}

// historyPrefix is the prefix of p's ended registrations.
func historyPrefix(p pseudonym.Pseudonym) []byte {
	k := make([]byte, 0, 1+youthSize+store.IDSize)
	k = append(k, prefixHistory)
	return appendYouth(k, p)
}

func historyKey(p pseudonym.Pseudonym, id store.ID) []byte {
	return append(historyPrefix(p), id[:]...)
}

func byIDKey(id store.ID) []byte {
	k := make([]byte, 0, 1+store.IDSize)
	k = append(k, prefixByID)
	return append(k, id[:]...)
}

func dayIndexKey(prefix byte, day uint32, p pseudonym.Pseudonym, id store.ID) []byte {
	k := make([]byte, 0, 1+daySize+youthSize+store.IDSize)
	k = append(k, prefix)
	k = binary.BigEndian.AppendUint32(k, day)
	k = appendYouth(k, p)
	return append(k, id[:]...)
}

func parseDayIndexKey(k []byte) (day uint32, p pseudonym.Pseudonym, id store.ID, ok bool) {
	if len(k) != 1+daySize+youthSize+store.IDSize {
		return 0, p, id, false
	}
	day = binary.BigEndian.Uint32(k[1:])
	p = parseYouth(k[1+daySize:])
	copy(id[:], k[1+daySize+youthSize:])
	return day, p, id, true
}

func appendLenString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func recipientPrefix(institution string) []byte {
	k := make([]byte, 0, 1+maxLenPrefix+len(institution))
	k = append(k, prefixRecipient)
	return appendLenString(k, institution)
}

// auditKey is the key of audit entry seq.
func auditKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixAudit}, seq)
}

// auditYouthKey is the index key of audit entry seq, whose youth reference
// is p.
func auditYouthKey(p pseudonym.Pseudonym, seq uint64) []byte {
	k := make([]byte, 0, 1+youthSize+seqSize)
	k = append(k, prefixAuditYouth)
	k = appendYouth(k, p)
	return binary.BigEndian.AppendUint64(k, seq)
}

func recipientKey(institution string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(recipientPrefix(institution), seq)
}

// splitRecipientKey returns the recipient prefix and the sequence number of
// an event key.
func splitRecipientKey(k []byte) (prefix []byte, seq uint64, ok bool) {
	if len(k) < 1+1+seqSize || k[0] != prefixRecipient {
		return nil, 0, false
	}
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || uint64(len(k)) != 1+uint64(w)+n+seqSize {
		return nil, 0, false
	}
	cut := len(k) - seqSize
	return k[:cut], binary.BigEndian.Uint64(k[cut:]), true
}

// recipientOf returns the institution of a recipient prefix that
// splitRecipientKey returned.
func recipientOf(prefix []byte) string {
	_, w := binary.Uvarint(prefix[1:])
	return string(prefix[1+w:])
}

// idempotencyKey is the key of the idempotency record under hash h.
func idempotencyKey(h pseudonym.Pseudonym) []byte {
	k := make([]byte, 0, 1+youthSize)
	k = append(k, prefixIdempotency)
	return appendYouth(k, h)
}

// deliveryPrefix is prefix, the recipient and the channel.
func deliveryPrefix(prefix byte, recipient, channel string) []byte {
	k := make([]byte, 0, 1+2*maxLenPrefix+len(recipient)+len(channel)+seqSize)
	k = append(k, prefix)
	k = appendLenString(k, recipient)
	return appendLenString(k, channel)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// idemDayKey indexes an idempotency record (its key k) by the day it was made.
func idemDayKey(day uint32, k []byte) []byte {
	out := make([]byte, 0, 1+daySize+len(k)-1)
	out = append(out, prefixIdemByDay)
	out = binary.BigEndian.AppendUint32(out, day)
	return append(out, k[1:]...)
}

// splitIdemDayKey returns the day and the idempotency record's key.
func splitIdemDayKey(k []byte) (day uint32, idem []byte, ok bool) {
	if len(k) < 1+daySize+2 || k[0] != prefixIdemByDay {
		return 0, nil, false
	}
	idem = append([]byte{prefixIdempotency}, k[1+daySize:]...)
	return binary.BigEndian.Uint32(k[1:]), idem, true
}

// idemRegKey indexes an idempotency record (its key k) by the registration
// it names.
func idemRegKey(id store.ID, k []byte) []byte {
	out := make([]byte, 0, 1+store.IDSize+len(k)-1)
	out = append(out, prefixIdemByReg)
	out = append(out, id[:]...)
	return append(out, k[1:]...)
}

// idemRegPrefix is the prefix of the index entries of registration id.
func idemRegPrefix(id store.ID) []byte {
	return append([]byte{prefixIdemByReg}, id[:]...)
}

// splitIdemRegKey returns the idempotency record's key of an index entry
// made by idemRegKey.
func splitIdemRegKey(k []byte) (idem []byte, ok bool) {
	if len(k) < 1+store.IDSize+2 || k[0] != prefixIdemByReg {
		return nil, false
	}
	return append([]byte{prefixIdempotency}, k[1+store.IDSize:]...), true
}

// familyPrefix is the prefix of the family index entries under key.
func familyPrefix(key pseudonym.Pseudonym) []byte {
	k := make([]byte, 0, 1+youthSize+store.IDSize)
	k = append(k, prefixFamily)
	return appendYouth(k, key)
}

// familyKey is the family index key of registration id's relation key.
func familyKey(key pseudonym.Pseudonym, id store.ID) []byte {
	return append(familyPrefix(key), id[:]...)
}

// familyNoteKey is the key of the note of the pair a, b (in that order).
func familyNoteKey(a, b store.ID) []byte {
	k := make([]byte, 0, 1+2*store.IDSize)
	k = append(k, prefixFamilyNote)
	k = append(k, a[:]...)
	return append(k, b[:]...)
}
