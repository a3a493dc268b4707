package pebblestore_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
	"github.com/vindex-nl/vindex/store/storetest"
)

// A backup of a store in use: Checkpoint writes a consistent copy while
// updates go on, and Verify checks the copy, read-only, and says what it
// holds.
func ExampleStore_Checkpoint() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "vindex-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := pebblestore.Open(filepath.Join(dir, "store"), &pebblestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	youth := storetest.Youth(1, 1)
	if err := s.Update(ctx, []pseudonym.Pseudonym{youth}, func(tx store.Tx) error {
		tx.Put(storetest.Reg(youth, "ggd-groningen", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))
		return nil
	}); err != nil {
		log.Fatal(err)
	}

	backup := filepath.Join(dir, "backup")
	if err := s.Checkpoint(ctx, backup); err != nil {
		log.Fatal(err)
	}
	rep, err := pebblestore.Verify(ctx, backup)
	if err != nil {
		log.Fatal(err) // a *pebblestore.DamageError names the first bad record
	}
	fmt.Println("live registrations:", rep.LiveRegistrations)
	fmt.Println("newest:", rep.NewestRegistration.Format(time.DateOnly))
	// Output:
	// live registrations: 1
	// newest: 2026-03-02
}
