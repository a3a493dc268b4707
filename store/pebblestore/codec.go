package pebblestore

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// Record encoding. Every value starts with one version byte; fields follow in
// a fixed order as unsigned varints (numbers, times as Unix nanoseconds + 1 so
// that zero stays zero, days as days since 1970-01-01 + 1), length-prefixed
// byte strings, and fixed-size arrays. Decoding rejects trailing bytes,
// truncation and unknown versions with store.ErrCorrupt. A new field means a
// new version; old versions stay decodable.
const (
	youthV1 = 1
	regV1   = 1
	regV2   = 2 // regV1 + a sealed client reference
	regV3   = 3 // regV2 (the reference may be empty) + age band, inform record, destroy day
	regV4   = 4 // regV3 (its fields may be empty) + a sealed element
	regV5   = 5 // regV4 (its fields may be empty) + family relations
	regV6   = 6 // regV5 with each relation's sealed element (a blind deployment's)
	caseV1  = 1
	caseV2  = 2 // caseV1 + a birth-date check value
	caseV3  = 3 // caseV2 (the check value may be zero) + recent ends, notices and a wake time
	caseV4  = 4 // caseV3 (its additions may be empty) + a plan and its agreements
	caseV5  = 5 // caseV3 (its additions may be empty) + a plan if any + acceptance, exclusions, hand-over, escalation
	idemV1  = 1
	eventV1 = 1
	eventV2 = 2 // eventV1 + the count of a summary event
	eventV3 = 3 // eventV2 (the count may be zero) + an agreement's number
	auditV1 = 1
	famV1   = 1 // a family index entry
	treeV1  = 1 // the audit tree's state, a checkpoint, the retention cut
)

type enc struct{ b []byte }

func (e *enc) byte(v byte)      { e.b = append(e.b, v) }
func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) bytes(v []byte)   { e.uvarint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) str(v string)     { e.uvarint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) bool(v bool) {
	if v {
		e.byte(1)
	} else {
		e.byte(0)
	}
}
func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(t.UnixNano()) + 1)
}
func (e *enc) day(t time.Time) {
	if t.IsZero() {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(dayNumber(t)) + 1)
}
func (e *enc) id(id store.ID)                  { e.b = append(e.b, id[:]...) }
func (e *enc) pseudonym(p pseudonym.Pseudonym) { e.b = appendYouth(e.b, p) }

type dec struct {
	b   []byte
	err error
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = store.ErrCorrupt
	}
	d.b = nil
}

func (d *dec) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	// Only the shortest encoding is accepted, so a record has one form.
	if n <= 0 || n != uvarintLen(v) {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 || n != len(binary.AppendVarint(nil, v)) {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func (d *dec) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}

// view is bytes without the copy: the slice aliases the input.
func (d *dec) view() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	v := string(d.b[:n])
	d.b = d.b[n:]
	return v
}

func (d *dec) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail()
	return false
}

func (d *dec) time() time.Time {
	v := d.uvarint()
	if v == 0 || d.err != nil {
		return time.Time{}
	}
	return time.Unix(0, int64(v-1)).UTC()
}

func (d *dec) day() time.Time {
	v := d.uvarint()
	if v == 0 || d.err != nil {
		return time.Time{}
	}
	if v-1 > math.MaxInt32 {
		d.fail()
		return time.Time{}
	}
	return dayTime(uint32(v - 1))
}

func (d *dec) id() store.ID {
	var id store.ID
	if len(d.b) < store.IDSize {
		d.fail()
		return id
	}
	copy(id[:], d.b)
	d.b = d.b[store.IDSize:]
	return id
}

func (d *dec) pseudonym() pseudonym.Pseudonym {
	if len(d.b) < youthSize {
		d.fail()
		return pseudonym.Pseudonym{}
	}
	p := parseYouth(d.b[:youthSize])
	d.b = d.b[youthSize:]
	return p
}

func (d *dec) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", store.ErrCorrupt, len(d.b))
	}
	return d.err
}

// versions reads a version byte that must be one of want, and returns it.
func (d *dec) versions(want ...byte) byte {
	v := d.byte()
	if d.err == nil && !slices.Contains(want, v) {
		d.err = fmt.Errorf("%w: unknown version %d", store.ErrCorrupt, v)
		d.b = nil
	}
	return v
}

func (d *dec) version(want byte) {
	if v := d.byte(); d.err == nil && v != want {
		d.err = fmt.Errorf("%w: unknown version %d", store.ErrCorrupt, v)
		d.b = nil
	}
}

// encodeRegistration writes regV1; regV2 when the registration has a
// sealed client reference; regV3 when it has an age band, an inform record
// or a destroy day; regV4 (regV3 and the sealed element) when it has a
// sealed element; regV5 (regV4 and the relations) when it has family
// relations; regV6 (regV5 with each relation's sealed element) when a
// relation keeps an element (a blind deployment's)
// relations: a record without them keeps the older encoding, so each
// registration has exactly one encoding.
func encodeRegistration(dst []byte, r *store.Registration) []byte {
	e := enc{b: dst}
	v := byte(regV1)
	switch {
	case slices.ContainsFunc(r.Relations, func(rel store.Relation) bool { return len(rel.Element) > 0 }):
		v = regV6
	case len(r.Relations) > 0:
		v = regV5
	case len(r.Element) > 0:
		v = regV4
	case hasV3(r):
		v = regV3
	case len(r.ClientRef) > 0:
		v = regV2
	}
	e.byte(v)
	e.id(r.ID)
	e.pseudonym(r.Youth)
	e.str(r.Institution)
	e.byte(byte(r.Kind))
	e.str(r.SignalCode)
	e.bool(r.Urgent)
	e.str(r.Sector)
	e.str(r.Municipality)
	e.str(r.Contact.Name)
	e.str(r.Contact.Phone)
	e.str(r.Contact.Email)
	e.time(r.CreatedAt)
	e.time(r.UpdatedAt)
	e.day(r.EndsOn)
	e.time(r.EndedAt)
	e.byte(byte(r.EndReason))
	e.day(r.PurgeOn)
	if v >= regV2 {
		e.bytes(r.ClientRef)
	}
	if v >= regV3 {
		encodeV3(&e, r)
	}
	if v >= regV4 {
		e.bytes(r.Element)
	}
	if v >= regV5 {
		e.uvarint(uint64(len(r.Relations)))
		for _, rel := range r.Relations {
			e.byte(byte(rel.Type))
			e.pseudonym(rel.Key)
			e.time(rel.Since)
			if v == regV6 {
				e.bytes(rel.Element)
			}
		}
	}
	return e.b
}

// maxRelations bounds the relations a decoded registration may have (the
// matcher gives at most two parents and an address).
const maxRelations = 16

func decodeRelations(d *dec, r *store.Registration, elements bool) {
	n := d.uvarint()
	if d.err == nil && (n == 0 || n > maxRelations) {
		d.err = fmt.Errorf("%w: %d relations", store.ErrCorrupt, n)
		return
	}
	r.Relations = make([]store.Relation, 0, n)
	for range n {
		rel := store.Relation{Type: store.RelationType(d.byte()), Key: d.pseudonym(), Since: d.time()}
		if elements {
			rel.Element = d.bytes()
		}
		if d.err == nil && !rel.Type.Valid() {
			d.err = fmt.Errorf("%w: relation type %d", store.ErrCorrupt, rel.Type)
		}
		r.Relations = append(r.Relations, rel)
	}
}

// What regV3 adds to regV2: the duty to inform (the age band and the
// inform record: small enums, a flag and two days) and the destroy day.

// hasV3 reports whether r has anything regV3 adds.
func hasV3(r *store.Registration) bool {
	return r.AgeBand != store.AgeBandUnknown || !r.Inform.IsZero() || !r.DestroyOn.IsZero()
}

func encodeV3(e *enc, r *store.Registration) {
	e.byte(byte(r.AgeBand))
	e.byte(byte(r.Inform.Who))
	e.day(r.Inform.On)
	e.byte(byte(r.Inform.Not))
	e.day(r.Inform.Due)
	e.bool(r.Inform.Reminded)
	e.day(r.DestroyOn)
}

func decodeV3(d *dec, r *store.Registration) {
	r.AgeBand = store.AgeBand(d.byte())
	r.Inform.Who = store.Whom(d.byte())
	r.Inform.On = d.day()
	r.Inform.Not = store.NotInformed(d.byte())
	r.Inform.Due = d.day()
	r.Inform.Reminded = d.bool()
	r.DestroyOn = d.day()
}

func decodeRegistration(b []byte) (store.Registration, error) {
	d := dec{b: b}
	var r store.Registration
	v := d.versions(regV1, regV2, regV3, regV4, regV5, regV6)
	r.ID = d.id()
	r.Youth = d.pseudonym()
	r.Institution = d.str()
	r.Kind = store.Kind(d.byte())
	r.SignalCode = d.str()
	r.Urgent = d.bool()
	r.Sector = d.str()
	r.Municipality = d.str()
	r.Contact.Name = d.str()
	r.Contact.Phone = d.str()
	r.Contact.Email = d.str()
	r.CreatedAt = d.time()
	r.UpdatedAt = d.time()
	r.EndsOn = d.day()
	r.EndedAt = d.time()
	r.EndReason = store.EndReason(d.byte())
	r.PurgeOn = d.day()
	switch v {
	case regV2:
		if r.ClientRef = d.bytes(); d.err == nil && len(r.ClientRef) == 0 {
			d.err = fmt.Errorf("%w: empty client reference", store.ErrCorrupt)
		}
	case regV3, regV4, regV5, regV6:
		if r.ClientRef = d.bytes(); len(r.ClientRef) == 0 {
			r.ClientRef = nil
		}
		decodeV3(&d, &r)
		if v == regV3 && d.err == nil && !hasV3(&r) {
			d.err = fmt.Errorf("%w: a version 3 registration with nothing of version 3", store.ErrCorrupt)
		}
		if v == regV4 {
			if r.Element = d.bytes(); d.err == nil && len(r.Element) == 0 {
				d.err = fmt.Errorf("%w: empty sealed element", store.ErrCorrupt)
			}
		}
		if v >= regV5 {
			if r.Element = d.bytes(); len(r.Element) == 0 {
				r.Element = nil
			}
			decodeRelations(&d, &r, v == regV6)
		}
	}
	if err := d.done(); err != nil {
		return store.Registration{}, err
	}
	return r, nil
}

// youthRecord is what is stored under one youth key: the case (if any) and
// the registrations, each in its own encoding.
type youthRecord struct {
	hasCase bool
	kase    store.Case
	regs    []store.Registration
}

func encodeYouth(dst []byte, y *youthRecord) []byte {
	e := enc{b: dst}
	e.byte(youthV1)
	e.bool(y.hasCase)
	if y.hasCase {
		start := len(e.b)
		e.b = prefixLength(encodeCase(e.b, &y.kase), start)
	}
	e.uvarint(uint64(len(y.regs)))
	for i := range y.regs {
		start := len(e.b)
		e.b = prefixLength(encodeRegistration(e.b, &y.regs[i]), start)
	}
	return e.b
}

// prefixLength turns b, whose bytes from start on are a value just
// appended, into b up to start followed by the value as enc.bytes writes
// it (its length, uvarint, then the value): the value is encoded in place,
// with no buffer of its own.
func prefixLength(b []byte, start int) []byte {
	n := len(b) - start
	var l [binary.MaxVarintLen64]byte
	w := binary.PutUvarint(l[:], uint64(n))
	b = append(b, l[:w]...)
	copy(b[start+w:], b[start:start+n])
	copy(b[start:], l[:w])
	return b
}

func decodeYouth(b []byte) (youthRecord, error) {
	d := dec{b: b}
	var y youthRecord
	d.version(youthV1)
	y.hasCase = d.bool()
	if y.hasCase && d.err == nil {
		c, err := decodeCase(d.view())
		if err != nil {
			return youthRecord{}, err
		}
		y.kase = c
	}
	n := d.uvarint()
	// A registration takes at least 60 bytes: refuse counts the input
	// cannot hold before allocating.
	if d.err == nil && n > uint64(len(d.b))/60 {
		d.fail()
	}
	if d.err == nil && n > 0 {
		y.regs = make([]store.Registration, 0, n)
		for range n {
			r, err := decodeRegistration(d.view())
			if err != nil {
				return youthRecord{}, err
			}
			y.regs = append(y.regs, r)
		}
	}
	if err := d.done(); err != nil {
		return youthRecord{}, err
	}
	return y, nil
}

// encodeCase writes caseV1; caseV2 when the case has a birth-date check
// value; caseV3 when it has recent ends, notices or a wake time; caseV4
// when it has a plan; caseV5 when it has the coordinator's acceptance,
// exclusions, a hand-over or an escalation (store.Case.Coordinating), with
// the plan if it has one: a case without them keeps the older encoding,
// so each case has exactly one encoding.
func encodeCase(dst []byte, c *store.Case) []byte {
	e := enc{b: dst}
	v := byte(caseV1)
	switch {
	case c.Coordinating():
		v = caseV5
	case c.Plan != nil:
		v = caseV4
	case len(c.Ends) > 0 || len(c.Notices) > 0 || !c.WakeAt.IsZero():
		v = caseV3
	case !c.BirthCheck.IsZero():
		v = caseV2
	}
	e.byte(v)
	e.pseudonym(c.Youth)
	e.bool(c.Matched)
	e.str(c.Coordinator)
	e.str(c.Rule)
	e.time(c.DecidedAt)
	e.varint(int64(c.Age))
	e.str(c.Municipality)
	if v >= caseV2 {
		e.pseudonym(c.BirthCheck)
	}
	if v >= caseV3 {
		e.uvarint(uint64(len(c.Ends)))
		for _, r := range c.Ends {
			e.str(r.Institution)
			e.id(r.Registration)
			e.time(r.At)
		}
		e.uvarint(uint64(len(c.Notices)))
		for _, n := range c.Notices {
			e.str(n.Recipient)
			e.time(n.Since)
			e.uvarint(uint64(n.Sent))
			e.uvarint(uint64(n.Held))
			e.bool(n.Urgent)
		}
		e.time(c.WakeAt)
	}
	if v == caseV5 {
		e.bool(c.Plan != nil)
	}
	if p := c.Plan; p != nil {
		e.day(p.Start)
		e.day(p.IntendedEnd)
		e.str(p.By)
		e.uvarint(uint64(len(p.Agreements)))
		for _, a := range p.Agreements {
			e.uvarint(uint64(a.N))
			e.str(a.Institution)
			e.day(a.Due)
			e.day(a.Done)
			e.bool(a.Overdue)
		}
	}
	if v == caseV5 {
		e.time(c.AcceptDue)
		e.time(c.AcceptedAt)
		e.uvarint(uint64(len(c.Excluded)))
		for _, x := range c.Excluded {
			e.str(x)
		}
		e.str(c.HandoverTo)
		e.time(c.HandoverAt)
		e.uvarint(uint64(len(c.Escalation)))
		for _, s := range c.Escalation {
			e.str(s.Step)
			e.str(s.By)
			e.time(s.At)
			e.time(s.Due)
			e.bool(s.Overdue)
			e.str(s.Decided)
		}
	}
	return e.b
}

// caseV5Tail reads what caseV5 adds after the plan.
func caseV5Tail(d *dec, c *store.Case) {
	c.AcceptDue = d.time()
	c.AcceptedAt = d.time()
	// An exclusion takes at least 1 byte, a step at least 7: refuse
	// counts the input cannot hold before allocating.
	if n := d.uvarint(); d.err == nil && n > 0 {
		if n > uint64(len(d.b)) {
			d.fail()
			return
		}
		c.Excluded = make([]string, n)
		for i := range c.Excluded {
			c.Excluded[i] = d.str()
		}
	}
	c.HandoverTo = d.str()
	c.HandoverAt = d.time()
	if n := d.uvarint(); d.err == nil && n > 0 {
		if n > uint64(len(d.b))/7 {
			d.fail()
			return
		}
		c.Escalation = make([]store.EscalationStep, n)
		for i := range c.Escalation {
			c.Escalation[i] = store.EscalationStep{Step: d.str(), By: d.str(), At: d.time(), Due: d.time(), Overdue: d.bool(), Decided: d.str()}
		}
	}
}

// caseV4Tail reads what caseV4 adds to caseV3: the plan.
func caseV4Tail(d *dec, c *store.Case) {
	p := &store.Plan{Start: d.day(), IntendedEnd: d.day(), By: d.str()}
	// An agreement takes at least 5 bytes: refuse counts the input cannot
	// hold before allocating.
	if n := d.uvarint(); d.err == nil && n > 0 {
		if n > uint64(len(d.b))/5 {
			d.fail()
			return
		}
		p.Agreements = make([]store.Agreement, n)
		for i := range p.Agreements {
			a := &p.Agreements[i]
			a.N, a.Institution, a.Due, a.Done, a.Overdue = d.count(), d.str(), d.day(), d.day(), d.bool()
		}
	}
	c.Plan = p
}

// caseV3Tail reads what caseV3 adds to caseV2.
func caseV3Tail(d *dec, c *store.Case) {
	// An entry takes at least IDSize+2 (an end) or 5 (a notice) bytes:
	// refuse counts the input cannot hold before allocating.
	if n := d.uvarint(); d.err == nil && n > 0 {
		if n > uint64(len(d.b))/(store.IDSize+2) {
			d.fail()
			return
		}
		c.Ends = make([]store.RecentEnd, n)
		for i := range c.Ends {
			c.Ends[i] = store.RecentEnd{Institution: d.str(), Registration: d.id(), At: d.time()}
		}
	}
	if n := d.uvarint(); d.err == nil && n > 0 {
		if n > uint64(len(d.b))/5 {
			d.fail()
			return
		}
		c.Notices = make([]store.Notice, n)
		for i := range c.Notices {
			c.Notices[i] = store.Notice{Recipient: d.str(), Since: d.time(), Sent: d.count(), Held: d.count(), Urgent: d.bool()}
		}
	}
	c.WakeAt = d.time()
}

// count reads a non-negative int.
func (d *dec) count() int {
	v := d.uvarint()
	if v > math.MaxInt32 {
		d.fail()
		return 0
	}
	return int(v)
}

func decodeCase(b []byte) (store.Case, error) {
	d := dec{b: b}
	var c store.Case
	v := d.versions(caseV1, caseV2, caseV3, caseV4, caseV5)
	c.Youth = d.pseudonym()
	c.Matched = d.bool()
	c.Coordinator = d.str()
	c.Rule = d.str()
	c.DecidedAt = d.time()
	age := d.varint()
	if age < math.MinInt32 || age > math.MaxInt32 {
		d.fail()
	}
	c.Age = int(age)
	c.Municipality = d.str()
	if v == caseV2 {
		if c.BirthCheck = d.pseudonym(); d.err == nil && c.BirthCheck.IsZero() {
			d.err = fmt.Errorf("%w: zero birth-date check value", store.ErrCorrupt)
		}
	}
	if v >= caseV3 {
		c.BirthCheck = d.pseudonym()
		caseV3Tail(&d, &c)
		if d.err == nil && v == caseV3 && len(c.Ends) == 0 && len(c.Notices) == 0 && c.WakeAt.IsZero() {
			d.err = fmt.Errorf("%w: a version 3 case with nothing of version 3", store.ErrCorrupt)
		}
	}
	if v == caseV4 || v == caseV5 && d.bool() {
		caseV4Tail(&d, &c)
	}
	if v == caseV5 {
		caseV5Tail(&d, &c)
		if d.err == nil && !c.Coordinating() {
			d.err = fmt.Errorf("%w: a version 5 case with nothing of version 5", store.ErrCorrupt)
		}
	}
	if err := d.done(); err != nil {
		return store.Case{}, err
	}
	return c, nil
}

func encodeIdempotency(dst []byte, r *store.Idempotency) []byte {
	e := enc{b: dst}
	e.byte(idemV1)
	e.id(r.Registration)
	e.pseudonym(r.Youth)
	e.time(r.CreatedAt)
	e.bytes(r.Result)
	return e.b
}

func decodeIdempotency(b []byte) (store.Idempotency, error) {
	d := dec{b: b}
	var r store.Idempotency
	d.version(idemV1)
	r.Registration = d.id()
	r.Youth = d.pseudonym()
	r.CreatedAt = d.time()
	r.Result = d.bytes()
	if err := d.done(); err != nil {
		return store.Idempotency{}, err
	}
	return r, nil
}

// encodeEvent writes eventV1, eventV2 when the event has a Collapsed
// count (a summary event), or eventV3 when it names an agreement: an event
// without them keeps the older encoding, so each event has exactly one
// encoding.
func encodeEvent(dst []byte, ev *store.Event) []byte {
	e := enc{b: dst}
	v := byte(eventV1)
	switch {
	case ev.Agreement != 0:
		v = eventV3
	case ev.Collapsed != 0:
		v = eventV2
	}
	e.byte(v)
	e.uvarint(ev.Seq)
	e.byte(byte(ev.Type))
	e.time(ev.At)
	e.str(ev.Recipient)
	e.id(ev.Registration)
	e.bool(ev.Urgent)
	e.uvarint(uint64(len(ev.Others)))
	for i := range ev.Others {
		p := &ev.Others[i]
		e.id(p.Registration)
		e.str(p.Institution)
		e.byte(byte(p.Kind))
		e.str(p.Contact.Name)
		e.str(p.Contact.Phone)
		e.str(p.Contact.Email)
		e.time(p.Since)
	}
	e.str(ev.Coordinator)
	e.str(ev.Rule)
	e.str(ev.Subject)
	e.str(ev.Reason)
	if v >= eventV2 {
		e.varint(int64(ev.Collapsed))
	}
	if v == eventV3 {
		e.uvarint(uint64(ev.Agreement))
	}
	return e.b
}

func decodeEvent(b []byte) (store.Event, error) {
	d := dec{b: b}
	var ev store.Event
	v := d.versions(eventV1, eventV2, eventV3)
	ev.Seq = d.uvarint()
	ev.Type = store.EventType(d.byte())
	ev.At = d.time()
	ev.Recipient = d.str()
	ev.Registration = d.id()
	ev.Urgent = d.bool()
	n := d.uvarint()
	// Each party takes at least IDSize+6 bytes: refuse counts the input
	// cannot hold before allocating.
	if d.err == nil && n > uint64(len(d.b))/(store.IDSize+6) {
		d.fail()
	}
	if d.err == nil && n > 0 {
		ev.Others = make([]store.Party, n)
		for i := range ev.Others {
			p := &ev.Others[i]
			p.Registration = d.id()
			p.Institution = d.str()
			p.Kind = store.Kind(d.byte())
			p.Contact.Name = d.str()
			p.Contact.Phone = d.str()
			p.Contact.Email = d.str()
			p.Since = d.time()
		}
	}
	ev.Coordinator = d.str()
	ev.Rule = d.str()
	ev.Subject = d.str()
	ev.Reason = d.str()
	if v >= eventV2 {
		n := d.varint()
		if d.err == nil && (n == 0 && v == eventV2 || n < math.MinInt32 || n > math.MaxInt32) {
			d.err = fmt.Errorf("%w: summary count %d", store.ErrCorrupt, n)
		}
		ev.Collapsed = int(n)
	}
	if v == eventV3 {
		if ev.Agreement = d.count(); d.err == nil && ev.Agreement == 0 {
			d.err = fmt.Errorf("%w: a version 3 event without an agreement", store.ErrCorrupt)
		}
	}
	if err := d.done(); err != nil {
		return store.Event{}, err
	}
	return ev, nil
}

// Days: civil days are kept as days since 1970-01-01 (UTC).
func dayNumber(t time.Time) uint32 {
	y, m, dd := t.Date()
	days := time.Date(y, m, dd, 0, 0, 0, 0, time.UTC).Unix() / 86400
	if days < 0 {
		return 0
	}
	if days > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(days)
}

func dayTime(n uint32) time.Time { return time.Unix(int64(n)*86400, 0).UTC() }

// encodeAudit writes an audit entry (auditV1); its number is its key.
func encodeAudit(dst []byte, e *store.AuditEntry) []byte {
	w := enc{b: dst}
	w.byte(auditV1)
	w.time(e.At)
	w.str(e.Institution)
	w.str(e.Credential)
	w.byte(byte(e.Verb))
	w.id(e.Registration)
	w.pseudonym(e.Youth)
	w.str(e.Outcome)
	return w.b
}

func decodeAudit(b []byte) (store.AuditEntry, error) {
	d := dec{b: b}
	var e store.AuditEntry
	d.version(auditV1)
	e.At = d.time()
	e.Institution = d.str()
	e.Credential = d.str()
	e.Verb = store.AuditVerb(d.byte())
	e.Registration = d.id()
	e.Youth = d.pseudonym()
	e.Outcome = d.str()
	if err := d.done(); err != nil {
		return store.AuditEntry{}, err
	}
	if !e.Verb.Valid() {
		return store.AuditEntry{}, fmt.Errorf("%w: audit entry with verb %d", store.ErrCorrupt, e.Verb)
	}
	return e, nil
}

// encodeTreeState encodes where audit sealing stands: the sealed size and
// the tree's state.
func encodeTreeState(size uint64, tree []byte) []byte {
	w := enc{}
	w.byte(treeV1)
	w.uvarint(size)
	w.bytes(tree)
	return w.b
}

func decodeTreeState(b []byte) (size uint64, tree []byte, err error) {
	d := dec{b: b}
	d.version(treeV1)
	size = d.uvarint()
	tree = d.bytes()
	return size, tree, d.done()
}

// encodeCheckpoint encodes a signed checkpoint (its size is in its key,
// and written again here for the cut, which has no key of its own).
func encodeCheckpoint(dst []byte, c store.AuditCheckpoint) []byte {
	w := enc{b: dst}
	w.byte(treeV1)
	w.uvarint(c.Size)
	w.time(c.At)
	w.bytes(c.Text)
	return w.b
}

func decodeCheckpointFrom(d *dec) store.AuditCheckpoint {
	d.version(treeV1)
	return store.AuditCheckpoint{Size: d.uvarint(), At: d.time(), Text: d.bytes()}
}

func decodeCheckpoint(b []byte) (store.AuditCheckpoint, error) {
	d := dec{b: b}
	c := decodeCheckpointFrom(&d)
	return c, d.done()
}

// encodeCut encodes the audit log's retention cut.
func encodeCut(c store.AuditCut) []byte {
	w := enc{}
	w.byte(treeV1)
	w.uvarint(c.Size)
	w.bytes(c.Tree)
	w.b = encodeCheckpoint(w.b, c.Checkpoint)
	return w.b
}

func decodeCut(b []byte) (store.AuditCut, error) {
	d := dec{b: b}
	d.version(treeV1)
	c := store.AuditCut{Size: d.uvarint(), Tree: d.bytes()}
	c.Checkpoint = decodeCheckpointFrom(&d)
	return c, d.done()
}

// encodeFamily writes a family index entry: what Tx.Family tells of the
// registration r that carries relation rel.
func encodeFamily(dst []byte, r *store.Registration, rel *store.Relation) []byte {
	e := enc{b: dst}
	e.byte(famV1)
	e.pseudonym(r.Youth)
	e.str(r.Institution)
	e.byte(byte(r.Kind))
	e.str(r.Contact.Name)
	e.str(r.Contact.Phone)
	e.str(r.Contact.Email)
	e.byte(byte(rel.Type))
	e.time(rel.Since)
	e.day(r.EndsOn)
	return e.b
}

func decodeFamily(b []byte) (store.FamilyMember, error) {
	d := dec{b: b}
	var m store.FamilyMember
	d.version(famV1)
	m.Youth = d.pseudonym()
	m.Institution = d.str()
	m.Kind = store.Kind(d.byte())
	m.Contact.Name = d.str()
	m.Contact.Phone = d.str()
	m.Contact.Email = d.str()
	m.Type = store.RelationType(d.byte())
	m.Since = d.time()
	m.EndsOn = d.day()
	if err := d.done(); err != nil {
		return store.FamilyMember{}, err
	}
	return m, nil
}
