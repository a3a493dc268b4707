package notify

import (
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/store"
)

// TestBuiltinTemplatesEveryEventType: every event type of the table has
// its own template in each of the built-in files (subject, text, html) of
// every language, which says something, says something else than the
// other types' templates, and is worded in its own language.
func TestBuiltinTemplatesEveryEventType(t *testing.T) {
	if len(Languages) < 2 {
		t.Fatalf("languages %v: want at least nl and en", Languages)
	}
	byLang := map[string]*Templates{}
	for _, lang := range Languages {
		tm, err := BuiltinTemplates(lang)
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		byLang[lang] = tm
	}
	files := func(tm *Templates) []file { return []file{tm.subject, tm.text, tm.html} }
	for i := range files(byLang[Languages[0]]) {
		said := map[string]string{} // what a type's template says -> lang and type
		for _, info := range store.EventTypes() {
			d := newData(sampleNotice(info.Type, info.MayBeUrgent))
			for _, lang := range Languages {
				f := files(byLang[lang])[i]
				if !f.has(info.Name) {
					t.Errorf("%s/%s: no template %q", lang, f.name, info.Name)
					continue
				}
				var b strings.Builder
				if err := f.run(&b, info.Name, d); err != nil {
					t.Errorf("%s/%s: %s: %v", lang, f.name, info.Name, err)
					continue
				}
				s := strings.TrimSpace(b.String())
				if s == "" {
					t.Errorf("%s/%s: %s says nothing", lang, f.name, info.Name)
				}
				if other, ok := said[s]; ok {
					t.Errorf("%s/%s: %s says what %s says: %q", lang, f.name, info.Name, other, s)
				}
				said[s] = lang + " " + info.Name
			}
		}
	}
}
