// Package letters writes the Dutch letters vindex gives to send to a youth
// or its parents, in plain text and in HTML: a municipality's answer to a
// request for access (inzage, [SubjectAccess]), and a professional's
// informing letter (the duty to inform, [Informing]).
//
// # What a letter holds
//
// A letter is addressed by the youth's age band (matcher.AgeBand): to the
// parents under 12, to the youth and the parents from 12 to 15, to the
// youth from 16. It never holds the youth's BSN, birth date or name: it
// says "de jeugdige", and leaves "[naam jeugdige]" and "[adres]" for the
// municipality to fill in. It names the institutions by the covenant's
// names, and each registration by its random ID (a kenmerk that says
// nothing about the youth), never a professional's contact. The access
// letter lists too who accessed the youth: per day, institution, what it
// did and how that ended, never the credential it used.
//
// The templates are embedded (templates/); the HTML form is made with
// html/template, which escapes every value it inserts. Dates are written
// the Dutch way ("2 maart 2026"), instants in identity.DefaultLocation.
// The golden files in testdata/ show each form.
package letters

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
)

// Letter is one letter in its two forms.
type Letter struct {
	// Text is the letter as plain text (UTF-8, lines ending in \n).
	Text string
	// HTML is the letter as an HTML document, every value escaped.
	HTML string
}

// ErrTemplate: a letter's template did not run (a bug, not an input
// error).
var ErrTemplate = errors.New("letters: template")

//go:embed templates
var templates embed.FS

// The letters' templates, embedded, parsed once: one that does not parse
// is a bug, and the package does not start.
var (
	accessText = parseText("subject-access.text.tmpl")
	accessHTML = parseHTML("subject-access.html.tmpl")
	informText = parseText("inform-text.tmpl")
	informHTML = parseHTML("inform-html.tmpl")
)

var funcs = map[string]any{"datum": day, "pad": pad}

func parseText(name string) *texttemplate.Template {
	return texttemplate.Must(texttemplate.New(name).Funcs(funcs).Option("missingkey=error").ParseFS(templates, "templates/"+name))
}

func parseHTML(name string) *htmltemplate.Template {
	return htmltemplate.Must(htmltemplate.New(name).Funcs(funcs).Option("missingkey=error").ParseFS(templates, "templates/"+name))
}

// render runs a letter's two templates on data.
func render(text *texttemplate.Template, html *htmltemplate.Template, data any) (Letter, error) {
	var t, h bytes.Buffer
	if err := text.Execute(&t, data); err != nil {
		return Letter{}, fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	if err := html.Execute(&h, data); err != nil {
		return Letter{}, fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	return Letter{Text: t.String(), HTML: h.String()}, nil
}

// SubjectAccess writes the letter with which the municipality named from
// answers a request for access to a youth's registrations, as a lists
// them (matcher.Matcher.SubjectAccess), addressed by a.Band, with a table
// of who accessed them (a.Accesses): per day, institution, what it did
// and how that ended.
func SubjectAccess(from string, a matcher.Access) (Letter, error) {
	d := accessData{From: from, Date: day(a.Now.In(identity.DefaultLocation())), Addressee: addressee(a.Band), Salutation: salutation(a.Band),
		Accesses: newAccesses(a)}
	for _, r := range a.Registrations {
		if r.Live {
			d.Active = append(d.Active, newRow(r))
		} else {
			d.Archived = append(d.Archived, newRow(r))
		}
	}
	return render(accessText, accessHTML, d)
}

// accessData is what the access letter's templates see.
type accessData struct {
	From, Date            string
	Addressee, Salutation string
	Active, Archived      []row
	// Accesses is who accessed the youth.
	Accesses accessesData
}

// row is one registration as a letter shows it.
type row struct {
	// Institution is its name and, if known, its type ("WIJ Groningen
	// (wijkteam)").
	Institution string
	// Kind says what kind of registration it is, with a signal's code.
	Kind   string
	Urgent bool
	Since  string
	// Status is "actief" with its end day, or "gearchiveerd" with when
	// and why it ended.
	Status string
	// Purge is the day an archived one is destroyed; "" if not known.
	Purge string
	// Informed says whether the institution informed the parents or the
	// youth: whom and when, or why not; "" if it recorded nothing.
	Informed string
	// Family says which family relations the registration records (a
	// parent, the home address) and since when; "" if none.
	Family string
	ID     string
}

func newRow(r matcher.AccessEntry) row {
	out := row{Institution: r.Institution, Kind: "betrokkenheid (de instelling biedt zorg of hulp)", Urgent: r.Urgent,
		Since: day(r.Since.In(identity.DefaultLocation())), ID: r.ID.String()}
	if r.Name != "" {
		out.Institution = r.Name
	}
	if t, ok := typeNames[r.Type]; ok {
		out.Institution += " (" + t + ")"
	}
	if r.Kind == matcher.Signal {
		out.Kind = "signaal (de instelling maakt zich zorgen), code " + r.SignalCode
		if r.SignalLabel != "" {
			out.Kind += ": " + r.SignalLabel
		}
	}
	out.Informed = informed(r.Inform)
	out.Family = family(r.Family)
	switch {
	case r.Live && r.EndsOn.IsZero():
		out.Status = "actief"
	case r.Live:
		out.Status = "actief; eindigt uiterlijk op " + day(r.EndsOn)
	default:
		out.Status = "gearchiveerd; beëindigd op " + day(r.EndedAt.In(identity.DefaultLocation())) + ": " + endReason(r.EndReason)
		if !r.PurgeOn.IsZero() {
			out.Purge = day(r.PurgeOn)
		}
	}
	return out
}

// family says in plain Dutch which family relations a registration
// records: that a parent (as in the population register) or the home
// address is recorded, never who or which, and since when; "" if none.
func family(rels []matcher.FamilyRelation) string {
	names := map[string]string{"parent": "een ouder of verzorger", "address": "het woonadres"}
	var parts []string
	for _, r := range rels {
		name, ok := names[r.Type]
		if !ok {
			continue
		}
		parts = append(parts, name+" (sinds "+day(r.Since.In(identity.DefaultLocation()))+")")
	}
	return strings.Join(parts, ", ")
}

// informed says in plain Dutch what the institution recorded of its duty
// to inform; "" if nothing.
func informed(i matcher.Inform) string {
	whom := map[matcher.Whom]string{matcher.InformedParents: "de ouders/verzorgers", matcher.InformedYouth: "de jeugdige",
		matcher.InformedBoth: "de ouders/verzorgers en de jeugdige"}
	why := map[matcher.NotInformed]string{matcher.NotInformedDanger: "nee: informeren zou de jeugdige of anderen in gevaar brengen",
		matcher.NotInformedUnreachable: "nee: niet bereikbaar", matcher.NotInformedLater: "nog niet: volgt later"}
	switch {
	case i.Who != 0:
		return "ja, " + whom[i.Who] + ", op " + day(i.On)
	case i.Not != 0:
		return why[i.Not]
	}
	return ""
}

// endReason says in plain Dutch why a registration ended.
func endReason(r matcher.ArchiveReason) string {
	switch r {
	case matcher.ArchivedRiskGone:
		return "de instelling heeft de registratie beëindigd omdat de zorgen voorbij zijn"
	case matcher.ArchivedOther:
		return "de instelling heeft de registratie om een andere reden beëindigd"
	case matcher.ArchivedClosed:
		return "de procescoördinator heeft de zaak afgesloten"
	case matcher.ArchivedExpired:
		return "de termijn van de registratie is verstreken"
	case matcher.ArchivedDeath:
		return "overlijden"
	}
	return "de registratie is beëindigd"
}

// typeNames are the covenant's institution types as a letter names them.
var typeNames = map[string]string{
	rules.TypeGGD:             "GGD",
	rules.TypeWIJTeam:         "wijkteam",
	rules.TypeSocialTeam:      "sociaal team",
	rules.TypeBureauJeugdzorg: "jeugdbescherming",
	rules.TypeYouthCare:       "jeugdhulp",
	rules.TypeYouthMental:     "jeugd-ggz",
	rules.TypeSocialWork:      "maatschappelijk werk",
	rules.TypeSchool:          "school",
	rules.TypePolice:          "politie",
	rules.TypeChildcare:       "kinderopvang",
	rules.TypeAttendance:      "leerplicht",
	rules.TypeMunicipality:    "gemeente",
}

// youthName is what the municipality replaces with the youth's name.
const youthName = "[naam jeugdige]"

// addressee is the letter's first address line for band.
func addressee(band matcher.AgeBand) string {
	switch band {
	case matcher.Age12To15:
		return "Aan " + youthName + " en de ouders/verzorgers"
	case matcher.Age16Up:
		return "Aan " + youthName
	}
	return "Aan de ouders/verzorgers van " + youthName
}

// salutation opens the letter for band.
func salutation(band matcher.AgeBand) string {
	switch band {
	case matcher.Age12To15:
		return "Beste " + youthName + ", geachte ouder/verzorger,"
	case matcher.Age16Up:
		return "Beste " + youthName + ","
	}
	return "Geachte ouder/verzorger,"
}

var months = [...]string{"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
	"september", "oktober", "november", "december"}

// day writes t's date the Dutch way: "2 maart 2026".
func day(t time.Time) string {
	y, m, d := t.Date()
	return fmt.Sprintf("%d %s %d", d, months[m-1], y)
}
