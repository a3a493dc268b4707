package matcher_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/canary"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// canaryAddress is the i-th canary address: a postcode unlikely to occur
// by chance, a house number and an addition.
func canaryAddress(t testing.TB, i int) (identity.Address, string, int, string) {
	t.Helper()
	pc := fmt.Sprintf("%04d%c%c", 5000+i*13, 'Q'+rune(i%3), 'X'+rune(i%2))
	a, err := identity.ParseAddress(pc, 100+i, "B")
	if err != nil {
		t.Fatal(err)
	}
	return a, pc, 100 + i, "B"
}

// Family matches leave no parent's BSN, no address and no postcode in the
// store's files, the logs or the events: reports with parents and
// addresses that match, refresh, end and are refused, then a scan.
func TestCanaryNoFamilyIdentity(t *testing.T) {
	var logs canary.Log
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	excluded, pcx, nx, ax := canaryAddress(t, 99)
	e := newFamilyEnvWith(t, []identity.Address{excluded}, dir, logger)
	needles := canary.Needles{}
	needles.Address("excluded address", pcx, nx, ax)
	for i := range 20 {
		p1, p2 := 6000+i*11, 6500+i*11
		needles.BSN("parent "+strconv.Itoa(i), bsnDigits(t, p1))
		needles.BSN("other parent "+strconv.Itoa(i), bsnDigits(t, p2))
		addr, pc, n, add := canaryAddress(t, i)
		needles.Address("address "+strconv.Itoa(i), pc, n, add)
		for j, inst := range []string{wij, ggd, school} {
			r := e.involvement(t, 3000+3*i+j)
			if inst == school {
				r = e.signal(t, 3000+3*i+j)
			}
			r.Parents = []identity.BSN{bsnFor(t, p1), bsnFor(t, p2)}
			r.Address = &addr
			if j == 2 {
				r.Address = &excluded
			}
			res := e.register(t, inst, r)
			e.register(t, inst, r) // a refresh
			if i%4 == 0 && j == 1 {
				if err := e.m.End(ctx, matcher.Actor{Institution: inst}, res.ID, e.clock.Now(), matcher.EndRiskGone); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Refused reports are logged too.
		bad := e.involvement(t, 3000+3*i)
		bad.Parents = []identity.BSN{bsnFor(t, p1), bsnFor(t, p1)}
		e.m.Register(ctx, matcher.Actor{Institution: wij}, bad)
	}
	var events []byte
	for _, inst := range []string{wij, ggd, school} {
		evs := e.events(t, inst)
		if countType(evs, store.EventFamilyMatch) == 0 {
			t.Fatalf("%s got no family-match event: the scan would prove little", inst)
		}
		events = fmt.Appendf(events, "%+v\n", evs)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	if len(logs.Bytes()) == 0 {
		t.Fatal("nothing was logged: the log scan would prove nothing")
	}
	for where, found := range map[string][]string{
		"logs":   needles.Scan("logs", logs.Bytes()),
		"events": needles.Scan("events", events),
	} {
		if len(found) > 0 {
			t.Fatalf("family identity in %s:\n%s", where, strings.Join(found, "\n"))
		}
	}
	if found, err := needles.ScanDir(dir); err != nil || len(found) > 0 {
		t.Fatalf("family identity at rest (%v):\n%s", err, strings.Join(found, "\n"))
	}
}

// The scan finds a parent's BSN and an address written in the clear.
func TestCanaryScanFindsPlantedFamilyIdentity(t *testing.T) {
	dir := t.TempDir()
	st, err := pebblestore.Open(dir, &pebblestore.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	digits := bsnDigits(t, 6000)
	_, pc, n, add := canaryAddress(t, 1)
	y := pseudonym.Pseudonym{KeyID: 1}
	reg := store.Registration{ID: store.NewID(), Youth: y, Institution: "x", Kind: store.KindSignal,
		Contact: store.Contact{Name: "planted " + digits, Phone: pc[:4] + " " + pc[4:] + " " + strconv.Itoa(n) + "-" + add}}
	if err := st.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error { tx.Put(reg); return nil }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	needles := canary.Needles{}
	needles.BSN("parent", digits)
	needles.Address("address", pc, n, add)
	found, err := needles.ScanDir(dir)
	if err != nil || len(found) < 2 {
		t.Fatalf("the scanner missed a planted parent's BSN and address: %v", found)
	}
	if !bytes.Contains([]byte(strings.Join(found, "\n")), []byte("address")) {
		t.Fatalf("the scanner missed the planted address: %v", found)
	}
}
