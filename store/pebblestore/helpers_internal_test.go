package pebblestore

import (
	"context"
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

var bg = context.Background()

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// memStore opens a store in memory that logs nothing, closed when the test
// ends.
func memStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open("db", &Options{FS: vfs.NewMem(), Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
