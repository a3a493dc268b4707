package letters

import (
	"bytes"
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

// Templates render informing letters: the letter in which a professional
// tells the parents, the youth or both that its institution registered the
// youth in the reference index, why in the covenant's terms, for how long,
// and where to object (the duty to inform; whom by the youth's age band).
// One wording per addressee, a template each, named by it. An [Inform] has
// no field for a BSN, a birth date or a name: the professional adds the
// address, and the templates say "your child" or "you".
type Templates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// ErrAddressee: Inform.To is not one of the addressees.
var ErrAddressee = errors.New("letters: unknown addressee")

var funcs = map[string]any{"datum": day}

// Builtin returns the built-in Dutch templates.
func Builtin() (*Templates, error) {
	t := &Templates{}
	b, err := templates.ReadFile("templates/inform-text.tmpl")
	if err == nil {
		t.text, err = texttemplate.New("inform-text.tmpl").Funcs(funcs).Option("missingkey=error").Parse(string(b))
	}
	if err == nil {
		b, err = templates.ReadFile("templates/inform-html.tmpl")
	}
	if err == nil {
		t.html, err = htmltemplate.New("inform-html.tmpl").Funcs(funcs).Option("missingkey=error").Parse(string(b))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	for _, to := range []string{ToParents, ToBoth, ToYouth} {
		if t.text.Lookup(to) == nil || t.html.Lookup(to) == nil {
			return nil, fmt.Errorf("%w: no template for addressee %q", ErrTemplate, to)
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
			return Letter{}, fmt.Errorf("%w: %v", ErrTemplate, err)
		}
		*f.to = b.String()
	}
	return out, nil
}
