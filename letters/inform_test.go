package letters_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	letter "github.com/vindex-nl/vindex/letters"
)

func sample(to string) letter.Inform {
	return letter.Inform{
		To: to, Institution: "Voorbeeldlyceum Groningen", SignalCode: "S03", SignalLabel: "Zorg over schoolgang of verzuim",
		Since: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), EndsOn: time.Date(2028, 3, 2, 0, 0, 0, 0, time.UTC),
		Municipality: "Gemeente Groningen", MunicipalityCode: "GM0014",
		ContactName: "M. Bakker", ContactPhone: "050-1234567", ContactEmail: "m.bakker@lyceum.example", Region: "Groningen",
	}
}

// The letters as they are sent, one per addressee and format, against the
// golden files in testdata (go test -update rewrites them: read the diff).
func TestInformGolden(t *testing.T) {
	involvement := sample(letter.ToParents)
	involvement.SignalCode, involvement.SignalLabel, involvement.Municipality, involvement.ContactEmail = "", "", "", ""
	for name, d := range map[string]letter.Inform{
		"parents": sample(letter.ToParents), "both": sample(letter.ToBoth), "youth": sample(letter.ToYouth),
		"parents-involvement-unnamed-municipality": involvement,
	} {
		l, err := letter.Informing(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for ext, got := range map[string]string{"txt": l.Text, "html": l.HTML} {
			path := filepath.Join("testdata", "inform-"+name+"."+ext)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n%s", name, path, got)
			}
		}
	}
}

// Each letter names what the duty to inform requires: the institution,
// that it registered in the index, why in code terms, until when, and the
// municipality to object to; the addressee decides the wording.
func TestLetterSaysWhatItMust(t *testing.T) {
	for to, own := range map[string]string{letter.ToParents: "uw kind", letter.ToBoth: "beste jongere", letter.ToYouth: "jou"} {
		l, err := letter.Informing(sample(to))
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{l.Text, l.HTML} {
			for _, want := range []string{"Voorbeeldlyceum Groningen", "Verwijsindex Groningen", "S03", "Zorg over schoolgang of verzuim",
				"2 maart 2026", "2 maart 2028", "Gemeente Groningen", "bezwaar", "M. Bakker", "050-1234567", own} {
				if !strings.Contains(body, want) {
					t.Errorf("%s: the letter lacks %q", to, want)
				}
			}
		}
	}
	d := sample(letter.ToYouth)
	d.Municipality = ""
	if l, _ := letter.Informing(d); !strings.Contains(l.Text, "gemeentecode GM0014") {
		t.Error("a municipality without a name is not named by its code")
	}
	// HTML escapes what it inserts.
	d.Institution = "<script>x</script>"
	if l, _ := letter.Informing(d); strings.Contains(l.HTML, "<script>") {
		t.Error("the HTML letter inserts markup unescaped")
	}
	if _, err := letter.Informing(letter.Inform{To: "grandparents"}); !errors.Is(err, letter.ErrAddressee) {
		t.Errorf("unknown addressee: %v", err)
	}
}

// The letter's data cannot carry the youth's identity: no field for a
// BSN, a birth date or a name of the youth.
func TestNoFieldForIdentity(t *testing.T) {
	rt := reflect.TypeFor[letter.Inform]()
	for i := range rt.NumField() {
		f := strings.ToLower(rt.Field(i).Name)
		for _, bad := range []string{"bsn", "birth", "youthname", "child", "pseudonym"} {
			if strings.Contains(f, bad) {
				t.Errorf("letter.Inform has a field %s", rt.Field(i).Name)
			}
		}
	}
}
