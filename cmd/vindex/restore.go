package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

const restoreUsage = `Usage: vindex restore DIR2 --data DIR

Restores the backup in DIR2 (vindex backup) into the data directory DIR,
which must not exist or be empty:

  1. verifies the backup as vindex backup verify does, and refuses one
     that does not verify;
  2. copies its store to DIR/store and its files (the wrapped keysets, the
     audit key, …) to DIR, 0700/0600, every file synced;
  3. says what it restored: the backup's time, its counts, its newest
     acknowledged write, and where files configured outside the data
     directory were (put them back there, or point the settings at DIR).

Then start vindex serve on DIR with the configuration the backup was made
with (the same deployment name and key-encryption key: Vault's transit key
must still exist). Before it serves, vindex serve runs its retention purge
(what has passed its term since the backup was taken is ended, archived or
destroyed), so the restored index never shows what the law says is gone.

What happened after the backup was taken is not in it: reports, ends,
closures, and erasures. An objection upheld, a death or a removal carried
out after the backup must be carried out again (see README, "Backups and
restore"): the audit log that recorded them was in the lost store too.
`

func restoreCmd(args []string, stdout, stderr io.Writer) error {
	src, data, err := parseRestore(args, stderr)
	if err != nil {
		return err
	}
	m, err := restore(context.Background(), src, data)
	if err != nil {
		return err
	}
	printRestore(stdout, m, src, data)
	return nil
}

// parseRestore reads DIR2 and --data DIR, in either order.
func parseRestore(args []string, stderr io.Writer) (src, data string, err error) {
	if slices.ContainsFunc(args, isHelp) {
		return "", "", printUsage(stderr, restoreUsage, args)
	}
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&data, "data", "", "")
	rest := args
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		src, rest = args[0], args[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return "", "", flagError{cmd: "restore", err: err}
	}
	if src == "" && fs.NArg() > 0 {
		src = fs.Arg(0)
		rest = fs.Args()[1:]
	} else {
		rest = fs.Args()
	}
	if src == "" || data == "" || len(rest) > 0 {
		return "", "", flagError{cmd: "restore", err: errors.New("give the backup DIR2 and --data DIR, and nothing else")}
	}
	return src, data, nil
}

// restore verifies the backup in src and copies it into the data
// directory data, which must not exist or be empty.
func restore(ctx context.Context, src, data string) (m *backupManifest, err error) {
	if m, err = verifyBackup(ctx, src); err != nil {
		return nil, err
	}
	if err := checkEmptyDir("restore", data); err != nil {
		return nil, err
	}
	created := !exists(data)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer func() {
		if err != nil {
			clearDir(data, created)
		}
	}()
	if err := os.Chmod(data, 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := copyFlatDir(ctx, filepath.Join(src, backupStoreDir), filepath.Join(data, "store")); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(src, backupFilesDir, f.Name))
		if err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		if err := writeSynced(filepath.Join(data, f.Name), b); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	if err := syncDir(data); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return m, syncDir(filepath.Dir(data))
}

// copyFlatDir copies the files of src (no subdirectories) to a new
// directory dst, 0700 and 0600, each synced.
func copyFlatDir(ctx context.Context, src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return fmt.Errorf("%s/%s is not a file", src, e.Name())
		}
		if err := copyFileSynced(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return syncDir(dst)
}

// copyFileSynced copies src to a new file dst (0600) and syncs it.
func copyFileSynced(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
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

// printRestore says what was restored, and what the operator does next.
func printRestore(w io.Writer, m *backupManifest, src, data string) {
	fmt.Fprintf(w, "restored the backup %s into %s (backup of %s)\n", src, data, m.Data)
	printHolds(w, m)
	for _, f := range m.Files {
		if filepath.Dir(f.Path) != filepath.Clean(m.Data) {
			fmt.Fprintf(w, "  %s was %s: it is now %s; put it back there or point the setting at it\n",
				f.Name, f.Path, filepath.Join(data, f.Name))
		}
	}
	fmt.Fprintf(w, "Nothing after %s is in it: carry out again the objections, deaths and removals of after that time (README, \"Backups and restore\").\n",
		m.TakenAt.Format(time.RFC3339))
	fmt.Fprintf(w, "Start vindex serve --data %s with the backup's configuration: it runs the retention purge before it serves.\n", data)
}
