package notify_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
)

var names = map[string]string{
	"ggd-groningen": "GGD Groningen", "wij-groningen": "WIJ Groningen", "school-example-lyceum": "Voorbeeldlyceum", "gemeente-het-hogeland": "Gemeente Het Hogeland",
}

func name(id string) string { return names[id] }

func notice(typ store.EventType) notify.Notice {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	collapsed := 0
	if typ == store.EventSummary {
		collapsed = 12
	}
	return notify.Notice{Region: "Groningen", ClientRef: "DOS-2026-0042", Name: name, Event: store.Event{
		Seq: 17, Type: typ, At: at, Recipient: "ggd-groningen", Registration: store.NewID(),
		Coordinator: "wij-groningen", Rule: "wij-team-stad-groningen", Subject: "school-example-lyceum", Reason: "ended",
		Collapsed: collapsed,
		Others: []store.Party{{Registration: store.NewID(), Institution: "wij-groningen", Kind: store.KindInvolvement, Since: at,
			Contact: store.Contact{Name: "M. de Vries", Phone: "050-7654321", Email: "m.devries@wij.example"}}},
	}}
}

// wording pins words of the built-in templates, by event type and
// language, that the subject and text must hold. A type without an entry
// gets only the checks every type gets.
var wording = map[store.EventType]map[string][]string{
	store.EventMatch: {"nl": {"match met WIJ Groningen", "M. de Vries", "050-7654321", "m.devries@wij.example", "2026-03-02"},
		"en": {"match with WIJ Groningen", "M. de Vries", "050-7654321", "m.devries@wij.example"}},
	store.EventCoordinator: {"nl": {"procescoördinatie bij WIJ Groningen"}, "en": {"WIJ Groningen coordinates"}},
	store.EventNoMatch:     {"nl": {"het initiatief ligt bij u"}, "en": {"the initiative is yours"}},
	store.EventCaseClosed:  {"nl": {"casus gesloten"}, "en": {"case closed"}},
	store.EventEnded:       {"nl": {"beëindigd door Voorbeeldlyceum"}, "en": {"ended by Voorbeeldlyceum"}},
	store.EventRemoved:     {"nl": {"registratie verwijderd"}, "en": {"registration removed"}},
	store.EventSummary: {"nl": {"samenvatting van 12 wijzigingen", "M. de Vries", "050-7654321", "Procescoördinator: WIJ Groningen"},
		"en": {"summary of 12 changes", "M. de Vries", "050-7654321", "Coordinator: WIJ Groningen"}},
	store.EventInformDue: {"nl": {"herinnering: informeer de ouders en/of de jeugdige", "kenmerk DOS-2026-0042", "termijn daarvoor is verstreken", "één keer"},
		"en": {"reminder: inform the parents and/or the youth", "reference DOS-2026-0042", "time for that has passed", "once"}},
}

func TestRenderEveryEventType(t *testing.T) {
	for _, lang := range notify.Languages {
		tm, err := notify.BuiltinTemplates(lang)
		if err != nil {
			t.Fatal(err)
		}
		subjects := map[string]store.EventType{}
		for _, info := range store.EventTypes() {
			n := notice(info.Type)
			m, err := tm.Render(n)
			if err != nil {
				t.Fatalf("%s %s: %v", lang, info.Name, err)
			}
			if other, ok := subjects[m.Subject]; ok {
				t.Errorf("%s: %s and %s have the same subject %q", lang, other, info.Name, m.Subject)
			}
			subjects[m.Subject] = info.Type
			all := m.Subject + "\n" + m.Text
			for _, w := range append(wording[info.Type][lang], "DOS-2026-0042", "GGD Groningen") {
				if !strings.Contains(all, w) {
					t.Errorf("%s %s: no %q in\n%s", lang, info.Name, w, all)
				}
			}
			if !strings.Contains(m.HTML, "DOS-2026-0042") || !strings.Contains(m.HTML, "<html") {
				t.Errorf("%s %s: HTML part %q", lang, info.Name, m.HTML)
			}
			if m.ID != "vx_ggd-groningen_17" || strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("%s %s: ID %q, subject %q", lang, info.Name, m.ID, m.Subject)
			}
			// No identifier of the youth's records: not the registration
			// IDs, which are the only youth-related values in an event.
			for _, id := range []store.ID{n.Event.Registration, n.Event.Others[0].Registration} {
				if strings.Contains(all+m.HTML, id.String()) {
					t.Errorf("%s %s: a registration ID in the message", lang, info.Name)
				}
			}
		}
	}
}

func TestRenderUnknownEventType(t *testing.T) {
	tm, err := notify.BuiltinTemplates("nl")
	if err != nil {
		t.Fatal(err)
	}
	types := store.EventTypes()
	n := notice(types[len(types)-1].Type + 1)
	if m, err := tm.Render(n); !errors.Is(err, store.ErrUnknownEventType) {
		t.Errorf("an event of an unknown type: %q, %v", m.Subject, err)
	}
}

// The coordinator's own mail says that it coordinates, in the second
// person; the others' mails name it.
// A death is worded as one: every registration ended, recorded by the
// municipality named, not "the municipality is no longer involved".
func TestRenderDeath(t *testing.T) {
	for lang, want := range map[string][2]string{
		"nl": {"jeugdige overleden", "vastgelegd door Gemeente Het Hogeland"},
		"en": {"youth died", "recorded by Gemeente Het Hogeland"},
	} {
		tm, err := notify.BuiltinTemplates(lang)
		if err != nil {
			t.Fatal(err)
		}
		n := notice(store.EventEnded)
		n.Event.Reason, n.Event.Subject = "death", "gemeente-het-hogeland"
		m, err := tm.Render(n)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Subject, want[0]) || !strings.Contains(m.Text, want[1]) || !strings.Contains(m.HTML, want[1]) {
			t.Errorf("%s: %q / %q", lang, m.Subject, m.Text)
		}
		if strings.Contains(m.Text, "niet langer betrokken") || strings.Contains(m.Text, "no longer involved") {
			t.Errorf("%s: the municipality worded as an involvement: %q", lang, m.Text)
		}
	}
}

// A summary says how many changes it sums up and how things stand now: who
// else is involved, with their contacts, and who coordinates; one change
// is worded as one. Like every message, it names nothing of the youth.
func TestRenderSummary(t *testing.T) {
	for lang, want := range map[string]struct{ subject, one, text, coordinator, none string }{
		"nl": {"samenvatting van 12 wijzigingen rond uw cliënt", "samenvatting van 1 wijziging rond", "12 wijzigingen die u nog niet ontving",
			"Procescoördinator: WIJ Groningen (regel: wij-team-stad-groningen)", "geen andere instelling betrokken"},
		"en": {"summary of 12 changes about your client", "summary of 1 change about", "12 changes you did not receive",
			"Coordinator: WIJ Groningen (rule: wij-team-stad-groningen)", "No other institution is involved"},
	} {
		tm, err := notify.BuiltinTemplates(lang)
		if err != nil {
			t.Fatal(err)
		}
		n := notice(store.EventSummary)
		n.Event.Recipient, n.Event.Urgent = "school-example-lyceum", true
		m, err := tm.Render(n)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Subject, want.subject) || !m.Urgent {
			t.Errorf("%s: subject %q, urgent %v", lang, m.Subject, m.Urgent)
		}
		for _, part := range []string{m.Text, m.HTML} {
			for _, w := range []string{"12", want.coordinator, "WIJ Groningen", "M. de Vries", "050-7654321", "m.devries@wij.example", "DOS-2026-0042"} {
				if !strings.Contains(strings.ReplaceAll(strings.ReplaceAll(part, "<strong>", ""), "</strong>", ""), w) {
					t.Errorf("%s: no %q in\n%s", lang, w, part)
				}
			}
		}
		if !strings.Contains(m.Text, want.text) {
			t.Errorf("%s: the count is not worded: %q", lang, m.Text)
		}
		n.Event.Collapsed, n.Event.Others, n.Event.Coordinator, n.Event.Rule = 1, nil, "", ""
		if m, err = tm.Render(n); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Subject, want.one) || !strings.Contains(m.Text, want.none) || !strings.Contains(m.HTML, want.none) {
			t.Errorf("%s: one change, nobody else involved: %q / %q", lang, m.Subject, m.Text)
		}
	}
}

func TestRenderCoordinatorToItself(t *testing.T) {
	for lang, want := range map[string][2]string{
		"nl": {"u bent procescoördinator", "bent u procescoördinator"},
		"en": {"you coordinate", "you are the coordinator"},
	} {
		tm, err := notify.BuiltinTemplates(lang)
		if err != nil {
			t.Fatal(err)
		}
		n := notice(store.EventCoordinator)
		n.Event.Recipient = n.Event.Coordinator
		m, err := tm.Render(n)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Subject, want[0]) || !strings.Contains(m.Text, want[1]) {
			t.Errorf("%s: to the coordinator itself: %q / %q", lang, m.Subject, m.Text)
		}
		if strings.Contains(m.Subject, "WIJ Groningen") || strings.Contains(m.Text, "toegewezen aan WIJ") || strings.Contains(m.Text, "assigned to WIJ") {
			t.Errorf("%s: the coordinator's own mail names it in the third person: %q / %q", lang, m.Subject, m.Text)
		}
		other, err := tm.Render(notice(store.EventCoordinator))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(other.Subject, "WIJ Groningen") {
			t.Errorf("%s: another's mail does not name the coordinator: %q", lang, other.Subject)
		}
	}
}

// A match names the coordinator and the rule by its label, not its name;
// to the coordinator itself, in the second person. A rule without a label
// is named by its name.
func TestRenderMatchNamesCoordinatorAndRuleLabel(t *testing.T) {
	const slug, label = "wij-team-stad-groningen", "In de stad Groningen coördineert het WIJ-team"
	labels := func(rule string) string {
		if rule == slug {
			return label
		}
		return rule
	}
	for lang, want := range map[string]struct{ other, self [2]string }{
		"nl": {[2]string{"procescoördinatie bij WIJ Groningen", "Procescoördinator: WIJ Groningen (regel: " + label + ")"},
			[2]string{"u bent procescoördinator", "U bent procescoördinator (regel: " + label + ")"}},
		"en": {[2]string{"WIJ Groningen coordinates", "Coordinator: WIJ Groningen (rule: " + label + ")"},
			[2]string{"you coordinate", "You are the coordinator (rule: " + label + ")"}},
	} {
		tm, err := notify.BuiltinTemplates(lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, self := range []bool{false, true} {
			n := notice(store.EventMatch)
			n.RuleLabel = labels
			w := want.other
			if self {
				n.Event.Recipient, w = n.Event.Coordinator, want.self
			}
			m, err := tm.Render(n)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.Subject, w[0]) || !strings.Contains(m.Text, w[1]) || !strings.Contains(m.HTML, label) {
				t.Errorf("%s, to the coordinator itself %v: want %q and %q in %q / %q / %q", lang, self, w[0], w[1], m.Subject, m.Text, m.HTML)
			}
			if strings.Contains(m.Subject+m.Text+m.HTML, slug) {
				t.Errorf("%s, to the coordinator itself %v: the rule's name instead of its label: %q / %q", lang, self, m.Subject, m.Text)
			}
			if self && (strings.Contains(m.Text, "Coordinator: WIJ") || strings.Contains(m.Text, "Procescoördinator: WIJ")) {
				t.Errorf("%s: the coordinator's own match mail names it in the third person: %q", lang, m.Text)
			}
		}
		// Without labels (a covenant that gives none), the rule's name.
		m, err := tm.Render(notice(store.EventMatch))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, slug) {
			t.Errorf("%s: without a label, the rule is not named: %q", lang, m.Text)
		}
	}
}

func TestRenderUrgentAndEscaping(t *testing.T) {
	tm, err := notify.BuiltinTemplates("nl")
	if err != nil {
		t.Fatal(err)
	}
	n := notice(store.EventMatch)
	n.Event.Urgent = true
	n.ClientRef = "A\r\nBcc: evil@example.org"
	n.Event.Others[0].Contact.Name = `<script>alert(1)</script>`
	m, err := tm.Render(n)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Subject, "[SPOED]") || !m.Urgent {
		t.Errorf("urgent not marked: %q", m.Subject)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("a line break reached the subject: %q", m.Subject)
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Errorf("the HTML part does not escape a contact name")
	}
}

// operatorTemplates writes a template folder as an operator would: a
// frame per file and one template per event type, which says the type's
// name.
func operatorTemplates(t *testing.T) string {
	dir := t.TempDir()
	var types strings.Builder
	for _, info := range store.EventTypes() {
		fmt.Fprintf(&types, "{{define %q}}{{.Type}}{{end}}", info.Name)
	}
	for name, frame := range map[string]string{
		"subject.tmpl": `Index {{.Region}}: {{template "event" .}}`,
		"text.tmpl":    `{{template "event" .}} for {{.Recipient}}{{with .ClientRef}}, ref {{.}}{{end}}` + "\n",
		"html.tmpl":    `<p>{{template "event" .}}</p>`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(frame+types.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// builtinWith returns the built-in English templates as a folder named
// dir, with old replaced by new in file.
func builtinWith(t *testing.T, dir, file, old, new string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, name := range []string{"subject.tmpl", "text.tmpl", "html.tmpl"} {
		b, err := os.ReadFile(filepath.Join("templates", "en", name))
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		if name == file {
			if !strings.Contains(src, old) {
				t.Fatalf("no %q in %s", old, name)
			}
			src = strings.Replace(src, old, new, 1)
		}
		fsys[dir+"/"+name] = &fstest.MapFile{Data: []byte(src)}
	}
	return fsys
}

func TestOperatorTemplates(t *testing.T) {
	// As vindex serve --mail-templates DIR loads them.
	tm, err := notify.LoadTemplates(os.DirFS(operatorTemplates(t)), ".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := tm.Render(notice(store.EventNoMatch))
	if err != nil || m.Subject != "Index Groningen: no-match" || m.Text != "no-match for GGD Groningen, ref DOS-2026-0042\n" {
		t.Fatalf("custom templates: %q %q %v", m.Subject, m.Text, err)
	}
	if _, err := notify.LoadTemplates(builtinWith(t, "broken", "subject.tmpl", ".Coordinator", ".Nonexistent"), "broken"); !errors.Is(err, notify.ErrTemplates) ||
		!strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "Nonexistent") {
		t.Errorf("a template naming an unknown field: %v", err)
	}
	_, err = notify.LoadTemplates(os.DirFS("testdata"), "missing")
	if !errors.Is(err, notify.ErrTemplates) || !strings.Contains(err.Error(), "missing/subject.tmpl") {
		t.Errorf("a missing folder: %v", err)
	}
	if _, err := notify.BuiltinTemplates("fy"); err == nil {
		t.Error("an unknown language was accepted")
	}
}

// TestOperatorTemplatesEveryType: a folder that lacks an event type's
// template, or whose template for a type says nothing, fails at start-up,
// naming the file and the type; so does one that fails only for an
// urgent event of a type that can be urgent.
func TestOperatorTemplatesEveryType(t *testing.T) {
	last := store.EventTypes()[len(store.EventTypes())-1].Name
	for _, tc := range []struct {
		name, file, old, new string
		want                 []string
	}{
		{"missing", "text.tmpl", fmt.Sprintf("{{define %q}}", last), `{{define "other"}}`,
			[]string{"text.tmpl", fmt.Sprintf("no template for event type %q", last)}},
		{"silent", "html.tmpl", fmt.Sprintf("{{define %q}}", last), fmt.Sprintf("{{define %q}} {{end}}{{define \"old\"}}", last),
			[]string{"html.tmpl", fmt.Sprintf("%q says nothing", last)}},
		{"urgent", "subject.tmpl", `{{define "match"}}`, `{{define "match"}}{{if .Urgent}}{{.Nonexistent}}{{end}}`,
			[]string{"match", "Nonexistent"}},
	} {
		_, err := notify.LoadTemplates(builtinWith(t, tc.name, tc.file, tc.old, tc.new), tc.name)
		if !errors.Is(err, notify.ErrTemplates) {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: no %q in %v", tc.name, w, err)
			}
		}
	}
}
