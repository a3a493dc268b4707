package matcher

import (
	"crypto/subtle"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
)

// What the matcher makes of a youth's birth date. The store may learn the
// birth month, never the day: every age and day the matcher stores or
// decides by is computed from the first day of the birth month, as if the
// youth were born on it. A youth therefore counts a year older, and reaches
// the end age, on the first day of the month of its birthday: never later
// than the birthday, so never past the law's limit. The day itself is used
// only to refuse a report (a birth date after today; a field that quotes
// it), which writes nothing, and keyed, in the birth-date check value.

// birthMonth returns the first day of the month in which the youth was born.
func birthMonth(bd identity.BirthDate) time.Time {
	y, mo, _ := bd.RevealDate().Date()
	return time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC)
}

// ageByMonth returns the age in years on today of a youth born in the month
// that begins on born, a birthday counting from the first day of its month.
func ageByMonth(born, today time.Time) int {
	age := today.Year() - born.Year()
	if today.Month() < born.Month() {
		age--
	}
	return age
}

// endAgeDay returns the day the youth's registrations end for its age: the
// first day of the month in which it reaches the end age; born is the
// first day of its birth month.
func (m *Matcher) endAgeDay(born time.Time) time.Time {
	return born.AddDate(m.limits.endAge, 0, 0)
}

// destroyDay returns the day from which nothing of the youth may be kept,
// whatever the covenant's end age: the first day of the month in which it
// turns 23 (Jeugdwet art. 7.1.4.5); born is the first day of its birth
// month.
func destroyDay(born time.Time) time.Time {
	return born.AddDate(legalEndAge, 0, 0)
}

// born returns the first day of the youth's birth month: from the birth
// date, or, in a blind deployment, as the client system gave it (BornIn).
func (r *Registration) born() time.Time {
	if !r.BirthDate.IsZero() {
		return birthMonth(r.BirthDate)
	}
	return r.BornIn
}

// checkBirthDate returns the youth's age today, counted by month: one that
// has a birth date (or, in a blind deployment, a birth month: BornIn, the
// first day of a month), not after today, and whose registrations would
// not already have ended for its age (a report from the first day of the
// month in which it reaches the end age is refused).
func (m *Matcher) checkBirthDate(r *Registration, today time.Time) (age int, err error) {
	switch bm := r.BornIn; {
	case m.blind && !r.BirthDate.IsZero():
		return 0, fieldErr("birth_date", ErrBirthDateNotAccepted)
	case !r.BirthDate.IsZero() && !bm.IsZero():
		return 0, fieldErr("born_in", ErrBornIn)
	case !bm.IsZero() && (bm.Day() != 1 || bm.Location() != time.UTC || bm != bm.Truncate(24*time.Hour)):
		return 0, fieldErr("born_in", ErrBornIn)
	case !bm.IsZero():
		if bm.After(today) || !today.Before(m.endAgeDay(bm)) {
			return 0, fieldErr("born_in", ErrNotAYouth)
		}
		return ageByMonth(bm, today), nil
	case r.BirthDate.IsZero() && m.blind:
		return 0, fieldErr("born_in", ErrMissingBirthDate)
	case r.BirthDate.IsZero():
		return 0, fieldErr("birth_date", ErrMissingBirthDate)
	}
	bd := r.BirthDate
	if bd.AgeOn(today) < 0 || !today.Before(m.endAgeDay(birthMonth(bd))) {
		return 0, fieldErr("birth_date", ErrNotAYouth)
	}
	return ageByMonth(birthMonth(bd), today), nil
}

// birthCheck returns the birth-date check values of a youth under every
// enabled key: keyed hashes (domain youth-birth-date) of its BSN and birth
// date, so that equal birth dates of two youths give different values. A
// Youth made without a clear BSN gets none (an empty Set): its reports are
// not checked.
func (m *Matcher) birthCheck(who Youth, bd identity.BirthDate) (pseudonym.Set, error) {
	if who.bsn.IsZero() {
		return pseudonym.Set{}, nil
	}
	var buf [9 + 1 + len(time.DateOnly)]byte
	v := append(buf[:0], who.bsn.RevealDigits()...)
	v = append(v, ':')
	v = bd.RevealDate().AppendFormat(v, time.DateOnly)
	set, err := m.ps.Of(pseudonym.DomainYouthBirthDate, v)
	clear(buf[:])
	return set, err
}

// checkBirth holds a report to the birth date the youth's live
// registrations were reported with: while one is live, the case's check
// value must be the report's (under whichever enabled key made it), or the
// report is refused with ErrBirthDateMismatch. Otherwise the report's value
// under the primary key goes on the case: the first report's, one that
// moves to the primary key after a rotation, one for a case written before
// check values existed (or under a key since deleted), and, when none of the
// youth's registrations is live, a new one. So a birth date reported wrongly
// is corrected by ending the registrations made with it and reporting again.
func (y *youth) checkBirth(check pseudonym.Set) error {
	if len(check.All) == 0 {
		return nil
	}
	if !birthFits(check, y.kase.BirthCheck, len(y.live) > 0) {
		return fieldErr("birth_date", ErrBirthDateMismatch)
	}
	y.kase.BirthCheck = check.Primary
	return nil
}

// birthFits reports whether check, the check values of a stated birth
// date, fits had, the case's check value, while the youth has a live
// registration (live): true when there is nothing to hold it to (no live
// registration, no value on the case or one under a key no longer
// enabled, or a Youth made without a BSN, whose check is empty).
func birthFits(check pseudonym.Set, had pseudonym.Pseudonym, live bool) bool {
	if !live || had.IsZero() {
		return true
	}
	for _, p := range check.All {
		if p.KeyID == had.KeyID && subtle.ConstantTimeCompare(p.Sum[:], had.Sum[:]) != 1 {
			return false
		}
	}
	return true
}
