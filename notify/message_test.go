package notify_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/store"
)

var names = map[string]string{
	"ggd-groningen": "GGD Groningen", "wij-groningen": "WIJ Groningen", "school-example-lyceum": "Voorbeeldlyceum",
}

func name(id string) string { return names[id] }

func notice(typ store.EventType) notify.Notice {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	return notify.Notice{Region: "Groningen", ClientRef: "DOS-2026-0042", Name: name, Event: store.Event{
		Seq: 17, Type: typ, At: at, Recipient: "ggd-groningen", Registration: store.NewID(),
		Coordinator: "wij-groningen", Rule: "wij-team-stad-groningen", Subject: "school-example-lyceum", Reason: "ended",
		Others: []store.Party{{Registration: store.NewID(), Institution: "wij-groningen", Kind: store.KindInvolvement, Since: at,
			Contact: store.Contact{Name: "M. de Vries", Phone: "050-7654321", Email: "m.devries@wij.example"}}},
	}}
}

func TestRenderEveryEventType(t *testing.T) {
	for _, lang := range notify.Languages {
		tm, err := notify.BuiltinTemplates(lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			typ  store.EventType
			want map[string][]string // language -> words the subject and text must hold
		}{
			{store.EventMatch, map[string][]string{"nl": {"match met WIJ Groningen", "M. de Vries", "050-7654321", "m.devries@wij.example", "2026-03-02"},
				"en": {"match with WIJ Groningen", "M. de Vries", "050-7654321", "m.devries@wij.example"}}},
			{store.EventCoordinator, map[string][]string{"nl": {"procescoördinatie bij WIJ Groningen"}, "en": {"WIJ Groningen coordinates"}}},
			{store.EventNoMatch, map[string][]string{"nl": {"het initiatief ligt bij u"}, "en": {"the initiative is yours"}}},
			{store.EventCaseClosed, map[string][]string{"nl": {"casus gesloten"}, "en": {"case closed"}}},
			{store.EventEnded, map[string][]string{"nl": {"beëindigd door Voorbeeldlyceum"}, "en": {"ended by Voorbeeldlyceum"}}},
			{store.EventRemoved, map[string][]string{"nl": {"registratie verwijderd"}, "en": {"registration removed"}}},
		} {
			n := notice(tc.typ)
			m, err := tm.Render(n)
			if err != nil {
				t.Fatalf("%s %s: %v", lang, tc.typ, err)
			}
			all := m.Subject + "\n" + m.Text
			for _, w := range append(tc.want[lang], "DOS-2026-0042", "GGD Groningen") {
				if !strings.Contains(all, w) {
					t.Errorf("%s %s: no %q in\n%s", lang, tc.typ, w, all)
				}
			}
			if !strings.Contains(m.HTML, "DOS-2026-0042") || !strings.Contains(m.HTML, "<html") {
				t.Errorf("%s %s: HTML part %q", lang, tc.typ, m.HTML)
			}
			if m.ID != "vx_ggd-groningen_17" || strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("%s %s: ID %q, subject %q", lang, tc.typ, m.ID, m.Subject)
			}
			// No identifier of the youth's records: not the registration
			// IDs, which are the only youth-related values in an event.
			for _, id := range []store.ID{n.Event.Registration, n.Event.Others[0].Registration} {
				if strings.Contains(all+m.HTML, id.String()) {
					t.Errorf("%s %s: a registration ID in the message", lang, tc.typ)
				}
			}
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

func TestOperatorTemplates(t *testing.T) {
	tm, err := notify.LoadTemplates(os.DirFS("testdata"), "custom")
	if err != nil {
		t.Fatal(err)
	}
	m, err := tm.Render(notice(store.EventNoMatch))
	if err != nil || m.Subject != "Index Groningen: no-match" || m.Text != "no-match for GGD Groningen, ref DOS-2026-0042\n" {
		t.Fatalf("custom templates: %q %q %v", m.Subject, m.Text, err)
	}
	_, err = notify.LoadTemplates(os.DirFS("testdata"), "broken")
	if !errors.Is(err, notify.ErrTemplates) || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "Nonexistent") {
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
