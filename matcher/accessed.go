package matcher

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// Who accessed a youth: the audit log's entries whose youth reference is
// the youth's, read through the store's index of them
// (store.AuditLog.AuditEntriesOf). They are found under the reference of
// every enabled key, so a key rotation hides none; the entries written
// under a key since retired cannot be found (that key is gone). An entry of
// a verb that names a registration and no youth (end, inform, letter,
// remove by ID) holds no youth reference and is not among them: what such
// a verb changed shows in the registration itself.

// AuditVerb is what an audit entry records ("lookup", "register", …).
type AuditVerb = store.AuditVerb

// MaxAccesses bounds the accesses SubjectAccess lists: the newest ones, in
// the order they were answered, so that a flood of old entries (anyone may
// look a youth up and be refused) cannot hide the recent ones;
// Access.AccessesCut says older ones are left out (the operator's vindex
// audit extract reads them all).
const MaxAccesses = 10000

// auditPage is the number of entries one read of the index returns.
const auditPage = 1000

// Accessed is one access to a youth as subject access lists it: which
// institution did what, on which day, and how it ended; an access by the
// index's operator (an audit extract) names no institution. Never the
// credential used.
type Accessed struct {
	// At is when the call was answered, and On its day in the matcher's
	// zone (00:00 UTC).
	At, On time.Time
	// Institution is the caller's institution, and Name its name in the
	// covenant ("" if the covenant does not list it).
	Institution, Name string
	Verb              AuditVerb
	// Outcome is "ok" or the refusal's stable code ("not_involved",
	// "forbidden", …).
	Outcome string
}

// ExtractAudit returns up to limit audit entries of who (every entry whose
// youth reference is who's, under any enabled key), in the order they were
// committed, and whether there are more: the index's operator's read
// (vindex audit extract), with actor the operator (no institution). It
// checks no institution: the operator holds the keys and the store. Like
// every verb it leaves an entry (audit-extract, naming the youth), durable
// before it answers, which the next extract and subject access list. A
// limit not positive reads nothing.
func (m *Matcher) ExtractAudit(ctx context.Context, actor Actor, who Youth, limit int) (_ []store.AuditEntry, more bool, err error) {
	a := m.audit(actor, store.AuditExtract, who, ID{})
	entries, more, err := m.auditOf(ctx, who, limit)
	if a.done(ctx, &err) {
		return nil, false, err
	}
	return entries, more, nil
}

// auditOf reads up to limit audit entries of who, in order, and whether
// there are more.
func (m *Matcher) auditOf(ctx context.Context, who Youth, limit int) ([]store.AuditEntry, bool, error) {
	if who.IsZero() {
		return nil, false, fieldErr("youth", ErrMissingYouth)
	}
	if limit <= 0 {
		return nil, false, nil
	}
	var out []store.AuditEntry
	for _, ref := range who.audit.All {
		// Each reference's first limit+1: the first limit of the merge
		// are among them, and one more says there are more.
		n := 0
		for after := uint64(0); n <= limit; {
			page, err := m.store.AuditEntriesOf(ctx, ref, after, min(auditPage, limit+1-n))
			if err != nil {
				return nil, false, fmt.Errorf("matcher: audit log: %w", err)
			}
			if len(page) == 0 {
				break
			}
			out = append(out, page...)
			n += len(page)
			after = page[len(page)-1].Seq
		}
	}
	slices.SortFunc(out, func(a, b store.AuditEntry) int { return cmp.Compare(a.Seq, b.Seq) })
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// accesses lists who accessed who, for subject access: the newest
// MaxAccesses, and whether there are older ones.
func (m *Matcher) accesses(ctx context.Context, who Youth) ([]Accessed, bool, error) {
	var entries []store.AuditEntry
	for _, ref := range who.audit.All {
		// Each reference's newest MaxAccesses+1: the newest MaxAccesses
		// of the merge are among them, and one more says there are more.
		page, err := m.store.LatestAuditEntriesOf(ctx, ref, MaxAccesses+1)
		if err != nil {
			return nil, false, fmt.Errorf("matcher: audit log: %w", err)
		}
		entries = append(entries, page...)
	}
	slices.SortFunc(entries, func(a, b store.AuditEntry) int { return cmp.Compare(a.Seq, b.Seq) })
	more := len(entries) > MaxAccesses
	if more {
		entries = entries[len(entries)-MaxAccesses:]
	}
	out := make([]Accessed, 0, len(entries))
	for _, e := range entries {
		a := Accessed{At: e.At, On: m.today(e.At), Institution: e.Institution, Verb: e.Verb, Outcome: e.Outcome}
		if inst, ok := m.cov.Institution(e.Institution); ok {
			a.Name = inst.Name
		}
		out = append(out, a)
	}
	return out, more, nil
}
