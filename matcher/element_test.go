package matcher_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
)

// element computes youth n's blind-mode element with key, as a client
// system does with a key holder.
func element(t *testing.T, key *oprf.PrivateKey, n int) oprf.Element {
	t.Helper()
	return testkeys.Elements(t, []identity.BSN{bsnFor(t, n)}, key)[0]
}

// blindMatcher is a blind matcher ([matcher.Config.Blind]) over e's store
// and keys.
func blindMatcher(t *testing.T, e *env) *matcher.Matcher {
	t.Helper()
	m, err := matcher.New(matcher.Config{Store: e.store, Pseudonymiser: e.ps, ClientRefs: testkeys.Sealer(t),
		Covenant: exampleCovenant(t), Clock: e.clock.Now, Location: time.UTC, Logger: quiet(), Blind: true})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// blindReport is e's report of youth n as a blind client system makes it:
// the element for the youth, the birth month for the birth date (May 2014).
func blindReport(t *testing.T, e *env, y matcher.Youth, r matcher.Registration) matcher.Registration {
	r.Youth, r.BirthDate, r.BornIn = y, identity.BirthDate{}, time.Date(2014, 5, 1, 0, 0, 0, 0, time.UTC)
	return r
}

// TestYouthByElement: the verbs work unchanged on a youth named by its
// blind-mode element (the subject-identification seam): two institutions
// reporting one element match, another element is another youth, the
// same youth named by its clear BSN is not the element's (the layers are
// separate), and the store holds the index's layer, never the element.
func TestYouthByElement(t *testing.T) {
	e := newEnv(t)
	b := blindMatcher(t, e)
	key := oprf.GenerateKey()
	y1, err := b.YouthByElement(element(t, key, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Register(ctx, matcher.Actor{Institution: school}, blindReport(t, e, y1, e.signal(t, 1))); err != nil {
		t.Fatal(err)
	}
	if res, err := b.Register(ctx, matcher.Actor{Institution: wij}, blindReport(t, e, y1, e.involvement(t, 1))); err != nil || !res.Matched {
		t.Fatalf("one element reported twice does not match: %+v %v", res, err)
	}
	y2, err := b.YouthByElement(element(t, key, 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lookup(ctx, matcher.Actor{Institution: wij}, y2); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Errorf("another element: %v", err)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Errorf("the BSN's youth is the element's: %v", err)
	}
	again, err := b.YouthByElement(element(t, key, 1))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := b.Lookup(ctx, matcher.Actor{Institution: wij}, again); err != nil || !v.Matched {
		t.Fatalf("the element computed again: %+v %v", v, err)
	}
	if _, err := b.YouthByElement(oprf.Element{}); !errors.Is(err, matcher.ErrMissingYouth) {
		t.Errorf("a zero element: %v", err)
	}
	// Each mode refuses the other's way of naming a youth.
	if _, err := b.YouthByBSN(bsnFor(t, 1)); !errors.Is(err, matcher.ErrBSNNotAccepted) {
		t.Errorf("a BSN to a blind matcher: %v", err)
	}
	if _, err := e.m.YouthByElement(element(t, key, 1)); !errors.Is(err, matcher.ErrYouthNotAccepted) {
		t.Errorf("an element to an hmac matcher: %v", err)
	}

	// The element's bytes are nowhere in the store's files.
	raw, _ := element(t, key, 1).MarshalBinary()
	needles := canary.Needles{}
	needles.Bytes("element of youth 1", raw[8:])
	if err := e.store.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	found, err := needles.ScanDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("the element is in the store: %q", found)
	}
	// The positive control: the index's layer over it is.
	layer, err := e.ps.Of(pseudonym.DomainYouthElement, raw)
	if err != nil {
		t.Fatal(err)
	}
	control := canary.Needles{}
	control.Bytes("the index's pseudonym of the element", layer.Primary.Sum[8:])
	if found, err := control.ScanDir(e.dir); err != nil || len(found) == 0 {
		t.Errorf("the scan does not see the index's pseudonym: it proves nothing (%q, %v)", found, err)
	}
}

// TestBornIn: a blind deployment's report gives the birth month in place
// of the birth date; the index computes with it exactly what it computes
// from a birth date's month (end and destroy days, age), and refuses one
// that is not the first day of a month, one given with a birth date, one
// in the future and one of a youth past the end age.
func TestBornIn(t *testing.T) {
	e := newEnv(t)
	b := blindMatcher(t, e)
	key := oprf.GenerateKey()
	y, err := b.YouthByElement(element(t, key, 1))
	if err != nil {
		t.Fatal(err)
	}
	month := func(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }
	report := func(born time.Time) matcher.Registration {
		r := blindReport(t, e, y, e.involvement(t, 1))
		r.BornIn = born
		return r
	}
	for name, c := range map[string]struct {
		r     matcher.Registration
		field string
		err   error
	}{
		"not the first": {report(time.Date(2014, 5, 17, 0, 0, 0, 0, time.UTC)), "born_in", matcher.ErrBornIn},
		"not midnight":  {report(time.Date(2014, 5, 1, 12, 0, 0, 0, time.UTC)), "born_in", matcher.ErrBornIn},
		"in the future": {report(month(2027, 1)), "born_in", matcher.ErrNotAYouth},
		"past 23":       {report(month(2002, 1)), "born_in", matcher.ErrNotAYouth},
		"neither":       {report(time.Time{}), "born_in", matcher.ErrMissingBirthDate},
		"a birth date": {func() matcher.Registration {
			r := report(month(2014, 5))
			r.BirthDate = birth(t, "2014-05-17")
			return r
		}(), "birth_date", matcher.ErrBirthDateNotAccepted},
	} {
		_, err := b.Register(ctx, matcher.Actor{Institution: wij}, c.r)
		var fe *matcher.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %s: %v", name, err, c.field, c.err)
		}
	}
	res, err := b.Register(ctx, matcher.Actor{Institution: wij}, report(month(2014, 5)))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := e.store.Registration(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	// As from a birth date in May 2014.
	if want := month(2037, 5); !reg.DestroyOn.Equal(want) {
		t.Errorf("destroy day %v, want %v", reg.DestroyOn, want)
	}
	if want := start.AddDate(2, 0, 0); !reg.EndsOn.Equal(time.Date(want.Year(), want.Month(), want.Day(), 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ends on %v, want two years on", reg.EndsOn)
	}
	if reg.AgeBand.String() == "" {
		t.Errorf("no age band: %+v", reg)
	}
}
