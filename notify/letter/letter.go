// Package letter words the informing letter: the letter in which a
// professional tells the parents, the youth or both that its institution
// registered the youth in the reference index, why in the covenant's terms,
// for how long, and where to object (the duty to inform, Jeugdwet; whom by
// the youth's age band: the parents under 12, both from 12 to 15, the youth
// from 16). It is Dutch, as text and as HTML (html/template, which escapes
// what it inserts), one wording per addressee, in the templates of
// templates/nl, which mirror notify's: a frame per format and a template
// per addressee, named by it.
//
// A letter says nothing that identifies the youth: [Inform] has no field
// for a BSN, a birth date or a name (the professional adds the address),
// and the templates address "your child" or "you".
package letter

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	texttemplate "text/template"
	"time"
)

// The addressees of Inform.To.
const (
	ToParents = "parents"
	ToBoth    = "both"
	ToYouth   = "youth"
)

// Inform is what an informing letter says.
type Inform struct {
	// To is whom the letter is addressed to: ToParents, ToBoth or ToYouth.
	To string
	// Institution is the registering institution's name.
	Institution string
	// SignalCode and SignalLabel: a signal's code and what it stands for
	// in the covenant; both empty for an involvement registration (the
	// institution provides care).
	SignalCode, SignalLabel string
	// Since is when the institution registered; EndsOn the day the
	// registration ends at the latest.
	Since, EndsOn time.Time
	// Municipality is the name of the municipality to ask for access and
	// to object to, and MunicipalityCode its CBS code: the letter names
	// the municipality by its code when it has no name.
	Municipality, MunicipalityCode string
	// Contact is the professional who registered, and how to reach them.
	ContactName, ContactPhone, ContactEmail string
	// Region names the reference index ("Verwijsindex Groningen").
	Region string
}

// Letter is one letter in both formats.
type Letter struct {
	Text, HTML string
}

// Templates render informing letters.
type Templates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

//go:embed templates
var builtin embed.FS

// ErrTemplates: the templates do not parse, or lack an addressee's.
var ErrTemplates = errors.New("letter: templates")

// ErrAddressee: Inform.To is not one of the addressees.
var ErrAddressee = errors.New("letter: unknown addressee")

var funcs = map[string]any{"datum": Date}

// Builtin returns the built-in Dutch templates.
func Builtin() (*Templates, error) {
	t := &Templates{}
	b, err := builtin.ReadFile("templates/nl/inform-text.tmpl")
	if err == nil {
		t.text, err = texttemplate.New("inform-text.tmpl").Funcs(funcs).Option("missingkey=error").Parse(string(b))
	}
	if err == nil {
		b, err = builtin.ReadFile("templates/nl/inform-html.tmpl")
	}
	if err == nil {
		t.html, err = htmltemplate.New("inform-html.tmpl").Funcs(funcs).Option("missingkey=error").Parse(string(b))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemplates, err)
	}
	for _, to := range []string{ToParents, ToBoth, ToYouth} {
		if t.text.Lookup(to) == nil || t.html.Lookup(to) == nil {
			return nil, fmt.Errorf("%w: no template for addressee %q", ErrTemplates, to)
		}
	}
	return t, nil
}

// Inform renders the informing letter d.
func (t *Templates) Inform(d Inform) (Letter, error) {
	if d.To != ToParents && d.To != ToBoth && d.To != ToYouth {
		return Letter{}, fmt.Errorf("%w %q", ErrAddressee, d.To)
	}
	var out Letter
	for _, f := range []struct {
		run func(io.Writer, any) error
		to  *string
	}{
		{t.text.Execute, &out.Text},
		{t.html.Execute, &out.HTML},
	} {
		var b bytes.Buffer
		if err := f.run(&b, d); err != nil {
			return Letter{}, fmt.Errorf("letter: %w", err)
		}
		*f.to = b.String()
	}
	return out, nil
}

var months = [...]string{"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"}

// Date writes a day the Dutch way: "2 maart 2026".
func Date(t time.Time) string {
	y, m, d := t.Date()
	return fmt.Sprintf("%d %s %d", d, months[m-1], y)
}
