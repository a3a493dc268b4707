package pebblestore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/treestate"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
)

var checkpointAt = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fill writes youths 1..n of key 7: a live registration each with a case
// and an event and an audit entry; every third also an ended one, every
// fifth a family relation. It returns the registration IDs.
func fill(t *testing.T, s *Store, from, n int) []store.ID {
	t.Helper()
	var ids []store.ID
	for i := from; i < from+n; i++ {
		y := storetest.Youth(7, i)
		r := storetest.Reg(y, "ggd", checkpointAt.Add(time.Duration(i)*time.Second))
		if i%5 == 0 {
			r.Relations = []store.Relation{{Key: storetest.Youth(8, i/5), Type: store.RelationParent, Since: checkpointAt}}
		}
		var ended store.Registration
		if i%3 == 0 {
			ended = storetest.Reg(y, "school", checkpointAt)
			ended.EndedAt, ended.EndReason, ended.PurgeOn = checkpointAt.Add(time.Hour), store.EndedByInstitution, checkpointAt.AddDate(5, 0, 0)
		}
		if err := s.Update(bg, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
			tx.Put(r)
			if !ended.ID.IsZero() {
				tx.Put(ended)
			}
			tx.PutCase(store.Case{Youth: y, Age: 12, WakeAt: checkpointAt.AddDate(0, 0, i%30+1)})
			tx.Append(store.Event{Type: store.EventNoMatch, At: r.CreatedAt, Recipient: "ggd", Registration: r.ID})
			tx.Audit(store.AuditEntry{At: r.CreatedAt, Institution: "ggd", Verb: store.AuditRegister, Registration: r.ID,
				Youth: storetest.Youth(9, i), Outcome: "ok"})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// TestCheckpointUnderWrites: a checkpoint taken while updates go on holds
// every update acknowledged before it was asked for; Verify passes on it
// and counts what it holds; the copy is private (0700, 0600), shares no
// file with the store, leaves no staging directory, and Verify writes
// nothing in it.
func TestCheckpointUnderWrites(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "store"), &Options{Logger: discard(), MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acked := fill(t, s, 1, 300)

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1000; !stop.Load(); i += 10 {
			fill(t, s, i, 10)
		}
	})
	out := filepath.Join(dir, "backup")
	err = s.Checkpoint(bg, out)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}

	names, _ := os.ReadDir(dir)
	for _, n := range names {
		if strings.Contains(n.Name(), stagingInfix) {
			t.Errorf("staging directory %s left behind", n.Name())
		}
	}
	info, err := os.Stat(out)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("copy directory: %v %v", info, err)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
		orig, err := os.Stat(filepath.Join(dir, "store", e.Name()))
		if err == nil && os.SameFile(orig, info) {
			t.Errorf("%s is the store's own file (a hard link), not a copy", e.Name())
		}
	}

	before := treestate.Of(t, out)
	rep, err := Verify(bg, out)
	if err != nil {
		t.Fatal(err)
	}
	treestate.Same(t, "Verify", before, treestate.Of(t, out))
	if rep.LiveRegistrations < int64(len(acked)) || rep.Schema != schemaV3 || rep.AuditLast < uint64(len(acked)) ||
		rep.Records["registration index entry"] != rep.LiveRegistrations+rep.EndedRegistrations {
		t.Errorf("report: %+v", rep)
	}
	if rep.NewestRegistration.Before(checkpointAt.Add(300 * time.Second)) {
		t.Errorf("newest registration %v, want at least the 300th", rep.NewestRegistration)
	}

	c, err := Open(out, &Options{Logger: discard(), MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, id := range acked {
		if _, err := c.Registration(bg, id); err != nil {
			t.Fatalf("acknowledged registration %s not in the copy: %v", id, err)
		}
	}

	// A destination that is not empty is refused, and left as it was.
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	if err := s.Checkpoint(bg, full); !errors.Is(err, ErrCheckpointDir) {
		t.Fatalf("non-empty destination: %v", err)
	}
	// An empty one is taken.
	if err := s.Checkpoint(bg, t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRemovesStaging: a staging directory a crash left beside the
// store is removed by the next Open.
func TestOpenRemovesStaging(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "store")
	s, err := Open(st, &Options{Logger: discard(), MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, 1, 3)
	left := st + stagingInfix + "0011223344556677"
	if err := s.db.Checkpoint(left); err != nil {
		t.Fatal(err)
	}
	s.Close()
	other := filepath.Join(dir, "storeX.checkpoint-1")
	os.Mkdir(other, 0o700)
	s, err = Open(st, &Options{Logger: discard(), MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(left); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("staging directory still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another store's directory was removed: %v", err)
	}
}

// TestVerifyNamesTheFirstBadRecord: a missing index entry, an index entry
// without its record and a record that does not decode are each refused,
// naming the record by kind and position (and registration ID), never
// by a pseudonym or contact.
func TestVerifyNamesTheFirstBadRecord(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(s *Store, ids []store.ID, y pseudonym.Pseudonym)
		kind   string
		reg    int // index into ids of the registration named; -1 none
	}{
		{"registration index entry missing", func(s *Store, ids []store.ID, _ pseudonym.Pseudonym) {
			s.db.Delete(byIDKey(ids[4]), nil)
		}, "youth record", 4},
		{"expiry index entry without registration", func(s *Store, ids []store.ID, y pseudonym.Pseudonym) {
			s.db.Set(dayIndexKey(prefixExpiry, 1, y, ids[0]), nil, nil)
		}, "expiry index entry", 0},
		{"undecodable ended registration", func(s *Store, ids []store.ID, y pseudonym.Pseudonym) {
			s.db.Set(historyKey(y, ids[0]), []byte{0xff, 1, 2}, nil)
		}, "ended registration", 0},
		{"audit youth index entry without entry", func(s *Store, ids []store.ID, y pseudonym.Pseudonym) {
			s.db.Set(auditYouthKey(y, 999999), nil, nil)
		}, "audit youth index entry", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, &Options{Logger: discard(), MinFreeBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			ids := fill(t, s, 1, 10)
			if _, err := Verify(bg, t.TempDir()); err == nil {
				t.Fatal("an empty directory verified")
			}
			y := storetest.Youth(7, 1)
			tc.damage(s, ids, y)
			s.Close()
			_, err = Verify(bg, dir)
			var d *DamageError
			if !errors.As(err, &d) || !errors.Is(err, ErrDamaged) {
				t.Fatalf("Verify: %v, want a DamageError", err)
			}
			if d.Kind != tc.kind || d.Ordinal < 1 || d.Position < d.Ordinal {
				t.Errorf("%+v, want kind %q", d, tc.kind)
			}
			if tc.reg >= 0 && d.Registration != ids[tc.reg] {
				t.Errorf("names registration %s, want %s", d.Registration, ids[tc.reg])
			}
			msg := err.Error()
			for _, secret := range []string{hex.EncodeToString(y.Sum[:]), hex.EncodeToString(y.Sum[:4]), "J. de Vries", "example.org"} {
				if strings.Contains(msg, secret) {
					t.Errorf("the error quotes %q: %s", secret, msg)
				}
			}
			t.Log(msg)
		})
	}
}

// TestVerifyRefusesADamagedTable: a byte flipped in the middle of a
// table of a copy, or a table deleted, is refused.
func TestVerifyRefusesADamagedTable(t *testing.T) {
	for _, damage := range []string{"flip", "delete"} {
		t.Run(damage, func(t *testing.T) {
			s, err := Open(t.TempDir(), &Options{Logger: discard(), MinFreeBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			fill(t, s, 1, 500)
			if err := s.Compact(bg); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "copy")
			if err := s.Checkpoint(bg, out); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if _, err := Verify(bg, out); err != nil {
				t.Fatalf("the undamaged copy: %v", err)
			}
			tables, _ := filepath.Glob(filepath.Join(out, "*.sst"))
			if len(tables) == 0 {
				t.Fatal("no table in the copy")
			}
			if damage == "delete" {
				os.Remove(tables[0])
			} else {
				b, _ := os.ReadFile(tables[0])
				for i := len(b) / 3; i < len(b)/3+16; i++ {
					b[i] ^= 0xff
				}
				os.WriteFile(tables[0], b, 0o600)
			}
			_, err = Verify(bg, out)
			if err == nil {
				t.Fatal("a damaged copy verified")
			}
			t.Log(err)
		})
	}
}

// TestCorruptionNamesNoKey: a damaged table of a store in use is reported
// fatally, as Pebble does, but naming the file only: not the table's first
// and last key, which is a youth's pseudonym.
func TestCorruptionNamesNoKey(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, &Options{Logger: discard(), MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, 1, 500)
	if err := s.Compact(bg); err != nil {
		t.Fatal(err)
	}
	s.Close()
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table")
	}
	for _, table := range tables {
		b, _ := os.ReadFile(table)
		for i := len(b) / 3; i < len(b)/3+16; i++ {
			b[i] ^= 0xff
		}
		os.WriteFile(table, b, 0o600)
	}
	var logged strings.Builder
	var msg string
	func() {
		defer func() {
			if r := recover(); r != nil {
				msg = fmt.Sprint(r)
			}
		}()
		s, err := Open(dir, &Options{Logger: slog.New(slog.NewJSONHandler(&logged, nil)), MinFreeBytes: -1})
		if err == nil {
			// Every record read. (The store is not closed: the panic
			// leaves the iterator open, which Close would panic on.)
			it, _ := s.db.NewIter(nil)
			for it.First(); it.Valid(); it.Next() {
				it.ValueAndErr()
			}
			err = it.Close()
		}
		msg = fmt.Sprint(err)
	}()
	if !strings.Contains(msg, "on-disk corruption: 0") || strings.Contains(msg, "bounds") || strings.Contains(logged.String(), "bounds") {
		t.Fatalf("the report of a damaged table: %s\nlog: %s", msg, logged.String())
	}
}
