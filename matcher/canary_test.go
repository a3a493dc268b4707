package matcher_test

import (
	"bytes"
	"log/slog"
	"strconv"
	"testing"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// Registering known youths leaves none of their BSNs, birth dates or
// client references in the store's files or the logs. Pebble keeps recent writes in its write-ahead
// log uncompressed, so the scan reads what was written in the clear.
func TestCanaryNoIdentityAtRestOrInLogs(t *testing.T) {
	var logs canary.Log
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	e := newEnvWith(t, freshPseudonymiser(t), dir, logger)

	needles := canary.Needles{}
	births := []string{"2010-11-23", "2008-02-29", "2019-07-04", "2004-12-31"}
	for i := range 40 {
		n := 1000 + i*7
		needles.BSN("bsn "+strconv.Itoa(i), bsnDigits(t, n))
		bd := births[i%len(births)]
		needles.Date("birth date "+bd, bd)
		r := e.involvement(t, n)
		r.BirthDate = birth(t, bd)
		// Client references are sealed: none may be found in the clear.
		r.ClientRef = "CANARY-REF-" + strconv.Itoa(n)
		needles["client ref "+strconv.Itoa(i)] = [][]byte{[]byte(r.ClientRef)}
		e.register(t, wij, r)
		s := e.signal(t, n)
		s.BirthDate = r.BirthDate
		res := e.register(t, school, s)
		if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: school}, s.Youth); err != nil {
			t.Fatal(err)
		}
		// Errors are logged too: an uninvolved lookup and a bad report.
		e.m.Lookup(ctx, matcher.Actor{Institution: police}, s.Youth)
		bad := s
		bad.Contact.Name = ""
		e.m.Register(ctx, matcher.Actor{Institution: school}, bad)
		if i%5 == 0 {
			if err := e.m.End(ctx, matcher.Actor{Institution: school}, res.ID, e.clock.Now(), matcher.EndRiskGone); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	if len(logs.Bytes()) == 0 {
		t.Fatal("nothing was logged: the log scan would prove nothing")
	}
	if found, err := needles.ScanDir(dir); err != nil || len(found) > 0 {
		t.Fatalf("identity found at rest:\n%s", bytes.Join(toBytes(found), []byte("\n")))
	}
	if found := needles.Scan("logs", logs.Bytes()); len(found) > 0 {
		t.Fatalf("identity found in logs:\n%s", bytes.Join(toBytes(found), []byte("\n")))
	}
}

// The scan finds an identity that is written in the clear: without this, a
// passing canary could mean a blind scanner.
func TestCanaryScanFindsPlantedIdentity(t *testing.T) {
	dir := t.TempDir()
	st, err := pebblestore.Open(dir, &pebblestore.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	digits := bsnDigits(t, 4242)
	y := pseudonym.Pseudonym{KeyID: 1}
	reg := store.Registration{ID: store.NewID(), Youth: y, Institution: "x", Kind: store.KindSignal,
		Contact: store.Contact{Name: "planted " + digits + " 2010-11-23"}}
	if err := st.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error { tx.Put(reg); return nil }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	needles := canary.Needles{}
	needles.BSN("bsn", digits)
	needles.Date("birth date", "2010-11-23")
	found, err := needles.ScanDir(dir)
	if err != nil || len(found) < 2 {
		t.Fatalf("the scanner missed a planted BSN and birth date: %v", found)
	}
}

func toBytes(ss []string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		out = append(out, []byte(s))
	}
	return out
}
