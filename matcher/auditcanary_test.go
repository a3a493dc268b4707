package matcher_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
)

// The audit log's records in the Pebble store (store/pebblestore/keys.go):
// the entries under 'a', their index by youth reference under 'v'.
const (
	auditPrefix      = 'a'
	auditYouthPrefix = 'v'
)

// quietPebble drops Pebble's log lines.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// auditRecords returns every record of the audit log in the closed store in
// dir, key and value, as the store wrote them, and how many of each kind
// there are.
func auditRecords(t *testing.T, dir string) (raw []byte, entries, index int) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, prefix := range []byte{auditPrefix, auditYouthPrefix} {
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
		if err != nil {
			t.Fatal(err)
		}
		for it.First(); it.Valid(); it.Next() {
			raw = append(append(append(raw, it.Key()...), it.Value()...), 0xff)
			if prefix == auditPrefix {
				entries++
			} else {
				index++
			}
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return raw, entries, index
}

// TestCanaryAuditLogHoldsNoIdentity: every verb is called with canary
// values (BSNs, birth dates, a contact, a client reference and an
// idempotency key of their own); the audit log's records, entries and
// index alike, then hold none of them in any form the store writes, nor
// the youths' pseudonyms or birth-date check values of the store's
// domains: only the youth reference of the audit log's own domain, which
// the same scan finds (the positive control).
func TestCanaryAuditLogHoldsNoIdentity(t *testing.T) {
	e := newEnv(t)
	const (
		born      = "2011-09-27"
		clientRef = "CANARY-CLIENTREF-7731"
		idemKey   = "CANARY-IDEMPOTENCY-4410"
	)
	cont := matcher.Contact{Name: "Kanarie Canarywoman", Phone: "+31 50 999 7731", Email: "kanarie.canary@example.org"}
	needles := canary.Needles{}
	needles.Date("birth date", born)
	needles.Day("birth day", birth(t, born).RevealDate())
	for name, s := range map[string]string{"client ref": clientRef, "idempotency key": idemKey, "contact name": cont.Name,
		"contact phone": cont.Phone, "contact email": cont.Email} {
		needles[name] = [][]byte{[]byte(s)}
	}
	control := canary.Needles{}
	const alive, objected, dead = 7731, 7732, 7733
	report := func(inst string, n int, kind matcher.Kind) matcher.Result {
		r := e.involvement(t, n)
		r.BirthDate, r.Contact, r.ClientRef, r.IdempotencyKey = birth(t, born), cont, clientRef, idemKey+inst+strconv.Itoa(n)
		if kind == matcher.Signal {
			r.Kind, r.SignalCode = matcher.Signal, "S01"
		}
		return e.register(t, inst, r)
	}
	for _, n := range []int{alive, objected, dead} {
		name := "youth " + strconv.Itoa(n)
		needles.BSN(name+" bsn", bsnDigits(t, n))
		set, err := e.ps.Youth(bsnFor(t, n))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range set.All {
			needles.Bytes(name+" pseudonym", p.Sum[:])
			needles.Bytes(name+" pseudonym's last 24 bytes", p.Sum[8:])
		}
		ref, err := e.ps.Of(pseudonym.DomainYouthAudit, []byte(bsnDigits(t, n)))
		if err != nil {
			t.Fatal(err)
		}
		control.Bytes(name+" audit reference", ref.Primary.Sum[:])
		report(school, n, matcher.Signal)
		report(wij, n, matcher.Involvement)
		kase, _ := e.records(t, e.ps, n)
		needles.Bytes(name+" birth check", kase.BirthCheck.Sum[:])
		idem := e.idemKey(t, school, idemKey+school+strconv.Itoa(n))
		needles.Bytes(name+" idempotency hash", idem.Sum[:])
	}

	// Every verb on the youth that lives on: a replay and a refresh,
	// lookups answered and refused, informing, a letter, events, a plan
	// and its agreement, accepting the case and escalating it, an end,
	// a removal, closing the case, subject access, the operator's extract,
	// and the expiry run.
	res := report(school, alive, matcher.Signal) // a replay of the first report
	youth := e.youth(t, alive)
	e.clock.Add(time.Hour)
	r := e.signal(t, alive)
	r.BirthDate, r.Contact = birth(t, born), cont
	e.register(t, school, r) // a refresh
	wijRes := report(ggd, alive, matcher.Involvement)
	e.m.Lookup(ctx, matcher.Actor{Institution: wij}, youth)
	e.m.Lookup(ctx, matcher.Actor{Institution: police}, youth)
	e.m.RecordInformed(ctx, matcher.Actor{Institution: school}, res.ID, matcher.Inform{Who: matcher.InformedParents, On: civilDay(e.clock.Now())})
	e.m.Letter(ctx, matcher.Actor{Institution: school}, res.ID)
	e.m.Events(ctx, matcher.Actor{Institution: wij}, 0, 100)
	e.m.RecordPlan(ctx, matcher.Actor{Institution: wij}, youth, civilDay(e.clock.Now()), civilDay(e.clock.Now()).AddDate(0, 3, 0))
	e.m.AddAgreement(ctx, matcher.Actor{Institution: wij}, youth, ggd, civilDay(e.clock.Now()).AddDate(0, 1, 0))
	e.m.AgreementDone(ctx, matcher.Actor{Institution: ggd}, youth, 1)
	e.m.End(ctx, matcher.Actor{Institution: school}, res.ID, time.Time{}, matcher.EndRiskGone)
	e.m.Remove(ctx, matcher.Actor{Institution: wij}, wijRes.ID, matcher.RemoveWrong)
	e.m.Accept(ctx, matcher.Actor{Institution: wij}, youth)
	e.m.Escalate(ctx, matcher.Actor{Institution: wij}, youth, matcher.Escalation{Step: "own-management"})
	e.m.CloseCase(ctx, matcher.Actor{Institution: wij}, youth)
	e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeente}, youth, birth(t, born))
	e.m.SubjectAccess(ctx, matcher.Actor{Institution: gemeenteElders}, youth, birth(t, born))
	e.m.ExtractAudit(ctx, matcher.Operator, youth, 100)
	e.m.Object(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, objected), birth(t, born), matcher.AllInstitutions())
	e.m.RecordDeath(ctx, matcher.Actor{Institution: gemeente}, e.youth(t, dead))
	e.register(t, wij, e.involvement(t, alive)) // live until the expiry ends it
	e.clock.Add(3 * 365 * 24 * time.Hour)
	if _, err := e.m.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	verbs := map[store.AuditVerb]bool{}
	for _, x := range storetest.AuditAll(t, e.store) {
		verbs[x.Verb] = true
	}
	// Every verb of the matcher's, the expiry's too (three years on, the
	// registrations have ended by their term): the key operations are
	// vindex serve's, a gap the store's, a retention cut the audit log's.
	for v := store.AuditVerb(1); v.Valid(); v++ {
		if !verbs[v] && !strings.HasPrefix(v.String(), "key-") && v != store.AuditGap && v != store.AuditRetentionCut {
			t.Errorf("no %s in the audit log: the test misses a verb", v)
		}
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}

	raw, entries, index := auditRecords(t, e.dir)
	if entries < 20 || index < 12 {
		t.Fatalf("%d audit entries and %d index records: the scan would prove little", entries, index)
	}
	if found := control.Scan("audit log", raw); len(found) != len(control) {
		t.Fatalf("the scan does not find every youth's audit reference (%q): it proves nothing", found)
	}
	if found := needles.Scan("audit log", raw); len(found) > 0 {
		t.Fatalf("identity in the audit log:\n%s", bytes.Join(toBytes(found), []byte("\n")))
	}
}
