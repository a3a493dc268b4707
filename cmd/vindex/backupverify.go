package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/vindex-nl/vindex/store/pebblestore"
)

// errBadBackup marks a backup that does not verify.
var errBadBackup = errors.New("backup does not verify")

func backupVerifyCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || isHelp(args[0]) {
		return printUsage(stderr, backupUsage, args)
	}
	dir := args[0]
	m, err := verifyBackup(context.Background(), dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup %s verified: every record decodes, the indexes and the records agree, the counts and files match the manifest\n", dir)
	printHolds(stdout, m)
	return nil
}

// verifyBackup checks the backup in dir, reading it only: the manifest,
// the small files against their hashes, the store (pebblestore.Verify)
// and its counts against the manifest's. It returns the manifest.
func verifyBackup(ctx context.Context, dir string) (*backupManifest, error) {
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	if err := verifyFiles(dir, m); err != nil {
		return nil, err
	}
	rep, err := pebblestore.Verify(ctx, filepath.Join(dir, backupStoreDir))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadBackup, err)
	}
	if err := compareCounts(m, rep); err != nil {
		return nil, err
	}
	return m, nil
}

// readManifest reads DIR2/manifest.json.
func readManifest(dir string) (*backupManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s (a backup that did not finish, or not a backup)", errBadBackup, dir, manifestFile)
	}
	if err != nil {
		return nil, err
	}
	var m backupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errBadBackup, manifestFile, err)
	}
	if m.Format != manifestFormat {
		return nil, fmt.Errorf("%w: %s of format %d; this vindex reads format %d", errBadBackup, manifestFile, m.Format, manifestFormat)
	}
	return &m, nil
}

// verifyFiles checks that DIR2/files holds exactly the manifest's files,
// each with its hash.
func verifyFiles(dir string, m *backupManifest) error {
	entries, err := os.ReadDir(filepath.Join(dir, backupFilesDir))
	if err != nil {
		return fmt.Errorf("%w: %w", errBadBackup, err)
	}
	want := map[string]backupFile{}
	for _, f := range m.Files {
		want[f.Name] = f
	}
	for _, e := range entries {
		f, ok := want[e.Name()]
		if !ok {
			return fmt.Errorf("%w: %s/%s is not in the manifest", errBadBackup, backupFilesDir, e.Name())
		}
		delete(want, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, backupFilesDir, e.Name()))
		if err != nil {
			return fmt.Errorf("%w: %w", errBadBackup, err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != f.SHA256 {
			return fmt.Errorf("%w: %s/%s does not have the manifest's SHA-256", errBadBackup, backupFilesDir, e.Name())
		}
	}
	if len(want) > 0 {
		return fmt.Errorf("%w: %s/%s is missing", errBadBackup, backupFilesDir, slices.Sorted(maps.Keys(want))[0])
	}
	return nil
}

// compareCounts checks what Verify counted against the manifest.
func compareCounts(m *backupManifest, rep *pebblestore.VerifyReport) error {
	for _, k := range pebblestore.RecordKinds {
		if got, want := rep.Records[k.Name], m.Records[k.Name]; got != want {
			return fmt.Errorf("%w: the store holds %d records of kind %q, the manifest says %d", errBadBackup, got, k.Name, want)
		}
	}
	if rep.LiveRegistrations != m.LiveRegistrations || rep.EndedRegistrations != m.EndedRegistrations || rep.Events != m.Events ||
		rep.AuditLast != m.AuditLast || rep.Schema != m.Schema || rep.Replication.Seq != m.ReplicationPosition {
		return fmt.Errorf("%w: the store holds %d live and %d ended registrations, %d events, audit entries through %d (schema %d); the manifest says %d, %d, %d, %d (schema %d)",
			errBadBackup, rep.LiveRegistrations, rep.EndedRegistrations, rep.Events, rep.AuditLast, rep.Schema,
			m.LiveRegistrations, m.EndedRegistrations, m.Events, m.AuditLast, m.Schema)
	}
	if m.RecordsDigest != "" && m.RecordsDigest != hex.EncodeToString(rep.Digest[:]) {
		return fmt.Errorf("%w: the store's records digest is not the manifest's", errBadBackup)
	}
	return nil
}
