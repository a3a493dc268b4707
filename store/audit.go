package store

import (
	"context"
	"fmt"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
)

// The audit log: a record of every access and change (who did what, to
// which registration or youth, and how it ended), kept by the store so that
// an entry is durable before the answer it records is given: an entry about
// a change is written in the same atomic commit as the change (Tx.Audit),
// one about a read in a commit of its own (AuditLog.AppendAudit), which
// concurrent callers share. The entries are numbered 1, 2, 3, … in commit
// order; the audit-log package builds its Merkle tree over them in that
// order. An entry holds no BSN, birth date, contact or client reference,
// and its youth reference is a pseudonym in a key domain of its own, so it
// cannot be joined with the store's records without that key.

// AuditVerb is what an audit entry records. The values are stored: never
// renumber or reuse one.
type AuditVerb uint8

// The verbs.
const (
	AuditRegister      AuditVerb = 1
	AuditRefresh       AuditVerb = 2
	AuditLookup        AuditVerb = 3
	AuditEnd           AuditVerb = 4
	AuditClose         AuditVerb = 5
	AuditRemove        AuditVerb = 6
	AuditDeath         AuditVerb = 7
	AuditObjection     AuditVerb = 8
	AuditSubjectAccess AuditVerb = 9
	AuditEvents        AuditVerb = 10
	AuditInform        AuditVerb = 11
	AuditLetter        AuditVerb = 12
	AuditKeyInit       AuditVerb = 13
	AuditKeyRotate     AuditVerb = 14
	AuditKeyRetire     AuditVerb = 15
	AuditKeyRewrap     AuditVerb = 16
	AuditExpire        AuditVerb = 17
	AuditExtract       AuditVerb = 18 // the operator extracted a youth's entries
	// AuditGap fills a number a crash left unused: a batch numbered
	// below one that reached the disk did not reach it itself, so no call
	// was answered with it (see the store's Open).
	AuditGap AuditVerb = 19
	// AuditRetentionCut records a retention cut (outcome "through:N": entries 1 to
	// N destroyed), before it is made, so that later checkpoints cover it.
	AuditRetentionCut AuditVerb = 20
	// AuditPlan: the coordinator recorded that the case has a plan (or
	// changed its dates); AuditAgreement: it recorded an agreement of the
	// plan; AuditAgreementDone: an agreement was recorded as done.
	AuditPlan          AuditVerb = 21
	AuditAgreement     AuditVerb = 22
	AuditAgreementDone AuditVerb = 23
	// AuditCoordinate: the coordinator accepted or declined the case or
	// offered it to another institution, or that institution answered.
	AuditCoordinate AuditVerb = 24
	// AuditEscalate: a step of the escalation ladder was taken.
	AuditEscalate AuditVerb = 25
)

var auditVerbs = [...]string{
	AuditRegister: "register", AuditRefresh: "refresh", AuditLookup: "lookup", AuditEnd: "end",
	AuditClose: "close", AuditRemove: "remove", AuditDeath: "death", AuditObjection: "objection",
	AuditSubjectAccess: "subject-access", AuditEvents: "events", AuditInform: "inform",
	AuditLetter: "letter", AuditKeyInit: "key-init", AuditKeyRotate: "key-rotate",
	AuditKeyRetire: "key-retire", AuditKeyRewrap: "key-rewrap", AuditExpire: "expire",
	AuditExtract: "audit-extract", AuditGap: "gap", AuditRetentionCut: "audit-cut",
	AuditPlan: "plan", AuditAgreement: "agreement", AuditAgreementDone: "agreement-done",
	AuditCoordinate: "coordinate", AuditEscalate: "escalate",
}

// String names the verb ("lookup", "key-rotate", …).
func (v AuditVerb) String() string {
	if int(v) < len(auditVerbs) && auditVerbs[v] != "" {
		return auditVerbs[v]
	}
	return fmt.Sprintf("audit-verb(%d)", uint8(v))
}

// Valid reports whether v is one of the verbs.
func (v AuditVerb) Valid() bool { return int(v) < len(auditVerbs) && auditVerbs[v] != "" }

// The longest institution, credential and outcome an audit entry holds,
// in bytes. Each is a code of the alphabet [A-Za-z0-9._:-]: never free text.
const (
	MaxAuditInstitution = 64
	MaxAuditCredential  = 128
	MaxAuditOutcome     = 32
)

// AuditEntry is one entry of the audit log. Its canonical encoding, the
// leaf of the log's Merkle tree, is the audit package's.
type AuditEntry struct {
	// Seq is the entry's number, assigned at commit: 1, 2, 3, … in commit
	// order. Zero in an entry handed to Audit or AppendAudit.
	Seq uint64
	// At is when the call was answered: between the years 1678 and 2262
	// (the log keeps it in Unix nanoseconds).
	At time.Time
	// Institution is the caller's institution ("operator" for an
	// operator's key operation), and Credential what it authenticated
	// with: a token's ID or a certificate's pin, never a secret; "" if
	// none (an operator at the machine).
	Institution, Credential string
	Verb                    AuditVerb
	// Registration is the registration acted on; zero if none.
	Registration ID
	// Youth is the youth reference: a pseudonym of the youth in the audit
	// log's own key domain (never the store's pseudonym); zero if the call
	// named no youth.
	Youth pseudonym.Pseudonym
	// Outcome is how the call ended: "ok" or an error's stable code
	// ("not_involved", "not_found", …).
	Outcome string
}

// Earliest and latest times an entry can hold (Unix nanoseconds in int64).
var (
	minAuditTime = time.Unix(0, -1<<63)
	maxAuditTime = time.Unix(0, 1<<63-1)
)

// Check returns an error wrapping ErrInvalid if e cannot be kept: a number
// already set, or content that CheckContent refuses.
func (e AuditEntry) Check() error {
	if e.Seq != 0 {
		return fmt.Errorf("%w: audit entry numbered before its commit", ErrInvalid)
	}
	return e.CheckContent()
}

// CheckContent returns an error wrapping ErrInvalid if e's content cannot
// be logged: no time or one out of range, an unknown verb, no institution
// or outcome, or a code over its limit or with a byte outside
// [A-Za-z0-9._:-]. It is the one check of an entry: the store's, and the
// audit package's before it encodes one (which ignores the number).
func (e AuditEntry) CheckContent() error {
	switch {
	case e.At.IsZero() || e.At.Before(minAuditTime) || e.At.After(maxAuditTime):
		return fmt.Errorf("%w: audit entry time out of range", ErrInvalid)
	case !e.Verb.Valid():
		return fmt.Errorf("%w: audit entry with verb %d", ErrInvalid, e.Verb)
	}
	if err := checkAuditCode("institution", e.Institution, 1, MaxAuditInstitution); err != nil {
		return err
	}
	if err := checkAuditCode("credential", e.Credential, 0, MaxAuditCredential); err != nil {
		return err
	}
	return checkAuditCode("outcome", e.Outcome, 1, MaxAuditOutcome)
}

// checkAuditCode checks that s is lo to hi bytes of the codes' alphabet.
func checkAuditCode(field, s string, lo, hi int) error {
	if len(s) < lo || len(s) > hi {
		return fmt.Errorf("%w: audit entry %s of %d bytes (%d to %d)", ErrInvalid, field, len(s), lo, hi)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '-') {
			return fmt.Errorf("%w: audit entry %s holds a byte outside [A-Za-z0-9._:-] at %d", ErrInvalid, field, i)
		}
	}
	return nil
}

// AuditLog is the store's audit log.
type AuditLog interface {
	// AppendAudit appends entries (an access that changes nothing, e.g. a
	// lookup) and returns once they are durable; concurrent appends and
	// updates share their commits. An entry that fails Check appends
	// nothing of the call.
	AppendAudit(ctx context.Context, entries ...AuditEntry) error
	// AuditEntries returns up to limit entries numbered above after, in
	// order. It never returns an entry while one numbered below it is not
	// yet durable, so a reader that has seen up to N misses none below N.
	AuditEntries(ctx context.Context, after uint64, limit int) ([]AuditEntry, error)
	// AuditEntriesOf returns up to limit entries whose youth reference is
	// youth (who accessed that youth, and how it ended), numbered above
	// after, in order, and, like AuditEntries, none while one numbered
	// below it is not yet durable. limit caps one call: a youth with more
	// entries is read in pages, each continuing after the last number
	// read; a limit not positive, or a zero youth, reads nothing. Every
	// entry kept is covered, those written before a backend kept an index
	// of them too. The cost of a call grows with the entries it returns,
	// not with the log.
	AuditEntriesOf(ctx context.Context, youth pseudonym.Pseudonym, after uint64, limit int) ([]AuditEntry, error)
	// LatestAuditEntriesOf returns the newest limit entries of youth (the
	// highest numbered), in order: what a bounded list of accesses shows,
	// so that a flood of old entries cannot hide the recent ones.
	LatestAuditEntriesOf(ctx context.Context, youth pseudonym.Pseudonym, limit int) ([]AuditEntry, error)
}
