package client_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testbsn"
	"github.com/vindex-nl/vindex/matcher"
)

// youth is a test youth: its BSN and birth date, and their digits.
type youth struct {
	bsn    identity.BSN
	bd     identity.BirthDate
	digits string
	born   string
}

func newYouth(t testing.TB, n int, born string) youth {
	t.Helper()
	digits := testbsn.For(20000000, n)
	b, err := identity.ParseBSN(digits)
	if err != nil {
		t.Fatal(err)
	}
	bd, err := identity.ParseBirthDate(born)
	if err != nil {
		t.Fatal(err)
	}
	return youth{bsn: b, bd: bd, digits: digits, born: born}
}

func (y youth) report(kind string) client.Report {
	r := client.Report{BSN: y.bsn, BirthDate: y.bd, Municipality: "GM0014", Kind: kind,
		Contact: client.Contact{Name: "A. Jansen", Phone: "050-1234567"}}
	if kind == client.Signal {
		r.Code = "S01"
	}
	return r
}

// mode is one deployment: hmac, or blind with a split key over two key
// holders.
type mode struct {
	name    string
	blind   bool
	blinder *client.Blinder
	holders []holder
}

func modes(t *testing.T) []mode {
	a, b := startHolder(t), startHolder(t)
	return []mode{
		{name: "hmac"},
		{name: "blind", blind: true, blinder: &client.Blinder{Holders: []client.KeyHolder{a.KeyHolder, b.KeyHolder}}, holders: []holder{a, b}},
	}
}

// The Client against a real index, in both modes: two institutions
// report one youth and match, look it up, poll their events, record the
// duty to inform and get the letter, end; a coordinator closes a case, a
// municipality records a death, carries out an objection and answers a
// request for access. Every request and answer is the API description's;
// in a blind deployment no body that reached the index holds a BSN, a
// birth date or the fields for them, and every one names the key holders'
// keys (youth_key); the index logs neither mode's BSNs.
func TestClientAgainstTheIndex(t *testing.T) {
	for _, md := range modes(t) {
		t.Run(md.name, func(t *testing.T) {
			ix := newIndex(t, md.blind)
			sch, w, g, mu := ix.byToken(school, md.blinder), ix.byCert(md.blinder), ix.byToken(ggd, md.blinder), ix.byToken(municipality, md.blinder)
			var contracts []*contract
			for _, c := range []*client.Client{sch, w, g, mu} {
				contracts = append(contracts, checkContract(t, c))
			}
			ys := []youth{newYouth(t, 1, "2014-05-17"), newYouth(t, 2, "2012-01-03"), newYouth(t, 3, "2010-11-30"), newYouth(t, 4, "2009-02-01")}
			y := ys[0]

			r1, err := sch.Register(ctx, y.report(client.Signal))
			if err != nil {
				t.Fatal(err)
			}
			if r1.Matched || r1.ID == "" || r1.Refreshed || r1.Replayed {
				t.Fatalf("the first report: %+v", r1)
			}
			wr := y.report(client.Involvement)
			wr.ClientRef = "WIJ-2026-0042"
			r2, err := w.Register(ctx, wr)
			if err != nil {
				t.Fatal(err)
			}
			if !r2.Matched || len(r2.Involved) != 1 || r2.Involved[0].Institution != school || r2.Coordinator == nil || r2.ClientRef != "WIJ-2026-0042" {
				t.Fatalf("the second institution's report: %+v", r2)
			}
			if r2.Involved[0].Since.IsZero() || r2.Involved[0].Contact.Name != "A. Jansen" {
				t.Errorf("the other party: %+v", r2.Involved[0])
			}

			v, err := sch.Lookup(ctx, y.bsn)
			if err != nil {
				t.Fatal(err)
			}
			if v.ID != r1.ID || !v.Matched || len(v.Involved) != 1 || v.Involved[0].Institution != wij {
				t.Errorf("the school's lookup: %+v", v)
			}
			_, err = g.Lookup(ctx, y.bsn)
			if ae := apiError(t, err); !errors.Is(err, client.ErrNotInvolved) || !errors.Is(err, client.ErrAPI) || ae.Status != http.StatusNotFound || ae.Code != "not_involved" {
				t.Errorf("an uninvolved lookup: %v", err)
			}

			evs, err := w.Events(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(evs.Events, func(e client.Event) bool { return e.Type == "match" && e.Registration == r2.ID })
			if i < 0 || evs.Events[i].ClientRef != "WIJ-2026-0042" || evs.Events[i].At.IsZero() || evs.Next != evs.Events[len(evs.Events)-1].Seq {
				t.Errorf("wij's events: %+v", evs)
			}
			if more, err := w.Events(ctx, evs.Next, 10); err != nil || len(more.Events) != 0 || more.Next != evs.Next {
				t.Errorf("polling on from next: %+v, %v", more, err)
			}

			if err := w.RecordInformed(ctx, r2.ID, client.InformRequest{NotInformed: &client.NotInformed{Reason: "later"}}); err != nil {
				t.Error(err)
			}
			if l, err := w.Letter(ctx, r2.ID, false); err != nil || !strings.Contains(l, "Groningen") || strings.Contains(l, "<html") {
				t.Errorf("the informing letter as text: %v\n%s", err, l)
			}
			if l, err := w.Letter(ctx, r2.ID, true); err != nil || !strings.Contains(strings.ToLower(l), "<html") {
				t.Errorf("the informing letter as HTML: %v", err)
			}

			sa, err := mu.SubjectAccess(ctx, y.bsn, y.bd)
			if err != nil {
				t.Fatal(err)
			}
			if len(sa.Registrations) != 2 || sa.AddressedTo != "both" || sa.Letter.Text == "" || len(sa.Accesses) == 0 || sa.At.IsZero() {
				t.Errorf("subject access: %d registrations, addressed to %q, %d accesses", len(sa.Registrations), sa.AddressedTo, len(sa.Accesses))
			}

			if err := w.End(ctx, r1.ID, client.EndRequest{}); !errors.Is(err, client.ErrNotFound) {
				t.Errorf("wij ends the school's registration: %v", err)
			}
			if err := sch.End(ctx, r1.ID, client.EndRequest{}); err != nil {
				t.Fatal(err)
			}
			if _, err := sch.Lookup(ctx, y.bsn); !errors.Is(err, client.ErrNotInvolved) {
				t.Errorf("the school's lookup after it ended: %v", err)
			}

			// The coordinator removes the GGD's wrong registration of youth
			// 2 and closes its case.
			if _, err := sch.Register(ctx, ys[1].report(client.Signal)); err != nil {
				t.Fatal(err)
			}
			res, err := w.Register(ctx, ys[1].report(client.Involvement))
			if err != nil || res.Coordinator == nil || res.Coordinator.Institution != wij {
				t.Fatalf("youth 2: %+v, %v", res, err)
			}
			gr, err := g.Register(ctx, ys[1].report(client.Involvement))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Remove(ctx, gr.ID, "wrong"); !errors.Is(err, client.ErrForbidden) {
				t.Errorf("the school removes the GGD's registration: %v", err)
			}
			if err := w.Remove(ctx, gr.ID, "wrong"); err != nil {
				t.Fatal(err)
			}
			if _, err := g.Lookup(ctx, ys[1].bsn); !errors.Is(err, client.ErrNotInvolved) {
				t.Errorf("after its registration was removed the GGD still sees the youth: %v", err)
			}
			// The coordinator records youth 2's plan and an agreement of
			// the school's, which the school records as done.
			today := time.Now().UTC()
			if err := sch.RecordPlan(ctx, ys[1].bsn, today, today.AddDate(0, 6, 0)); !errors.Is(err, client.ErrForbidden) {
				t.Errorf("the school records a plan: %v", err)
			}
			if err := w.RecordPlan(ctx, ys[1].bsn, today, today.AddDate(0, 6, 0)); err != nil {
				t.Fatal(err)
			}
			if n, err := w.AddAgreement(ctx, ys[1].bsn, school, today.AddDate(0, 0, 14)); err != nil || n != 1 {
				t.Fatalf("agreement: %d %v", n, err)
			}
			if err := sch.AgreementDone(ctx, ys[1].bsn, 1); err != nil {
				t.Fatal(err)
			}
			// Done on the index's day, in its zone, which is not UTC's
			// in the hours around midnight.
			doneDay := time.Now().In(identity.DefaultLocation()).Format(time.DateOnly)
			if v, err := sch.Lookup(ctx, ys[1].bsn); err != nil || v.Plan == nil || len(v.Plan.Agreements) != 1 ||
				v.Plan.Agreements[0].Done != doneDay || v.Plan.By != wij {
				t.Errorf("the school's lookup of the plan: %+v %v", v, err)
			}
			if err := sch.CloseCase(ctx, ys[1].bsn); !errors.Is(err, client.ErrForbidden) {
				t.Errorf("the school closes the case: %v", err)
			}
			if err := w.CloseCase(ctx, ys[1].bsn); err != nil {
				t.Fatal(err)
			}
			if _, err := sch.Lookup(ctx, ys[1].bsn); !errors.Is(err, client.ErrNotInvolved) {
				t.Errorf("after the case closed: %v", err)
			}

			// The municipality records youth 3's death and carries out an
			// objection to youth 4's registrations.
			for _, yy := range ys[2:] {
				if _, err := sch.Register(ctx, yy.report(client.Signal)); err != nil {
					t.Fatal(err)
				}
			}
			if err := mu.RecordDeath(ctx, ys[2].bsn); err != nil {
				t.Fatal(err)
			}
			if err := mu.Object(ctx, client.Objection{BSN: ys[3].bsn, BirthDate: ys[3].bd, Scope: "all"}); err != nil {
				t.Fatal(err)
			}
			for _, yy := range ys[2:] {
				if _, err := sch.Lookup(ctx, yy.bsn); !errors.Is(err, client.ErrNotInvolved) {
					t.Errorf("after a death or an objection the school still sees the youth: %v", err)
				}
			}
			if err := sch.Ready(ctx); err != nil {
				t.Error(err)
			}
			if _, err := sch.Stats(ctx, client.StatsQuery{Year: 2025}); !errors.Is(err, client.ErrForbidden) {
				t.Errorf("a school asks for management figures: %v", err)
			}
			if st, err := mu.Stats(ctx, client.StatsQuery{Year: 2025, By: []string{"kind"}}); err != nil || st.Year != 2025 || st.Municipality != "GM0014" || len(st.Figures) == 0 {
				t.Errorf("the municipality's figures of 2025: %+v, %v", st, err)
			}
			if _, err := sch.AuditCheckpoint(ctx); !errors.Is(err, client.ErrNotFound) {
				t.Errorf("the checkpoint of an index without an audit log: %v", err)
			}

			seen := ix.seen()
			if len(seen) == 0 || int64(len(seen)) != ix.requests.Load() {
				t.Fatalf("%d bodies of %d requests", len(seen), ix.requests.Load())
			}
			youths := 0
			for _, b := range seen {
				s := string(b)
				for _, yy := range ys {
					if md.blind && (strings.Contains(s, yy.digits) || strings.Contains(s, yy.born)) {
						t.Errorf("a BSN or birth date reached the blind index: %s", s)
					}
				}
				if md.blind && (strings.Contains(s, `"bsn"`) || strings.Contains(s, `"birth_date"`)) {
					t.Errorf("a blind request with bsn or birth_date: %s", s)
				}
				if strings.Contains(s, `"youth"`) {
					youths++
					if !strings.Contains(s, `"youth_key":"`+md.blinder.LayerID()+`"`) {
						t.Errorf("a blind request without youth_key: %s", s)
					}
				}
			}
			if md.blind != (youths > 0) || (!md.blind && !strings.Contains(string(seen[0]), y.digits)) {
				t.Errorf("%s: %d requests by element", md.name, youths)
			}
			for _, yy := range ys {
				if strings.Contains(ix.logs.String(), yy.digits) {
					t.Errorf("a BSN is in the index's log")
				}
			}
			ops := map[string]int{}
			for _, k := range contracts {
				for op, n := range k.ops {
					ops[op] += n
				}
			}
			for _, op := range []string{"register", "lookup", "events", "recordInformed", "informingLetter", "subjectAccess", "endRegistration", "removeRegistration", "closeCase", "recordDeath", "object", "readyz", "managementFigures", "auditCheckpoint"} {
				if ops[op] == 0 {
					t.Errorf("%s was not checked against openapi.yaml", op)
				}
			}
			if md.blind {
				for i, h := range md.holders {
					if h.calls.Load() == 0 {
						t.Errorf("key holder %d was never asked", i+1)
					}
				}
			}
		})
	}
}

// A report whose free text quotes the youth's BSN or birth date is refused
// by the Client, in both modes, before any request (none reaches the index
// or a key holder), with a *FieldError that names the field and holds
// neither the value nor the BSN.
func TestClientRefusesTextThatQuotesTheYouth(t *testing.T) {
	for _, md := range modes(t) {
		t.Run(md.name, func(t *testing.T) {
			ix := newIndex(t, md.blind)
			c := ix.byToken(school, md.blinder)
			y := newYouth(t, 7, "2014-05-17")
			for _, tc := range []struct {
				field string
				set   func(*client.Report)
			}{
				{"client_ref", func(r *client.Report) { r.ClientRef = "DOS-" + y.digits }},
				{"client_ref", func(r *client.Report) { r.ClientRef = "DOS-20140517" }},
				{"contact.name", func(r *client.Report) { r.Contact.Name = "Jansen 17 mei 2014" }},
				{"contact.phone", func(r *client.Report) { r.Contact.Phone = y.digits[:3] + " " + y.digits[3:] }},
				{"contact.email", func(r *client.Report) { r.Contact.Email = "k17-05-2014@school.example" }},
				{"idempotency_key", func(r *client.Report) { r.IdempotencyKey = "report-" + y.digits }},
			} {
				r := y.report(client.Signal)
				tc.set(&r)
				res, err := c.Register(ctx, r)
				var fe *client.FieldError
				if res != nil || !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, client.ErrIdentifiesYouth) {
					t.Errorf("%s: %v, want a refusal of the field", tc.field, err)
					continue
				}
				if s := err.Error(); strings.Contains(s, y.digits) || strings.Contains(s, "2014") || !strings.Contains(s, tc.field) {
					t.Errorf("%s: the error %q", tc.field, s)
				}
			}
			if n := ix.requests.Load(); n != 0 {
				t.Errorf("%d requests reached the index", n)
			}
			for i, h := range md.holders {
				if n := h.calls.Load(); n != 0 {
					t.Errorf("%d requests reached key holder %d", n, i+1)
				}
			}
			// And text that merely has numbers goes through.
			r := y.report(client.Signal)
			r.ClientRef, r.IdempotencyKey = "DOS-2026-0042", "report-1"
			if _, err := c.Register(ctx, r); err != nil {
				t.Errorf("a report with a dossier number: %v", err)
			}
		})
	}
}

// The index's refusals as *APIError values that match the sentinels: a
// Client of the other mode, a token the index does not know, a birth date
// other than the youth's. None holds a BSN.
func TestClientAPIErrors(t *testing.T) {
	ms := modes(t)
	hm, bl := newIndex(t, false), newIndex(t, true)
	y := newYouth(t, 9, "2014-05-17")
	for name, tc := range map[string]struct {
		c    *client.Client
		want error
		code string
	}{
		"blind client, hmac index": {hm.byToken(school, ms[1].blinder), client.ErrWrongMode, "youth_not_accepted"},
		"hmac client, blind index": {bl.byToken(school, nil), client.ErrWrongMode, "bsn_not_accepted"},
		"unknown token":            {&client.Client{BaseURL: hm.URL, Token: "vx_nope", HTTP: hm.httpClient()}, client.ErrUnauthenticated, ""},
	} {
		_, err := tc.c.Register(ctx, y.report(client.Signal))
		ae := apiError(t, err)
		if !errors.Is(err, tc.want) || (tc.code != "" && ae.Code != tc.code) || errors.Is(err, client.ErrNotFound) {
			t.Errorf("%s: %v, want %v %s", name, err, tc.want, tc.code)
		}
		if strings.Contains(err.Error(), y.digits) {
			t.Errorf("%s: the error holds the BSN", name)
		}
	}
	c := hm.byToken(school, nil)
	if _, err := c.Register(ctx, y.report(client.Signal)); err != nil {
		t.Fatal(err)
	}
	other := y.report(client.Signal)
	other.BirthDate, _ = identity.ParseBirthDate("2014-05-18")
	_, err := c.Register(ctx, other)
	if ae := apiError(t, err); !errors.Is(err, client.ErrBirthDateMismatch) || ae.Status != http.StatusConflict {
		t.Errorf("another birth date: %v", err)
	}
	if _, err := c.SubjectAccess(ctx, y.bsn, identity.BirthDate{}); !errors.Is(err, client.ErrYouth) {
		t.Errorf("an hmac subject access without a birth date: %v", err)
	}
	if _, err := c.Lookup(ctx, identity.BSN{}); !errors.Is(err, client.ErrYouth) {
		t.Errorf("a lookup without a BSN: %v", err)
	}
}

// An answer that quotes the request (as a proxy in the way might) loses
// its detail: the error never holds the BSN or the birth date.
func TestAPIErrorDropsAnEcho(t *testing.T) {
	y := newYouth(t, 11, "2014-05-17")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, `{"type":"about:blank","title":"Bad Gateway","status":502,"code":"","detail":"upstream refused bsn %s born 17-05-2014"}`, y.digits)
	}))
	defer srv.Close()
	c := &client.Client{BaseURL: srv.URL, Token: "t", HTTP: srv.Client()}
	_, err := c.Register(ctx, y.report(client.Signal))
	ae := apiError(t, err)
	if ae.Detail != "" || strings.Contains(err.Error(), y.digits) || !errors.Is(err, client.ErrUnavailable) || ae.Status != http.StatusBadGateway {
		t.Errorf("an echoing proxy: %v (%+v)", err, ae)
	}
}

// While a key holder replaces its key, the index takes elements made
// under the old key and under the new one, by the youth_key the Client
// sends: a report of a client system not yet moved to the new key matches
// one of a system that has; a Client configured with a key that is
// neither is refused (ErrYouthKey).
func TestClientDuringAKeyHolderRotation(t *testing.T) {
	old, nw, stranger := startHolder(t), startHolder(t), startHolder(t)
	ratio, err := oprf.RatioOf(old.key, nw.key)
	if err != nil {
		t.Fatal(err)
	}
	ix := newIndexLayer(t, true, matcher.Layer{Generation: 1, Rotating: true,
		From: oprf.KeyID(old.key.Public()), To: oprf.KeyID(nw.key.Public()), Ratio: ratio})
	y := newYouth(t, 13, "2014-05-17")
	if _, err := ix.byToken(school, &client.Blinder{Holders: []client.KeyHolder{old.KeyHolder}}).Register(ctx, y.report(client.Signal)); err != nil {
		t.Fatal(err)
	}
	res, err := ix.byCert(&client.Blinder{Holders: []client.KeyHolder{nw.KeyHolder}}).Register(ctx, y.report(client.Involvement))
	if err != nil || !res.Matched {
		t.Fatalf("a report under the new key of a youth reported under the old: %+v, %v", res, err)
	}
	_, err = ix.byToken(ggd, &client.Blinder{Holders: []client.KeyHolder{stranger.KeyHolder}}).Register(ctx, y.report(client.Involvement))
	if ae := apiError(t, err); !errors.Is(err, client.ErrYouthKey) || ae.Code != "youth_key_unknown" || ae.Field != "youth_key" {
		t.Errorf("a report under a key the index does not take: %v", err)
	}
}

// Concurrent reports through one blind Client share key-holder requests,
// and each gets its own youth's element: 32 youths reported by two
// institutions at once all match, each with the other institution, in
// fewer key-holder requests than reports.
func TestClientCoalescesBlinding(t *testing.T) {
	h := startHolder(t)
	bl := &client.Blinder{Holders: []client.KeyHolder{h.KeyHolder}}
	ix := newIndex(t, true)
	sch, w := ix.byToken(school, bl), ix.byCert(bl)
	const n = 32
	ys := make([]youth, n)
	for i := range ys {
		ys[i] = newYouth(t, 100+i, "2014-05-17")
	}
	for _, c := range []struct {
		cl   *client.Client
		kind string
	}{{sch, client.Signal}, {w, client.Involvement}} {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range ys {
			wg.Go(func() { _, errs[i] = c.cl.Register(ctx, ys[i].report(c.kind)) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	if calls := h.calls.Load(); calls >= 2*n {
		t.Errorf("%d key-holder requests for %d reports: none shared", calls, 2*n)
	} else {
		t.Logf("%d key-holder requests for %d reports", calls, 2*n)
	}
	for i, y := range ys {
		v, err := sch.Lookup(ctx, y.bsn)
		if err != nil || !v.Matched || len(v.Involved) != 1 || v.Involved[0].Institution != wij {
			t.Errorf("youth %d: %+v, %v", i, v, err)
		}
	}
}
