package matcher_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/matcher"
)

// element computes youth n's blind-mode element with key, as a client
// system does with a key holder.
func element(t *testing.T, key *oprf.PrivateKey, n int) oprf.Element {
	t.Helper()
	st, blinded, err := oprf.Blind(bsnFor(t, n))
	if err != nil {
		t.Fatal(err)
	}
	ev, proof, err := oprf.Evaluate(key, blinded)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := oprf.Finish(st, ev, proof, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return ys[0]
}

// TestYouthByElement: the verbs work unchanged on a youth named by its
// blind-mode element (the subject-identification seam): two institutions
// reporting one element match, another element is another youth, the
// same youth named by its clear BSN is not the element's (the layers are
// separate), and the store holds the index's layer, never the element.
func TestYouthByElement(t *testing.T) {
	e := newEnv(t)
	key := oprf.GenerateKey()
	y1, err := e.m.YouthByElement(element(t, key, 1))
	if err != nil {
		t.Fatal(err)
	}
	s := e.signal(t, 1)
	s.Youth = y1
	e.register(t, school, s)
	w := e.involvement(t, 1)
	w.Youth = y1
	if res := e.register(t, wij, w); !res.Matched {
		t.Fatalf("one element reported twice does not match: %+v", res)
	}
	y2, err := e.m.YouthByElement(element(t, key, 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, y2); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Errorf("another element: %v", err)
	}
	if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, 1)); !errors.Is(err, matcher.ErrNotInvolved) {
		t.Errorf("the BSN's youth is the element's: %v", err)
	}
	again, err := e.m.YouthByElement(element(t, key, 1))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, again); err != nil || !v.Matched {
		t.Fatalf("the element computed again: %+v %v", v, err)
	}
	if _, err := e.m.YouthByElement(oprf.Element{}); !errors.Is(err, matcher.ErrMissingYouth) {
		t.Errorf("a zero element: %v", err)
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
	key := oprf.GenerateKey()
	y, err := e.m.YouthByElement(element(t, key, 1))
	if err != nil {
		t.Fatal(err)
	}
	month := func(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }
	blindReport := func(born time.Time) matcher.Registration {
		r := e.involvement(t, 1)
		r.Youth, r.BirthDate, r.BornIn = y, identity.BirthDate{}, born
		return r
	}
	for name, c := range map[string]struct {
		r     matcher.Registration
		field string
		err   error
	}{
		"not the first": {blindReport(time.Date(2014, 5, 17, 0, 0, 0, 0, time.UTC)), "born_in", matcher.ErrBornIn},
		"not midnight":  {blindReport(time.Date(2014, 5, 1, 12, 0, 0, 0, time.UTC)), "born_in", matcher.ErrBornIn},
		"in the future": {blindReport(month(2027, 1)), "born_in", matcher.ErrNotAYouth},
		"past 23":       {blindReport(month(2002, 1)), "born_in", matcher.ErrNotAYouth},
		"neither":       {blindReport(time.Time{}), "birth_date", matcher.ErrMissingBirthDate},
		"with the date": {func() matcher.Registration {
			r := blindReport(month(2014, 5))
			r.BirthDate = birth(t, "2014-05-17")
			return r
		}(), "born_in", matcher.ErrBornIn},
	} {
		_, err := e.m.Register(ctx, matcher.Actor{Institution: wij}, c.r)
		var fe *matcher.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %s: %v", name, err, c.field, c.err)
		}
	}
	res := e.register(t, wij, blindReport(month(2014, 5)))
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
