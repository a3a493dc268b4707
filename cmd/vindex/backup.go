package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/store/pebblestore"
)

const backupUsage = `Usage: vindex backup --out DIR2 [SETTINGS]
       vindex backup verify DIR2

vindex backup writes a consistent copy of the index's data directory to
DIR2, which must not exist or be empty, while vindex serve runs or not:

  DIR2/store/          the store: a Pebble checkpoint, copied file by file
                       (every report acknowledged before the backup began
                       is in it)
  DIR2/files/          the small files vindex keeps beside the store: the
                       wrapped keysets, the audit signing key and its public
                       key, the audit checkpoint, the blind-layer state, and
                       every other file at the top of the data directory
                       (with --dev, the development key and certificate
                       too); a keyset configured outside it is copied as well
  DIR2/manifest.json   when the backup was taken, the vindex version, the
                       store's format, the record counts and the files'
                       SHA-256, which vindex backup verify checks

If vindex serve runs on the data directory, the backup goes through its
backup socket (DIR/backup.sock, 0600: only the directory's owner can use
it; it takes this request and no other); otherwise vindex backup opens the
store itself. It says which. Everything is written 0700/0600 and synced,
then the copy is verified as vindex backup verify does, and the manifest
written last: a DIR2 without a manifest is not a backup.

The copy holds what the data directory holds: pseudonyms and
that-information, the keysets wrapped by the key-encryption key (which
stays in Vault: a backup is useless without it), never a clear BSN or birth
date. It also holds what is destroyed after it was taken (an objection, a
death, the end of a term) until the copy is deleted: keep backups no
longer than needed, and as private as the data directory. Copy DIR2 off
the machine (it must survive the machine's disk).

vindex backup verify DIR2 opens the copy read-only (it writes nothing in
DIR2), decodes every record, checks the store's indexes against the
records both ways and the counts and file hashes against the manifest,
and reports the newest acknowledged write the backup holds. A damaged
backup is refused (exit status 1) naming the first bad record by its kind
and position (and registration ID), never its content.

Restore with vindex restore DIR2 --data DIR. The same settings as vindex
serve apply to vindex backup (--data, --config, --dev); for example:

  vindex backup --config /etc/vindex/vindex.yaml --out /backup/vindex-$(date +%F)
`

func backupCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return backupVerifyCmd(args[1:], stdout, stderr)
	}
	var out string
	c, _, err := loadConfig("backup", backupUsage, args, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "the backup's `directory` (must not exist or be empty)")
	})
	if err != nil {
		return err
	}
	if out == "" {
		return flagError{cmd: "backup", err: errors.New("--out DIR2 is required")}
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	if err := checkBackupTarget(c, out); err != nil {
		return err
	}
	m, err := takeBackup(context.Background(), c, out)
	if err != nil {
		return err
	}
	printBackup(stdout, m, out)
	return nil
}

// The backup's layout in DIR2.
const (
	backupStoreDir = "store"
	backupFilesDir = "files"
	manifestFile   = "manifest.json"
)

// manifestFormat is the manifest's format version.
const manifestFormat = 1

// backupManifest is DIR2/manifest.json.
type backupManifest struct {
	Format int `json:"format"`
	// TakenAt is when the checkpoint was asked for: every report
	// acknowledged before it is in the backup.
	TakenAt time.Time `json:"taken_at"`
	Version string    `json:"vindex_version"`
	// Data is the data directory backed up; Via "server" (its backup
	// socket) or "store" (opened by vindex backup).
	Data string `json:"data"`
	Via  string `json:"via"`

	Schema             int              `json:"store_schema"`
	PebbleFormat       string           `json:"pebble_format"`
	Records            map[string]int64 `json:"records"`
	LiveRegistrations  int64            `json:"live_registrations"`
	EndedRegistrations int64            `json:"ended_registrations"`
	Events             int64            `json:"events"`
	NewestRegistration time.Time        `json:"newest_registration,omitzero"`
	AuditLast          uint64           `json:"audit_last"`
	AuditLastAt        time.Time        `json:"audit_last_at,omitzero"`
	// ReplicationPosition is, for a node of a replicated index, the last
	// log position the store holds: a node restored from the backup
	// catches up from the next, if the log still holds it.
	ReplicationPosition uint64 `json:"replication_position,omitempty"`
	// RecordsDigest is pebblestore.VerifyReport.Digest in hex (not in a
	// manifest of an older release).
	RecordsDigest string `json:"records_digest,omitempty"`

	Files []backupFile `json:"files"`
}

// backupFile is one of the small files, in DIR2/files/NAME.
type backupFile struct {
	Name string `json:"name"`
	// Path is where it was; restore puts it in the data directory as
	// Name.
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// checkBackupTarget refuses a DIR2 that is not empty, or one inside the
// data directory.
func checkBackupTarget(c config, out string) error {
	data, err := filepath.Abs(c.Data)
	if err != nil {
		return err
	}
	if out == data || strings.HasPrefix(out, data+string(filepath.Separator)) {
		return fmt.Errorf("backup: %s is inside the data directory %s: a backup goes elsewhere", out, data)
	}
	return checkEmptyDir("backup", out)
}

// checkEmptyDir refuses dir unless it does not exist or is empty.
func checkEmptyDir(cmd, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s: %s is not empty", cmd, dir)
	}
	return nil
}

// takeBackup writes the backup of c's data directory to out: the small
// files, the checkpoint, the files again (they must not have changed
// meanwhile), the verification, the manifest.
func takeBackup(ctx context.Context, c config, out string) (m *backupManifest, err error) {
	if err := checkDataDir(c.Data); err != nil {
		return nil, err
	}
	if !exists(c.storeDir()) {
		return nil, fmt.Errorf("backup: no store in %s", c.Data)
	}
	files, err := stateFiles(c)
	if err != nil {
		return nil, err
	}
	created := !exists(out)
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			clearDir(out, created)
		}
	}()
	// An empty directory that was there already is made private too.
	if err := os.Chmod(out, 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	data, err := filepath.Abs(c.Data)
	if err != nil {
		return nil, err
	}
	m = &backupManifest{Format: manifestFormat, TakenAt: time.Now().UTC(), Version: version(), Data: data}
	if m.Via, err = checkpoint(ctx, c, filepath.Join(out, backupStoreDir)); err != nil {
		return nil, err
	}
	if m.Files, err = copyStateFiles(files, filepath.Join(out, backupFilesDir)); err != nil {
		return nil, err
	}
	rep, err := pebblestore.Verify(ctx, filepath.Join(out, backupStoreDir))
	if err != nil {
		return nil, fmt.Errorf("backup: the copy does not verify: %w", err)
	}
	m.fill(rep)
	if err := writeManifest(out, m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkpoint writes a checkpoint of the store to dir: through the running
// server's socket if one answers, else by opening the store. It returns
// how: "server" or "store".
func checkpoint(ctx context.Context, c config, dir string) (string, error) {
	err := askCheckpoint(c, dir)
	if err == nil {
		return "server", nil
	}
	if !errors.Is(err, errNoServer) {
		return "", fmt.Errorf("backup through the running server: %w", err)
	}
	st, err := openStore(c, toolUse)
	if err != nil {
		return "", fmt.Errorf("backup: the store is open in another process that does not answer on %s (vindex import, or a server without it): stop it and run vindex backup again: %w",
			backupSocket(c), err)
	}
	defer st.Close()
	if err := st.Checkpoint(ctx, dir); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	return "store", st.Close()
}

// fill copies what Verify found into the manifest.
func (m *backupManifest) fill(rep *pebblestore.VerifyReport) {
	m.Schema, m.PebbleFormat, m.Records = rep.Schema, rep.PebbleFormat, rep.Records
	m.LiveRegistrations, m.EndedRegistrations, m.Events = rep.LiveRegistrations, rep.EndedRegistrations, rep.Events
	m.NewestRegistration, m.AuditLast, m.AuditLastAt = rep.NewestRegistration.UTC(), rep.AuditLast, rep.AuditLastAt.UTC()
	m.ReplicationPosition = rep.Replication.Seq
	m.RecordsDigest = hex.EncodeToString(rep.Digest[:])
}

// stateFile is a small file to back up, as read before the checkpoint.
type stateFile struct {
	name, path string
	content    []byte
	// derived: the file is made from the store and rewritten as it
	// changes (the audit checkpoint, which serve writes again from the
	// store at its first seal), so it may change during the backup.
	derived bool
}

// stateFiles reads the small files of c: every regular file at the top
// of the data directory, and the keysets, the audit key and checkpoint
// and the blind layer where they are configured outside it.
func stateFiles(c config) ([]stateFile, error) {
	entries, err := os.ReadDir(c.Data)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var paths []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			paths = append(paths, filepath.Join(c.Data, e.Name()))
		}
	}
	auditFile, err := filepath.Abs(c.AuditFile)
	if err != nil {
		return nil, err
	}
	ak := auditKeyOf(c)
	for _, p := range []string{c.Keyset, c.RefKeyset, ak.path, ak.pub, c.AuditFile, blindLayerFile(c)} {
		if filepath.Dir(p) != filepath.Clean(c.Data) && exists(p) {
			paths = append(paths, p)
		}
	}
	var files []stateFile
	for _, p := range paths {
		if p, err = filepath.Abs(p); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		name := filepath.Base(p)
		if slices.ContainsFunc(files, func(f stateFile) bool { return f.name == name }) {
			return nil, fmt.Errorf("backup: two files named %s (one is %s): give them different names", name, p)
		}
		files = append(files, stateFile{name: name, path: p, content: b, derived: p == auditFile})
	}
	return files, nil
}

// copyStateFiles writes files to dir, after checking that none changed
// since it was read (a key rotation during the backup): the files and the
// checkpoint must belong together.
func copyStateFiles(files []stateFile, dir string) ([]backupFile, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var out []backupFile
	for _, f := range files {
		now, err := os.ReadFile(f.path)
		switch {
		case err != nil && f.derived:
		case err == nil && f.derived:
			f.content = now
		case err != nil || !bytes.Equal(now, f.content):
			return nil, fmt.Errorf("backup: %s changed while the backup was taken (a key rotation or rewrap?): run vindex backup again", f.path)
		}
		if err := writeSynced(filepath.Join(dir, f.name), f.content); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		sum := sha256.Sum256(f.content)
		out = append(out, backupFile{Name: f.name, Path: f.path, Size: int64(len(f.content)), SHA256: hex.EncodeToString(sum[:])})
	}
	return out, syncDir(dir)
}

// writeManifest writes DIR2/manifest.json, last, and syncs DIR2.
func writeManifest(out string, m *backupManifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(out, manifestFile), append(b, '\n')); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := syncDir(out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return syncDir(filepath.Dir(out))
}

// writeSynced creates path 0600 with b, synced.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// clearDir removes what a failed backup or restore wrote in dir, and dir
// itself if it made it.
func clearDir(dir string, created bool) {
	if created {
		os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// printBackup says what the backup holds.
func printBackup(w io.Writer, m *backupManifest, out string) {
	via := "through the running server's backup socket"
	if m.Via == "store" {
		via = "with the store opened here (no server was running)"
	}
	fmt.Fprintf(w, "backup of %s written to %s, %s\n", m.Data, out, via)
	printHolds(w, m)
}

// printHolds describes a backup's contents.
func printHolds(w io.Writer, m *backupManifest) {
	fmt.Fprintf(w, "  taken at %s by %s\n", m.TakenAt.Format(time.RFC3339), m.Version)
	fmt.Fprintf(w, "  store schema %d (Pebble format %s): %d live registrations, %d ended, %d events, %d audit entries\n",
		m.Schema, m.PebbleFormat, m.LiveRegistrations, m.EndedRegistrations, m.Events, m.Records["audit entry"])
	newest := "none"
	if !m.NewestRegistration.IsZero() {
		newest = "a registration made or refreshed at " + m.NewestRegistration.Format(time.RFC3339Nano)
	}
	fmt.Fprintf(w, "  newest acknowledged write: %s", newest)
	if m.AuditLast > 0 {
		fmt.Fprintf(w, "; audit entry %d at %s", m.AuditLast, m.AuditLastAt.Format(time.RFC3339Nano))
	}
	fmt.Fprintln(w)
	if m.ReplicationPosition > 0 {
		fmt.Fprintf(w, "  replication position %d: a node restored from it catches up from %d, while the log still holds it (vindex cluster trim --keep-from %d at most)\n",
			m.ReplicationPosition, m.ReplicationPosition+1, m.ReplicationPosition+1)
	}
	if m.RecordsDigest != "" {
		fmt.Fprintf(w, "  records digest sha256:%s (the same for every copy of the same records: every node of a replicated index at one position)\n", m.RecordsDigest)
	}
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	fmt.Fprintf(w, "  files: %s\n", strings.Join(names, " "))
}
