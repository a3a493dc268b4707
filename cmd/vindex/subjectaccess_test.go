package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/httpapi"
)

// TestSubjectAccessEndToEnd: a youth registered by two institutions over
// HTTPS, one of which ended its registration, is listed by vindex
// subject-access through the API for the municipality, live and archived;
// another municipality is told "not involved". With the server stopped the
// same command against the data directory gives the same registrations.
// Nothing printed holds the BSN or the birth date.
func TestSubjectAccessEndToEnd(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "serve", "--dev", "--data", "data", "--listen", "127.0.0.1:0")
	youth := validBSN(t, 77)
	for _, inst := range []string{"wij-groningen", "ggd-groningen"} {
		c := devClient(t, dir, "data", p, inst)
		s, b, err := c.post("/v1/registrations", httpapi.RegistrationRequest{BSN: youth, BirthDate: "2019-06-30", Municipality: "GM0014",
			Kind: "involvement", Contact: httpapi.ContactJSON{Name: "E. de Vries", Email: "e.devries@example.org"}})
		reg := must[httpapi.RegistrationResponse](t, s, b, err, 201)
		if inst == "ggd-groningen" {
			if s, b, err := c.post("/v1/registrations/"+reg.ID+"/end", httpapi.EndRequest{}); err != nil || s != 204 {
				t.Fatalf("end: %d %s %v", s, b, err)
			}
		}
	}
	// A lookup by WIJ, and one by an institution not involved (refused):
	// subject access lists both as accesses, with the reports.
	for inst, want := range map[string]int{"wij-groningen": 200, "sociaal-team-hogeland": 404} {
		if s, b, err := devClient(t, dir, "data", p, inst).post("/v1/lookups", httpapi.BSNRequest{BSN: youth}); err != nil || s != want {
			t.Fatalf("lookup by %s: %d %s %v", inst, s, b, err)
		}
	}
	stdin := youth + " 2019-06-30\n"
	api := []string{"--url", "https://" + p.addr, "--token-file", "data/dev-tokens.txt", "--cacert", "data/dev-tls.crt"}

	in := writeFile(t, dir, "access.txt", "# the youth who asked\n"+stdin)
	out, errOut, code := runMunicipal(t, dir, "subject-access", "", append(api, "--as", "gemeente-groningen", "--input", in)...)
	if code != 0 || !strings.Contains(out, "Aan de ouders/verzorgers van [naam jeugdige]\n") ||
		!strings.Contains(out, "- WIJ Groningen (wijkteam)\n") || !strings.Contains(out, "Gearchiveerde registraties\n") {
		t.Fatalf("the letter through the API: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runMunicipal(t, dir, "subject-access", stdin, append(api, "--as", "gemeente-groningen", "--json")...)
	var byAPI httpapi.SubjectAccessResponse
	if err := json.Unmarshal([]byte(out), &byAPI); code != 0 || err != nil {
		t.Fatalf("--json through the API: %d %v\n%s%s", code, err, out, errOut)
	}
	if got := statuses(byAPI); !slices.Equal(got, []string{"wij-groningen active", "ggd-groningen archived"}) {
		t.Fatalf("registrations through the API: %v", got)
	}
	var accesses []string
	for _, x := range byAPI.Accesses {
		accesses = append(accesses, x.Institution+" "+x.Verb+" "+x.Outcome)
	}
	// The lookups' order is the map's; the first request for access is
	// the text one above.
	if len(accesses) != 5 || !slices.Equal(accesses[:2], []string{"wij-groningen register ok", "ggd-groningen register ok"}) ||
		!slices.Contains(accesses, "wij-groningen lookup ok") || !slices.Contains(accesses, "sociaal-team-hogeland lookup not_involved") ||
		accesses[4] != "gemeente-groningen subject-access ok" {
		t.Fatalf("accesses through the API: %q", accesses)
	}
	_, errOut, code = runMunicipal(t, dir, "subject-access", stdin, append(api, "--as", "gemeente-het-hogeland")...)
	if code != 1 || !strings.Contains(errOut, "vindex: not involved: ") {
		t.Fatalf("another municipality: %d %s", code, errOut)
	}
	_, errOut, code = runMunicipal(t, dir, "subject-access", stdin, append(api, "--as", "wij-groningen")...)
	if code != 1 || !strings.Contains(errOut, "403 forbidden") {
		t.Fatalf("a care provider: %d %s", code, errOut)
	}
	for _, s := range []string{p.stdout.String(), p.stderr.String()} {
		if strings.Contains(s, youth) || strings.Contains(s, "2019-06-30") {
			t.Fatal("the server's output holds the BSN or the birth date")
		}
	}

	// The store is the server's while it runs; stopped, the data directory
	// answers the same.
	if _, errOut, code := runMunicipal(t, dir, "subject-access", stdin, "--dev", "--data", "data", "--as", "gemeente-groningen"); code != 1 || !strings.Contains(errOut, "is a server running?") {
		t.Fatalf("against the data directory of a running server: %d %s", code, errOut)
	}
	p.stop(t)
	out, errOut, code = runMunicipal(t, dir, "subject-access", stdin, "--dev", "--data", "data", "--as", "gemeente-groningen", "--json")
	var byData httpapi.SubjectAccessResponse
	if err := json.Unmarshal([]byte(out), &byData); code != 0 || err != nil {
		t.Fatalf("--json against the data directory: %d %v\n%s%s", code, err, out, errOut)
	}
	if !reflect.DeepEqual(byData.Registrations, byAPI.Registrations) || byData.Letter.HTML == "" {
		t.Fatalf("the data directory's answer differs from the API's:\n%+v\n%+v", byData.Registrations, byAPI.Registrations)
	}
	if strings.Contains(out+errOut, youth) || strings.Contains(out+errOut, "2019-06-30") {
		t.Fatal("subject-access printed the BSN or the birth date")
	}
}

// statuses lists "institution status" of each registration of a.
func statuses(a httpapi.SubjectAccessResponse) []string {
	var out []string
	for _, r := range a.Registrations {
		out = append(out, r.Institution+" "+r.Status)
	}
	return out
}
