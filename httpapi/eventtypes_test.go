package httpapi_test

import (
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/store"
)

// TestOpenAPIEventTypes: the enum of the Event schema's type in
// openapi.yaml lists exactly the names of the table of event types, in
// its order, so that a client generated from the document knows every
// type the API answers with.
func TestOpenAPIEventTypes(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	ev := doc.Components.Schemas["Event"]
	if ev == nil || ev.Value == nil || ev.Value.Properties["type"] == nil {
		t.Fatal("openapi.yaml has no Event schema with a type")
	}
	var enum []string
	for _, v := range ev.Value.Properties["type"].Value.Enum {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("Event type enum: %v is not a string", v)
		}
		enum = append(enum, s)
	}
	var want []string
	for _, info := range store.EventTypes() {
		want = append(want, info.Name)
	}
	if !slices.Equal(enum, want) {
		t.Errorf("Event type enum in openapi.yaml is %v; the table of event types (store/events.go) has %v", enum, want)
	}
}
