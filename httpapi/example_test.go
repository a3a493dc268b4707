package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/examples"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// Mount the API in a server of one's own: a matcher, the covenant, a token
// file, and the handler. (In production the handler runs behind TLS, see
// NewServer and TLSConfig, and the keyset is loaded wrapped.)
func Example() {
	cov, _ := rules.Load(bytes.NewReader(examples.CovenantGroningen), "covenant.yaml")
	st, _ := pebblestore.Open("data", &pebblestore.Options{FS: vfs.NewMem()})
	defer st.Close()
	h, _ := keys.Create()
	ps, _ := pseudonym.New(h)
	m, _ := matcher.New(matcher.Config{Store: st, Pseudonymiser: ps, Covenant: cov})

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ggdToken, ggdLine := httpapi.NewToken("ggd-groningen")
	wijToken, wijLine := httpapi.NewToken("wij-groningen")
	os.WriteFile(filepath.Join(dir, "tokens"), []byte(ggdLine+"\n"+wijLine+"\n"), 0o600)
	tokens, _ := httpapi.LoadTokens(filepath.Join(dir, "tokens"), cov, nil)

	api, err := httpapi.New(httpapi.Config{Matcher: m, Covenant: cov, Tokens: tokens})
	if err != nil {
		panic(err)
	}
	report := func(token string) {
		body := `{"bsn":"111222333","birth_date":"2014-05-17","municipality":"GM0014","kind":"involvement","contact":{"name":"A. Jansen","phone":"050-1234567"}}`
		req := httptest.NewRequest("POST", "/v1/registrations", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		var res httpapi.RegistrationResponse
		json.Unmarshal(rec.Body.Bytes(), &res)
		fmt.Println(rec.Code, "matched:", res.Matched)
		if res.Coordinator != nil {
			fmt.Println("coordinator:", res.Coordinator.Institution, "by rule", res.Coordinator.Rule)
		}
	}
	report(ggdToken)
	report(wijToken)
	// Output:
	// 201 matched: false
	// 201 matched: true
	// coordinator: wij-groningen by rule wij-team-stad-groningen
}
