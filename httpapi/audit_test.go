package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/audit"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/store"
)

// TestAuditNamesTheCredential: every call over HTTPS leaves an audit entry
// that names the credential it came with, a token by its ID (never the
// token) and a client certificate by its pin, also for a call answered
// not_involved.
func TestAuditNamesTheCredential(t *testing.T) {
	e := newEnv(t)
	if r := e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal")); r.status != http.StatusCreated {
		t.Fatalf("report: %d %s", r.status, r.body)
	}
	if r := e.do(byCert(wij), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)}); r.status != http.StatusNotFound {
		t.Fatalf("lookup by an uninvolved certificate: %d %s", r.status, r.body)
	}
	entries, err := e.store.AuditEntries(context.Background(), 0, 10)
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit log: %+v %v", entries, err)
	}
	reg, look := entries[0], entries[1]
	if reg.Verb != store.AuditRegister || reg.Institution != school || reg.Credential != httpapi.TokenID(e.tokens[school]) ||
		strings.Contains(reg.Credential, e.tokens[school]) {
		t.Errorf("the report's entry: %+v", reg)
	}
	if look.Verb != store.AuditLookup || look.Institution != wij || !strings.HasPrefix(look.Credential, "cert:sha256:") || look.Outcome != "not_involved" {
		t.Errorf("the lookup's entry: %+v", look)
	}
}

// TestAuditCheckpointServed: anyone gets the newest signed checkpoint,
// which covers the entries sealed so far and opens with the log's key.
func TestAuditCheckpointServed(t *testing.T) {
	e := newEnv(t)
	e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal"))
	e.do(byCert(wij), "POST", "/v1/lookups", httpapi.BSNRequest{BSN: bsn(t, 1)})
	cp, err := e.audit.Seal(context.Background())
	if err != nil || cp.Size != 2 {
		t.Fatalf("seal: %+v %v", cp, err)
	}
	r := e.do(anonymous, "GET", "/v1/audit/checkpoint", nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("checkpoint: %d %s", r.status, r.header.Get("Content-Type"))
	}
	c, err := audit.ParseCheckpoint([]byte(r.body), "vindex.test/audit", e.audit.Verifier())
	if err != nil || c.Size != 2 {
		t.Fatalf("the served checkpoint: %+v %v\n%s", c, err, r.body)
	}
}
