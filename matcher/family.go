package matcher

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

// Family matches (Jeugdwet, as MULTIsignaal does them): a report may give
// the youth's parents or guardians ([Registration.Parents], BSNs as in the
// population register) and, if the covenant enables address matching, the
// home address ([Registration.Address]). Each becomes a relation of the
// registration, kept only as a pseudonym in a domain of its own
// (crypto/pseudonym: parent-bsn, home-address), so that a parent's
// relation joins nothing but the same parent of another child: never the
// parent's own registrations as a youth (a parent may be 19). A
// relation is written under the primary key and looked up under every
// enabled key, as a youth is; an address on the covenant's exclusion list
// (shelters, youth institutions, student housing) makes none.
//
// When a report gives a registration a relation it did not have, and a
// live registration of another youth by another institution has it too,
// the reporter's registration gets a family-match event naming the other
// children's institutions and professionals (never the other child), and
// each of those registrations one naming the reporter; Event.Reason says
// "parent" or "address". A refresh with the same relations makes none.
// When the match joins two youths whose cases have different coordinators,
// or a youth of a matched family is later given a coordinator other than
// another youth's, each coordinator gets a family-coordination event
// naming the other, once per pair of coordinators (a child's next
// coordinator, after a decline, a lapse or a hand-over, is told again). A
// report without parents (or without an address) keeps the relations of
// that kind on file; one with them replaces them. Relations end with their
// registration: an ended, removed or destroyed registration is in no
// family any more.
//
// No oracle: nothing about a family reaches an institution that is not
// registered for one of its children, and a report's answer ([Result])
// says nothing about families; what there is to know comes as events to
// the institutions involved. A family-match event counts against the
// reporting youth's events per recipient and hour ([Config.EventsPerHour]);
// beyond it, one to an institution not involved with that youth is
// dropped, as there is nothing to sum up for it. A family-coordination
// event comes once per pair of coordinators, so it cannot flood: it is never
// held back or dropped.
//
// The cost of a report stays bounded however large a family is (a big
// shelter that is not on the exclusion list, say): it reads at most
// FamilyLimit registrations of other youths, and the case of each youth
// among them.

// FamilyLimit is the most registrations of other youths one report reads
// from its new relations' families; a family with more is matched with the
// first FamilyLimit (by relation key, then registration ID).
const FamilyLimit = 64

// MaxParents is the most parents a report gives (as in the population
// register: two parents or guardians with authority).
const MaxParents = 2

// Family input errors: each comes wrapped in a *FieldError naming
// "parents" or "address".
var (
	ErrParents       = errors.New("matcher: parents are one or two valid BSNs (9 digits passing the eleven-check), each once")
	ErrParentIsYouth = errors.New("matcher: a parent's BSN is the youth's own")
	ErrAddress       = errors.New("matcher: address is a Dutch postcode (1234 AB), a house number from 1 to 99999 and an optional addition of up to 4 letters or digits")
	// ErrAddressNotEnabled: the covenant does not enable address
	// matching (its family.address_matching).
	ErrAddressNotEnabled = errors.New("matcher: the covenant does not enable address matching")
	// ErrIdentifiesParent: a free-text field (contact, client
	// reference, idempotency key) holds a parent's BSN.
	ErrIdentifiesParent = errors.New("matcher: the field holds a parent's BSN")
	// ErrFamilyBlind: a blind index takes the parents' and the address's
	// elements (parent_elements, address_element), never their values.
	ErrFamilyBlind = errors.New("matcher: this index is blind: it takes the parents' and the address's elements (parent_elements, address_element), never their BSNs or the address")
	// ErrParentElements: more than two parents' elements, a zero one, or
	// one given twice.
	ErrParentElements = errors.New("matcher: parent_elements are one or two parents' elements (each 32 bytes, standard padded base64), each once")
	// ErrAddressElement: an address's element that is not an element.
	ErrAddressElement = errors.New("matcher: address_element is the home address's element (32 bytes, standard padded base64)")
)

// checkFamily accepts up to two distinct parents, none the youth's own
// BSN and none quoted in a free-text field, and an address only if the
// covenant enables address matching; a blind index takes their elements
// instead (checkFamilyElements).
func (m *Matcher) checkFamily(r *Registration) error {
	if m.blind {
		return m.checkFamilyElements(r)
	}
	switch {
	case len(r.ParentElements) > 0:
		return fieldErr("parent_elements", ErrYouthNotAccepted)
	case !r.AddressElement.IsZero():
		return fieldErr("address_element", ErrYouthNotAccepted)
	}
	if len(r.Parents) > 0 {
		if len(r.Parents) > MaxParents {
			return fieldErr("parents", ErrParents)
		}
		for i, p := range r.Parents {
			if p.IsZero() || slices.Contains(r.Parents[:i], p) {
				return fieldErr("parents", ErrParents)
			}
			if p == r.Youth.bsn {
				return fieldErr("parents", ErrParentIsYouth)
			}
		}
	}
	for _, f := range []struct{ field, value string }{
		{"contact.name", r.Contact.Name}, {"contact.phone", r.Contact.Phone}, {"contact.email", r.Contact.Email},
		{"client_ref", r.ClientRef}, {"idempotency_key", r.IdempotencyKey},
	} {
		for _, p := range r.Parents {
			if f.value != "" && identity.Quotes(f.value, p, identity.BirthDate{}) {
				return fieldErr(f.field, ErrIdentifiesParent)
			}
		}
	}
	if r.Address != nil {
		switch {
		case !m.cov.Family.AddressMatching:
			return fieldErr("address", ErrAddressNotEnabled)
		case r.Address.IsZero():
			return fieldErr("address", ErrAddress)
		}
	}
	return nil
}

// checkFamilyElements is checkFamily for a blind index: up to two distinct
// parents' elements, and an address's element only if the covenant enables
// address matching. That a parent is not the youth, and that no free-text
// field quotes a parent, the client system checks: the index has no BSN to
// compare with.
func (m *Matcher) checkFamilyElements(r *Registration) error {
	switch {
	case len(r.Parents) > 0:
		return fieldErr("parents", ErrFamilyBlind)
	case r.Address != nil:
		return fieldErr("address", ErrFamilyBlind)
	case len(r.ParentElements) > MaxParents:
		return fieldErr("parent_elements", ErrParentElements)
	}
	for i, p := range r.ParentElements {
		if p.IsZero() || slices.ContainsFunc(r.ParentElements[:i], p.Equal) {
			return fieldErr("parent_elements", ErrParentElements)
		}
	}
	if !r.AddressElement.IsZero() && !m.cov.Family.AddressMatching {
		return fieldErr("address_element", ErrAddressNotEnabled)
	}
	return nil
}

// excludedAddresses pseudonymises the covenant's excluded addresses under
// every enabled key.
func excludedAddresses(ps Pseudonymiser, f rules.Family) (map[pseudonym.Pseudonym]bool, error) {
	if !f.AddressMatching || len(f.ExcludedAddresses) == 0 {
		return nil, nil
	}
	out := make(map[pseudonym.Pseudonym]bool, len(f.ExcludedAddresses))
	for _, a := range f.ExcludedAddresses {
		set, err := addressSet(ps, a)
		if err != nil {
			return nil, fmt.Errorf("matcher: excluded addresses: %w", err)
		}
		for _, p := range set.All {
			out[p] = true
		}
	}
	return out, nil
}

func addressSet(ps Pseudonymiser, a identity.Address) (pseudonym.Set, error) {
	return ps.Of(pseudonym.DomainHomeAddress, []byte(a.RevealKey()))
}

// familyReport is what a report says of the youth's family, pseudonymised
// before the store update: the parents' and the address's pseudonyms
// under every enabled key.
type familyReport struct {
	parents     []relationInput
	gaveParents bool
	address     *relationInput // nil: none given, or an excluded one
	gaveAddress bool
}

// relationInput is one relation a report gives: its pseudonyms and, in a
// blind deployment, its element of the current generation (what the
// registration keeps, sealed, to re-key it).
type relationInput struct {
	set     pseudonym.Set
	element []byte
}

// family pseudonymises the report's parents and address, or in a blind
// deployment their elements.
func (m *Matcher) family(r *Registration) (familyReport, error) {
	if m.blind {
		return m.familyOfElements(r)
	}
	var f familyReport
	for _, p := range r.Parents {
		set, err := m.ps.Of(pseudonym.DomainParentBSN, []byte(p.RevealDigits()))
		if err != nil {
			return familyReport{}, fmt.Errorf("matcher: pseudonym: %w", err)
		}
		f.parents = append(f.parents, relationInput{set: set})
		f.gaveParents = true
	}
	if r.Address != nil {
		f.gaveAddress = true
		set, err := addressSet(m.ps, *r.Address)
		if err != nil {
			return familyReport{}, fmt.Errorf("matcher: pseudonym: %w", err)
		}
		if !m.isExcluded(set) {
			f.address = &relationInput{set: set}
		}
	}
	return f, nil
}

func (m *Matcher) isExcluded(set pseudonym.Set) bool {
	return slices.ContainsFunc(set.All, func(p pseudonym.Pseudonym) bool { return m.excluded[p] })
}

// familyOfElements is family for a blind deployment: each element, made
// under the same key holders' keys as the youth's (re-keyed as the
// youth's was, if it was), keyed by the index's own layer in the
// relation's domain.
func (m *Matcher) familyOfElements(r *Registration) (familyReport, error) {
	var f familyReport
	in := func(typ store.RelationType, y oprf.Element) (relationInput, error) {
		if r.Youth.previous {
			cur, err := m.layer.Ratio.Apply(y)
			if err != nil {
				return relationInput{}, fieldErr(relationField(typ), err)
			}
			y = cur
		}
		set, b, err := m.relationSet(typ, y)
		return relationInput{set: set, element: b}, err
	}
	for _, p := range r.ParentElements {
		ri, err := in(store.RelationParent, p)
		if err != nil {
			return familyReport{}, err
		}
		f.parents = append(f.parents, ri)
		f.gaveParents = true
	}
	if !r.AddressElement.IsZero() {
		f.gaveAddress = true
		ri, err := in(store.RelationAddress, r.AddressElement)
		if err != nil {
			return familyReport{}, err
		}
		if !m.isExcluded(ri.set) {
			f.address = &ri
		}
	}
	return f, nil
}

func relationField(typ store.RelationType) string {
	if typ == store.RelationAddress {
		return "address_element"
	}
	return "parent_elements"
}

// relationDomain is the domain of a blind deployment's relation keys.
func relationDomain(typ store.RelationType) pseudonym.Domain {
	if typ == store.RelationAddress {
		return pseudonym.DomainAddressElement
	}
	return pseudonym.DomainParentElement
}

// relationSet returns the pseudonyms of a relation's element of the
// current generation under every enabled key and, while a key holder's
// rotation is in progress, also those of its element of the previous
// generation, so that relations not yet re-keyed are found; and the
// element's 32 bytes.
func (m *Matcher) relationSet(typ store.RelationType, y oprf.Element) (pseudonym.Set, []byte, error) {
	b, err := y.MarshalBinary()
	if err != nil {
		return pseudonym.Set{}, nil, fieldErr(relationField(typ), err)
	}
	set, err := m.ps.Of(relationDomain(typ), b)
	if err != nil {
		return set, nil, fmt.Errorf("matcher: pseudonym: %w", err)
	}
	if !m.layer.Rotating {
		return set, b, nil
	}
	prev, err := m.previous.Apply(y)
	if err != nil {
		return set, nil, fieldErr(relationField(typ), err)
	}
	pb, _ := prev.MarshalBinary()
	old, err := m.ps.Of(relationDomain(typ), pb)
	if err != nil {
		return set, nil, fmt.Errorf("matcher: pseudonym: %w", err)
	}
	set.All = append(set.All, old.All...)
	return set, b, nil
}

// keys are the relation keys the report's update locks: every pseudonym
// of every relation it gives.
func (f familyReport) keys() []pseudonym.Pseudonym {
	var out []pseudonym.Pseudonym
	for _, p := range f.parents {
		out = append(out, p.set.All...)
	}
	if f.address != nil {
		out = append(out, f.address.set.All...)
	}
	return out
}

// apply sets reg's relations as the report gives them (a kind it does not
// give stays as it was) and returns the relations new to reg, each with
// its pseudonyms under every enabled key. In a blind deployment each
// relation the report gives keeps its element, sealed for reg.
func (m *Matcher) applyFamily(f familyReport, reg *store.Registration, now time.Time) (added []addedRelation, err error) {
	old := reg.Relations
	var rels []store.Relation
	give := func(typ store.RelationType, in relationInput) error {
		rel := store.Relation{Type: typ, Key: in.set.Primary, Since: now}
		if in.element != nil {
			if rel.Element, err = m.sealRelation(in.element, typ, reg.ID); err != nil {
				return err
			}
		}
		if i := slices.IndexFunc(old, func(r store.Relation) bool { return r.Type == typ && slices.Contains(in.set.All, r.Key) }); i >= 0 {
			rel.Since = old[i].Since
		} else {
			added = append(added, addedRelation{typ: typ, set: in.set})
		}
		rels = append(rels, rel)
		return nil
	}
	keep := func(typ store.RelationType) {
		for _, r := range old {
			if r.Type == typ {
				rels = append(rels, r)
			}
		}
	}
	if f.gaveParents {
		for _, p := range f.parents {
			if err := give(store.RelationParent, p); err != nil {
				return nil, err
			}
		}
	} else {
		keep(store.RelationParent)
	}
	if f.gaveAddress {
		if f.address != nil {
			if err := give(store.RelationAddress, *f.address); err != nil {
				return nil, err
			}
		}
	} else {
		keep(store.RelationAddress)
	}
	reg.Relations = rels
	return added, nil
}

// A relation's element is sealed as a youth's is (ElementSealer, bound to
// the registration), with its type after the generation, so that it is
// never taken for the youth's element or another relation's: 4 bytes of
// generation, 1 of relation type, the element's 32.
const relationPlainSize = 4 + 1 + oprf.ElementSize

// sealRelation seals the element b (of the current generation) of a
// relation of type typ for registration id.
func (m *Matcher) sealRelation(b []byte, typ store.RelationType, id store.ID) ([]byte, error) {
	plain := binary.BigEndian.AppendUint32(make([]byte, 0, relationPlainSize), m.layer.Generation)
	plain = append(append(plain, byte(typ)), b...)
	sealed, err := m.elements.SealElement(plain, id)
	if err != nil {
		return nil, fmt.Errorf("matcher: %w", err)
	}
	return sealed, nil
}

// openRelation returns the element sealed on rel of registration r and the
// generation it was made under; ok is false if it holds none or it does
// not open as rel's.
func (m *Matcher) openRelation(r store.Registration, rel store.Relation) (y oprf.Element, gen uint32, ok bool) {
	if len(rel.Element) == 0 || m.elements == nil {
		return oprf.Element{}, 0, false
	}
	plain, err := m.elements.OpenElement(rel.Element, r.ID)
	if err != nil || len(plain) != relationPlainSize || plain[4] != byte(rel.Type) {
		return oprf.Element{}, 0, false
	}
	if y.UnmarshalBinary(plain[5:]) != nil {
		return oprf.Element{}, 0, false
	}
	return y, binary.BigEndian.Uint32(plain), true
}

// rekeyRelations moves each relation of r that keeps an element to the
// pseudonym of the primary PRF key over its element of the current
// generation, its element sealed anew under the primary reference key,
// unless it is so already; it reports whether it changed any. A relation
// whose element does not open, or is of a generation this index can no
// longer re-key, is left as it is: a new report of the youth with its
// family replaces it. r's relations are copied before they change.
func (m *Matcher) rekeyRelations(r *store.Registration) (bool, error) {
	if m.elements == nil {
		return false, nil
	}
	changed := false
	for i, rel := range r.Relations {
		y, gen, ok := m.openRelation(*r, rel)
		if !ok {
			continue
		}
		cur, ok := m.currentElement(y, gen)
		if !ok {
			continue
		}
		b, _ := cur.MarshalBinary()
		set, err := m.ps.Of(relationDomain(rel.Type), b)
		if err != nil {
			return false, fmt.Errorf("matcher: pseudonym: %w", err)
		}
		kid, _ := store.RefKeyID(rel.Element)
		if gen == m.layer.Generation && kid == m.elements.PrimaryKeyID() && rel.Key == set.Primary {
			continue
		}
		sealed, err := m.sealRelation(b, rel.Type, r.ID)
		if err != nil {
			return false, err
		}
		if !changed {
			r.Relations = slices.Clone(r.Relations)
			changed = true
		}
		r.Relations[i].Key, r.Relations[i].Element = set.Primary, sealed
	}
	return changed, nil
}

// relationsCurrent reports whether rekeyRelations would leave r's
// relations as they are.
func (m *Matcher) relationsCurrent(r store.Registration) bool {
	changed, err := m.rekeyRelations(&r)
	return err == nil && !changed
}

// addedRelation is a relation new to the reporter's registration.
type addedRelation struct {
	typ store.RelationType
	set pseudonym.Set
}

// familyMatch tells, for each relation new to reg, the reporter and the
// institutions of the other youths' live registrations that share it
// (other institutions only), and remembers those registrations for
// coordinateFamily.
func (y *youth) familyMatch(reg store.Registration, added []addedRelation) {
	if len(added) == 0 {
		return
	}
	var keys []pseudonym.Pseudonym
	for _, a := range added {
		keys = append(keys, a.set.All...)
	}
	members := y.tx.Family(keys, FamilyLimit)
	for _, typ := range []store.RelationType{store.RelationParent, store.RelationAddress} {
		var ms []store.FamilyMember
		for _, fm := range members {
			if fm.Type != typ || fm.Institution == reg.Institution || (!fm.EndsOn.IsZero() && !y.today.Before(fm.EndsOn)) {
				continue
			}
			if slices.ContainsFunc(ms, func(o store.FamilyMember) bool { return o.Registration == fm.Registration }) {
				continue // both parents shared: one event
			}
			ms = append(ms, fm)
		}
		if len(ms) == 0 {
			continue
		}
		y.family = append(y.family, ms...)
		var others []store.Party
		for _, fm := range ms {
			others = append(others, store.Party{Registration: fm.Registration, Institution: fm.Institution, Kind: fm.Kind, Contact: fm.Contact, Since: fm.Since})
		}
		y.emit(store.Event{Type: store.EventFamilyMatch, Recipient: reg.Institution, Registration: reg.ID, Others: others, Reason: typ.String()})
		self := store.Party{Registration: reg.ID, Institution: reg.Institution, Kind: reg.Kind, Contact: reg.Contact, Since: reg.CreatedAt}
		for _, fm := range ms {
			y.emit(store.Event{Type: store.EventFamilyMatch, Recipient: fm.Institution, Registration: fm.Registration,
				Others: []store.Party{self}, Subject: reg.Institution, Reason: typ.String()})
		}
	}
}

// familyOfLive, when this update assigned the youth a coordinator and made
// no family match of its own, reads the families of the relations of the
// youth's live registrations, so that coordinateFamily tells the
// coordinators of a family whose children have different ones also when a
// coordinator comes after the family match (the usual order: children are
// reported, matched as a family, and get coordinators later). The members
// join those of this update's own family match, if it made one (on another
// relation, say). A read of at most FamilyLimit registrations, and only
// when a coordinator is assigned.
func (y *youth) familyOfLive() {
	if !y.reassigned() {
		return
	}
	keys := y.familyKeys()
	if len(keys) == 0 {
		return
	}
	for _, fm := range y.tx.Family(keys, FamilyLimit) {
		known := slices.ContainsFunc(y.family, func(o store.FamilyMember) bool { return o.Registration == fm.Registration })
		if !known && (fm.EndsOn.IsZero() || y.today.Before(fm.EndsOn)) {
			y.family = append(y.family, fm)
		}
	}
}

// familyKeys are the relation keys of the youth's live registrations, each
// once: the keys they are stored under and, in a blind deployment, the
// pseudonyms of each relation's element under every enabled key and, while
// a key holder's key is replaced, of both generations: the keys a
// relation may move to in this update (resealLive) and those a member of
// its family not yet re-keyed is found under. An update of the youth holds
// them all (holds), and familyOfLive reads them.
func (y *youth) familyKeys() []pseudonym.Pseudonym {
	var keys []pseudonym.Pseudonym
	add := func(k pseudonym.Pseudonym) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, r := range y.live {
		for _, rel := range r.Relations {
			add(rel.Key)
			if el, gen, ok := y.m.openRelation(r, rel); ok {
				if cur, ok := y.m.currentElement(el, gen); ok {
					if set, _, err := y.m.relationSet(rel.Type, cur); err == nil {
						for _, k := range set.All {
							add(k)
						}
					}
				}
			}
		}
	}
	return keys
}

// coordinateFamily tells the youth's coordinator and the coordinator of
// each other youth of y.family, if they differ, of each other: once per
// pair of coordinators, by the note the store keeps on their two
// registrations (it goes when either ends).
func (y *youth) coordinateFamily() {
	c := y.kase.Coordinator
	own := y.liveOf(c)
	if len(y.family) == 0 || own == nil {
		return
	}
	var done []pseudonym.Pseudonym
	for _, fm := range y.family {
		if slices.Contains(done, fm.Youth) {
			continue
		}
		done = append(done, fm.Youth)
		other, live, ok := y.tx.FamilyYouth(fm.Youth)
		if !ok || other.Coordinator == "" || other.Coordinator == c {
			continue
		}
		i := slices.IndexFunc(live, func(r store.Registration) bool { return r.Institution == other.Coordinator && r.IsLive() })
		if i < 0 {
			continue
		}
		theirs := live[i]
		// The note is kept on the two coordinators' registrations: once
		// per pair of coordinators of two children, so a child's new
		// coordinator (after a decline, a lapse or a hand-over) is told
		// too, and the note goes when either stops coordinating by its
		// registration ending.
		if y.tx.FamilyNoticed(own.ID, theirs.ID) {
			continue
		}
		y.tx.NoteFamily(own.ID, theirs.ID)
		y.emit(store.Event{Type: store.EventFamilyCoordination, Recipient: c, Registration: own.ID, Subject: other.Coordinator,
			Others: []store.Party{{Registration: theirs.ID, Institution: theirs.Institution, Kind: theirs.Kind, Contact: theirs.Contact, Since: theirs.CreatedAt}}})
		y.emit(store.Event{Type: store.EventFamilyCoordination, Recipient: other.Coordinator, Registration: theirs.ID, Subject: c,
			Others: []store.Party{{Registration: own.ID, Institution: own.Institution, Kind: own.Kind, Contact: own.Contact, Since: own.CreatedAt}}})
	}
}

// familyEvent reports whether e is about a family: such an event may go
// to a registration of another youth.
func familyEvent(e store.Event) bool {
	return e.Type == store.EventFamilyMatch || e.Type == store.EventFamilyCoordination
}
