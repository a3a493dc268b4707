package client

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vindex-nl/vindex/httpapi"
)

// The SDK's JSON types are its own, so that a vendor's binary does not
// link the index; here they are held to httpapi's, field for field (name,
// omitempty, JSON type, nested), so that neither can change alone.
func TestTypesMirrorHTTPAPI(t *testing.T) {
	for _, c := range []struct{ sdk, api any }{
		{registrationBody{}, httpapi.RegistrationRequest{}},
		{Result{}, httpapi.RegistrationResponse{}},
		{View{}, httpapi.ViewResponse{}},
		{youthBody{}, httpapi.BSNRequest{}},
		{declineBody{}, httpapi.DeclineRequest{}},
		{handoverBody{}, httpapi.HandoverRequest{}},
		{escalationBody{}, httpapi.EscalationRequest{}},
		{EndRequest{}, httpapi.EndRequest{}},
		{removeBody{}, httpapi.RemoveRequest{}},
		{InformRequest{}, httpapi.InformRequest{}},
		{objectionBody{}, httpapi.ObjectionRequest{}},
		{planBody{}, httpapi.PlanRequest{}},
		{agreementBody{}, httpapi.AgreementRequest{}},
		{agreementAnswer{}, httpapi.AgreementResponse{}},
		{agreementDoneBody{}, httpapi.AgreementDoneRequest{}},
		{subjectAccessBody{}, httpapi.SubjectAccessRequest{}},
		{SubjectAccess{}, httpapi.SubjectAccessResponse{}},
		{Events{}, httpapi.EventsResponse{}},
		{Stats{}, httpapi.StatsResponse{}},
		{health{}, httpapi.Health{}},
		{problem{}, httpapi.Problem{}},
	} {
		st, at := reflect.TypeOf(c.sdk), reflect.TypeOf(c.api)
		got, want := shape(st, ""), shape(at, "")
		if len(want) == 0 {
			t.Fatalf("%v: no JSON fields found", at)
		}
		for _, f := range want {
			if !slices.Contains(got, f) {
				t.Errorf("%v lacks %s of %v", st, f, at)
			}
		}
		for _, f := range got {
			if !slices.Contains(want, f) {
				t.Errorf("%v has %s, which %v has not", st, f, at)
			}
		}
	}
}

// shape lists t's JSON fields, nested ones by their dotted path, each as
// "path kind[,omitempty]".
func shape(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			out = append(out, shape(f.Type, prefix)...)
			continue
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		path := prefix + name
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice && ft != reflect.TypeOf(json.RawMessage{}) {
			if ft.Kind() == reflect.Slice {
				path += "[]"
			}
			ft = ft.Elem()
		}
		out = append(out, path+" "+jsonKind(ft)+","+opts)
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}) {
			out = append(out, shape(ft, path+".")...)
		}
	}
	return out
}

// jsonKind is how a Go type goes in JSON: a time.Time is a string.
func jsonKind(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(time.Time{}):
		return "string"
	case t == reflect.TypeOf(json.RawMessage{}):
		return "raw"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64:
		return "number"
	case reflect.Struct:
		return "object"
	case reflect.Interface:
		return "any"
	}
	return t.Kind().String()
}

// Every problem code the sentinels stand for is one the API description
// lists.
func TestSentinelCodesAreTheAPIs(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	enum := doc.Components.Schemas["Problem"].Value.Properties["code"].Value.Enum
	if len(enum) < 10 {
		t.Fatalf("openapi.yaml lists %d problem codes", len(enum))
	}
	for _, c := range apiCodes {
		for _, code := range c.codes {
			if !slices.Contains(enum, any(code)) {
				t.Errorf("%v stands for %q, which openapi.yaml does not list", c.err, code)
			}
		}
	}
}
