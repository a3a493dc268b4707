package matcher_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
)

// Neither a Youth nor a Registration prints, marshals or logs the BSN, the
// birth date or the pseudonyms, whatever the verb.
func TestYouthNeverPrints(t *testing.T) {
	e := newEnv(t)
	bsn := bsnDigits(t, 7)
	r := e.involvement(t, 7)
	r.BirthDate = birth(t, "2013-08-21")
	set, err := e.ps.Youth(bsnFor(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	needles := []string{bsn, bsn[1:], "2013-08-21", "20130821", "21082013", "210813"}
	for _, p := range set.All {
		needles = append(needles, hex.EncodeToString(p.Sum[:4]), fmt.Sprint(p.Sum[:4]))
	}

	var out bytes.Buffer
	for _, v := range []any{r.Youth, &r.Youth, r, &r, []matcher.Registration{r}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		fmt.Fprintln(&out, v)
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
	}
	slog.New(slog.NewTextHandler(&out, nil)).Info("report", "youth", r.Youth, "registration", r)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("report", "youth", r.Youth, "registration", r)
	for _, n := range needles {
		if strings.Contains(out.String(), n) {
			t.Fatalf("%q printed:\n%s", n, out.String())
		}
	}
	if !strings.Contains(out.String(), "Youth(redacted)") {
		t.Fatalf("no redaction marker:\n%s", out.String())
	}
}

// YouthByBSN refuses the zero BSN as the field "bsn"; every verb refuses
// the zero Youth as the field "youth", and writes nothing.
func TestZeroYouth(t *testing.T) {
	e := newEnv(t)
	_, err := e.m.YouthByBSN(identity.BSN{})
	var fe *matcher.FieldError
	if !errors.Is(err, matcher.ErrMissingBSN) || !errors.As(err, &fe) || fe.Field != "bsn" {
		t.Fatalf("zero BSN: %v", err)
	}
	if !(matcher.Youth{}).IsZero() || e.youth(t, 1).IsZero() {
		t.Fatal("IsZero is wrong")
	}
	var none matcher.Youth
	r := e.involvement(t, 1)
	r.Youth = none
	_, errReg := e.m.Register(ctx, matcher.Actor{Institution: ggd}, r)
	_, errLookup := e.m.Lookup(ctx, matcher.Actor{Institution: ggd}, none)
	errClose := e.m.CloseCase(ctx, matcher.Actor{Institution: ggd}, none)
	errDeath := e.m.RecordDeath(ctx, matcher.Actor{Institution: gemeente}, none)
	_, errObject := e.m.Object(ctx, matcher.Actor{Institution: gemeente}, none, birth(t, "2014-05-17"), matcher.AllInstitutions())
	for _, err := range []error{errReg, errLookup, errClose, errDeath, errObject} {
		if !errors.Is(err, matcher.ErrMissingYouth) || !errors.As(err, &fe) || fe.Field != "youth" {
			t.Fatalf("zero Youth: %v", err)
		}
	}
	if ev := e.events(t, ""); len(ev) != 0 {
		t.Fatalf("%d events written", len(ev))
	}
}

// What a verb hands an institution names the other institutions, never their
// registrations: the only registration ID in an Event, a Result or a View is
// the recipient's own, at the top.
func TestResultsNameNoOtherRegistration(t *testing.T) {
	idType := reflect.TypeFor[matcher.ID]()
	var ids func(path string, typ reflect.Type) []string
	ids = func(path string, typ reflect.Type) []string {
		switch typ.Kind() {
		case reflect.Slice, reflect.Pointer:
			return ids(path+"[]", typ.Elem())
		case reflect.Struct:
			var out []string
			for i := range typ.NumField() {
				f := typ.Field(i)
				if f.Type == idType {
					out = append(out, path+"."+f.Name)
				} else {
					out = append(out, ids(path+"."+f.Name, f.Type)...)
				}
			}
			return out
		}
		return nil
	}
	for typ, own := range map[reflect.Type]string{
		reflect.TypeFor[matcher.Event]():  "Event.Registration",
		reflect.TypeFor[matcher.Result](): "Result.ID",
		reflect.TypeFor[matcher.View]():   "View.ID",
	} {
		if got := ids(typ.Name(), typ); len(got) != 1 || got[0] != own {
			t.Errorf("registration IDs in %s: %v, want only %s", typ.Name(), got, own)
		}
	}

	// And the events a match raises name the others with their covenant
	// names.
	e := newEnv(t)
	e.register(t, school, e.signal(t, 1))
	w := e.register(t, wij, e.involvement(t, 1))
	evs, err := e.m.Events(ctx, matcher.Actor{Institution: wij}, 0, 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("wij events: %+v %v", evs, err)
	}
	for _, ev := range evs {
		if ev.Registration != w.ID || len(ev.Others) != 1 || ev.Others[0].Institution != school ||
			ev.Others[0].Name == "" || ev.Others[0].Contact.Name != "M. Bakker" {
			t.Fatalf("wij %s event: %+v", ev.Type, ev)
		}
	}
	if c := evs[0].Coordinator; c.Institution != wij || c.Rule == "" {
		t.Fatalf("match event names coordinator %+v", c)
	}
}
