package matcher_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
)

// Every code of the covenant's list is accepted, and the code on file is
// the one the signal carried; the refused codes are in
// TestBadInputIsRejectedAndWritesNothing.
func TestSignalCodesFromTheCovenant(t *testing.T) {
	e := newEnv(t)
	for i, sc := range exampleCovenant(t).SignalCodes {
		r := e.signal(t, 100+i)
		r.SignalCode = sc.Code
		res := e.register(t, school, r)
		reg, err := e.store.Registration(ctx, res.ID)
		if err != nil || reg.SignalCode != sc.Code {
			t.Fatalf("%s: stored %q, %v", sc.Code, reg.SignalCode, err)
		}
	}
}

// A covenant without signal codes refuses every signal (there is no list
// to take a code from) and still takes involvement registrations.
func TestNoSignalCodesNoSignals(t *testing.T) {
	cov, err := rules.Load(strings.NewReader("name: n\ninstitutions: [{id: "+ggd+", name: GGD, type: ggd, may_coordinate: true}]\nrules: [{name: any, assign: {any: true}}]\n"), "n.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	m, err := matcher.New(matcher.Config{Store: e.store, Pseudonymiser: e.ps, Covenant: cov, Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := e.involvement(t, 1)
	r.Municipality = "GM0014"
	r.Kind, r.SignalCode = matcher.Signal, "S01"
	_, err = m.Register(ctx, matcher.Actor{Institution: ggd}, r)
	var fe *matcher.FieldError
	if !errors.Is(err, matcher.ErrUnknownSignalCode) || !errors.As(err, &fe) || fe.Field != "code" {
		t.Fatalf("signal under a covenant without codes: %v", err)
	}
	r.Kind, r.SignalCode = matcher.Involvement, ""
	if _, err := m.Register(ctx, matcher.Actor{Institution: ggd}, r); err != nil {
		t.Fatalf("involvement: %v", err)
	}
}
