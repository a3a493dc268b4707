package httpapi_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
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

// A summary event is served as the Event schema has it (the contract
// checker validates every answer): type "summary" with the count of the
// events it stands for in "collapsed", which no other event has.
func TestSummaryEventJSON(t *testing.T) {
	e := newEnv(t)
	for _, r := range []struct {
		who  as
		kind string
	}{{byToken(school), "signal"}, {byToken(ggd), "involvement"}} {
		if resp := e.do(r.who, "POST", "/v1/registrations", report(t, 1, r.kind)); resp.status != http.StatusCreated {
			t.Fatalf("%s: %d %s", r.kind, resp.status, resp.body)
		}
	}
	first := e.do(byToken(school), "GET", "/v1/events", nil)
	if bytes.Contains(first.body, []byte(`"collapsed"`)) {
		t.Fatalf("events other than a summary have a count: %s", first.body)
	}
	before := decodeAs[httpapi.EventsResponse](t, first)
	held, err := e.store.Events(t.Context(), school, 0, 100)
	if err != nil || len(held) == 0 || held[len(held)-1].Type != store.EventMatch {
		t.Fatalf("school's stored events: %+v %v", held, err)
	}
	match := held[len(held)-1]
	b, err := identity.ParseBSN(bsn(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	youth, err := e.ps.Youth(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Update(t.Context(), youth.All, func(tx store.Tx) error {
		tx.Append(store.Event{Type: store.EventSummary, At: match.At, Recipient: school, Registration: match.Registration,
			Urgent: true, Others: match.Others, Coordinator: match.Coordinator, Rule: match.Rule, Collapsed: 5})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := decodeAs[httpapi.EventsResponse](t, e.do(byToken(school), "GET", "/v1/events?after="+itoa(before.Next), nil))
	if len(got.Events) != 1 {
		t.Fatalf("school's events after %d: %+v", before.Next, got)
	}
	ev := got.Events[0]
	if ev.Type != "summary" || ev.Collapsed != 5 || !ev.Urgent || ev.Registration != match.Registration.String() ||
		len(ev.Others) != 1 || ev.Others[0].Institution != ggd {
		t.Fatalf("summary event = %+v", ev)
	}
}
