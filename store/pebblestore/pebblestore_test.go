package pebblestore_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
	"github.com/vindex-nl/vindex/store/storetest"
)

var ctx = context.Background()

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestConformanceOnDisk(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		dir := t.TempDir()
		return func() (store.Store, error) {
			return pebblestore.Open(dir, &pebblestore.Options{Logger: quiet()})
		}
	})
}

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		fs := vfs.NewMem()
		return func() (store.Store, error) {
			return pebblestore.Open("db", &pebblestore.Options{FS: fs, Logger: quiet()})
		}
	})
}

func TestPebbleLogsGoToSlog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	s, err := pebblestore.Open(t.TempDir(), &pebblestore.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"component":"pebble"`)) {
		t.Fatalf("no Pebble log line reached slog; got %q", buf.String())
	}
}

func TestCheck(t *testing.T) {
	s, err := pebblestore.Open(t.TempDir(), &pebblestore.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check on a healthy store: %v", err)
	}
	s.Close()
	if err := s.Check(ctx); err == nil {
		t.Fatal("Check on a closed store succeeded")
	}
}
