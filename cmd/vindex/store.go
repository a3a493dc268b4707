package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// backend is what the commands need of the store: the contract, the
// delivery state beside the outbox (serve's delivery worker, outbox,
// import --notify=false), the audit tree (serve, vindex audit), the key-use counts (keys status and retire,
// serve's /metrics), the write check (serve's /readyz) and the compaction
// (serve's daily one). openStore opens
// a pebblestore; any backend that implements these, and passes
// store/storetest, would do.
type backend interface {
	store.Store
	store.AuditTree
	store.DeliveryStore
	store.KeyUse
	store.Checker
	store.Compacter
	store.FigureReader
	// Collector supplies the backend's own metrics.
	Collector() prometheus.Collector
	// Checkpoint writes a consistent copy of the store to a directory
	// while it serves (vindex backup; see pebblestore.Store.Checkpoint).
	Checkpoint(ctx context.Context, dir string) error
}

// storeUse is how a command uses the store, which decides how openStore
// opens it.
type storeUse struct {
	// log receives the store's own log lines (Pebble's flushes,
	// compactions and failures). serve gives its service log. nil drops
	// them: import, outbox and keys print a report on the terminal that
	// log lines would break into, and a failure reaches them as an error.
	log *slog.Logger
	// reports: the command writes reports, many and for long (serve,
	// import). It gets the block cache sized for that (--cache-size), and
	// writes are refused below --min-free-disk, so that a filling disk
	// stops reports cleanly rather than failing one half-way. Without it
	// (outbox, keys) the command reads, or writes a few delivery cursors:
	// the default cache does, and no free-space check stops an operator
	// from inspecting the store, or retrying deliveries, on a full disk.
	reports bool
	// replicated opens the store as a node of a replicated index (vindex
	// serve --replication): it takes writes only while the node leads.
	replicated bool
}

var (
	// importUse: vindex import.
	importUse = storeUse{reports: true}
	// toolUse: vindex outbox and keys status and retire.
	toolUse = storeUse{}
)

// serveUse: vindex serve, logging to its service log.
func serveUse(logger *slog.Logger) storeUse { return storeUse{log: logger, reports: true} }

// openStore opens (creating if needed) the store of c's data directory for
// use. It fails while another process has the store open. The commands
// that call it check the data directory first (checkDataDir).
func openStore(c config, use storeUse) (backend, error) {
	o := &pebblestore.Options{Logger: use.log, MinFreeBytes: -1, Replicated: use.replicated}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if use.reports {
		o.CacheSize, o.MinFreeBytes = c.CacheSize, c.MinFreeDisk
	}
	s, err := pebblestore.Open(c.storeDir(), o)
	if err != nil {
		return nil, err // not a nil *pebblestore.Store in a non-nil backend
	}
	return s, nil
}

// checkDataDir refuses a data directory that group or others have any
// access to: the store, the keysets and the tokens live there. One that
// does not exist yet passes: vindex creates it 0700 (and the store its
// files 0600). Every command that opens the data directory (serve, keys,
// import, outbox) calls it before anything else touches the directory.
func checkDataDir(dir string) error {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("data directory %s holds the store, the keysets and the tokens, and may not be open to group "+
			"or others (mode %04o): chmod 700 %s", dir, perm, shellQuote(dir))
	}
	return nil
}

// shellQuote quotes path for a shell command line, if it needs it.
func shellQuote(path string) string {
	if path != "" && strings.Trim(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=,:@") == "" {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}
