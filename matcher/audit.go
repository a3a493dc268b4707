package matcher

import (
	"context"
	"fmt"
	"strings"

	"github.com/vindex-nl/vindex/store"
)

// The audit log: every verb leaves one entry (store.AuditEntry) of who
// called it, with what credential, on which registration or youth, and how
// it ended, durable before the verb answers. A verb that changes records
// stages its entry in the same atomic commit as the change; one that
// writes nothing (a read, a refusal, a replay) appends it on its own,
// sharing the store's group commit with the other callers. If the entry
// cannot be kept, the verb fails: nothing is answered that the log does
// not hold. The youth reference is the youth's pseudonym in a domain of
// its own (pseudonym.DomainYouthAudit), made from the BSN; a verb on a
// registration ID names the registration instead. An entry holds no BSN,
// birth date, contact or client reference.

// auditOutcome is an entry's outcome: the log line's outcome (see outcome)
// as one code, "ok", "not_involved", "forbidden", "invalid_bsn", … .
func auditOutcome(err error) string { return strings.ReplaceAll(outcome(err), " ", "_") }

// call is one verb call's audit entry.
type call struct {
	m      *Matcher
	e      store.AuditEntry
	staged bool
}

// audit starts the entry of a call of verb by actor on the youth who
// and/or the registration id (zero values if the call names none).
func (m *Matcher) audit(actor Actor, verb store.AuditVerb, who Youth, id ID) *call {
	return &call{m: m, e: store.AuditEntry{
		Institution: actor.Institution, Credential: actor.Credential, Verb: verb, Registration: id, Youth: who.audit.Primary,
	}}
}

// stage returns c's change that, when it succeeds, also stages the entry
// in the update's commit.
func (a *call) stage(c change) change {
	return func(y *youth) error {
		if err := c(y); err != nil {
			return err
		}
		e := a.e
		e.At, e.Outcome = y.now, auditOutcome(nil)
		y.tx.Audit(e)
		a.staged = true
		return nil
	}
}

// done makes the verb's entry durable: committed with the change it
// staged, or appended now with *err's outcome. If it cannot be appended,
// *err becomes that failure: nothing is answered that the log does not
// hold. It reports whether *err is not nil, for the verb to drop its
// answer.
func (a *call) done(ctx context.Context, err *error) bool {
	if a.staged && *err == nil {
		return false
	}
	e := a.e
	e.At, e.Outcome = a.m.clock(), auditOutcome(*err)
	if aerr := a.m.store.AppendAudit(context.WithoutCancel(ctx), e); aerr != nil {
		*err = fmt.Errorf("matcher: audit log: %w", aerr)
	}
	return *err != nil
}
