package letters_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the golden files' dates are Amsterdam's, also where the system has no zone database

	"github.com/vindex-nl/vindex/letters"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func mustID(t *testing.T, s string) matcher.ID {
	t.Helper()
	id, err := matcher.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// access is a youth with two live registrations (an urgent signal, an
// involvement) and two archived ones, aged 13.
func access(t *testing.T) matcher.Access {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	day := func(s string) time.Time { return at(s + "T00:00:00Z") }
	return matcher.Access{
		Now: at("2026-12-01T09:30:00Z"), Age: 13, Band: matcher.Age12To15,
		Registrations: []matcher.AccessEntry{
			{ID: mustID(t, "raaaaaaaaaaaaaaaaaaaaaaaaaa"), Institution: "ggd-groningen", Name: "GGD Groningen", Type: rules.TypeGGD,
				Kind: matcher.Involvement, Since: at("2024-01-15T10:00:00Z"), EndedAt: at("2025-02-01T13:00:00Z"),
				EndReason: matcher.ArchivedRiskGone, PurgeOn: day("2030-01-31")},
			{ID: mustID(t, "rbbbbbbbbbbbbbbbbbbbbbbbbba"), Institution: "school-example-lyceum", Name: "Voorbeeldlyceum Groningen", Type: rules.TypeSchool,
				Kind: matcher.Signal, SignalCode: "S01", SignalLabel: "Zorg over de ontwikkeling van de jeugdige", Urgent: true,
				Since: at("2026-03-02T10:00:00Z"), EndsOn: day("2028-03-02"), Live: true,
				Inform: matcher.Inform{Who: matcher.InformedBoth, On: day("2026-03-04")},
				Family: []matcher.FamilyRelation{{Type: "parent", Since: at("2026-03-02T10:00:00Z")}, {Type: "address", Since: at("2026-05-11T09:00:00Z")}}},
			{ID: mustID(t, "rccccccccccccccccccccccccca"), Institution: "wij-groningen", Name: "WIJ Groningen", Type: rules.TypeWIJTeam,
				Kind: matcher.Involvement, Since: at("2026-03-02T23:30:00Z"), EndsOn: day("2028-03-02"), Live: true,
				Inform: matcher.Inform{Not: matcher.NotInformedLater}},
			{ID: mustID(t, "rddddddddddddddddddddddddda"), Institution: "zorg-oud", Kind: matcher.Involvement,
				Since: at("2025-05-05T08:00:00Z"), EndedAt: at("2026-04-30T08:00:00Z"), EndReason: matcher.ArchivedClosed, PurgeOn: day("2031-04-30")},
		},
		Accesses: []matcher.Accessed{
			{On: day("2026-03-02"), Institution: "school-example-lyceum", Name: "Voorbeeldlyceum Groningen", Verb: store.AuditRegister, Outcome: "ok"},
			{On: day("2026-03-02"), Institution: "wij-groningen", Name: "WIJ Groningen", Verb: store.AuditRegister, Outcome: "ok"},
			{On: day("2026-03-03"), Institution: "wij-groningen", Name: "WIJ Groningen", Verb: store.AuditLookup, Outcome: "ok"},
			{On: day("2026-03-03"), Institution: "wij-groningen", Name: "WIJ Groningen", Verb: store.AuditLookup, Outcome: "ok"},
			{On: day("2026-03-03"), Institution: "wij-groningen", Name: "WIJ Groningen", Verb: store.AuditLookup, Outcome: "ok"},
			{On: day("2026-06-10"), Institution: "politie-noord-nederland", Name: "Politie Noord-Nederland", Verb: store.AuditLookup, Outcome: "not_involved"},
			{On: day("2026-11-20"), Institution: "gemeente-het-hogeland", Name: "Gemeente Het Hogeland", Verb: store.AuditSubjectAccess, Outcome: "not_involved"},
			{On: day("2026-11-21"), Institution: "zorg-oud", Verb: store.AuditClose, Outcome: "forbidden"},
			{On: day("2026-11-25"), Verb: store.AuditExtract, Outcome: "ok"},
		},
	}
}

// TestSubjectAccessGolden: both forms of the letter, as testdata/ shows
// them (go test ./letters -update rewrites them after a deliberate change).
func TestSubjectAccessGolden(t *testing.T) {
	l, err := letters.SubjectAccess("Gemeente Groningen", access(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ name, got string }{{"subject-access.txt", l.Text}, {"subject-access.html", l.HTML}} {
		path := filepath.Join("testdata", f.name)
		if *update {
			if err := os.WriteFile(path, []byte(f.got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if f.got != string(want) {
			t.Errorf("%s differs from the golden file (go test ./letters -update rewrites it):\n%s", f.name, f.got)
		}
	}
}

// TestSubjectAccessAddressedByAgeBand: the parents under 12, the youth and
// the parents from 12 to 15, the youth from 16, in both forms; and the
// letter names the youth only by the placeholder the municipality fills
// in.
func TestSubjectAccessAddressedByAgeBand(t *testing.T) {
	for _, tc := range []struct {
		band        matcher.AgeBand
		to, opening string
	}{
		{matcher.AgeUnder12, "Aan de ouders/verzorgers van [naam jeugdige]", "Geachte ouder/verzorger,"},
		{matcher.Age12To15, "Aan [naam jeugdige] en de ouders/verzorgers", "Beste [naam jeugdige], geachte ouder/verzorger,"},
		{matcher.Age16Up, "Aan [naam jeugdige]\n", "Beste [naam jeugdige],"},
	} {
		a := access(t)
		a.Band = tc.band
		l, err := letters.SubjectAccess("Gemeente Groningen", a)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(l.Text, "\n"+tc.to) || !strings.Contains(l.Text, "\n"+tc.opening+"\n") {
			t.Errorf("%v: the text letter is not addressed %q, %q:\n%s", tc.band, tc.to, tc.opening, l.Text)
		}
		if !strings.Contains(l.HTML, "<p>"+strings.TrimSuffix(tc.to, "\n")+"<br>") || !strings.Contains(l.HTML, "<p>"+tc.opening+"</p>") {
			t.Errorf("%v: the HTML letter is not addressed %q, %q", tc.band, tc.to, tc.opening)
		}
	}
}

// TestSubjectAccessEscapes: a covenant's names reach the HTML letter
// escaped, never as markup.
func TestSubjectAccessEscapes(t *testing.T) {
	a := access(t)
	a.Registrations[1].Name = `<script>alert("x")</script> & Co`
	l, err := letters.SubjectAccess(`Gemeente <b>X</b>`, a)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(l.HTML, "<script>") || strings.Contains(l.HTML, "<b>X") || !strings.Contains(l.HTML, "&lt;script&gt;") || !strings.Contains(l.HTML, "&amp; Co") {
		t.Fatalf("not escaped:\n%s", l.HTML)
	}
	if !strings.Contains(l.Text, `<script>alert("x")</script> & Co`) {
		t.Fatalf("the text letter changed the name:\n%s", l.Text)
	}
}

// TestSubjectAccessAccessesCutOrNone: a list of accesses cut at
// matcher.MaxAccesses says so, and a youth with none says that.
func TestSubjectAccessAccessesCutOrNone(t *testing.T) {
	a := access(t)
	a.AccessesCut = true
	l, err := letters.SubjectAccess("Gemeente Groningen", a)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{l.Text, l.HTML} {
		if !strings.Contains(s, "Dit zijn de laatste 9 raadplegingen") {
			t.Errorf("a cut list does not say so:\n%s", s)
		}
	}
	a.Accesses, a.AccessesCut = nil, false
	if l, err = letters.SubjectAccess("Gemeente Groningen", a); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{l.Text, l.HTML} {
		if !strings.Contains(s, "geen raadpleging van de gegevens van de jeugdige vastgelegd") || strings.Contains(s, "Uitkomst") {
			t.Errorf("no accesses:\n%s", s)
		}
	}
}
