package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	vclient "github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/internal/hooktest"
	"github.com/vindex-nl/vindex/internal/pki"
	"github.com/vindex-nl/vindex/internal/testbsn"
)

// recorder is an http.RoundTripper that keeps a copy of every request its
// client sends (method, path and query, headers, body) and of every answer
// it gets (status, headers, body), as plaintext, before TLS and after it.
type recorder struct {
	next http.RoundTripper

	mu        sync.Mutex
	sent, got bytes.Buffer
	requests  int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	fmt.Fprintf(&r.sent, "%s %s\n", req.Method, req.URL.RequestURI())
	req.Header.Write(&r.sent)
	r.sent.Write(body)
	r.sent.WriteString("\n\n")
	r.requests++
	r.mu.Unlock()
	resp, err := r.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	r.mu.Lock()
	fmt.Fprintf(&r.got, "%s\n", resp.Status)
	resp.Header.Write(&r.got)
	r.got.Write(answer)
	r.got.WriteString("\n\n")
	r.mu.Unlock()
	return resp, nil
}

// record returns what r recorded: the requests and the answers, and how
// many requests.
func (r *recorder) record() (sent, got []byte, requests int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.sent.Bytes()), bytes.Clone(r.got.Bytes()), r.requests
}

// recordingClient is an HTTPS client that trusts the certificates in
// files and records through a new recorder.
func recordingClient(t *testing.T, files ...string) (*http.Client, *recorder) {
	t.Helper()
	roots := x509.NewCertPool()
	for _, f := range files {
		crt, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		roots.AppendCertsFromPEM(crt)
	}
	rec := &recorder{next: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	return &http.Client{Transport: rec, Timeout: 30 * time.Second}, rec
}

// canaryYouth is a youth of the blind canary: the BSN and the birth date
// its client systems know, and the element they send in their place.
type canaryYouth struct {
	digits string
	bsn    identity.BSN
	born   string // YYYY-MM-DD
	y      oprf.Element
	youth  string // y in base64, as the index receives it
}

// canaryYouths makes youths from to to-1: BSNs with irregular digits, birth
// dates from 2009 to 2020 on days 2 to 28. (A blind index keeps the birth
// month, which born_in gives as YYYY-MM and the index reads as the first of
// the month: no birth date falls on a first, so that what the index keeps
// by design is not taken for the birth date itself.)
func canaryYouths(t *testing.T, from, to int) []canaryYouth {
	t.Helper()
	var out []canaryYouth
	for i := from; i < to; i++ {
		d := testbsn.For(30000000, 1234567+i*104729)
		b, err := identity.ParseBSN(d)
		if err != nil {
			t.Fatal(err)
		}
		born := fmt.Sprintf("%04d-%02d-%02d", 2009+i%12, 1+(i*5)%12, 2+(i*11)%27)
		out = append(out, canaryYouth{digits: d, bsn: b, born: born})
	}
	return out
}

// blindEnv is the blind canary's deployment: two key holders (a split
// key) and a blind index, every client of theirs recording what it sends
// and gets.
type blindEnv struct {
	t        *testing.T
	dir      string
	holders  [2]*proc
	khRec    *recorder
	blinder  *vclient.Blinder
	index    *proc
	indexRec *recorder
	indexRT  *http.Client
	tokens   map[string]string
	hooks    *hooktest.Receiver
	hookArgs []string
	needles  canary.Needles // BSNs and birth dates
	elements canary.Needles // the Ys: raw and base64
}

// startIndex starts the blind index on dir/d, at debug level, with its
// audit checkpoints every second and its webhooks.
func (e *blindEnv) startIndex() {
	args := append([]string{"serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0", "--log-level", "debug",
		"--audit-checkpoint-interval", "1s", "--notify-poll", "50ms"}, e.hookArgs...)
	e.index = start(e.t, e.dir, args...)
	e.tokens = parseTokens(e.t, e.index.stdout.String())
}

// as is a client of the index for institution inst ("" for none), through
// the recording client.
func (e *blindEnv) as(inst string) *client {
	return &client{http: e.indexRT, base: "https://" + e.index.addr, token: e.tokens[inst]}
}

// blind turns the youths' BSNs into elements through both key holders, in
// one batch, and adds their needles.
func (e *blindEnv) blind(ys []canaryYouth) {
	e.t.Helper()
	var bs []identity.BSN
	for _, y := range ys {
		bs = append(bs, y.bsn)
	}
	els, err := e.blinder.Elements(context.Background(), bs...)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range ys {
		text, _ := els[i].MarshalText()
		raw, _ := els[i].MarshalBinary()
		ys[i].y, ys[i].youth = els[i], string(text)
		e.needles.BSN("bsn "+ys[i].digits, ys[i].digits)
		e.needles.Date("birth date "+ys[i].born, ys[i].born)
		e.elements["element of "+ys[i].digits] = [][]byte{raw, text}
	}
}

// element is youth y's element as a client system computes it for one
// call: blinded anew, through both key holders.
func (e *blindEnv) element(y canaryYouth) string {
	e.t.Helper()
	els, err := e.blinder.Elements(context.Background(), y.bsn)
	if err != nil {
		e.t.Fatal(err)
	}
	if !els[0].Equal(y.y) {
		e.t.Fatalf("youth %s: another element on a second blinding", y.digits)
	}
	text, _ := els[0].MarshalText()
	return string(text)
}

// report registers youth y for inst, by element and birth month.
func (e *blindEnv) report(inst string, y canaryYouth, kind string, ref string) httpapi.RegistrationResponse {
	e.t.Helper()
	r := httpapi.RegistrationRequest{Youth: y.youth, BornIn: y.born[:7], Municipality: "GM0014", Kind: kind,
		Contact: httpapi.ContactJSON{Name: "K. Kanarie", Phone: "050-5550101"}, ClientRef: ref}
	if kind == "signal" {
		r.Code = "S01"
	}
	s, b, err := e.as(inst).post("/v1/registrations", r)
	return must[httpapi.RegistrationResponse](e.t, s, b, err, 201)
}

// scanAll fails the test with what needles finds in each of the named
// byte strings and in every file under each directory.
func scanAll(t *testing.T, what string, needles canary.Needles, blobs map[string][]byte, dirs ...string) {
	t.Helper()
	var found []string
	for name, b := range blobs {
		found = append(found, needles.Scan(name, b)...)
	}
	for _, d := range dirs {
		f, err := needles.ScanDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range f {
			found = append(found, filepath.Base(d)+"/"+x)
		}
	}
	if len(found) > 0 {
		t.Errorf("%s found:\n%s", what, strings.Join(found, "\n"))
	}
}

// TestBlindIndexCanary: two key holders (a split key, `vindex keyholder
// init` and `serve`) and a blind index (`vindex keys init --pseudonyms
// blind`, `vindex serve`), real processes over TLS with tokens, audit
// checkpoints and webhooks. Client systems turn the BSNs of a run of youths
// into elements through the key holders (client.Blinder) and report them,
// match, look up, end, object, record a death, ask subject access by
// element, read their events and the figures. Then every byte the index
// received, stored, logged and served is scanned for the youths' BSNs and
// birth dates (canary.Needles: the BSN as digits and as 4- and 8-byte
// integers, the date as YYYY-MM-DD, YYYYMMDD, DD-MM-YYYY and DDMMYYYY):
// none; and what it stored, logged and pushed for the elements themselves:
// none either (it keeps its own layer of them). The data directory holds
// the Pebble store (WAL, tables, manifest), the audit checkpoint and key,
// keys-audited, the keysets, tokens and the notification mails --dev
// writes there. (A 4-byte integer form matches a given 4 bytes of random
// data with chance 2^-32: over the ~150 KB of the data directory and 80
// such forms, a chance hit comes once in a few hundred runs.) The same for
// the key holders: their data directories, logs, metrics and every
// request they received. Then once more after a kill -9 of the index and
// after its restart on what the kill left.
//
// "Received" is every HTTP request the test's clients sent to the index:
// the recorder sits in the client's transport and copies each request's
// method, path, query, headers and body before TLS encrypts them, so it
// holds exactly the plaintext the index's TLS listener decrypts (only the
// framing of HTTP/1.1 or HTTP/2 differs). Its other inputs: its command
// line, its files (configuration, keysets, tokens and certificate, all in
// its data directory, which is scanned), and the webhook receiver's
// answers (a status without a body).
//
// Positive controls, each of which fails if the recorder or the scanner
// is blind: the recorded requests hold every youth's element; an index
// that is not blind, given the BSNs and birth dates of five youths by the
// same recording client, shows all of them in the recorded requests (and
// none in its store); a file planted in the data directory with one BSN as
// a little-endian integer and one birth date as DDMMYYYY is found.
func TestBlindIndexCanary(t *testing.T) {
	dir := t.TempDir()
	e := &blindEnv{t: t, dir: dir, needles: canary.Needles{}, elements: canary.Needles{}}

	// The key holders: init, then serve over TLS, each with its own key,
	// certificate and client token.
	var holders []vclient.KeyHolder
	var crts []string
	for i, data := range []string{"kh-a", "kh-b"} {
		runCLI(t, dir, "keyholder", "init", "--dev", "--data", data)
		var pub oprf.PublicKey
		if err := pub.UnmarshalText([]byte(strings.TrimSpace(runCLI(t, dir, "keyholder", "public-key", "--dev", "--data", data)))); err != nil {
			t.Fatal(err)
		}
		p, c := startKeyholder(t, dir, data)
		e.holders[i] = p
		holders = append(holders, vclient.KeyHolder{URL: c.base, Token: c.token, PublicKey: pub})
		crts = append(crts, filepath.Join(dir, data, "dev-tls.crt"))
	}
	khHTTP, khRec := recordingClient(t, crts...)
	for i := range holders {
		holders[i].HTTP = khHTTP
	}
	e.khRec = khRec
	e.blinder = &vclient.Blinder{Holders: holders}

	// The blind index, with webhooks to WIJ's client system.
	runCLI(t, dir, "keys", "init", "--dev", "--data", "d", "--create-dev-kek", "--pseudonyms", "blind")
	ca, err := pki.NewCA("receivers")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "receivers.pem", string(ca.PEM()))
	e.hooks = hooktest.Start(t, ca)
	writeFile(t, dir, "webhooks.txt", "wij-groningen "+e.hooks.URL+"/vx "+e.hooks.Secret.Text()+"\n")
	e.hookArgs = []string{"--webhooks", filepath.Join(dir, "webhooks.txt"), "--webhook-ca", filepath.Join(dir, "receivers.pem")}
	e.startIndex()
	e.indexRT, e.indexRec = recordingClient(t, filepath.Join(dir, "d", "dev-tls.crt"))

	// Thirty youths: each reported by the school, most by WIJ too (a
	// match), some by the GGD; lookups by element, blinded anew for each
	// call; ends, an objection, a death and subject access by element.
	ys := canaryYouths(t, 0, 30)
	e.blind(ys)
	joined := 0 // reports that joined a youth another institution reported
	for i, y := range ys {
		res := e.report("school-example-lyceum", y, "signal", "LL-"+strconv.Itoa(100+i))
		if i%3 != 2 {
			if !e.report("wij-groningen", y, "involvement", "WIJ-"+strconv.Itoa(100+i)).Matched {
				t.Fatalf("youth %d: WIJ's report does not match the school's", i)
			}
			joined++
		}
		if i%5 == 0 {
			if !e.report("ggd-groningen", y, "involvement", "").Matched {
				t.Fatalf("youth %d: the GGD's report does not match", i)
			}
			joined++
		}
		if i < 8 {
			s, b, err := e.as("school-example-lyceum").post("/v1/lookups", httpapi.BSNRequest{Youth: e.element(y)})
			if v := must[httpapi.ViewResponse](t, s, b, err, 200); v.Matched != (i%3 != 2 || i%5 == 0) {
				t.Fatalf("youth %d's lookup: matched %v", i, v.Matched)
			}
		}
		if i%4 == 3 {
			s, b, err := e.as("school-example-lyceum").post("/v1/registrations/"+res.ID+"/end", httpapi.EndRequest{})
			if err != nil || s/100 != 2 {
				t.Fatalf("end: %d %s %v", s, b, err)
			}
		}
	}
	gemeente := e.as("gemeente-groningen")
	s, b, err := gemeente.post("/v1/subject-access", httpapi.SubjectAccessRequest{Youth: e.element(ys[1])})
	if sa := must[httpapi.SubjectAccessResponse](t, s, b, err, 200); len(sa.Registrations) != 2 {
		t.Fatalf("subject access by element: %d registrations, want 2", len(sa.Registrations))
	}
	if s, b, err := gemeente.post("/v1/subject-access", httpapi.SubjectAccessRequest{Youth: ys[4].youth, Format: "text"}); err != nil || s != 200 {
		t.Fatalf("subject access as a letter: %d %s %v", s, b, err)
	}
	if s, b, err := gemeente.post("/v1/objections", httpapi.ObjectionRequest{Youth: ys[2].youth, Scope: httpapi.ScopeAll}); err != nil || s != 204 {
		t.Fatalf("objection by element: %d %s %v", s, b, err)
	}
	if s, b, err := gemeente.post("/v1/deaths", httpapi.BSNRequest{Youth: ys[5].youth}); err != nil || s/100 != 2 {
		t.Fatalf("death by element: %d %s %v", s, b, err)
	}
	if s, b, err := e.as("wij-groningen").post("/v1/cases/close", httpapi.BSNRequest{Youth: ys[6].youth}); err != nil || s/100 != 2 {
		t.Fatalf("closing a case by element: %d %s %v", s, b, err)
	}
	for _, inst := range []string{"school-example-lyceum", "wij-groningen", "ggd-groningen"} {
		s, b, err := e.as(inst).get("/v1/events")
		if ev := must[httpapi.EventsResponse](t, s, b, err, 200); len(ev.Events) == 0 {
			t.Fatalf("%s has no events", inst)
		}
	}
	// The figures (answered or refused, whatever a closed year holds) and
	// the audit checkpoint: what the index serves is scanned too.
	gemeente.get("/v1/stats?year=2025&municipality=GM0014")
	waitCheckpoint(t, e.as(""), "vindex/vindex/audit", strings.TrimSpace(readFile(t, filepath.Join(dir, "d", "audit.pub"))), 60)
	deadline := time.Now().Add(20 * time.Second)
	for len(e.hooks.Seen().Got) < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks delivered, want one for each of WIJ's 20 reports or more", len(e.hooks.Seen().Got))
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, metrics, err := e.index.scrape()
	if err != nil || !bytes.Contains(metrics, []byte("vindex_matches_total "+strconv.Itoa(joined)+"\n")) {
		t.Fatalf("the index's /metrics (%v):\n%s", err, metrics)
	}
	e.index.stop(t)
	logs := append(e.index.stderr.Bytes(), e.index.stdout.Bytes()...)
	if n := bytes.Count(logs, []byte(`"msg":"request"`)); n < 60 {
		t.Fatalf("%d access-log lines: the log scan would prove little", n)
	}
	sent, got, n := e.indexRec.record()
	if n < 60 {
		t.Fatalf("%d requests recorded", n)
	}
	// Positive control: the index received every youth's element, in the
	// recorded requests.
	for _, y := range ys {
		if !bytes.Contains(sent, []byte(y.youth)) {
			t.Fatalf("the recorded requests lack youth %s's element: the recorder misses what the index receives", y.digits)
		}
	}
	index := map[string][]byte{"requests to the index": sent, "the index's answers": got, "the index's log": logs,
		"the index's /metrics": metrics, "webhooks": bytes.Join(e.hooks.Seen().Bodies, nil)}
	scanAll(t, "BSN or birth date at the index", e.needles, index, filepath.Join(dir, "d"))
	delete(index, "requests to the index") // the elements are what it receives
	delete(index, "the index's answers")
	scanAll(t, "element at the index", e.elements, index, filepath.Join(dir, "d"))

	// A kill -9 after ten more youths: what the WAL holds unflushed.
	e.startIndex()
	more := canaryYouths(t, 30, 40)
	e.blind(more)
	for _, y := range more {
		e.report("school-example-lyceum", y, "signal", "")
		e.report("wij-groningen", y, "involvement", "")
	}
	e.index.cmd.Process.Kill()
	<-e.index.done
	killed := append(e.index.stderr.Bytes(), e.index.stdout.Bytes()...)
	sent, got, _ = e.indexRec.record()
	scanAll(t, "BSN or birth date after a kill -9", e.needles, map[string][]byte{"requests to the index": sent,
		"the index's answers": got, "the killed index's log": killed}, filepath.Join(dir, "d"))
	scanAll(t, "element after a kill -9", e.elements, map[string][]byte{"the killed index's log": killed}, filepath.Join(dir, "d"))
	// The restart replays the WAL; the youths of the killed run are there.
	e.startIndex()
	s, b, err = e.as("school-example-lyceum").post("/v1/lookups", httpapi.BSNRequest{Youth: e.element(more[9])})
	if v := must[httpapi.ViewResponse](t, s, b, err, 200); !v.Matched {
		t.Fatal("a youth reported before the kill -9 is not matched after the restart")
	}
	e.index.stop(t)
	restarted := append(e.index.stderr.Bytes(), e.index.stdout.Bytes()...)
	sent, got, _ = e.indexRec.record()
	scanAll(t, "BSN or birth date after the restart", e.needles, map[string][]byte{"requests to the index": sent,
		"the index's answers": got, "the restarted index's log": restarted}, filepath.Join(dir, "d"))
	scanAll(t, "element after the restart", e.elements, map[string][]byte{"the restarted index's log": restarted}, filepath.Join(dir, "d"))

	// The key holders: what they received, stored, logged and counted.
	khMetrics := map[string][]byte{}
	evaluations := 0
	for i, p := range e.holders {
		_, m, err := p.scrape()
		if err != nil {
			t.Fatal(err)
		}
		khMetrics["key holder "+strconv.Itoa(i)+"'s /metrics"] = m
		for line := range strings.Lines(string(m)) {
			if v, ok := strings.CutPrefix(line, "vindex_keyholder_evaluations_total "); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				evaluations += n
			}
		}
		p.stop(t)
		khMetrics["key holder "+strconv.Itoa(i)+"'s log"] = append(p.stderr.Bytes(), p.stdout.Bytes()...)
	}
	// Both evaluated the 40 youths in two batches and 10 single calls.
	if evaluations != 2*(40+10) {
		t.Fatalf("%d evaluations by the key holders, want %d", evaluations, 2*(40+10))
	}
	khSent, khGot, _ := e.khRec.record()
	khMetrics["requests to the key holders"], khMetrics["the key holders' answers"] = khSent, khGot
	all := canary.Needles{}
	for k, v := range e.needles {
		all[k] = v
	}
	for k, v := range e.elements {
		all[k] = v
	}
	scanAll(t, "BSN, birth date or element at a key holder", all, khMetrics, filepath.Join(dir, "kh-a"), filepath.Join(dir, "kh-b"))

	// Positive control: an index that is not blind, sent BSNs and birth
	// dates by the same recording client; the recorder and the scanner
	// find all of them in what it received, and its store holds none.
	p := start(t, dir, "serve", "--dev", "--data", "h", "--listen", "127.0.0.1:0")
	hmacRT, hmacRec := recordingClient(t, filepath.Join(dir, "h", "dev-tls.crt"))
	hc := &client{http: hmacRT, base: "https://" + p.addr, token: parseTokens(t, p.stdout.String())["school-example-lyceum"]}
	control := canary.Needles{}
	for _, y := range ys[:5] {
		control.BSN("bsn "+y.digits, y.digits)
		control.Date("birth date "+y.born, y.born)
		s, b, err := hc.post("/v1/registrations", httpapi.RegistrationRequest{BSN: y.digits, BirthDate: y.born, Municipality: "GM0014",
			Kind: "signal", Code: "S01", Contact: httpapi.ContactJSON{Name: "K. Kanarie", Phone: "050-5550101"}})
		must[httpapi.RegistrationResponse](t, s, b, err, 201)
	}
	p.stop(t)
	hsent, _, _ := hmacRec.record()
	if found := control.Scan("sent", hsent); len(found) < len(control) {
		t.Fatalf("the scan of the requests to an hmac index found %d of %d BSNs and birth dates: it is blind\n%s", len(found), len(control), strings.Join(found, "\n"))
	}
	scanAll(t, "BSN or birth date in an hmac index's store", control, map[string][]byte{"the hmac index's log": p.stderr.Bytes()}, filepath.Join(dir, "h"))

	names, size := dirFiles(filepath.Join(dir, "d"))
	t.Logf("scanned the index's data directory, %d files, %d bytes: %s", len(names), size, strings.Join(names, " "))
	t.Logf("recorded %d requests to the index (%d bytes) and %d to the key holders (%d bytes)",
		e.indexRec.requests, e.indexRec.sent.Len(), e.khRec.requests, e.khRec.sent.Len())

	// Positive control: a planted BSN as a 4-byte little-endian integer and
	// a planted birth date as DDMMYYYY, in the blind index's data
	// directory, are found; nothing else is.
	v, _ := strconv.ParseUint(ys[7].digits, 10, 32)
	born := ys[8].born
	writeFile(t, dir, "d/store/planted", "x"+string([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})+born[8:10]+born[5:7]+born[0:4])
	found, err := e.needles.ScanDir(filepath.Join(dir, "d"))
	if err != nil || len(found) != 2 || !strings.Contains(strings.Join(found, "\n"), "bsn "+ys[7].digits) || !strings.Contains(strings.Join(found, "\n"), "birth date "+born) {
		t.Fatalf("the scan of a planted BSN and birth date found (%v):\n%s", err, strings.Join(found, "\n"))
	}
}

// dirFiles lists the files under dir, relative to it, and their bytes in
// all.
func dirFiles(dir string) (names []string, size int64) {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			r, _ := filepath.Rel(dir, p)
			names = append(names, r)
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return err
	})
	return names, size
}
