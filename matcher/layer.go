package matcher

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// ElementSealer seals a blind deployment's youth elements, each bound to
// one registration, so that the index can re-key its records when a key is
// replaced without ever holding a BSN (Config.ClientRefs must be one in a
// blind deployment). *clientref.Sealer is one.
type ElementSealer interface {
	SealElement(plain []byte, id clientref.RegistrationID) ([]byte, error)
	OpenElement(sealed []byte, id clientref.RegistrationID) ([]byte, error)
	// PrimaryKeyID is the key SealElement seals under (store.RefKeyID
	// of its output): Rekey seals anew what an older key sealed, so that
	// the older key can be retired.
	PrimaryKeyID() uint32
}

var _ ElementSealer = (*clientref.Sealer)(nil)

// Layer is a blind deployment's view of the key holders' keys: which
// generation of their keys its records are made under and, while one key
// holder replaces its key, how elements made under the old key become
// elements under the new one.
//
// Each registration keeps the youth's element sealed with the generation
// it was made under (store.Registration.Element). After a key holder's
// rotation the index is at the next generation: elements that name the old
// key (From) are re-keyed by Ratio on arrival, records are found under both
// generations' pseudonyms until Rekey has moved them all, and then the
// rotation can end (Rotating false): the ratio is forgotten and the old key
// is of no use to anyone.
type Layer struct {
	// Generation counts the key holders' rotations this index has taken
	// over; 0 at the start.
	Generation uint32
	// Rotating is set while a key holder's key is being replaced: From
	// is the old key's ID, To the new one's (oprf.KeyID) and Ratio maps
	// an element of generation Generation-1 to one of Generation.
	Rotating bool
	From, To string
	Ratio    oprf.Ratio
	// Keys are the IDs of the key holders' keys (oprf.KeyID) the current
	// generation is made under, as far as the index has learned them
	// (from the rotations it took over: each replaces From by To); empty
	// if it knows none. Outside a rotation, an element whose youth_key
	// does not name every one of them is refused (ErrYouthKeyUnknown): it
	// was made under a key the index no longer takes, or not yet.
	Keys []string
}

// Errors of the blind layer.
var (
	// ErrYouthKeyRequired: while a key holder replaces its key, an element
	// must say which keys made it (youth_key: oprf.LayerID of the key
	// holders' public keys).
	ErrYouthKeyRequired = errors.New("matcher: a key holder's key is being replaced: say which key holders' keys made the element (youth_key)")
	// ErrYouthKeyUnknown: the element names key holders' keys of which
	// none is the old or the new key of the rotation in progress.
	ErrYouthKeyUnknown = errors.New("matcher: the element was made under a key holder's key this index does not take; the client system's key holder public keys are out of date")
	// ErrNoElementSealer: a blind matcher needs Config.ClientRefs to seal
	// elements (an ElementSealer).
	ErrNoElementSealer = errors.New("matcher: a blind matcher needs Config.ClientRefs that seals elements (crypto/clientref.Sealer)")
)

func (l Layer) validate() error {
	for _, k := range l.Keys {
		if len(k) != 16 || !oprf.ValidLayerID(k) {
			return errors.New("matcher: Config.Layer: a key ID is 16 lower-case hex digits")
		}
	}
	if !l.Rotating {
		return nil
	}
	if l.Generation == 0 || l.Ratio.IsZero() || len(l.From) != 16 || len(l.To) != 16 || l.From == l.To ||
		!oprf.ValidLayerID(l.From) || !oprf.ValidLayerID(l.To) {
		return errors.New("matcher: Config.Layer: a rotation needs a generation above 0, a ratio and two different key IDs")
	}
	return nil
}

// YouthByElementOf is YouthByElement for an element the client says was
// made under the key holders' keys named by layer (oprf.LayerID of their
// public keys; "" if the client did not say). Outside a rotation, layer is
// not needed; if given it must be a layer ID that names every key of
// Layer.Keys (else ErrYouthKeyUnknown). While a key holder replaces its key, an
// element whose layer names the old key is re-keyed to the new one; one
// that names the new key is taken as it is; one that names neither
// (ErrYouthKeyUnknown) or nothing (ErrYouthKeyRequired) is refused, as a
// *FieldError for "youth_key".
func (m *Matcher) YouthByElementOf(y oprf.Element, layer string) (Youth, error) {
	if !m.blind || y.IsZero() {
		return m.YouthByElement(y)
	}
	cur, previous, err := m.currentOf(y, layer, "youth_key")
	if err != nil {
		return Youth{}, err
	}
	who, err := m.YouthByElement(cur)
	who.previous = previous
	return who, err
}

// currentOf returns an element the client says was made under the key
// holders' keys named by layer (see YouthByElementOf) as an element of the
// current generation, and whether it was re-keyed from the previous one.
// Its errors are *FieldError values for field.
func (m *Matcher) currentOf(y oprf.Element, layer, field string) (cur oprf.Element, previous bool, err error) {
	if layer != "" && !oprf.ValidLayerID(layer) {
		return y, false, fieldErr(field, ErrYouthKeyUnknown)
	}
	ids := strings.Split(layer, "+")
	if !m.layer.Rotating {
		for _, k := range m.layer.Keys {
			if layer != "" && !slices.Contains(ids, k) {
				return y, false, fieldErr(field, ErrYouthKeyUnknown)
			}
		}
		return y, false, nil
	}
	switch {
	case layer == "":
		return y, false, fieldErr(field, ErrYouthKeyRequired)
	case slices.Contains(ids, m.layer.To) && slices.Contains(ids, m.layer.From):
		return y, false, fieldErr(field, ErrYouthKeyUnknown)
	case slices.Contains(ids, m.layer.To):
		return y, false, nil
	case slices.Contains(ids, m.layer.From):
		cur, err := m.layer.Ratio.Apply(y)
		if err != nil {
			return y, false, fieldErr(field, err)
		}
		return cur, true, nil
	}
	return y, false, fieldErr(field, ErrYouthKeyUnknown)
}

// youthOfElement returns the Youth of an element of the current
// generation: its pseudonyms under every enabled key, and while a rotation
// is in progress also those of its element of the previous generation, so
// that records not yet re-keyed are found (and a report moves them).
func (m *Matcher) youthOfElement(y oprf.Element) (Youth, error) {
	who, err := m.youthOfCurrent(y)
	if err != nil || !m.layer.Rotating {
		return who, err
	}
	prev, err := m.previous.Apply(y)
	if err != nil {
		return Youth{}, fieldErr("youth", err)
	}
	pb, _ := prev.MarshalBinary()
	old, oldRef, err := m.elementSets(pb)
	if err != nil {
		return Youth{}, err
	}
	who.set.All = append(who.set.All, old.All...)
	who.audit.All = append(who.audit.All, oldRef.All...)
	return who, nil
}

// youthOfCurrent is youthOfElement without the previous generation's
// pseudonyms.
func (m *Matcher) youthOfCurrent(y oprf.Element) (Youth, error) {
	b, err := y.MarshalBinary()
	if err != nil {
		return Youth{}, fieldErr("youth", err)
	}
	set, ref, err := m.elementSets(b)
	if err != nil {
		return Youth{}, err
	}
	return Youth{set: set, audit: ref, element: b}, nil
}

// elementSets returns the pseudonyms of an element's 32 bytes under every
// enabled key: the youth's (domain youth-element) and its audit
// reference's (youth-element-audit).
func (m *Matcher) elementSets(b []byte) (set, ref pseudonym.Set, err error) {
	if set, err = m.ps.Of(pseudonym.DomainYouthElement, b); err != nil {
		return set, ref, fmt.Errorf("matcher: pseudonym: %w", err)
	}
	if len(set.All) == 0 {
		return set, ref, fmt.Errorf("matcher: pseudonym: %w", pseudonym.ErrNoKey)
	}
	if ref, err = m.ps.Of(pseudonym.DomainYouthElementAudit, b); err != nil {
		return set, ref, fmt.Errorf("matcher: pseudonym: %w", err)
	}
	return set, ref, nil
}

// sealElement seals the youth's element with the current generation for
// registration id; nil for a youth not named by an element.
func (m *Matcher) sealElement(who Youth, id store.ID) ([]byte, error) {
	if who.element == nil {
		return nil, nil
	}
	plain := binary.BigEndian.AppendUint32(make([]byte, 0, 4+oprf.ElementSize), m.layer.Generation)
	sealed, err := m.elements.SealElement(append(plain, who.element...), id)
	if err != nil {
		return nil, fmt.Errorf("matcher: %w", err)
	}
	return sealed, nil
}

// elementCurrent reports whether r keeps an element of the current
// generation sealed under the primary reference key.
func (m *Matcher) elementCurrent(r store.Registration) bool {
	if kid, ok := store.RefKeyID(r.Element); !ok || kid != m.elements.PrimaryKeyID() {
		return false
	}
	_, gen, ok := m.openElement(r)
	return ok && gen == m.layer.Generation
}

// resealLive seals anew, in the update of y, the element of each of the
// youth's live registrations that does not keep one of the current
// generation under the primary reference key, when who names the youth by
// its element: the registrations begin has just moved from an older
// pseudonym, or that an older generation or reference key sealed; and
// re-keys their family relations likewise (rekeyRelations). The
// youth's current element is who's, whatever the record held, so the walk
// (Rekey) has nothing left to do for a youth a report has touched.
func (m *Matcher) resealLive(y *youth, who Youth) error {
	if who.element == nil || m.elements == nil {
		return nil
	}
	changed := false
	for i := range y.regs {
		r := &y.regs[i]
		current := m.elementCurrent(*r)
		if !current {
			sealed, err := m.sealElement(who, r.ID)
			if err != nil {
				return err
			}
			r.Element = sealed
		}
		moved, err := m.rekeyRelations(r)
		if err != nil {
			return err
		}
		if !current || moved {
			y.tx.Put(*r)
			changed = true
		}
	}
	if changed {
		// What the verb goes on with (y.live) is what was just staged:
		// a copy from before would put the old keys back.
		y.relive()
	}
	return nil
}

// openElement returns the element sealed on r and the generation it was
// made under; ok is false if r holds none.
func (m *Matcher) openElement(r store.Registration) (y oprf.Element, gen uint32, ok bool) {
	if len(r.Element) == 0 {
		return oprf.Element{}, 0, false
	}
	plain, err := m.elements.OpenElement(r.Element, r.ID)
	if err != nil || len(plain) != 4+oprf.ElementSize {
		return oprf.Element{}, 0, false
	}
	if y.UnmarshalBinary(plain[4:]) != nil {
		return oprf.Element{}, 0, false
	}
	return y, binary.BigEndian.Uint32(plain), true
}

// currentElement re-keys an element of generation gen to the current
// generation; ok is false for a generation this index can no longer
// re-key (before the previous one).
func (m *Matcher) currentElement(y oprf.Element, gen uint32) (oprf.Element, bool) {
	switch {
	case gen == m.layer.Generation:
		return y, true
	case m.layer.Rotating && gen+1 == m.layer.Generation:
		cur, err := m.layer.Ratio.Apply(y)
		return cur, err == nil
	}
	return oprf.Element{}, false
}

// resealRef seals r's client reference anew under the primary reference
// key; one that does not open is left as it is (openRef logs it).
func (m *Matcher) resealRef(ctx context.Context, r *store.Registration) error {
	ref := m.openRef(ctx, r.Institution, *r)
	if ref == "" {
		return nil
	}
	sealed, err := m.refs.Seal(ref, r.Institution, r.ID)
	if err != nil {
		return fmt.Errorf("matcher: %w", err)
	}
	r.ClientRef = sealed
	return nil
}

// Generation returns the key holders' generation m takes elements of, and
// whether a key holder's rotation is in progress (Config.Layer).
func (m *Matcher) Generation() (gen uint32, rotating bool) {
	return m.layer.Generation, m.layer.Rotating
}

// rekeyWorkers is how many youths Rekey re-keys at once.
const rekeyWorkers = 64

// RekeyPage is what one call of Rekey did.
type RekeyPage struct {
	// Visited counts the youths looked at; Moved those whose records
	// were re-keyed (to the primary PRF key, the current generation, or
	// both); Records the registrations re-keyed.
	Visited, Moved, Records int
	// Stranded counts youths whose records hold no element this index
	// can re-key (made before elements were kept, or of a generation
	// before the previous one): a new report of the youth moves them.
	Stranded int
	// Next is where the next call begins; zero when the walk is done.
	Next pseudonym.Pseudonym
}

// Rekey re-keys up to limit youths of a blind deployment, beginning after
// the youth after (zero: the first): every record kept under an older PRF
// key, or with an element of the previous generation or an element or
// client reference sealed under an older reference key, is moved to the
// pseudonym of the primary key over the element of the current generation,
// its element and client reference sealed anew under the primary reference
// key, in one atomic write per youth. No BSN is needed:
// the elements the records keep are enough. A youth already current is
// only read. Run it while serving: each youth is locked for its own write
// only; up to 64 youths of the page are re-keyed at once, so that their
// writes share the store's group commit. A walk from the zero pseudonym to a page whose Next is zero leaves
// no record needing an old key or the old generation, except stranded
// ones; then the old PRF key can be retired and the rotation ended.
func (m *Matcher) Rekey(ctx context.Context, after pseudonym.Pseudonym, limit int) (RekeyPage, error) {
	var page RekeyPage
	if !m.blind {
		return page, ErrYouthNotAccepted
	}
	youths, err := m.store.Youths(ctx, after, limit)
	if err != nil {
		return page, fmt.Errorf("matcher: rekey: %w", err)
	}
	// Each youth is its own synced write: many at once share the store's
	// group commit, as concurrent reports do.
	type result struct {
		n        int
		stranded bool
		err      error
	}
	results := make([]result, len(youths))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(rekeyWorkers, len(youths)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(youths) || ctx.Err() != nil {
					return
				}
				r := &results[i]
				r.n, r.stranded, r.err = m.rekeyYouth(ctx, youths[i])
			}
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			return page, r.err
		}
		page.Visited++
		page.Next = youths[i]
		if r.stranded {
			page.Stranded++
		}
		if r.n > 0 {
			page.Moved++
			page.Records += r.n
		}
	}
	if err := ctx.Err(); err != nil {
		return page, err
	}
	if len(youths) < limit {
		page.Next = pseudonym.Pseudonym{}
	}
	return page, nil
}

// rekeyYouth re-keys the youth kept under p, and returns how many of its
// registrations it moved or sealed anew, and whether it is stranded. Each
// registration's element is opened once, and only one is re-keyed by the
// ratio (a scalar multiplication): all of a youth's are the same element.
func (m *Matcher) rekeyYouth(ctx context.Context, p pseudonym.Pseudonym) (int, bool, error) {
	var regs []store.Registration
	err := m.store.View(ctx, []pseudonym.Pseudonym{p}, func(r store.Reader) error {
		regs = append(r.Registrations(), r.History()...)
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("matcher: rekey: %w", err)
	}
	gens := make(map[store.ID]uint32, len(regs))
	var cur oprf.Element
	for _, r := range regs {
		y, gen, ok := m.openElement(r)
		if !ok {
			continue
		}
		gens[r.ID] = gen
		if cur.IsZero() {
			if c, ok := m.currentElement(y, gen); ok {
				cur = c
			}
		}
	}
	if cur.IsZero() {
		return 0, len(regs) > 0, nil
	}
	who, err := m.youthOfCurrent(cur)
	if err != nil {
		return 0, false, err
	}
	primary := who.set.Primary
	refKey := m.elements.PrimaryKeyID()
	oldRef := func(r store.Registration) bool {
		rk, sealed := store.RefKeyID(r.ClientRef)
		return sealed && rk != refKey
	}
	current := func(r store.Registration) bool {
		gen, ok := gens[r.ID]
		kid, _ := store.RefKeyID(r.Element)
		return ok && gen == m.layer.Generation && r.Youth == primary && kid == refKey && !oldRef(r) && m.relationsCurrent(r)
	}
	moved := 0
	for _, r := range regs {
		if !current(r) {
			moved++
		}
	}
	if moved == 0 {
		return 0, false, nil
	}
	if !slices.Contains(who.set.All, p) {
		who.set.All = append(who.set.All, p)
	}
	err = m.updateByYouth(ctx, who, m.clock(), func(y *youth) error {
		// The live registrations updateByYouth's begin has moved to
		// primary and resealLive has sealed their elements anew: their
		// client references are left.
		for _, r := range slices.Clone(y.regs) {
			if oldRef(r) {
				if err := m.resealRef(ctx, &r); err != nil {
					return err
				}
				y.put(r)
			}
		}
		for _, r := range y.tx.History() {
			if _, seen := gens[r.ID]; !seen {
				// Ended since the read: opened now.
				if _, gen, ok := m.openElement(r); ok {
					gens[r.ID] = gen
				}
			}
			if current(r) {
				continue
			}
			sealed, err := m.sealElement(who, r.ID)
			if err != nil {
				return err
			}
			if oldRef(r) {
				if err := m.resealRef(ctx, &r); err != nil {
					return err
				}
			}
			r.Youth, r.Element = primary, sealed
			y.tx.Put(r)
		}
		return nil
	})
	return moved, false, err
}
