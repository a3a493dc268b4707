package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"github.com/vindex-nl/vindex/store"
)

// Message is one notification, ready for a channel: the same for every
// attempt, so that a receiver can drop a duplicate by its ID.
type Message struct {
	// ID is stable across retries: EventID of the event.
	ID      string
	Urgent  bool
	Subject string
	Text    string
	HTML    string
}

// EventID is the stable identifier of an institution's event: it names the
// recipient and the event's sequence number, nothing about the youth.
func EventID(recipient string, seq uint64) string {
	return "vx_" + recipient + "_" + strconv.FormatUint(seq, 10)
}

// Notice is what one message is about: an event of the outbox, and what the
// message may say beside it.
type Notice struct {
	Event store.Event
	// Region names the index in the signature, e.g. "Groningen".
	Region string
	// ClientRef is the recipient's own reference for the youth (its
	// dossier number), quoted so the professional knows which client is
	// meant; empty if it gave none. Only ever the recipient's own.
	ClientRef string
	// Name returns an institution's display name; nil: the ID.
	Name func(institution string) string
}

// Templates render notices: a subject line, a text part and an HTML part.
type Templates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

//go:embed templates
var builtin embed.FS

// Languages are the languages of the built-in templates; Dutch first, the
// default.
var Languages = []string{"nl", "en"}

// ErrTemplates: an operator's template folder is missing a file or has a
// template that does not parse or run.
var ErrTemplates = errors.New("notify: templates")

// BuiltinTemplates returns the built-in templates of lang ("nl" or "en").
func BuiltinTemplates(lang string) (*Templates, error) {
	if lang == "" {
		lang = "nl"
	}
	return LoadTemplates(builtin, "templates/"+lang)
}

// LoadTemplates reads subject.tmpl and text.tmpl (text/template) and
// html.tmpl (html/template, which escapes what it inserts) from dir in
// fsys: an operator's own wording. Each is tried on a sample notice of
// every event type, so that a template that fails does so at start-up,
// not at delivery.
func LoadTemplates(fsys fs.FS, dir string) (*Templates, error) {
	read := func(name string) (string, error) {
		b, err := fs.ReadFile(fsys, dir+"/"+name)
		if err != nil {
			return "", fmt.Errorf("%w: %s/%s: %v", ErrTemplates, dir, name, err)
		}
		return string(b), nil
	}
	funcs := map[string]any{"names": names}
	var t Templates
	for _, f := range []struct {
		name  string
		parse func(string) error
	}{
		{"subject.tmpl", func(s string) (err error) {
			t.subject, err = texttemplate.New("subject.tmpl").Funcs(funcs).Option("missingkey=error").Parse(s)
			return err
		}},
		{"text.tmpl", func(s string) (err error) {
			t.text, err = texttemplate.New("text.tmpl").Funcs(funcs).Option("missingkey=error").Parse(s)
			return err
		}},
		{"html.tmpl", func(s string) (err error) {
			t.html, err = htmltemplate.New("html.tmpl").Funcs(funcs).Option("missingkey=error").Parse(s)
			return err
		}},
	} {
		src, err := read(f.name)
		if err != nil {
			return nil, err
		}
		if err := f.parse(src); err != nil {
			return nil, fmt.Errorf("%w: %s/%s: %v", ErrTemplates, dir, f.name, err)
		}
	}
	for _, typ := range []store.EventType{store.EventMatch, store.EventCoordinator, store.EventNoMatch, store.EventCaseClosed, store.EventEnded, store.EventRemoved} {
		if _, err := t.Render(sampleNotice(typ)); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrTemplates, dir, err)
		}
	}
	return &t, nil
}

func sampleNotice(typ store.EventType) Notice {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	return Notice{Region: "Voorbeeld", ClientRef: "D-1", Event: store.Event{
		Seq: 1, Type: typ, At: at, Recipient: "a", Urgent: true, Coordinator: "b", Rule: "r", Subject: "b", Reason: "ended",
		Others: []store.Party{{Institution: "b", Kind: store.KindInvolvement, Since: at,
			Contact: store.Contact{Name: "A. Jansen", Phone: "050-1234567", Email: "a@example.org"}}},
	}}
}

// party is what a template sees of another institution.
type party struct {
	Institution, Name, Phone, Email, Since string
}

// data is what a template sees. It holds no identity of the youth: the
// event names institutions and professionals, never the youth.
type data struct {
	Type, Recipient, ClientRef, Region string
	Urgent                             bool
	Others                             []party
	Coordinator, Rule, Subject, Reason string
	SubjectLine                        string
}

func names(ps []party) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Institution)
	}
	return strings.Join(out, ", ")
}

// Render makes the message for n. The subject is one line: control
// characters a template or a value brings in are replaced by spaces, so
// that nothing can add a mail header.
func (t *Templates) Render(n Notice) (Message, error) {
	name := n.Name
	if name == nil {
		name = func(id string) string { return id }
	}
	e := n.Event
	d := data{
		Type: e.Type.String(), Recipient: name(e.Recipient), ClientRef: n.ClientRef, Region: n.Region,
		Urgent: e.Urgent, Rule: e.Rule, Reason: e.Reason,
	}
	if e.Coordinator != "" {
		d.Coordinator = name(e.Coordinator)
	}
	if e.Subject != "" {
		d.Subject = name(e.Subject)
	}
	for _, o := range e.Others {
		d.Others = append(d.Others, party{Institution: name(o.Institution), Name: o.Contact.Name, Phone: o.Contact.Phone,
			Email: o.Contact.Email, Since: o.Since.Format(time.DateOnly)})
	}
	var b bytes.Buffer
	if err := t.subject.Execute(&b, d); err != nil {
		return Message{}, fmt.Errorf("notify: subject: %w", err)
	}
	d.SubjectLine = oneLine(b.String())
	m := Message{ID: EventID(e.Recipient, e.Seq), Urgent: e.Urgent, Subject: d.SubjectLine}
	b.Reset()
	if err := t.text.Execute(&b, d); err != nil {
		return Message{}, fmt.Errorf("notify: text: %w", err)
	}
	m.Text = b.String()
	b.Reset()
	if err := t.html.Execute(&b, d); err != nil {
		return Message{}, fmt.Errorf("notify: html: %w", err)
	}
	m.HTML = b.String()
	return m, nil
}

// oneLine turns every control character into a space and trims.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}
