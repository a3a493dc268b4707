package pebblestore

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Modes of what the store creates on the operating system's file system.
const (
	privateDirMode  fs.FileMode = 0o700
	privateFileMode fs.FileMode = 0o600
)

// privateFS is the operating system's file system as the store gives it to
// Pebble, except that every directory and file it creates is private to
// the store's user: directories 0700, files 0600, whatever the umask.
// Pebble itself creates them 0755 and 0644 (0666 less the umask).
//
// A file is created with its private mode before Pebble opens it, never
// made private afterwards: a file that was once readable by others may be
// held open by them, and a later chmod does not close that descriptor.
// Files and directories that exist already keep their modes.
type privateFS struct{ vfs.FS }

var _ vfs.FS = privateFS{}

// MkdirAll creates dir and its missing parents 0700, whatever perm Pebble
// asks for.
func (p privateFS) MkdirAll(dir string, _ os.FileMode) error {
	return p.FS.MkdirAll(dir, privateDirMode)
}

// Create creates name afresh (removing a file already there, as Pebble's
// own Create does) with mode 0600, and opens it for writing.
func (p privateFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	for {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, privateFileMode)
		if err == nil {
			if err := f.Close(); err != nil {
				return nil, err
			}
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return p.FS.OpenReadWrite(name, category)
}

// OpenReadWrite opens name for reading and writing, creating it 0600 if
// it does not exist.
func (p privateFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	if err := touchPrivate(name); err != nil {
		return nil, err
	}
	return p.FS.OpenReadWrite(name, category, opts...)
}

// Lock locks name (the store's LOCK file), creating it 0600 if it does
// not exist.
func (p privateFS) Lock(name string) (io.Closer, error) {
	if err := touchPrivate(name); err != nil {
		return nil, err
	}
	return p.FS.Lock(name)
}

// Unwrap returns the file system privateFS wraps.
func (p privateFS) Unwrap() vfs.FS { return p.FS }

// touchPrivate creates name with mode 0600 if it does not exist, and
// leaves it as it is if it does.
func touchPrivate(name string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE, privateFileMode)
	if err != nil {
		return err
	}
	return f.Close()
}
