package store_test

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/vindex-nl/vindex/store"
)

// TestEventTypeTable checks the table of event types: values in order,
// from 1, without gaps; names unique, in the form the API and the
// templates use; an audience for every type; String and ParseEventType
// each other's inverse.
func TestEventTypeTable(t *testing.T) {
	types := store.EventTypes()
	if len(types) == 0 {
		t.Fatal("no event types")
	}
	name := regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
	seen := map[string]bool{}
	for i, info := range types {
		if want := store.EventType(i + 1); info.Type != want {
			t.Errorf("row %d is type %d, want %d: the table is in the order of the values, from 1, without gaps", i, info.Type, want)
		}
		if !name.MatchString(info.Name) || seen[info.Name] {
			t.Errorf("type %d: name %q is malformed or used twice", info.Type, info.Name)
		}
		seen[info.Name] = true
		if info.Audience == "" {
			t.Errorf("%s: no audience", info.Name)
		}
		if got, ok := info.Type.Info(); !ok || got != info {
			t.Errorf("%s: Info() = %+v, %v", info.Name, got, ok)
		}
		if info.Type.String() != info.Name {
			t.Errorf("type %d: String() = %q, want %q", info.Type, info.Type.String(), info.Name)
		}
		if got, err := store.ParseEventType(info.Name); err != nil || got != info.Type {
			t.Errorf("ParseEventType(%q) = %d, %v", info.Name, got, err)
		}
	}
	unknown := types[len(types)-1].Type + 1
	if _, ok := unknown.Info(); ok || unknown.String() != fmt.Sprintf("event(%d)", unknown) {
		t.Errorf("an unknown type: Info ok %v, String %q", ok, unknown.String())
	}
	if _, err := store.ParseEventType("escalated"); !errors.Is(err, store.ErrUnknownEventType) {
		t.Errorf("ParseEventType of an unknown name: %v", err)
	}
	types[0].Name = "changed"
	if store.EventTypes()[0].Name == "changed" {
		t.Error("EventTypes returns the table itself, not a copy")
	}
}

// TestEventTypeNames pins the names: they are the API's and the
// webhooks' "type", which client systems switch on.
func TestEventTypeNames(t *testing.T) {
	for typ, want := range map[store.EventType]string{
		store.EventMatch: "match", store.EventCoordinator: "coordinator", store.EventNoMatch: "no-match",
		store.EventCaseClosed: "case-closed", store.EventEnded: "ended", store.EventRemoved: "removed",
		store.EventSummary: "summary",
	} {
		if typ.String() != want {
			t.Errorf("type %d is %q, want %q", typ, typ.String(), want)
		}
	}
}
