package pebblestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrCheckpointDir is returned by Checkpoint for a destination that is
// not an empty directory, or a path that cannot be one.
var ErrCheckpointDir = errors.New("pebblestore: checkpoint destination must not exist or be an empty directory")

// stagingInfix names the staging directories of Checkpoint, beside the
// store's directory: DIR.checkpoint-RANDOM.
const stagingInfix = ".checkpoint-"

// Checkpoint writes a consistent copy of the store to dir while the store
// serves: every update acknowledged before Checkpoint was called is in
// it, and of an update committed meanwhile either all or nothing. dir must
// not exist or be an empty directory. The copy is a store that Open (and
// Verify) opens as it is.
//
// The copy is independent of the store: Pebble's checkpoint is made in a
// staging directory beside the store's (DIR.checkpoint-RANDOM, hard links
// to the store's immutable tables, so it takes no time and little space),
// then copied file by file to dir and the staging directory removed. A
// byte that changes in the copy never changes the store, nor the other way
// round. On the operating system's file system dir is made 0700 and its
// files 0600, like the store's own, and every file and dir itself are
// synced before Checkpoint returns. Open removes a staging directory that
// a crash left behind.
//
// The copy holds what the store holds: pseudonyms and that-information,
// never a clear identity. It also holds what has been destroyed in the
// store since (an objection, an expiry, a youth's 23rd birthday) only
// until the copy itself is deleted: keep copies no longer than needed.
//
// Checkpoint does not block updates for longer than Pebble takes to note
// the files of the current version. ctx is checked between files.
func (s *Store) Checkpoint(ctx context.Context, dir string) error {
	if s.loader() != nil {
		return ErrLoading
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := checkEmptyDir(s.fs, dir); err != nil {
		return err
	}
	var suffix [8]byte
	rand.Read(suffix[:])
	staging := s.dir + stagingInfix + hex.EncodeToString(suffix[:])
	// The memtable goes to a table first, so that the copy holds its
	// records in tables, whose every block has a checksum that Verify
	// checks, rather than in a log whose damaged tail Pebble would take
	// for a torn write and drop. WithFlushedWAL: every write is synced
	// already; it costs one empty synced record and keeps the guarantee
	// if that ever changes.
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("pebblestore: checkpoint: %w", err)
	}
	if err := s.db.Checkpoint(staging, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("pebblestore: checkpoint: %w", err)
	}
	defer s.fs.RemoveAll(staging)
	if err := copyDir(ctx, s.fs, staging, dir); err != nil {
		return fmt.Errorf("pebblestore: checkpoint: %w", err)
	}
	return nil
}

// checkEmptyDir returns nil if dir does not exist or is an empty
// directory, ErrCheckpointDir otherwise.
func checkEmptyDir(fsys vfs.FS, dir string) error {
	info, err := fsys.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpointDir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrCheckpointDir, dir)
	}
	names, err := fsys.List(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpointDir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("%w: %s holds %d entries", ErrCheckpointDir, dir, len(names))
	}
	return nil
}

// copyDir copies the files of src (a Pebble checkpoint: files only) to
// dst, creating dst and syncing every file, dst and its parent.
func copyDir(ctx context.Context, fsys vfs.FS, src, dst string) error {
	if err := fsys.MkdirAll(dst, privateDirMode); err != nil {
		return err
	}
	names, err := fsys.List(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := copyFile(fsys, fsys.PathJoin(src, name), fsys.PathJoin(dst, name)); err != nil {
			return err
		}
	}
	if err := syncDir(fsys, dst); err != nil {
		return err
	}
	return syncDir(fsys, fsys.PathDir(dst))
}

// copyFile copies src to a new file dst and syncs it.
func copyFile(fsys vfs.FS, src, dst string) error {
	in, err := fsys.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if info.IsDir() {
		return fmt.Errorf("%s is a directory", src)
	}
	out, err := fsys.Create(dst, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// syncDir syncs the directory dir, so that the entries made in it last.
func syncDir(fsys vfs.FS, dir string) error {
	d, err := fsys.OpenDir(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// removeStaging removes the staging directories of checkpoints that a
// crash interrupted, beside the store's directory dir.
func removeStaging(fsys vfs.FS, dir string, logger *slog.Logger) {
	for _, path := range besideStore(fsys, dir, stagingInfix) {
		if err := fsys.RemoveAll(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			logger.Error("a checkpoint's staging directory could not be removed", slog.String("component", "pebblestore"),
				slog.String("dir", path), slog.String("error", err.Error()))
		}
	}
}

// besideStore lists the paths beside the store's directory dir whose
// names are dir's followed by infix: what a checkpoint or a load left
// (none if the parent cannot be listed).
func besideStore(fsys vfs.FS, dir, infix string) []string {
	parent, base := fsys.PathDir(dir), fsys.PathBase(dir)
	names, err := fsys.List(parent)
	if err != nil {
		return nil
	}
	var out []string
	for _, name := range names {
		if strings.HasPrefix(name, base+infix) {
			out = append(out, fsys.PathJoin(parent, name))
		}
	}
	return out
}
