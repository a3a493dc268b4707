package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// FuzzRegister posts arbitrary bodies to POST /v1/registrations of a real
// handler (Pebble in memory). Whatever the body: never a server error, an
// answer that is JSON of the documented kind, and a problem that never
// quotes a run of digits from the body (a BSN or a date).
func FuzzRegister(f *testing.F) {
	for _, seed := range []string{
		`{"bsn":"111222333","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"A","phone":"050-1234567"}}`,
		`{"bsn":"111222333","birth_date":"2014-05-17","municipality":"GM0014","kind":"signal","code":"S01","urgent":true,"contact":{"name":"A","email":"a@b"},"ends_on":"2099-01-01","idempotency_key":"k"}`,
		`{"bsn":"123456789"}`, `{"bsn":12}`, `{"kind":"x","diagnosis":"y"}`, `[]`, `{`, ``, `{"bsn":"111222333"} {}`, `{"111222333":1}`, `{"bsn":"111222333","bsn":"111222333"}`, `{"BSN":"111222333"}`, `{"x":[{"a":{"b":1,"b":1}}]}`, `{"contact":{"Name":"A"}}`, `{"bsn":"111222333","x2014-05-17":1}`,
		`{"bsn":"111222333","birth_date":"1999-02-30","municipality":"GM9999","kind":"involvement","contact":{"name":""}}`,
		`{"bsn":"111222333","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"A","phone":"050-1234567"},"client_ref":"DOS-2026-0042"}`,
		`{"bsn":"111222333","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"A","phone":"050-1234567"},"client_ref":"D 111.222.333"}`,
		`{"bsn":"111222333","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"A","phone":"050-1234567"},"client_ref":"17052014\u0000"}`,
	} {
		f.Add(seed)
	}
	st, err := pebblestore.Open("fuzz", &pebblestore.Options{FS: vfs.NewMem(), Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	cov, err := rules.LoadFile(filepath.Join("..", "examples", "covenant-groningen.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	h, err := keys.Create()
	if err != nil {
		f.Fatal(err)
	}
	ps, err := pseudonym.New(h)
	if err != nil {
		f.Fatal(err)
	}
	refs := testkeys.Sealer(f)
	m, err := matcher.New(matcher.Config{Store: st, Pseudonymiser: ps, ClientRefs: refs, Covenant: cov})
	if err != nil {
		f.Fatal(err)
	}
	tok, line := httpapi.NewToken(ggd)
	tf := filepath.Join(f.TempDir(), "tokens")
	if err := os.WriteFile(tf, []byte(line+"\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	tokens, err := httpapi.LoadTokens(tf, cov, nil)
	if err != nil {
		f.Fatal(err)
	}
	handler, err := httpapi.New(httpapi.Config{Matcher: m, Covenant: cov, Tokens: tokens})
	if err != nil {
		f.Fatal(err)
	}
	digits := regexp.MustCompile(`[0-9]{6,}`)
	allowed := map[int]bool{200: true, 201: true, 400: true, 403: true, 409: true, 413: true, 415: true, 422: true}

	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/v1/registrations", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if !allowed[rec.Code] {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var p httpapi.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" || p.Status != rec.Code {
				t.Fatalf("not a problem: %s", rec.Body)
			}
			for _, d := range digits.FindAllString(body, -1) {
				if strings.Contains(p.Detail, d) || strings.Contains(p.Field, d) {
					t.Fatalf("the problem quotes %q from the body: %s", d, rec.Body)
				}
			}
			return
		}
		var r httpapi.RegistrationResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.ID == "" {
			t.Fatalf("not a registration: %s", rec.Body)
		}
		// An accepted reference is answered as given (or, on a refresh
		// without one, as on file).
		var in httpapi.RegistrationRequest
		if json.Unmarshal([]byte(body), &in) == nil && in.ClientRef != "" && r.ClientRef != in.ClientRef && !r.Replayed {
			t.Fatalf("client_ref %q answered as %q", in.ClientRef, r.ClientRef)
		}
	})
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
