package matcher

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// youth is one youth's state inside one store update: every verb changes
// it through updateByYouth or updateByID, which read it with begin and
// write it back with finish, so match detection, coordinator decision and
// events are always made the same way and land in the same atomic write.
type youth struct {
	m          *Matcher
	tx         store.Tx
	now, today time.Time

	// regs are the youth's live registrations as read, with what this
	// update did to them, and the ended ones it asked for by ID (byID):
	// never the whole history, so the update's cost does not grow with it.
	regs []store.Registration
	live []store.Registration // the live ones, CreatedAt order
	kase store.Case
	had  bool // a case record existed

	prevCoordinator string
	noCoordinator   string
	endedNow        map[store.ID]bool
	destroyedNow    int     // of endedNow, destroyed at once (their destroy day came)
	revived         bool    // a report revived the registration its institution had just ended
	gaveUp          *gaveUp // the coordinator declined or let its term lapse in this update
	events          []store.Event
	finished        bool

	// family are the other youths' registrations this update's report
	// made a family match with (see familyMatch), or, when it assigned a
	// coordinator, those of the youth's families (familyOfLive).
	family []store.FamilyMember
}

// change is what a verb does to one youth's records inside a store update.
// It returns an error to write nothing (the verb returns that error), or
// errNoWrite to write nothing without an error.
type change func(y *youth) error

// errNoWrite, returned by a change, abandons its update quietly: nothing is
// written or observed, and the verb goes on (a replayed report).
var errNoWrite = errors.New("matcher: nothing to write")

// updateByYouth applies c to the records of the youth who refers to, in one
// atomic, durable store update made at now, and tells the observer what it
// committed.
func (m *Matcher) updateByYouth(ctx context.Context, who Youth, now time.Time, c change) error {
	return m.updateFamily(ctx, who, nil, now, c)
}

// updateFamily is updateByYouth for a report that gives family relations:
// the update is also serialised with every other that holds one of the
// relation keys (store.Store.UpdateFamily), so that two reports of one
// family at the same moment make one family match.
func (m *Matcher) updateFamily(ctx context.Context, who Youth, keys []pseudonym.Pseudonym, now time.Time, c change) error {
	if who.IsZero() {
		return fieldErr("youth", ErrMissingYouth)
	}
	var y *youth
	err := m.holdingFamily(ctx, who.set.All, keys, func(tx store.Tx, held []pseudonym.Pseudonym) error {
		y = m.begin(tx, who.set.Primary, now, m.today(now))
		if err := y.holds(held); err != nil {
			return err
		}
		if err := m.resealLive(y, who); err != nil {
			return err
		}
		return y.apply(c)
	})
	return m.committed(y, err)
}

// maxFamilyAttempts bounds how often an update is begun again to hold
// more family keys (holdingFamily); the last attempt holds what it has.
const maxFamilyAttempts = 3

// errUnheld abandons an update that began without holding the family keys
// of the youth's live relations (see youth.holds), before anything is
// staged: holdingFamily runs it again holding them.
type errUnheld struct {
	youth pseudonym.Pseudonym
	keys  []pseudonym.Pseudonym
}

func (e *errUnheld) Error() string { return "matcher: update does not hold the youth's family keys" }

// holdingFamily runs attempt in one store update of the youth known by
// youth that also holds the family keys keys (store.Store.UpdateFamily),
// and, when attempt finds the youth has live family relations under keys
// it does not hold (errUnheld), runs it again holding those too. So every
// update of a youth with a family is serialised with the updates of the
// other children of that family: two children given different
// coordinators at the same moment are not each blind to the other's, and
// their coordinators are told of each other (family-coordination), never
// neither. An attempt is abandoned before it stages anything; a youth
// without relations costs nothing more. held is nil in the last attempt:
// it goes on with what it holds.
func (m *Matcher) holdingFamily(ctx context.Context, youth, keys []pseudonym.Pseudonym, attempt func(tx store.Tx, held []pseudonym.Pseudonym) error) error {
	held := keys
	for n := 1; ; n++ {
		check := held
		if check == nil {
			check = []pseudonym.Pseudonym{}
		}
		if n == maxFamilyAttempts {
			check = nil
		}
		fn := func(tx store.Tx) error { return attempt(tx, check) }
		var err error
		if len(held) == 0 {
			err = m.store.Update(ctx, youth, fn)
		} else {
			err = m.store.UpdateFamily(ctx, youth, held, fn)
		}
		var u *errUnheld
		if !errors.As(err, &u) {
			return err
		}
		held = u.keys
	}
}

// holds returns errUnheld if the youth's live registrations have family
// relations under keys that held lacks; nil if held is nil (the update
// goes on with what it holds).
func (y *youth) holds(held []pseudonym.Pseudonym) error {
	if held == nil {
		return nil
	}
	var missing []pseudonym.Pseudonym
	for _, k := range y.familyKeys() {
		if !slices.Contains(held, k) && !slices.Contains(missing, k) {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &errUnheld{youth: y.kase.Youth, keys: append(slices.Clone(held), missing...)}
}

// updateByID is updateByYouth for the youth that holds registration id, or
// ErrNotFound if no registration has that ID.
func (m *Matcher) updateByID(ctx context.Context, id ID, now time.Time, c change) error {
	var y *youth
	err := m.store.UpdateByID(ctx, id, func(tx store.Tx) error {
		y = m.beginByID(tx, id, now, m.today(now))
		if err := y.holds([]pseudonym.Pseudonym{}); err != nil {
			return err
		}
		return y.apply(c)
	})
	if u := (*errUnheld)(nil); errors.As(err, &u) {
		// The youth has a family: the same update by the youth it was
		// found under, holding its family keys.
		err = m.holdingFamily(ctx, []pseudonym.Pseudonym{u.youth}, u.keys, func(tx store.Tx, held []pseudonym.Pseudonym) error {
			y = m.beginByID(tx, id, now, m.today(now))
			if err := y.holds(held); err != nil {
				return err
			}
			return y.apply(c)
		})
	}
	if errors.Is(err, store.ErrNotFound) {
		err = ErrNotFound
	}
	return m.committed(y, err)
}

// apply runs c and, unless it fails, stages the outcome (if c has not
// already: a change that answers with the outcome finishes itself).
func (y *youth) apply(c change) error {
	if err := c(y); err != nil {
		return err
	}
	if !y.finished {
		y.finish()
	}
	return nil
}

// committed is what an update returns: nil for an abandoned one, else err;
// a committed one is observed first.
func (m *Matcher) committed(y *youth, err error) error {
	switch {
	case errors.Is(err, errNoWrite):
		return nil
	case err != nil:
		return err
	}
	m.observe(y.events, y.reassigned())
	return nil
}

// begin reads the youth's live records through tx. Live records under an
// older key move to primary (a report after a key rotation migrates them;
// ended ones stay where they are, as they need the key no more). What has
// reached its end day is ended now, in this same write.
func (m *Matcher) begin(tx store.Tx, primary pseudonym.Pseudonym, now, today time.Time) *youth {
	y := &youth{m: m, tx: tx, now: now, today: today}
	y.regs = tx.Registrations()
	y.live = make([]store.Registration, 0, cap(y.regs)) // relive's, grown no more than regs
	y.kase, y.had = tx.Case()
	if !y.had {
		y.kase = store.Case{Age: -1}
	}
	for i := range y.regs {
		if y.regs[i].Youth != primary {
			y.regs[i].Youth = primary
			tx.Put(y.regs[i])
		}
	}
	y.kase.Youth = primary
	y.prevCoordinator = y.kase.Coordinator
	y.relive()
	y.expire()
	return y
}

// beginByID reads the youth that holds registration id, under the
// pseudonym its records are kept under.
func (m *Matcher) beginByID(tx store.Tx, id store.ID, now, today time.Time) *youth {
	regs := tx.Registrations()
	p, had := tx.Case()
	primary := p.Youth
	switch {
	case had:
	case len(regs) > 0:
		primary = regs[0].Youth
	default:
		if r, ok := tx.Ended(id); ok {
			primary = r.Youth
		}
	}
	return m.begin(tx, primary, now, today)
}

func (y *youth) relive() {
	y.live = y.live[:0]
	for _, r := range y.regs {
		if r.IsLive() {
			y.live = append(y.live, r)
		}
	}
}

// expire ends the live registrations whose end day has come, and destroys
// at once those that end on their destroy day (the youth turns 23: nothing
// of it goes to the archive).
func (y *youth) expire() {
	if !y.anyLive(y.endsToday) {
		return // most updates: nothing to copy
	}
	for _, r := range slices.Clone(y.live) {
		if !y.endsToday(&r) {
			continue
		}
		y.end(r, store.EndedByExpiry)
		if y.endedNow == nil {
			y.endedNow = make(map[store.ID]bool)
		}
		y.endedNow[r.ID] = true
		if !r.DestroyOn.IsZero() && !y.today.Before(r.DestroyOn) {
			y.remove(r)
			y.destroyedNow++
			y.auditExpiry(r.ID, "destroyed")
		} else {
			y.auditExpiry(r.ID, "ended")
		}
	}
}

// endsToday reports whether r has reached its end day.
func (y *youth) endsToday(r *store.Registration) bool {
	return !r.EndsOn.IsZero() && !y.today.Before(r.EndsOn)
}

// anyLive reports whether ok holds for one of the live registrations,
// without copying them.
func (y *youth) anyLive(ok func(*store.Registration) bool) bool {
	for i := range y.live {
		if ok(&y.live[i]) {
			return true
		}
	}
	return false
}

// auditExpiry stages the audit entry of registration id ended or destroyed
// by its term, in the commit that does it: by the operator (the service
// itself, not a caller), naming the registration only (the youth's audit
// reference is made from the BSN, which an expiry never has).
func (y *youth) auditExpiry(id store.ID, outcome string) {
	y.tx.Audit(store.AuditEntry{At: y.now, Institution: Operator.Institution, Verb: store.AuditExpire, Registration: id, Outcome: outcome})
}

// byID returns the youth's registration id, live or ended, or nil: an
// ended one is read from the history only now.
func (y *youth) byID(id store.ID) *store.Registration {
	for i := range y.regs {
		if y.regs[i].ID == id {
			return &y.regs[i]
		}
	}
	if r, ok := y.tx.Ended(id); ok {
		y.regs = append(y.regs, r)
		return &y.regs[len(y.regs)-1]
	}
	return nil
}

func (y *youth) liveOf(institution string) *store.Registration {
	for i := range y.live {
		if y.live[i].Institution == institution {
			return &y.live[i]
		}
	}
	return nil
}

func (y *youth) distinctLive() int { return distinct(y.live) }

// put inserts or replaces a registration.
func (y *youth) put(r store.Registration) {
	if old := y.byID(r.ID); old != nil {
		*old = r
	} else {
		y.regs = append(y.regs, r)
	}
	y.tx.Put(r)
	y.relive()
}

// add inserts a registration made in this update under a new ID (from
// store.NewID): no registration of the youth, live or ended, has it, so
// there is none to look up and replace.
func (y *youth) add(r store.Registration) {
	y.regs = append(y.regs, r)
	y.tx.PutNew(r)
	y.relive()
}

// end ends a live registration and tells whoever should know. A retry of
// the report that made it is then a new report.
func (y *youth) end(r store.Registration, reason store.EndReason) {
	y.endSilently(r, reason)
	if reason == store.EndedByClose {
		y.emit(store.Event{Type: store.EventCaseClosed, Recipient: r.Institution, Registration: r.ID, Subject: y.kase.Coordinator, Reason: reason.String()})
		return
	}
	if reason == store.EndedByInstitution || reason == store.EndedOther {
		y.noteEnd(r)
	} else {
		y.emit(store.Event{Type: store.EventEnded, Recipient: r.Institution, Registration: r.ID, Subject: r.Institution, Reason: reason.String()})
	}
	y.tellOthersEnded(r, reason.String())
}

// tellOthersEnded tells each live institution other than r's that r ended,
// for reason.
func (y *youth) tellOthersEnded(r store.Registration, reason string) {
	for _, o := range y.live {
		if o.Institution != r.Institution {
			y.emit(store.Event{Type: store.EventEnded, Recipient: o.Institution, Registration: o.ID, Subject: r.Institution, Reason: reason})
		}
	}
}

// endSilently ends r for reason without telling anyone (the caller emits
// the events). A retry of the report that made it is then a new report.
func (y *youth) endSilently(r store.Registration, reason store.EndReason) {
	y.tx.DeleteIdempotencyOf(r.ID)
	// An ended registration is in no family: its relations' pseudonyms
	// have no use in the archive, so they are not kept there (a report
	// that revives it gives them anew).
	r.Relations = nil
	r.EndedAt = y.now
	r.EndReason = reason
	r.PurgeOn = y.today.AddDate(0, 0, y.m.limits.retention)
	if !r.DestroyOn.IsZero() && r.DestroyOn.Before(r.PurgeOn) {
		r.PurgeOn = r.DestroyOn
	}
	y.put(r)
}

// remove deletes a registration outright, the idempotency records of the
// reports that made it, and the case's note of its end (a refresh window
// for a registration that is gone).
func (y *youth) remove(r store.Registration) {
	y.tx.DeleteIdempotencyOf(r.ID)
	y.regs = slices.DeleteFunc(y.regs, func(o store.Registration) bool { return o.ID == r.ID })
	y.kase.Ends = slices.DeleteFunc(y.kase.Ends, func(e store.RecentEnd) bool { return e.Registration == r.ID })
	y.tx.Delete(r.ID)
	y.relive()
	if y.liveOf(r.Institution) == nil {
		y.forgetInstitution(r.Institution)
	}
}

// forgetInstitution removes what the case says of institution, which has
// no live registration of the youth since one of its registrations was
// deleted (removed as wrong or after an objection, destroyed as
// unjustified, purged): its agreements in the plan, and its name where it
// recorded the plan or took or was named in an escalation step. A deleted
// registration leaves no trace in the case that its institution was
// involved.
func (y *youth) forgetInstitution(institution string) {
	k := &y.kase
	if p := k.Plan; p != nil {
		p.Agreements = slices.DeleteFunc(p.Agreements, func(g store.Agreement) bool { return g.Institution == institution })
		if p.By == institution {
			p.By = ""
		}
	}
	for i := range k.Escalation {
		if s := &k.Escalation[i]; s.By == institution {
			s.By = ""
		}
		if s := &k.Escalation[i]; s.Decided == institution {
			s.Decided = ""
		}
	}
}

// purge deletes an ended registration whose retention is over.
func (y *youth) purge(r store.Registration) { y.remove(r) }

func (y *youth) emit(e store.Event) {
	e.At = y.now
	y.events = append(y.events, e)
}

// others lists the live registrations of institutions other than self.
func (y *youth) others(self string) []store.Party {
	var out []store.Party
	for _, r := range y.live {
		if r.Institution != self {
			out = append(out, store.Party{Registration: r.ID, Institution: r.Institution, Kind: r.Kind, Contact: r.Contact, Since: r.CreatedAt})
		}
	}
	return out
}

// announceMatch tells every live institution who else is involved, after
// reg joined. finish adds the coordinator to these events.
func (y *youth) announceMatch(reg store.Registration) {
	for _, r := range y.live {
		y.emit(store.Event{Type: store.EventMatch, Recipient: r.Institution, Registration: r.ID, Urgent: reg.Urgent, Others: y.others(r.Institution), Subject: reg.Institution})
	}
}

// redecide keeps a coordinator whose registration is live, unless a rule
// with the final say now assigns another (never over the alderman's
// decision), and decides anew when there is none and the youth has a
// match.
func (y *youth) redecide(now time.Time) {
	matched := y.distinctLive() >= 2
	y.kase.Matched = matched
	if y.kase.Coordinator != "" && y.liveOf(y.kase.Coordinator) != nil {
		if y.kase.Rule == rules.RuleEscalationDecision {
			return // the alderman's decision has the final say
		}
		if d := y.decide(); d.FinalSay && d.Coordinator != y.kase.Coordinator {
			y.kase.Coordinator, y.kase.Rule, y.kase.DecidedAt = d.Coordinator, d.Rule, now
		}
		return
	}
	y.kase.Coordinator, y.kase.Rule = "", ""
	if !matched {
		return
	}
	d := y.decide()
	y.kase.Coordinator, y.kase.Rule, y.kase.DecidedAt = d.Coordinator, d.Rule, now
	y.noCoordinator = d.Reason
}

// decide asks the covenant's rules about the live registrations.
func (y *youth) decide() rules.Decision { return rules.Decide(y.rulesCase(), y.m.cov) }

// rulesCase is the case as the covenant's rules see it: the live
// registrations, the youth's age and municipality, the exclusions.
func (y *youth) rulesCase() rules.Case {
	c := rules.Case{Age: y.kase.Age, Municipality: y.kase.Municipality, Excluded: y.kase.Excluded}
	for _, r := range y.live {
		c.Involved = append(c.Involved, rules.Involvement{
			Institution:  r.Institution,
			Kind:         rules.Kind(r.Kind.String()),
			Sector:       rules.Sector(r.Sector),
			RegisteredAt: r.CreatedAt,
		})
	}
	return c
}

// finish decides the coordinator, announces it, and stages the case record
// and the events.
func (y *youth) finish() {
	y.finished = true
	y.lapse()
	y.redecide(y.now)
	y.coordinate()
	if y.reassigned() {
		y.countAssignment()
	}
	y.announceCoordinator()
	y.boundEvents()
	// Reminders and notices come once each (a family's two coordinators,
	// an escalation step's deadline, an inform record, an agreement), so
	// they cannot flood: they are never held back into a summary, where
	// they would lose what they say, nor dropped.
	y.familyOfLive()
	y.coordinateFamily()
	y.escalationDue()
	y.remindInform()
	y.remindAgreements()
	y.schedule()
	if !y.keepCase() {
		// The case is the live state: without a live registration, a
		// refresh window or held events there is nothing to keep (the
		// history needs no case).
		if y.had {
			y.tx.DeleteCase()
		}
	} else {
		y.tx.PutCase(y.kase)
	}
	for _, e := range y.events {
		y.tx.Append(e)
	}
	checkYouth(y.tx)
}

// reassigned reports whether this update assigned a coordinator: a first
// assignment or a reassignment.
func (y *youth) reassigned() bool {
	return y.kase.Coordinator != "" && y.kase.Coordinator != y.prevCoordinator
}

// announceCoordinator names the case's coordinator, if it has one, and its
// rule in every match event of this update, and, when the coordinator
// changed, tells each live institution that got no match event in this
// update in a coordinator event of its own: one event per recipient per
// update.
func (y *youth) announceCoordinator() {
	c, rule := y.kase.Coordinator, y.kase.Rule
	told := map[string]bool{}
	for i := range y.events {
		if e := &y.events[i]; e.Type == store.EventMatch {
			e.Coordinator, e.Rule = c, rule
			told[e.Recipient] = true
		}
	}
	if !y.reassigned() {
		return
	}
	for _, r := range y.live {
		if !told[r.Institution] {
			y.emit(store.Event{Type: store.EventCoordinator, Recipient: r.Institution, Registration: r.ID,
				Coordinator: c, Rule: rule, Others: y.others(r.Institution)})
		}
	}
}
