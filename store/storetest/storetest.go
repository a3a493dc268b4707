// Package storetest is the conformance suite for store.Store backends, in the
// manner of testing/fstest.TestFS: a backend's own test calls Run with a
// function that makes a fresh, empty store location and returns how to open
// (and, after Close, re-open) it.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Opener {
//			dir := t.TempDir()
//			return func() (store.Store, error) { return mystore.Open(dir) }
//		})
//	}
//
// The suite checks what the store package documents: atomic updates (all or
// nothing), reads of one's own staged writes, durability across Close and
// re-open, migration between pseudonyms, the identifier and day indexes, the
// outbox's per-recipient sequence numbers and view, idempotency records (and
// forgetting those of one registration), the family index of live
// registrations' relations and its bounded read, family pair notes,
// serialised updates of one family key under concurrency,
// serialised updates of one youth under concurrency, and ErrClosed.
//
// For each optional interface of package store the backend implements, it
// checks that too (and skips those tests otherwise): the delivery state and
// each recipient's LastSeq (store.DeliveryStore); the key-use counts by which a
// key is retired only when nothing live depends on it, through rotation,
// migration, ending, removal, purging and re-open (store.KeyUse); and the
// write check (store.Checker); the management figures' counters, added in
// the commits that count and never lost under concurrent writers
// (store.FigureReader).
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// Opener opens the store at one location; called again after Close it must
// re-open the same data.
type Opener func() (store.Store, error)

// Run runs the conformance suite. newLocation is called once per subtest.
func Run(t *testing.T, newLocation func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"PutAndRead", testPutAndRead},
		{"PutNew", testPutNew},
		{"AllOrNothing", testAllOrNothing},
		{"ReadOwnWrites", testReadOwnWrites},
		{"RegistrationsAreTheCallers", testRegistrationsAreTheCallers},
		{"Conflict", testConflict},
		{"Migrate", testMigrate},
		{"Delete", testDelete},
		{"History", testHistory},
		{"HistoryMigrate", testHistoryMigrate},
		{"Case", testCase},
		{"Wakeups", testWakeups},
		{"Outbox", testOutbox},
		{"OutboxAfterReopen", testOutboxAfterReopen},
		{"OutboxPerRecipient", testOutboxPerRecipient},
		{"OutboxPerRecipientConcurrent", testOutboxPerRecipientConcurrent},
		{"Due", testDue},
		{"Idempotency", testIdempotency},
		{"IdempotencyPurge", testIdempotencyPurge},
		{"IdempotencyOfRegistration", testIdempotencyOfRegistration},
		{"Durable", testDurable},
		{"SerialisedPerYouth", testSerialisedPerYouth},
		{"ParallelYouths", testParallelYouths},
		{"PollerMissesNothing", testPollerMissesNothing},
		{"Closed", testClosed},
		{"ContextCancelled", testContextCancelled},
		{"Deliveries", testDeliveries},
		{"RetryDead", testRetryDead},
		{"DeliveryRetries", testDeliveryRetries},
		{"LastSeq", testLastSeq},
		{"LastSeqConcurrent", testLastSeqConcurrent},
		{"KeyUseLive", testKeyUseLive},
		{"KeyUseRefs", testKeyUseRefs},
		{"KeyUseConcurrent", testKeyUseConcurrent},
		{"Check", testCheck},
		{"Audit", testAudit},
		{"AuditAfterReopen", testAuditAfterReopen},
		{"AuditConcurrent", testAuditConcurrent},
		{"AuditTree", testAuditTree},
		{"AuditCut", testAuditCut},
		{"AuditCutAll", testAuditCutAll},
		{"Figures", testFigures},
		{"FiguresConcurrent", testFiguresConcurrent},
		{"AuditOfYouth", testAuditOfYouth},
		{"AuditOfYouthAfterReopen", testAuditOfYouthAfterReopen},
		{"Youths", testYouths},
		{"ElementKept", testElementKept},
		{"Family", testFamily},
		{"FamilyEnds", testFamilyEnds},
		{"FamilyMigrate", testFamilyMigrate},
		{"FamilyLimit", testFamilyLimit},
		{"FamilyNotes", testFamilyNotes},
		{"FamilySerialised", testFamilySerialised},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newLocation(t))
		})
	}
}

var ctx = context.Background()

// Youth returns a deterministic test pseudonym for youth n under key keyID.
func Youth(keyID uint32, n int) pseudonym.Pseudonym {
	p := pseudonym.Pseudonym{KeyID: keyID}
	for i := range p.Sum {
		p.Sum[i] = byte(n>>(8*(i%4))) ^ byte(i*31)
	}
	return p
}

// IdemKey stands for the keyed hash under which the matcher keeps the
// idempotency record of institution's key (key ID 1): a store takes any
// 32 bytes and never sees the key itself.
func IdemKey(institution, key string) pseudonym.Pseudonym {
	return pseudonym.Pseudonym{KeyID: 1, Sum: sha256.Sum256([]byte(institution + "\x00" + key))}
}

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// day0 is t0's civil day.
var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Reg returns a live test registration.
func Reg(youth pseudonym.Pseudonym, institution string, at time.Time) store.Registration {
	return store.Registration{
		ID:           store.NewID(),
		Youth:        youth,
		Institution:  institution,
		Kind:         store.KindInvolvement,
		Municipality: "GM0014",
		Contact:      store.Contact{Name: "J. de Vries", Phone: "+31 50 000 0000", Email: "j.devries@example.org"},
		CreatedAt:    at,
		UpdatedAt:    at,
		EndsOn:       day(at.Year()+2, at.Month(), at.Day()),
	}
}

func mustOpen(t *testing.T, open Opener) store.Store {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func openStore(t *testing.T, open Opener) store.Store {
	t.Helper()
	s := mustOpen(t, open)
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s store.Store, youth []pseudonym.Pseudonym, regs ...store.Registration) {
	t.Helper()
	err := s.Update(ctx, youth, func(tx store.Tx) error {
		for _, r := range regs {
			tx.Put(r)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
}

func regsOf(t *testing.T, s store.Store, youth ...pseudonym.Pseudonym) []store.Registration {
	t.Helper()
	var out []store.Registration
	err := s.View(ctx, youth, func(r store.Reader) error {
		out = r.Registrations()
		return nil
	})
	if err != nil {
		t.Fatalf("view: %v", err)
	}
	return out
}

func sameReg(t *testing.T, got, want store.Registration) {
	t.Helper()
	if got.ID != want.ID || got.Youth != want.Youth || got.Institution != want.Institution ||
		got.Kind != want.Kind || got.SignalCode != want.SignalCode || got.Urgent != want.Urgent ||
		got.Sector != want.Sector || got.Municipality != want.Municipality || got.Contact != want.Contact ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) ||
		!got.EndsOn.Equal(want.EndsOn) || !got.EndedAt.Equal(want.EndedAt) ||
		got.EndReason != want.EndReason || !got.PurgeOn.Equal(want.PurgeOn) ||
		!bytes.Equal(got.ClientRef, want.ClientRef) || !bytes.Equal(got.Element, want.Element) ||
		got.AgeBand != want.AgeBand || !sameInform(got.Inform, want.Inform) || !got.DestroyOn.Equal(want.DestroyOn) ||
		!sameRelations(got.Relations, want.Relations) {
		t.Fatalf("registration differs:\n got  %+v\n want %+v", got, want)
	}
}

// sameInform compares two inform records, their days by instant.
func sameInform(a, b store.Inform) bool {
	return a.Who == b.Who && a.On.Equal(b.On) && a.Not == b.Not && a.Due.Equal(b.Due) && a.Reminded == b.Reminded
}

func testPutAndRead(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	a := Reg(y, "ggd", t0)
	a.Kind, a.SignalCode, a.Urgent, a.Sector = store.KindSignal, "S01", true, "child-protection"
	a.ClientRef = []byte("sealed reference bytes")
	a.AgeBand = store.Age12To15
	a.Inform = store.Inform{Not: store.NotInformedLater, Due: time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)}
	a.DestroyOn = time.Date(2033, 7, 1, 0, 0, 0, 0, time.UTC)
	b := Reg(y, "school", t0.Add(time.Minute))
	b.AgeBand = store.Age16Up
	b.Inform = store.Inform{Who: store.WhomYouth, On: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	put(t, s, []pseudonym.Pseudonym{y}, a, b)

	got := regsOf(t, s, y)
	if len(got) != 2 {
		t.Fatalf("got %d registrations, want 2", len(got))
	}
	sameReg(t, got[0], a)
	sameReg(t, got[1], b)
	one, err := s.Registration(ctx, b.ID)
	if err != nil {
		t.Fatalf("Registration: %v", err)
	}
	sameReg(t, one, b)
	if _, err := s.Registration(ctx, store.NewID()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: err = %v, want ErrNotFound", err)
	}
	if got := regsOf(t, s, Youth(1, 2)); len(got) != 0 {
		t.Fatalf("other youth sees %d registrations", len(got))
	}
}

// testPutNew: a registration put as new is written as Put writes it, with
// its indexes, beside the youth's other registrations, and ends and goes
// to the history as any other.
func testPutNew(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	a := Reg(y, "ggd", t0)
	put(t, s, []pseudonym.Pseudonym{y}, a)
	b := Reg(y, "school", t0.Add(time.Minute))
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.PutNew(b)
		if _, ok := tx.Ended(b.ID); ok {
			t.Error("a new registration is in the history")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := regsOf(t, s, y)
	if len(got) != 2 {
		t.Fatalf("got %d registrations, want 2", len(got))
	}
	sameReg(t, got[1], b)
	one, err := s.Registration(ctx, b.ID)
	if err != nil {
		t.Fatalf("Registration: %v", err)
	}
	sameReg(t, one, b)
	ended := b
	ended.EndReason, ended.EndedAt = store.EndedByInstitution, t0.Add(time.Hour)
	put(t, s, []pseudonym.Pseudonym{y}, ended)
	if got := regsOf(t, s, y); len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("after the end: %d live registrations", len(got))
	}
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		if r, ok := tx.Ended(b.ID); !ok || r.EndReason != store.EndedByInstitution {
			t.Errorf("the ended registration: %v %v", r.EndReason, ok)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func testAllOrNothing(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	boom := errors.New("boom")
	err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.Put(Reg(y, "ggd", t0))
		tx.PutCase(store.Case{Youth: y, Matched: true, Coordinator: "ggd", Age: 4})
		tx.Append(store.Event{Type: store.EventMatch, Recipient: "ggd", At: t0})
		tx.PutIdempotency(IdemKey("ggd", "k1"), store.Idempotency{Youth: y, CreatedAt: t0})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the function's error", err)
	}
	if got := regsOf(t, s, y); len(got) != 0 {
		t.Fatalf("failed update left %d registrations", len(got))
	}
	s.View(ctx, []pseudonym.Pseudonym{y}, func(r store.Reader) error {
		if _, ok := r.Case(); ok {
			t.Error("failed update left a case")
		}
		if _, ok := r.Idempotency(IdemKey("ggd", "k1")); ok {
			t.Error("failed update left an idempotency record")
		}
		return nil
	})
	if ev, err := s.Events(ctx, "", 0, 10); err != nil || len(ev) != 0 {
		t.Fatalf("failed update left events: %v %v", ev, err)
	}
	if due, err := s.Due(ctx, day(2100, 1, 1), 10); err != nil || len(due) != 0 {
		t.Fatalf("failed update left due items: %v %v", due, err)
	}
}

func testReadOwnWrites(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	a := Reg(y, "ggd", t0)
	put(t, s, []pseudonym.Pseudonym{y}, a)
	err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		b := Reg(y, "school", t0.Add(time.Hour))
		tx.Put(b)
		if n := len(tx.Registrations()); n != 2 {
			return fmt.Errorf("after Put: %d registrations, want 2", n)
		}
		tx.Delete(a.ID)
		if r := tx.Registrations(); len(r) != 1 || r[0].ID != b.ID {
			return fmt.Errorf("after Delete: %v", r)
		}
		tx.PutCase(store.Case{Youth: y, Coordinator: "school"})
		if c, ok := tx.Case(); !ok || c.Coordinator != "school" {
			return fmt.Errorf("case not visible: %v %v", c, ok)
		}
		tx.PutIdempotency(IdemKey("school", "k"), store.Idempotency{Registration: b.ID, Youth: y})
		if rec, ok := tx.Idempotency(IdemKey("school", "k")); !ok || rec.Registration != b.ID {
			return fmt.Errorf("idempotency not visible")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testRegistrationsAreTheCallers: what Registrations returns, in a view
// and in an update before and after a Put, is the caller's to change: a
// caller that overwrites and filters it in place changes neither what the
// next call returns nor what the update commits.
func testRegistrationsAreTheCallers(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	a, b := Reg(y, "ggd", t0), Reg(y, "school", t0.Add(time.Hour))
	put(t, s, []pseudonym.Pseudonym{y}, a, b)
	scribble := func(regs []store.Registration) {
		for i := range regs {
			regs[i].Institution = "scribbled"
		}
		_ = slices.DeleteFunc(regs, func(r store.Registration) bool { return r.ID == a.ID })
	}
	same := func(when string, got []store.Registration, want ...store.Registration) error {
		if len(got) != len(want) {
			return fmt.Errorf("%s: %d registrations, want %d", when, len(got), len(want))
		}
		for i := range want {
			if got[i].ID != want[i].ID || got[i].Institution != want[i].Institution {
				return fmt.Errorf("%s: registration %d is %s of %q, want %s of %q", when, i, got[i].ID, got[i].Institution, want[i].ID, want[i].Institution)
			}
		}
		return nil
	}
	err := s.View(ctx, []pseudonym.Pseudonym{y}, func(r store.Reader) error {
		scribble(r.Registrations())
		return same("view, after a change to the first copy", r.Registrations(), a, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	c := Reg(y, "wij", t0.Add(2*time.Hour))
	err = s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		scribble(tx.Registrations())
		if err := same("update, after a change to the first copy", tx.Registrations(), a, b); err != nil {
			return err
		}
		tx.Put(c)
		scribble(tx.Registrations())
		return same("update, after a Put and a change to a copy", tx.Registrations(), a, b, c)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := same("committed", regsOf(t, s, y), a, b, c); err != nil {
		t.Fatal(err)
	}
}

func testConflict(t *testing.T, open Opener) {
	s := openStore(t, open)
	y, other := Youth(1, 1), Youth(1, 2)
	err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.Put(Reg(y, "ggd", t0))
		tx.Put(Reg(other, "ggd", t0))
		return nil
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if n := len(regsOf(t, s, y, other)); n != 0 {
		t.Fatalf("conflicting update wrote %d registrations", n)
	}
	if err := s.Update(ctx, nil, func(store.Tx) error { return nil }); err == nil {
		t.Fatal("update without a pseudonym succeeded")
	}
}

func testMigrate(t *testing.T, open Opener) {
	s := openStore(t, open)
	old, cur := Youth(1, 7), Youth(2, 7)
	a := Reg(old, "ggd", t0)
	put(t, s, []pseudonym.Pseudonym{old}, a)
	if err := s.Update(ctx, []pseudonym.Pseudonym{old}, func(tx store.Tx) error {
		tx.PutCase(store.Case{Youth: old, Coordinator: "ggd"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A report under both keys sees the old record and moves it.
	err := s.Update(ctx, []pseudonym.Pseudonym{cur, old}, func(tx store.Tx) error {
		regs := tx.Registrations()
		if len(regs) != 1 || regs[0].Youth != old {
			return fmt.Errorf("old-key registration not seen: %v", regs)
		}
		c, ok := tx.Case()
		if !ok || c.Youth != old {
			return fmt.Errorf("old-key case not seen")
		}
		r := regs[0]
		r.Youth = cur
		tx.Put(r)
		c.Youth = cur
		tx.PutCase(c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := regsOf(t, s, old); len(got) != 0 {
		t.Fatalf("%d registrations left under the old key", len(got))
	}
	got := regsOf(t, s, cur)
	if len(got) != 1 || got[0].ID != a.ID || got[0].Youth != cur {
		t.Fatalf("migrated registrations: %v", got)
	}
	s.View(ctx, []pseudonym.Pseudonym{old}, func(r store.Reader) error {
		if _, ok := r.Case(); ok {
			t.Error("case left under the old key")
		}
		return nil
	})
	// The identifier follows the registration.
	err = s.UpdateByID(ctx, a.ID, func(tx store.Tx) error {
		if regs := tx.Registrations(); len(regs) != 1 || regs[0].Youth != cur {
			return fmt.Errorf("UpdateByID sees %v", regs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Registration(ctx, a.ID); err != nil || r.Youth != cur {
		t.Fatalf("Registration after migration: %v %v", r, err)
	}
}

func testDelete(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	a, b := Reg(y, "ggd", t0), Reg(y, "school", t0)
	put(t, s, []pseudonym.Pseudonym{y}, a, b)
	err := s.UpdateByID(ctx, a.ID, func(tx store.Tx) error {
		tx.Delete(a.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Registration(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted registration: err = %v, want ErrNotFound", err)
	}
	if err := s.UpdateByID(ctx, a.ID, func(store.Tx) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateByID of deleted: err = %v, want ErrNotFound", err)
	}
	got := regsOf(t, s, y)
	if len(got) != 1 || got[0].ID != b.ID {
		t.Fatalf("left: %v", got)
	}
	due, err := s.Due(ctx, day(2100, 1, 1), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].ID != b.ID {
		t.Fatalf("due after delete: %v", due)
	}
}

// history reads the youth's live registrations, its history, and its
// ended registration id.
func history(t *testing.T, s store.Store, id store.ID, youth ...pseudonym.Pseudonym) (live, hist []store.Registration, one store.Registration, found bool) {
	t.Helper()
	err := s.View(ctx, youth, func(r store.Reader) error {
		live, hist = r.Registrations(), r.History()
		one, found = r.Ended(id)
		return nil
	})
	if err != nil {
		t.Fatalf("view: %v", err)
	}
	return live, hist, one, found
}

// testHistory: an ended registration leaves the live registrations for the
// history, where Ended, History, Registration, UpdateByID and Due find it;
// put live again it is back among the live ones; deleted, it is gone.
func testHistory(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	a, b := Reg(y, "ggd", t0), Reg(y, "school", t0.Add(time.Minute))
	put(t, s, []pseudonym.Pseudonym{y}, a, b)
	endedA := ended(a, t0.Add(time.Hour), store.EndedByInstitution)
	if err := s.UpdateByID(ctx, a.ID, func(tx store.Tx) error {
		tx.Put(endedA)
		if live := tx.Registrations(); len(live) != 1 || live[0].ID != b.ID {
			t.Errorf("a Tx's live registrations after it ended one: %v", live)
		}
		if got, ok := tx.Ended(a.ID); !ok || got.EndReason != store.EndedByInstitution {
			t.Errorf("a Tx's Ended after it ended one: %+v %v", got, ok)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	live, hist, got, ok := history(t, s, a.ID, y)
	if len(live) != 1 || live[0].ID != b.ID || len(hist) != 1 || !ok {
		t.Fatalf("after the end: live %v, history %v, Ended found %v", live, hist, ok)
	}
	sameReg(t, got, endedA)
	sameReg(t, hist[0], endedA)
	if _, _, _, ok := history(t, s, b.ID, y); ok {
		t.Fatal("Ended found a live registration")
	}
	if r, err := s.Registration(ctx, a.ID); err != nil {
		t.Fatalf("Registration of an ended one: %v", err)
	} else {
		sameReg(t, r, endedA)
	}
	due, err := s.Due(ctx, endedA.PurgeOn, 10)
	if err != nil || !slices.ContainsFunc(due, func(d store.DueItem) bool { return d.ID == a.ID && d.Purge }) {
		t.Fatalf("due: %v %v", due, err)
	}

	testRevive(t, s, open, a, b)
}

// testRevive goes on from testHistory: a youth of history only, a
// registration revived from it, one deleted from it.
func testRevive(t *testing.T, s store.Store, open Opener, a, b store.Registration) {
	y := a.Youth
	// Ending the last live one leaves a youth of history only.
	endedB := ended(b, t0.Add(2*time.Hour), store.EndedByInstitution)
	put(t, s, []pseudonym.Pseudonym{y}, endedB)
	if live, hist, _, _ := history(t, s, a.ID, y); len(live) != 0 || len(hist) != 2 || hist[0].ID != a.ID {
		t.Fatalf("history only: live %v, history %v", live, hist)
	}
	// Revived: live again, out of the history.
	if err := s.UpdateByID(ctx, a.ID, func(tx store.Tx) error {
		r, ok := tx.Ended(a.ID)
		if !ok {
			return errors.New("storetest: Tx.Ended in UpdateByID found nothing")
		}
		r.EndedAt, r.EndReason, r.PurgeOn = time.Time{}, store.Live, time.Time{}
		tx.Put(r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	live, hist, _, ok := history(t, s, a.ID, y)
	if len(live) != 1 || live[0].ID != a.ID || len(hist) != 1 || hist[0].ID != b.ID || ok {
		t.Fatalf("revived: live %v, history %v, Ended found %v", live, hist, ok)
	}
	// Deleted from the history: gone, also after a reopen.
	if err := s.UpdateByID(ctx, b.ID, func(tx store.Tx) error {
		tx.Delete(b.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, open)
	if _, err := s.Registration(ctx, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted ended registration: %v", err)
	}
	if live, hist, _, _ := history(t, s, a.ID, y); len(live) != 1 || len(hist) != 0 {
		t.Fatalf("after the delete and a reopen: live %v, history %v", live, hist)
	}
	if due, err := s.Due(ctx, day(2100, 1, 1), 10); err != nil || len(due) != 1 || due[0].ID != a.ID || due[0].Purge {
		t.Fatalf("due after the delete: %v %v", due, err)
	}
}

// testHistoryMigrate: an ended registration put under another pseudonym of
// the youth moves there; History under both pseudonyms has it once.
func testHistoryMigrate(t *testing.T, open Opener) {
	s := openStore(t, open)
	old, cur := Youth(1, 1), Youth(2, 1)
	a := ended(Reg(old, "ggd", t0), t0.Add(time.Hour), store.EndedByInstitution)
	put(t, s, []pseudonym.Pseudonym{old}, a)
	moved := a
	moved.Youth = cur
	put(t, s, []pseudonym.Pseudonym{cur, old}, moved)
	_, hist, got, ok := history(t, s, a.ID, cur, old)
	if len(hist) != 1 || !ok {
		t.Fatalf("history under both pseudonyms: %v, Ended found %v", hist, ok)
	}
	sameReg(t, got, moved)
	if _, hist, _, ok := history(t, s, a.ID, old); len(hist) != 0 || ok {
		t.Fatalf("left under the old pseudonym: %v", hist)
	}
	if r, err := s.Registration(ctx, a.ID); err != nil || r.Youth != cur {
		t.Fatalf("Registration after the move: %+v %v", r, err)
	}
}

// testWakeups: Wakeups lists the youths whose case's WakeAt has come,
// earliest first, each once, by the pseudonym of its case; a case that
// changes its WakeAt or goes is listed no more under the old time.
func testWakeups(t *testing.T, open Opener) {
	s := openStore(t, open)
	setCase := func(y pseudonym.Pseudonym, wake time.Time) {
		t.Helper()
		if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			tx.PutCase(store.Case{Youth: y, WakeAt: wake})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	wakeups := func(at time.Time) []pseudonym.Pseudonym {
		t.Helper()
		got, err := s.Wakeups(ctx, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	a, b, c := Youth(1, 1), Youth(1, 2), Youth(1, 3)
	setCase(a, t0.Add(2*time.Hour))
	setCase(b, t0.Add(time.Hour))
	setCase(c, time.Time{})
	if got := wakeups(t0.Add(time.Hour - time.Nanosecond)); len(got) != 0 {
		t.Fatalf("before the first wake time: %v", got)
	}
	if got := wakeups(t0.Add(time.Hour)); len(got) != 1 || got[0] != b {
		t.Fatalf("at the first wake time: %v", got)
	}
	if got := wakeups(t0.Add(3 * time.Hour)); len(got) != 2 || got[0] != b || got[1] != a {
		t.Fatalf("after both: %v", got)
	}
	setCase(b, t0.Add(4*time.Hour))
	if err := s.Update(ctx, []pseudonym.Pseudonym{a}, func(tx store.Tx) error {
		tx.DeleteCase()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := wakeups(t0.Add(3 * time.Hour)); len(got) != 0 {
		t.Fatalf("after a later wake time and a deleted case: %v", got)
	}
	s.Close()
	s = openStore(t, open)
	if got := wakeups(t0.Add(4 * time.Hour)); len(got) != 1 || got[0] != b {
		t.Fatalf("after a reopen: %v", got)
	}
}

// samePlan reports whether a and b are the same plan, nil or not, with
// the same agreements; days and times compared as instants.
func samePlan(a, b *store.Plan) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Start.Equal(b.Start) && a.IntendedEnd.Equal(b.IntendedEnd) && a.By == b.By &&
		slices.EqualFunc(a.Agreements, b.Agreements, func(x, y store.Agreement) bool {
			return x.N == y.N && x.Institution == y.Institution && x.Due.Equal(y.Due) && x.Done.Equal(y.Done) && x.Overdue == y.Overdue
		})
}

func testCase(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	want := store.Case{Youth: y, Matched: true, Coordinator: "wij", Rule: "wij-team", DecidedAt: t0, Age: 15, Municipality: "GM0014",
		BirthCheck: Youth(2, 9),
		Ends:       []store.RecentEnd{{Institution: "school", Registration: store.NewID(), At: t0.Add(time.Minute)}},
		Notices:    []store.Notice{{Recipient: "ggd", Since: t0, Sent: 10, Held: 3, Urgent: true}, {Recipient: "wij", Since: t0.Add(time.Second), Sent: 1}},
		WakeAt:     t0.Add(time.Hour),
		Plan: &store.Plan{Start: day0, IntendedEnd: day0.AddDate(0, 6, 0), By: "wij",
			Agreements: []store.Agreement{
				{N: 1, Institution: "school", Due: day0.AddDate(0, 1, 0), Done: day0.AddDate(0, 0, 20)},
				{N: 2, Institution: "ggd", Due: day0.AddDate(0, 2, 0), Overdue: true},
			}}}
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.PutCase(want)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.View(ctx, []pseudonym.Pseudonym{y}, func(r store.Reader) error {
		got, ok := r.Case()
		if !ok || got.Youth != want.Youth || got.Matched != want.Matched || got.Coordinator != want.Coordinator ||
			got.Rule != want.Rule || !got.DecidedAt.Equal(want.DecidedAt) || got.Age != want.Age || got.Municipality != want.Municipality ||
			got.BirthCheck != want.BirthCheck || !slices.EqualFunc(got.Ends, want.Ends, func(a, b store.RecentEnd) bool {
			return a.Institution == b.Institution && a.Registration == b.Registration && a.At.Equal(b.At)
		}) || !slices.EqualFunc(got.Notices, want.Notices, func(a, b store.Notice) bool {
			return a.Recipient == b.Recipient && a.Since.Equal(b.Since) && a.Sent == b.Sent && a.Held == b.Held && a.Urgent == b.Urgent
		}) || !got.WakeAt.Equal(want.WakeAt) || !samePlan(got.Plan, want.Plan) {
			t.Errorf("case = %+v, %v; want %+v", got, ok, want)
		}
		return nil
	})
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.DeleteCase()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.View(ctx, []pseudonym.Pseudonym{y}, func(r store.Reader) error {
		if _, ok := r.Case(); ok {
			t.Error("case survived DeleteCase")
		}
		return nil
	})
}

func appendEvents(t *testing.T, s store.Store, y pseudonym.Pseudonym, events ...store.Event) {
	t.Helper()
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		for _, e := range events {
			tx.Append(e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func testOutbox(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	other := store.Party{Registration: store.NewID(), Institution: "school", Kind: store.KindSignal,
		Contact: store.Contact{Name: "M. Bakker", Phone: "050", Email: "m@example.org"}, Since: t0}
	appendEvents(t, s, y,
		store.Event{Type: store.EventMatch, At: t0, Recipient: "ggd", Registration: store.NewID(), Others: []store.Party{other}, Urgent: true},
		store.Event{Type: store.EventCoordinator, At: t0, Recipient: "school", Coordinator: "ggd", Rule: "youngest"},
	)
	appendEvents(t, s, y, store.Event{Type: store.EventNoMatch, At: t0, Recipient: "ggd"})

	all, err := s.Events(ctx, "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("got %d events, want 3", len(all))
	}
	// Each recipient's events are numbered from 1; all recipients
	// together are ordered by number, then recipient.
	if all[0].Recipient != "ggd" || all[0].Seq != 1 || all[1].Recipient != "school" || all[1].Seq != 1 ||
		all[2].Recipient != "ggd" || all[2].Seq != 2 {
		t.Fatalf("all events: %+v", all)
	}
	if e := all[0]; e.Type != store.EventMatch || len(e.Others) != 1 || e.Others[0].Contact != other.Contact ||
		e.Others[0].Registration != other.Registration || !e.Urgent || !e.At.Equal(t0) {
		t.Fatalf("first event = %+v", e)
	}
	if e := all[1]; e.Coordinator != "ggd" || e.Rule != "youngest" {
		t.Fatalf("second event = %+v", e)
	}
	// Across all recipients, after applies to each recipient's numbers.
	if page, err := s.Events(ctx, "", 1, 100); err != nil || len(page) != 1 || page[0].Recipient != "ggd" || page[0].Seq != 2 {
		t.Fatalf("all after 1: %+v %v", page, err)
	}
	if page, err := s.Events(ctx, "", 0, 2); err != nil || len(page) != 2 || page[1].Recipient != "school" {
		t.Fatalf("first 2 of all: %+v %v", page, err)
	}
	ggd, err := s.Events(ctx, "ggd", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ggd) != 2 || ggd[0].Seq != 1 || ggd[1].Seq != 2 || ggd[1].Type != store.EventNoMatch {
		t.Fatalf("ggd events: %+v", ggd)
	}
	page, err := s.Events(ctx, "ggd", ggd[0].Seq, 1)
	if err != nil || len(page) != 1 || page[0].Seq != ggd[1].Seq {
		t.Fatalf("page after %d: %+v %v", ggd[0].Seq, page, err)
	}
	if none, err := s.Events(ctx, "gg", 0, 100); err != nil || len(none) != 0 {
		t.Fatalf("prefix of a recipient sees %d events (%v)", len(none), err)
	}
	if none, err := s.Events(ctx, "ggd", ggd[1].Seq, 100); err != nil || len(none) != 0 {
		t.Fatalf("after the last: %v %v", none, err)
	}
	testSummaryEvent(t, s, y, other)
}

// testSummaryEvent goes on from testOutbox, whose school has one event: a
// summary event keeps the count of the events it stands for.
func testSummaryEvent(t *testing.T, s store.Store, y pseudonym.Pseudonym, other store.Party) {
	appendEvents(t, s, y, store.Event{Type: store.EventSummary, At: t0, Recipient: "school", Others: []store.Party{other},
		Coordinator: "ggd", Rule: "youngest", Urgent: true, Collapsed: 12})
	school, err := s.Events(ctx, "school", 1, 10)
	if err != nil || len(school) != 1 {
		t.Fatalf("school's events after 1: %+v %v", school, err)
	}
	if e := school[0]; e.Type != store.EventSummary || e.Collapsed != 12 || len(e.Others) != 1 || e.Coordinator != "ggd" || !e.Urgent {
		t.Fatalf("summary event = %+v", e)
	}
}

func testOutboxAfterReopen(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	y := Youth(1, 1)
	appendEvents(t, s, y, store.Event{Type: store.EventNoMatch, At: t0, Recipient: "ggd"})
	first, err := s.Events(ctx, "", 0, 10)
	if err != nil || len(first) != 1 {
		t.Fatalf("events: %v %v", first, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, open)
	appendEvents(t, s, y, store.Event{Type: store.EventNoMatch, At: t0, Recipient: "ggd"})
	all, err := s.Events(ctx, "ggd", 0, 10)
	if err != nil || len(all) != 2 {
		t.Fatalf("events after reopen: %v %v", all, err)
	}
	if all[1].Seq <= first[0].Seq {
		t.Fatalf("sequence restarted after reopen: %d after %d", all[1].Seq, first[0].Seq)
	}
}

func testDue(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	early := Reg(y, "ggd", t0)
	early.EndsOn = day(2026, 5, 1)
	late := Reg(y, "school", t0)
	late.EndsOn = day(2027, 1, 1)
	put(t, s, []pseudonym.Pseudonym{y}, early, late)

	due, err := s.Due(ctx, day(2026, 4, 30), 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("due before any end day: %v %v", due, err)
	}
	due, err = s.Due(ctx, day(2026, 5, 1), 10)
	if err != nil || len(due) != 1 || due[0].ID != early.ID || due[0].Purge || !due[0].Day.Equal(early.EndsOn) || due[0].Youth != y {
		t.Fatalf("due on the end day: %+v %v", due, err)
	}
	if due, _ := s.Due(ctx, day(2030, 1, 1), 1); len(due) != 1 {
		t.Fatalf("limit 1 gave %d", len(due))
	}
	// Ending moves it from the expiry index to the purge index.
	early.EndedAt, early.EndReason, early.PurgeOn = t0.Add(time.Hour), store.EndedByExpiry, day(2031, 5, 1)
	put(t, s, []pseudonym.Pseudonym{y}, early)
	due, err = s.Due(ctx, day(2030, 1, 1), 10)
	if err != nil || len(due) != 1 || due[0].ID != late.ID {
		t.Fatalf("due after ending the early one: %+v %v", due, err)
	}
	due, err = s.Due(ctx, day(2031, 5, 1), 10)
	if err != nil || len(due) != 2 || due[0].ID != late.ID || due[1].ID != early.ID || !due[1].Purge {
		t.Fatalf("due with purge: %+v %v", due, err)
	}
}

func testIdempotency(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	rec := store.Idempotency{Registration: store.NewID(), Youth: y, CreatedAt: t0, Result: []byte("first result")}
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.PutIdempotency(IdemKey("ggd", "key-1"), rec)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check := func(inst, key string, want bool) {
		t.Helper()
		s.View(ctx, []pseudonym.Pseudonym{y}, func(r store.Reader) error {
			got, ok := r.Idempotency(IdemKey(inst, key))
			if ok != want {
				t.Errorf("Idempotency of (%q, %q) found = %v, want %v", inst, key, ok, want)
			}
			if ok && (got.Registration != rec.Registration || got.Youth != y || string(got.Result) != "first result" || !got.CreatedAt.Equal(t0)) {
				t.Errorf("record = %+v", got)
			}
			return nil
		})
	}
	check("ggd", "key-1", true)
	check("ggd", "key-2", false)
	check("school", "key-1", false)
	check("ggdk", "ey-1", false)
	// The same hash under another key ID is another record.
	s.View(ctx, []pseudonym.Pseudonym{y}, func(r store.Reader) error {
		other := IdemKey("ggd", "key-1")
		other.KeyID = 2
		if _, ok := r.Idempotency(other); ok {
			t.Error("found under another key ID")
		}
		return nil
	})
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.DeleteIdempotency(IdemKey("ggd", "key-1"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check("ggd", "key-1", false)
}

func testIdempotencyPurge(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	put := func(key string, at time.Time) {
		t.Helper()
		if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			tx.PutIdempotency(IdemKey("ggd", key), store.Idempotency{Youth: y, CreatedAt: at})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	has := func(key string) bool {
		var ok bool
		s.View(ctx, []pseudonym.Pseudonym{y}, func(r store.Reader) error {
			_, ok = r.Idempotency(IdemKey("ggd", key))
			return nil
		})
		return ok
	}
	put("old", day(2026, 1, 1))
	put("new", day(2026, 1, 5))
	put("renewed", day(2026, 1, 1))
	put("renewed", day(2026, 1, 6)) // made again: its old index entry goes
	n, err := s.PurgeIdempotency(ctx, day(2026, 1, 3), 100)
	if err != nil || n != 1 {
		t.Fatalf("purge: %d %v, want 1", n, err)
	}
	if has("old") || !has("new") || !has("renewed") {
		t.Fatalf("after purge: old %v new %v renewed %v", has("old"), has("new"), has("renewed"))
	}
	if n, err := s.PurgeIdempotency(ctx, day(2026, 1, 3), 100); err != nil || n != 0 {
		t.Fatalf("second purge: %d %v", n, err)
	}
	if n, err := s.PurgeIdempotency(ctx, day(2027, 1, 1), 1); err != nil || n != 1 {
		t.Fatalf("purge with limit 1: %d %v", n, err)
	}
	if n, err := s.PurgeIdempotency(ctx, day(2027, 1, 1), 100); err != nil || n != 1 {
		t.Fatalf("purge of the rest: %d %v", n, err)
	}
}

// testIdempotencyOfRegistration: DeleteIdempotencyOf forgets the records
// that name one registration, committed or staged, whatever their
// institution and key, and no other: not one that named it once and names
// another now, nor one put after it in the same update.
func testIdempotencyOfRegistration(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	y := []pseudonym.Pseudonym{Youth(1, 1)}
	a, b := store.NewID(), store.NewID()
	rec := func(id store.ID) store.Idempotency {
		return store.Idempotency{Registration: id, Youth: y[0], CreatedAt: t0, Result: []byte("result")}
	}
	update := func(fn func(tx store.Tx)) {
		t.Helper()
		if err := s.Update(ctx, y, func(tx store.Tx) error { fn(tx); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	update(func(tx store.Tx) {
		tx.PutIdempotency(IdemKey("ggd", "k1"), rec(a))
		tx.PutIdempotency(IdemKey("ggd", "k2"), rec(a))
		tx.PutIdempotency(IdemKey("school", "k1"), rec(b))
		tx.PutIdempotency(IdemKey("ggd", "moved"), rec(a))
	})
	update(func(tx store.Tx) { tx.PutIdempotency(IdemKey("ggd", "moved"), rec(b)) })
	update(func(tx store.Tx) {
		tx.PutIdempotency(IdemKey("wij", "staged"), rec(a))
		tx.DeleteIdempotencyOf(a)
		for _, k := range [][2]string{{"ggd", "k1"}, {"ggd", "k2"}, {"wij", "staged"}} {
			if _, ok := tx.Idempotency(IdemKey(k[0], k[1])); ok {
				t.Errorf("in the update, %v is still there", k)
			}
		}
		tx.PutIdempotency(IdemKey("wij", "after"), rec(a))
	})
	want := map[[2]string]bool{
		{"ggd", "k1"}: false, {"ggd", "k2"}: false, {"wij", "staged"}: false,
		{"school", "k1"}: true, {"ggd", "moved"}: true, {"wij", "after"}: true,
	}
	check := func(when string) {
		t.Helper()
		s.View(ctx, y, func(r store.Reader) error {
			for k, w := range want {
				if _, ok := r.Idempotency(IdemKey(k[0], k[1])); ok != w {
					t.Errorf("%s: %v found = %v, want %v", when, k, ok, w)
				}
			}
			return nil
		})
	}
	check("after the update")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, open)
	check("after re-open")
	// What is left is purged as ever; what was forgotten is not counted.
	if n, err := s.PurgeIdempotency(ctx, t0.AddDate(0, 0, 2), 100); err != nil || n != 3 {
		t.Fatalf("purge: %d %v, want 3", n, err)
	}
	update(func(tx store.Tx) { tx.DeleteIdempotencyOf(b) }) // nothing left to forget
}

func testDurable(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	var want []store.Registration
	for i := range 20 {
		y := Youth(1, i)
		r := Reg(y, "ggd", t0.Add(time.Duration(i)*time.Second))
		if i%2 == 0 {
			r.ClientRef = []byte{byte(i), 1, 2, 3}
		}
		put(t, s, []pseudonym.Pseudonym{y}, r)
		want = append(want, r)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, open)
	for i, w := range want {
		got := regsOf(t, s, Youth(1, i))
		if len(got) != 1 {
			t.Fatalf("youth %d: %d registrations after reopen", i, len(got))
		}
		sameReg(t, got[0], w)
	}
}

func testSerialisedPerYouth(t *testing.T, open Opener) {
	s := openStore(t, open)
	y := Youth(1, 1)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Read-modify-write of the case: a lost update shows as a
				// wrong count at the end.
				err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
					c, _ := tx.Case()
					c.Youth = y
					c.Age++
					tx.PutCase(c)
					tx.Put(Reg(y, fmt.Sprintf("inst-%d-%d", w, i), t0))
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s.View(ctx, []pseudonym.Pseudonym{y}, func(r store.Reader) error {
		c, _ := r.Case()
		if c.Age != workers*each {
			t.Errorf("counter = %d, want %d: an update was lost", c.Age, workers*each)
		}
		if n := len(r.Registrations()); n != workers*each {
			t.Errorf("%d registrations, want %d", n, workers*each)
		}
		return nil
	})
}

func testParallelYouths(t *testing.T, open Opener) {
	s := openStore(t, open)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				y := Youth(1, w*1000+i)
				err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
					tx.Put(Reg(y, "ggd", t0))
					tx.Append(store.Event{Type: store.EventNoMatch, At: t0, Recipient: "ggd"})
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	events, err := s.Events(ctx, "ggd", 0, 10*workers*each)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != workers*each {
		t.Fatalf("%d events, want %d", len(events), workers*each)
	}
	seen := make(map[uint64]bool)
	for i, e := range events {
		if seen[e.Seq] {
			t.Fatalf("sequence %d used twice", e.Seq)
		}
		seen[e.Seq] = true
		if i > 0 && e.Seq <= events[i-1].Seq {
			t.Fatalf("events out of order")
		}
	}
}

// A poller that follows the outbox while writers commit concurrently sees
// every event exactly once: sequence numbers it has passed never fill in later.
func testPollerMissesNothing(t *testing.T, open Opener) {
	s := openStore(t, open)
	const workers, each = 8, 40
	done := appendConcurrently(t, s, 3, workers, each)
	seen := map[uint64]bool{}
	var after uint64
	poll := func() {
		events, err := s.Events(ctx, "ggd", after, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if seen[e.Seq] || e.Seq <= after {
				t.Fatalf("event %d seen twice or out of order", e.Seq)
			}
			seen[e.Seq] = true
			after = e.Seq
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		poll()
	}
	for range workers * each {
		poll()
	}
	if len(seen) != workers*each {
		t.Fatalf("poller saw %d events, want %d", len(seen), workers*each)
	}
}

// appendConcurrently starts workers writers that each commit each updates
// of a youth of their own (Youth(set, ...)), appending one event for "ggd"
// and one for "wij" per update. The channel closes when all have returned.
func appendConcurrently(t *testing.T, s store.Store, set uint32, workers, each int) <-chan struct{} {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				y := Youth(set, w*1000+i)
				if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
					tx.Append(store.Event{Type: store.EventNoMatch, At: t0, Recipient: "ggd"})
					tx.Append(store.Event{Type: store.EventNoMatch, At: t0, Recipient: "wij"})
					return nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

func testClosed(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	y := Youth(1, 1)
	if err := s.Update(ctx, []pseudonym.Pseudonym{y}, func(store.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Update after Close: %v", err)
	}
	if err := s.View(ctx, []pseudonym.Pseudonym{y}, func(store.Reader) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("View after Close: %v", err)
	}
	if _, err := s.Events(ctx, "", 0, 1); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Events after Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

func testContextCancelled(t *testing.T, open Opener) {
	s := openStore(t, open)
	c, cancel := context.WithCancel(ctx)
	cancel()
	y := Youth(1, 1)
	err := s.Update(c, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.Put(Reg(y, "ggd", t0))
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(regsOf(t, s, y)); n != 0 {
		t.Fatalf("cancelled update wrote %d registrations", n)
	}
}
