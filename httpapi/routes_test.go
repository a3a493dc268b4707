package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
)

// A known path with another method answers 405 with the methods the route
// table gives it; an unknown path 404.
func TestRouteTableAllow(t *testing.T) {
	cov, err := rules.Load(strings.NewReader("name: t\ninstitutions:\n  - {id: wij, name: WIJ, type: wij-team, may_coordinate: true}\nrules:\n  - {name: any, assign: {any: true}}\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Matcher: &matcher.Matcher{}, Covenant: cov, AuditCheckpoint: func() []byte { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, allow string }{
		{"GET", "/v1/registrations", "POST"},
		{"POST", "/v1/registrations/rabc/x", ""},
		{"GET", "/v1/registrations/raaaq/end", "POST"},
		{"POST", "/v1/registrations/raaaq", "DELETE, PATCH"},
		{"POST", "/v1/registrations/raaaq/letter", "GET, HEAD"},
		{"PUT", "/v1/lookups", "POST"},
		{"GET", "/v1/cases/close", "POST"},
		{"GET", "/v1/deaths", "POST"},
		{"GET", "/v1/objections", "POST"},
		{"GET", "/v1/subject-access", "POST"},
		{"POST", "/v1/events", "GET, HEAD"},
		{"DELETE", "/v1/stats", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
		{"DELETE", "/readyz", "GET, HEAD"},
		{"POST", "/openapi.yaml", "GET, HEAD"},
		{"GET", "/v2/nothing", ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		want := http.StatusMethodNotAllowed
		if tc.allow == "" {
			want = http.StatusNotFound
		}
		if w.Code != want || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q; want %d, Allow %q", tc.method, tc.path, w.Code, w.Header().Get("Allow"), want, tc.allow)
		}
	}
	// Every route of the table answers its own method (healthz needs no
	// credentials; the API routes ask for them).
	for _, rt := range h.routes() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(rt.method, strings.ReplaceAll(rt.path, "{id}", "raaaq"), nil))
		if w.Code == http.StatusMethodNotAllowed || w.Code == http.StatusNotFound {
			t.Errorf("%s %s: %d", rt.method, rt.path, w.Code)
		}
	}
}
