package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"path"
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
// recipient and the event's sequence number in the recipient's own
// sequence (unique per recipient), nothing about the youth.
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
	// RuleLabel returns a coordinator rule's label, its plain words for
	// people (rules.Covenant.RuleLabel); nil: the rule's name.
	RuleLabel func(rule string) string
}

// Templates render notices: a subject line, a text part and an HTML part.
type Templates struct {
	subject, text, html file
}

// file is one parsed template file.
type file struct {
	name string // "subject.tmpl", the frame's name
	run  func(w io.Writer, template string, d any) error
	has  func(template string) bool
}

//go:embed templates
var builtin embed.FS

// Languages are the languages of the built-in templates; Dutch first, the
// default.
var Languages = []string{"nl", "en"}

// ErrTemplates: an operator's template folder is missing a file or an
// event type's template, or has a template that does not parse or run.
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
// fsys: an operator's own wording.
//
// Each file is a frame, its top-level template, which calls
// {{template "event" .}} where the event's own wording goes, and one
// template for every event type of [store.EventTypes], named by the type:
// {{define "match"}}…{{end}}, {{define "no-match"}}…{{end}}, and so on.
// "event" runs the one named by the event's type; it is made here, not
// read from the file. A file without a type's template fails, and every
// type is tried on a sample notice (urgent and not, if the type can be
// urgent; to another institution and to the coordinator itself), so that a
// template that is missing or fails does so at start-up, not at delivery.
func LoadTemplates(fsys fs.FS, dir string) (*Templates, error) {
	funcs := map[string]any{"names": names}
	var t Templates
	for _, f := range []struct {
		to    *file
		name  string
		parse func(name, src string, funcs map[string]any) (file, error)
	}{
		{&t.subject, "subject.tmpl", parseText},
		{&t.text, "text.tmpl", parseText},
		{&t.html, "html.tmpl", parseHTML},
	} {
		// path.Join, not dir+"/": os.DirFS(d) with dir "." must read
		// "subject.tmpl", as "./subject.tmpl" is not a valid fs path.
		at := path.Join(dir, f.name)
		b, err := fs.ReadFile(fsys, at)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrTemplates, at, err)
		}
		if *f.to, err = f.parse(f.name, string(b), funcs); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrTemplates, at, err)
		}
		for _, info := range store.EventTypes() {
			if !f.to.has(info.Name) {
				return nil, fmt.Errorf("%w: %s: no template for event type %q: define one ({{define %q}}…{{end}}) for each of %s",
					ErrTemplates, at, info.Name, info.Name, typeNames())
			}
		}
	}
	for _, info := range store.EventTypes() {
		urgency := []bool{false}
		if info.MayBeUrgent {
			urgency = append(urgency, true)
		}
		for _, urgent := range urgency {
			// To another institution, and to the coordinator itself.
			n := sampleNotice(info.Type, urgent)
			self := n
			self.Event.Recipient = n.Event.Coordinator
			for _, n := range []Notice{n, self} {
				if err := t.try(n); err != nil {
					return nil, fmt.Errorf("%w: %s: event type %q: %v", ErrTemplates, dir, info.Name, err)
				}
			}
		}
	}
	return &t, nil
}

// dispatch is the template "event" of every file: it runs the template
// named by the event's type.
var dispatch = func() string {
	var b strings.Builder
	for i, info := range store.EventTypes() {
		if i > 0 {
			b.WriteString("{{else ")
		} else {
			b.WriteString("{{")
		}
		fmt.Fprintf(&b, "if eq .Type %q}}{{template %q .}}", info.Name, info.Name)
	}
	b.WriteString("{{end}}")
	return b.String()
}()

// parseText parses a text/template file and adds "event" to it.
func parseText(name, src string, funcs map[string]any) (file, error) {
	t, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(src)
	if err == nil {
		_, err = t.New("event").Parse(dispatch)
	}
	return file{name: name, run: t.ExecuteTemplate, has: func(n string) bool { return t.Lookup(n) != nil }}, err
}

// parseHTML parses an html/template file and adds "event" to it.
func parseHTML(name, src string, funcs map[string]any) (file, error) {
	t, err := htmltemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(src)
	if err == nil {
		_, err = t.New("event").Parse(dispatch)
	}
	return file{name: name, run: t.ExecuteTemplate, has: func(n string) bool { return t.Lookup(n) != nil }}, err
}

// try renders n, and its type's template of each file alone, which must
// say something.
func (t *Templates) try(n Notice) error {
	if _, err := t.Render(n); err != nil {
		return err
	}
	typ := n.Event.Type.String()
	d := newData(n)
	for _, f := range []file{t.subject, t.text, t.html} {
		var b strings.Builder
		if err := f.run(&b, typ, d); err != nil {
			return fmt.Errorf("%s: %v", f.name, err)
		}
		if strings.TrimSpace(b.String()) == "" {
			return fmt.Errorf("%s: the template for event type %q says nothing", f.name, typ)
		}
	}
	return nil
}

// typeNames lists the event types' names, for an error.
func typeNames() string {
	var out []string
	for _, info := range store.EventTypes() {
		out = append(out, info.Name)
	}
	return strings.Join(out, ", ")
}

// sampleNotice is a notice of type typ with every field set, for trying
// templates at start-up.
func sampleNotice(typ store.EventType, urgent bool) Notice {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	return Notice{Region: "Voorbeeld", ClientRef: "D-1", Event: store.Event{
		Seq: 1, Type: typ, At: at, Recipient: "a", Urgent: urgent, Coordinator: "b", Rule: "r", Subject: "b", Reason: "ended", Collapsed: 2, Agreement: 3,
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
	Coordinator, Subject, Reason       string
	// Collapsed is, in a summary event, how many events it stands for;
	// 0 in any other.
	Collapsed int
	// Agreement is, in an agreement event, the number of the plan's
	// agreement it is about; 0 in any other.
	Agreement int
	// Rule is the label of the rule that chose the coordinator, as the
	// covenant words it (in the covenant's language, whatever the
	// template's), or its name if it has no label.
	Rule string
	// SelfCoordinator: the recipient is the coordinator the event names
	// ("you are the coordinator", not its own name).
	SelfCoordinator bool
	SubjectLine     string
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
// that nothing can add a mail header. An event of a type that is not in
// [store.EventTypes] has no wording: an error.
func (t *Templates) Render(n Notice) (Message, error) {
	e := n.Event
	if _, ok := e.Type.Info(); !ok {
		return Message{}, fmt.Errorf("notify: render: %w: %s", store.ErrUnknownEventType, e.Type)
	}
	d := newData(n)
	var b bytes.Buffer
	if err := t.subject.run(&b, t.subject.name, d); err != nil {
		return Message{}, fmt.Errorf("notify: subject: %w", err)
	}
	d.SubjectLine = oneLine(b.String())
	m := Message{ID: EventID(e.Recipient, e.Seq), Urgent: e.Urgent, Subject: d.SubjectLine}
	b.Reset()
	if err := t.text.run(&b, t.text.name, d); err != nil {
		return Message{}, fmt.Errorf("notify: text: %w", err)
	}
	m.Text = b.String()
	b.Reset()
	if err := t.html.run(&b, t.html.name, d); err != nil {
		return Message{}, fmt.Errorf("notify: html: %w", err)
	}
	m.HTML = b.String()
	return m, nil
}

// newData is what the templates see of n, institutions by their names.
func newData(n Notice) data {
	name := n.Name
	if name == nil {
		name = func(id string) string { return id }
	}
	e := n.Event
	d := data{
		Type: e.Type.String(), Recipient: name(e.Recipient), ClientRef: n.ClientRef, Region: n.Region,
		Urgent: e.Urgent, Rule: e.Rule, Reason: e.Reason, Collapsed: e.Collapsed,
		Agreement: e.Agreement,
	}
	if e.Rule != "" && n.RuleLabel != nil {
		d.Rule = n.RuleLabel(e.Rule)
	}
	if e.Coordinator != "" {
		d.Coordinator = name(e.Coordinator)
		d.SelfCoordinator = e.Coordinator == e.Recipient
	}
	if e.Subject != "" {
		d.Subject = name(e.Subject)
	}
	for _, o := range e.Others {
		d.Others = append(d.Others, party{Institution: name(o.Institution), Name: o.Contact.Name, Phone: o.Contact.Phone,
			Email: o.Contact.Email, Since: o.Since.Format(time.DateOnly)})
	}
	return d
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
