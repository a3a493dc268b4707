package notify_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/bench"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/examples"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/hooktest"
	"github.com/vindex-nl/vindex/internal/smtptest"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// matcherEnv is a matcher on a real store under the example covenant.
type matcherEnv struct {
	m   *matcher.Matcher
	s   *pebblestore.Store
	cov *rules.Covenant
	ps  *pseudonym.Pseudonymiser
}

// newMatcherEnv opens one in a temporary directory, with a fresh PRF
// keyset and refs (nil: no client references) to seal client references.
func newMatcherEnv(tb testing.TB, refs matcher.RefSealer) *matcherEnv {
	tb.Helper()
	cov, err := rules.Load(bytes.NewReader(examples.CovenantGroningen), "covenant-groningen.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	ps, err := bench.NewPseudonymiser()
	if err != nil {
		tb.Fatal(err)
	}
	s := openStore(tb, tb.TempDir())
	tb.Cleanup(func() { s.Close() })
	m, err := matcher.New(matcher.Config{Store: s, Pseudonymiser: ps, ClientRefs: refs, Covenant: cov})
	if err != nil {
		tb.Fatal(err)
	}
	return &matcherEnv{m: m, s: s, cov: cov, ps: ps}
}

// Two institutions report one youth through the matcher, each with its own
// client reference; the worker mails both professionals over STARTTLS to a
// real SMTP server, and posts WIJ's events to its client system, whose
// first answer is a 500. Each professional gets the mails the events imply,
// with the other's contact and its own reference (never the other's);
// the retried webhook carries the same ID; and no byte of any message or
// webhook holds the BSN, the birth date or the youth's pseudonym.
func TestMatchIsMailedAndPosted(t *testing.T) {
	refs := testkeys.Sealer(t)
	env := newMatcherEnv(t, refs)
	m, s, cov, ps := env.m, env.s, env.cov, env.ps
	const digits, date = "111222333", "2014-05-17"
	bsn, _ := identity.ParseBSN(digits)
	birth, _ := identity.ParseBirthDate(date)
	youth, err := m.YouthByBSN(bsn)
	if err != nil {
		t.Fatal(err)
	}
	report := func(inst string, kind matcher.Kind, code string, c matcher.Contact, ref string) {
		t.Helper()
		if _, err := m.Register(bg, matcher.Actor{Institution: inst}, matcher.Registration{
			Youth: youth, BirthDate: birth, Municipality: "GM0014", Kind: kind, SignalCode: code, Contact: c, ClientRef: ref,
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Each institution's own dossier number.
	const wijRef, schoolRef = "WIJ-DOS-0042", "LL-2026-17"
	report("wij-groningen", matcher.Involvement, "", matcher.Contact{Name: "M. de Vries", Phone: "050-7654321", Email: "m.devries@wij.example"}, wijRef)
	report("school-example-lyceum", matcher.Signal, "S01", matcher.Contact{Name: "J. Bakker", Phone: "050-1112222", Email: "j.bakker@lyceum.example"}, schoolRef)

	ca, cert := testCA(t)
	smtpSrv := smtptest.Start(t, &cert)
	mailer, err := notify.NewMailer(notify.SMTPConfig{Address: smtpSrv.Addr, From: "Verwijsindex <noreply@vindex.example>",
		Username: smtptest.Username, Password: smtptest.Password, RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	tm, err := notify.BuiltinTemplates("nl")
	if err != nil {
		t.Fatal(err)
	}
	rc := hooktest.Start(t, ca, 500)
	hook, err := notify.NewHook(notify.HookConfig{URL: rc.URL, Secret: rc.Secret, RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	email := func(mailbox string) []notify.Channel {
		return notify.MailChannels(notify.EmailChannel{Sender: mailer, Templates: tm, Registrations: s, ClientRefs: refs, Mailbox: mailbox, Region: "Groningen",
			DisplayName: cov.InstitutionName, RuleLabel: cov.RuleLabel})
	}
	channels := map[string][]notify.Channel{
		"wij-groningen":         append(email(""), &notify.WebhookChannel{Hook: hook, Registrations: s, ClientRefs: refs}),
		"school-example-lyceum": email("zorg@lyceum.example"),
	}
	w, err := notify.NewWorker(notify.WorkerConfig{
		Store: s, Channels: func(i string) []notify.Channel { return channels[i] },
		Institutions: func() []string { return []string{"wij-groningen", "school-example-lyceum"} },
		MinBackoff:   10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		round(t, w)
		done := true
		for inst, chs := range channels {
			for _, ch := range chs {
				evs, _, _ := store.Undelivered(bg, s, inst, ch.Name(), 10)
				done = done && len(evs) == 0
			}
		}
		if done {
			break
		}
		time.Sleep(30 * time.Millisecond)
	}

	// Who got what: WIJ reported first (no match yet), then the school's
	// report made the match and assigned the coordinator (WIJ, in the
	// city): one mail per address for that report, the match, which names
	// the coordinator and its rule by the covenant's label.
	// Each mail quotes its recipient's own reference (in the subject and
	// the body) and never the other institution's.
	const rule = "wij-team-stad-groningen"
	if cov.RuleLabel(rule) == rule {
		t.Fatalf("rule %s has no label in the covenant", rule)
	}
	ownRef := map[string]string{"m.devries@wij.example": wijRef, "j.bakker@lyceum.example": schoolRef, "zorg@lyceum.example": schoolRef}
	bySubject := map[string][]string{}
	var all []byte
	for _, r := range smtpSrv.Messages() {
		_, subject, body := parseMail(t, r.Data)
		for _, to := range r.To {
			bySubject[to] = append(bySubject[to], subject)
			own, other := ownRef[to], wijRef
			if own == wijRef {
				other = schoolRef
			}
			if !strings.Contains(subject, own) || !strings.Contains(body, own) {
				t.Errorf("mail to %s (%q) does not quote its reference %s", to, subject, own)
			}
			if bytes.Contains(r.Data, []byte(other)) {
				t.Errorf("mail to %s quotes the other institution's reference", to)
			}
			if text := mailParts(t, r.Data); strings.Contains(subject, "match met") &&
				(!strings.Contains(text, "(regel: "+cov.RuleLabel(rule)+")") || strings.Contains(text, rule)) {
				t.Errorf("mail to %s does not name the rule by its label %q:\n%s", to, cov.RuleLabel(rule), text)
			}
		}
		all = append(all, r.Data...)
	}
	want := map[string][]string{
		"m.devries@wij.example":   {"geen match", "match met Voorbeeldlyceum Groningen, u bent procescoördinator"},
		"j.bakker@lyceum.example": {"match met WIJ Groningen, procescoördinatie bij WIJ Groningen"},
		"zorg@lyceum.example":     {"match met WIJ Groningen, procescoördinatie bij WIJ Groningen"},
	}
	for to, subjects := range want {
		got := bySubject[to]
		if len(got) != len(subjects) {
			t.Errorf("%s got %d mails %q, want %d", to, len(got), got, len(subjects))
			continue
		}
		for _, w := range subjects {
			found := false
			for _, g := range got {
				found = found || strings.Contains(g, w)
			}
			if !found {
				t.Errorf("%s: no mail about %q in %q", to, w, got)
			}
		}
	}
	if !bytes.Contains(all, []byte("j.bakker@lyceum.example")) || !bytes.Contains(all, []byte("050-7654321")) {
		t.Error("the mails do not give the other professional's contact")
	}
	seen := rc.Seen()
	ids, got := seen.IDs, seen.Got
	// The first post got the 500; it came again later with the same ID.
	// WIJ's client system got two events: the no-match, and the match
	// naming the coordinator and its rule.
	if len(ids) != 3 || ids[2] != ids[0] || len(got) != 2 || seen.Bad != 0 {
		t.Fatalf("webhook: ids %v, %d delivered, %d badly signed", ids, len(got), seen.Bad)
	}
	for _, ev := range got {
		if ev.Type == "match" && (ev.Coordinator != "wij-groningen" || ev.Rule != rule) {
			t.Errorf("webhook: the match names coordinator %q rule %q", ev.Coordinator, ev.Rule)
		}
		if ev.ClientRef != wijRef {
			t.Errorf("webhook %s: client_ref %q, want %q", ev.Type, ev.ClientRef, wijRef)
		}
		b, _ := json.Marshal(ev)
		all = append(all, b...)
	}

	set, err := ps.Youth(bsn)
	if err != nil {
		t.Fatal(err)
	}
	for what, needle := range map[string]string{
		"BSN": digits, "birth date": date, "birth date (NL)": "17-05-2014", "birth date (compact)": "20140517",
		"pseudonym (hex)":    hex.EncodeToString(set.Primary.Sum[:]),
		"pseudonym (base64)": base64.StdEncoding.EncodeToString(set.Primary.Sum[:])[:20],
	} {
		if bytes.Contains(all, []byte(needle)) {
			t.Errorf("a message holds the youth's %s", what)
		}
	}
}

// mailParts returns the decoded text and HTML parts of a multipart mail.
func mailParts(t *testing.T, data []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
	}
}
