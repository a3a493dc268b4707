package pebblestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// ErrDamaged is returned by Verify (wrapped in a *DamageError) for a store
// in which a record cannot be read or decoded, or an index entry and the
// record it names do not agree.
var ErrDamaged = errors.New("pebblestore: damaged store")

// DamageError names the first bad record Verify found, by its kind and
// position, never by its content: no pseudonym, no institution, no
// contact.
type DamageError struct {
	// Kind is the bad record's kind (one of RecordKinds' names); empty if
	// the store's files could not be read at that point, so that no key
	// is known.
	Kind string
	// Ordinal is the record's position among the records of its kind in
	// key order, from 1; with an empty Kind, the position of the last
	// record that could be read, of the kind After.
	Ordinal int64
	// After is, with an empty Kind, the kind of the last record read
	// before the unreadable part ("" if none was).
	After string
	// Position is the record's position among all records in key order,
	// from 1 (with an empty Kind, the first that could not be read).
	Position int64
	// Registration is the ID of the registration the record is or names,
	// if it is one; zero otherwise.
	Registration store.ID
	// Err says what is wrong.
	Err error
}

func (e *DamageError) Error() string {
	var what string
	switch {
	case e.Kind == "" && e.After == "":
		what = fmt.Sprintf("record %d (the first): cannot be read", e.Position)
	case e.Kind == "":
		what = fmt.Sprintf("record %d, after %s %d: cannot be read", e.Position, e.After, e.Ordinal)
	default:
		what = fmt.Sprintf("record %d, %s %d", e.Position, e.Kind, e.Ordinal)
	}
	if !e.Registration.IsZero() {
		what += " (registration " + e.Registration.String() + ")"
	}
	return fmt.Sprintf("%v: %s: %v", ErrDamaged, what, e.Err)
}

// Unwrap returns ErrDamaged and the cause.
func (e *DamageError) Unwrap() []error { return []error{ErrDamaged, e.Err} }

// RecordKinds are the kinds of record a store holds, by key prefix, with
// the names Verify counts them under.
var RecordKinds = []struct {
	Prefix byte
	Name   string
}{
	{prefixAuditTree, "audit tree record"},
	{prefixAudit, "audit entry"},
	{prefixIdempotency, "idempotency record"},
	{prefixRecipient, "event"},
	{prefixFigures, "figures counter"},
	{prefixFamily, "family index entry"},
	{prefixHistory, "ended registration"},
	{prefixByID, "registration index entry"},
	{prefixIdemByReg, "idempotency registration index entry"},
	{prefixIdemByDay, "idempotency day index entry"},
	{prefixMeta, "schema record"},
	{prefixWake, "wake index entry"},
	{prefixFamilyNote, "family note"},
	{prefixPurge, "purge index entry"},
	{prefixRetry, "delivery retry entry"},
	{prefixCursor, "delivery cursor"},
	{prefixAuditYouth, "audit youth index entry"},
	{prefixDelivery, "delivery state"},
	{prefixExpiry, "expiry index entry"},
	{prefixYouth, "youth record"},
	{prefixDead, "dead delivery"},
	{prefixReplication, "replication record"},
	{prefixUndo, "undo record"},
}

func kindName(prefix byte) string {
	for _, k := range RecordKinds {
		if k.Prefix == prefix {
			return k.Name
		}
	}
	return ""
}

// VerifyReport is what Verify found in a store that passed.
type VerifyReport struct {
	// Schema is the store's schema version (see keys.go); PebbleFormat
	// Pebble's format major version of its files.
	Schema       int
	PebbleFormat string
	// Records counts the records by kind (RecordKinds' names); kinds
	// without records are left out.
	Records map[string]int64
	// LiveRegistrations and EndedRegistrations count the registrations
	// in the youth records and the archive.
	LiveRegistrations, EndedRegistrations int64
	// NewestRegistration is the latest time a registration was made or
	// refreshed (store.Registration.UpdatedAt); zero if there is none.
	NewestRegistration time.Time
	// AuditLast is the number of the audit log's newest entry, and
	// AuditLastAt when it was written: every acknowledged call is
	// logged, so it is the newest acknowledged write the store holds.
	AuditLast   uint64
	AuditLastAt time.Time
	// Events counts the outbox's events.
	Events int64
	// Replication is, for a node of a replicated store, the last log
	// entry the store holds (its position is where a node restored from
	// this copy catches up from); zero otherwise.
	Replication store.EntryID
	// Digest is SHA-256 over every record, in key order, each as its key
	// and value with their lengths (uvarint) before them; undo records
	// (a leader's own, never replicated) are left out. Two stores with
	// the same digest hold the same records: the nodes of a replicated
	// store at one position do. It says nothing of a record without it.
	Digest [sha256.Size]byte
}

// Verify opens the store in dir read-only (nothing in dir is written, not
// even Pebble's LOCK file), reads every record, decodes it, and checks
// the store's indexes against the records they name, both ways: each
// registration index, expiry, purge, wake, family, idempotency and audit
// youth index entry names a record that exists and agrees with it, and
// every live and ended registration, case and audit entry has the index
// entries it must have. It returns the counts and the newest writes; or a
// *DamageError (ErrDamaged) naming the first bad record by kind and
// position; or another error if dir holds no store Pebble can open.
//
// dir must not be in use by a running store: Verify takes no lock. It is
// meant for a copy (Checkpoint) or a store no process has open.
func Verify(ctx context.Context, dir string) (*VerifyReport, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("pebblestore: verify: %w", err)
	}
	// The index checks read records out of key order: a cache the size
	// of the store's own keeps them from reading a block many times.
	cache := pebble.NewCache(64 << 20)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:    cache,
		FS:       readOnlyFS{vfs.Default},
		ReadOnly: true,
		Logger:   slogLogger{l: slog.New(slog.DiscardHandler)},
		// A damaged file is an error to report, not a reason to stop
		// the process (Pebble's default); the error says which file.
		EventListener: &pebble.EventListener{DataCorruption: func(pebble.DataCorruptionInfo) {}},
	}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: verify: open %s: %w", dir, safeCorruption(err))
	}
	defer db.Close()
	v := &verifier{db: db, rep: &VerifyReport{Records: map[string]int64{}, PebbleFormat: db.FormatMajorVersion().String()}}
	if err := v.run(ctx); err != nil {
		return nil, err
	}
	return v.rep, nil
}

// verifier holds one run of Verify.
type verifier struct {
	db  *pebble.DB
	rep *VerifyReport
	// position, kind and ordinal of the record at hand.
	pos     int64
	kind    string
	ordinal int64
	reg     store.ID
}

func (v *verifier) run(ctx context.Context) error {
	it, err := v.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("pebblestore: verify: %w", err)
	}
	defer it.Close()
	digest := sha256.New()
	var lens []byte
	defer func() { digest.Sum(v.rep.Digest[:0]) }()
	for valid := it.First(); valid; valid = it.Next() {
		if v.pos%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		v.pos++
		k := it.Key()
		v.kind, v.reg = kindName(k[0]), store.ID{}
		if v.kind == "" {
			return &DamageError{Kind: fmt.Sprintf("unknown kind %#02x", k[0]), Ordinal: 1, Position: v.pos,
				Err: store.ErrCorrupt}
		}
		v.rep.Records[v.kind]++
		v.ordinal = v.rep.Records[v.kind]
		val, err := it.ValueAndErr()
		if err == nil {
			err = v.check(k, val)
		}
		if err == nil && k[0] != prefixUndo {
			lens = binary.AppendUvarint(lens[:0], uint64(len(k)))
			digest.Write(lens)
			digest.Write(k)
			lens = binary.AppendUvarint(lens[:0], uint64(len(val)))
			digest.Write(lens)
			digest.Write(val)
		}
		if err != nil {
			return &DamageError{Kind: v.kind, Ordinal: v.ordinal, Position: v.pos, Registration: v.reg, Err: safeCorruption(err)}
		}
	}
	if err := it.Error(); err != nil {
		d := &DamageError{Position: v.pos + 1, Err: safeCorruption(err)}
		if v.pos > 0 {
			d.After, d.Ordinal = v.kind, v.ordinal
		}
		return d
	}
	if v.rep.Schema == 0 && v.pos > 0 {
		return &DamageError{Kind: kindName(prefixMeta), Ordinal: 1, Position: 1, Err: errors.New("no schema record")}
	}
	return nil
}

// errUnreadable stands for Pebble's corruption errors, which name the
// damaged file's first and last key: a youth's pseudonym.
var errUnreadable = errors.New("a checksum does not match or the file's format is broken")

// safeCorruption returns err, or for a corruption Pebble detected an error
// that names the damaged file and not its keys.
func safeCorruption(err error) error {
	if info := pebble.ExtractDataCorruptionInfo(err); info != nil {
		return fmt.Errorf("file %s: %w", filepath.Base(info.Path), errUnreadable)
	}
	if pebble.IsCorruptionError(err) {
		return errUnreadable
	}
	return err
}

// errIndex says an index entry and its record disagree.
var errIndex = errors.New("index and record disagree")

// check decodes one record and checks it against the records its indexes
// relate it to.
func (v *verifier) check(k, val []byte) error {
	switch k[0] {
	case prefixMeta:
		if !bytes.Equal(k, schemaKey) || len(val) != 1 || val[0] < schemaV1 || val[0] > schemaV3 {
			return ErrSchema
		}
		v.rep.Schema = int(val[0])
	case prefixUndo:
		if _, err := decodeUndo(nil, val); len(k) != 1+seqSize || err != nil && !errors.Is(err, ErrNoUndo) {
			return store.ErrCorrupt
		}
	case prefixReplication:
		if !bytes.Equal(k, replicationKey) || len(val) != entryIDSize {
			return store.ErrCorrupt
		}
		v.rep.Replication.Seq = binary.BigEndian.Uint64(val[:8])
		copy(v.rep.Replication.ID[:], val[8:])
	case prefixYouth:
		return v.checkYouth(k, val)
	case prefixHistory:
		return v.checkEnded(k, val)
	case prefixByID:
		return v.checkByID(k, val)
	case prefixExpiry, prefixPurge:
		return v.checkDayIndex(k, val)
	case prefixWake:
		t, p, ok := parseWakeKey(k)
		if !ok || len(val) != 0 {
			return store.ErrCorrupt
		}
		y, found, err := v.youth(p)
		if err != nil {
			return err
		}
		if !found || !y.hasCase || !bytes.Equal(wakeKey(y.kase.WakeAt, y.kase.Youth), k) {
			return fmt.Errorf("%w: no case wakes at %s", errIndex, t.Format(time.RFC3339))
		}
	case prefixRecipient:
		if _, _, ok := splitRecipientKey(k); !ok {
			return store.ErrCorrupt
		}
		if _, err := decodeEvent(val); err != nil {
			return err
		}
		v.rep.Events++
	case prefixIdempotency:
		r, err := decodeIdempotency(val)
		v.reg = r.Registration
		return err
	case prefixIdemByDay, prefixIdemByReg:
		var idem []byte
		var ok bool
		if k[0] == prefixIdemByDay {
			_, idem, ok = splitIdemDayKey(k)
		} else {
			idem, ok = splitIdemRegKey(k)
			if ok {
				copy(v.reg[:], k[1:])
			}
		}
		if !ok || len(val) != 0 {
			return store.ErrCorrupt
		}
		if found, err := v.exists(idem); err != nil || !found {
			return orErr(err, fmt.Errorf("%w: no idempotency record", errIndex))
		}
	case prefixCursor:
		if len(val) < seqSize {
			return store.ErrCorrupt
		}
		if rest := val[seqSize:]; len(rest) > 0 {
			_, n := binary.Uvarint(rest)
			_, m := binary.Uvarint(rest[max(n, 0):])
			if n <= 0 || m <= 0 || n+m != len(rest) {
				return store.ErrCorrupt
			}
		}
	case prefixDelivery, prefixDead:
		_, err := decodeDelivery(val)
		return err
	case prefixRetry, prefixFamilyNote:
		if len(val) != 0 || (k[0] == prefixFamilyNote && len(k) != 1+2*store.IDSize) {
			return store.ErrCorrupt
		}
	case prefixAudit:
		return v.checkAudit(k, val)
	case prefixAuditYouth:
		if len(k) != 1+youthSize+seqSize || len(val) != 0 {
			return store.ErrCorrupt
		}
		p, seq := parseYouth(k[1:]), binary.BigEndian.Uint64(k[1+youthSize:])
		b, found, err := v.get(auditKey(seq))
		if err != nil || !found {
			return orErr(err, fmt.Errorf("%w: no audit entry %d", errIndex, seq))
		}
		if e, err := decodeAudit(b); err != nil || e.Youth != p {
			return orErr(err, fmt.Errorf("%w: audit entry %d has another youth reference", errIndex, seq))
		}
	case prefixAuditTree:
		return checkTree(k, val)
	case prefixFigures:
		if _, _, _, ok := parseFigureKey(k); !ok || len(val) != 8 {
			return store.ErrCorrupt
		}
	case prefixFamily:
		return v.checkFamily(k, val)
	}
	return nil
}

// orErr returns err if it is not nil, otherwise alt.
func orErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

func (v *verifier) checkYouth(k, val []byte) error {
	if len(k) != 1+youthSize {
		return store.ErrCorrupt
	}
	p := parseYouth(k[1:])
	y, err := decodeYouth(val)
	if err != nil {
		return err
	}
	if y.hasCase {
		if y.kase.Youth != p {
			return fmt.Errorf("%w: a case under another youth", store.ErrCorrupt)
		}
		if wk := wakeKey(y.kase.WakeAt, p); wk != nil {
			if found, err := v.exists(wk); err != nil || !found {
				return orErr(err, fmt.Errorf("%w: the case's wake index entry is missing", errIndex))
			}
		}
	}
	for i := range y.regs {
		r := &y.regs[i]
		v.reg = r.ID
		if r.Youth != p || !r.IsLive() {
			return fmt.Errorf("%w: a registration of another youth or ended, in a youth record", store.ErrCorrupt)
		}
		if err := v.checkRegIndexes(r); err != nil {
			return err
		}
		for _, rel := range r.Relations {
			if found, err := v.exists(familyKey(rel.Key, r.ID)); err != nil || !found {
				return orErr(err, fmt.Errorf("%w: a family index entry is missing", errIndex))
			}
		}
		v.rep.LiveRegistrations++
	}
	v.reg = store.ID{}
	return nil
}

// checkRegIndexes checks that the registration index and the expiry or
// purge index name r.
func (v *verifier) checkRegIndexes(r *store.Registration) error {
	b, found, err := v.get(byIDKey(r.ID))
	if err != nil || !found {
		return orErr(err, fmt.Errorf("%w: the registration index entry is missing", errIndex))
	}
	if !bytes.Equal(b, appendYouth(nil, r.Youth)) {
		return fmt.Errorf("%w: the registration index names another youth", errIndex)
	}
	if k := dayIndex(r); k != nil {
		if found, err := v.exists(k); err != nil || !found {
			return orErr(err, fmt.Errorf("%w: the expiry or purge index entry is missing", errIndex))
		}
	}
	if t := r.UpdatedAt; t.After(v.rep.NewestRegistration) {
		v.rep.NewestRegistration = t
	}
	if t := r.CreatedAt; t.After(v.rep.NewestRegistration) {
		v.rep.NewestRegistration = t
	}
	return nil
}

func (v *verifier) checkEnded(k, val []byte) error {
	if len(k) != 1+youthSize+store.IDSize {
		return store.ErrCorrupt
	}
	p := parseYouth(k[1:])
	copy(v.reg[:], k[1+youthSize:])
	r, err := decodeRegistration(val)
	if err != nil {
		return err
	}
	if r.ID != v.reg || r.Youth != p || r.IsLive() {
		return fmt.Errorf("%w: the record is not the ended registration its key names", store.ErrCorrupt)
	}
	v.rep.EndedRegistrations++
	return v.checkRegIndexes(&r)
}

func (v *verifier) checkByID(k, val []byte) error {
	if len(k) != 1+store.IDSize || len(val) != youthSize {
		return store.ErrCorrupt
	}
	copy(v.reg[:], k[1:])
	p := parseYouth(val)
	if _, found, err := v.live(p, v.reg); err != nil || found {
		return err
	}
	if found, err := v.exists(historyKey(p, v.reg)); err != nil || !found {
		return orErr(err, fmt.Errorf("%w: no live or ended registration", errIndex))
	}
	return nil
}

func (v *verifier) checkDayIndex(k, val []byte) error {
	day, p, id, ok := parseDayIndexKey(k)
	if !ok || len(val) != 0 {
		return store.ErrCorrupt
	}
	v.reg = id
	var r store.Registration
	var found bool
	var err error
	if k[0] == prefixExpiry {
		r, found, err = v.live(p, id)
	} else {
		var b []byte
		if b, found, err = v.get(historyKey(p, id)); found && err == nil {
			r, err = decodeRegistration(b)
		}
	}
	if err != nil {
		return err
	}
	if !found || !bytes.Equal(dayIndex(&r), k) {
		return fmt.Errorf("%w: no registration %s on day %d", errIndex, map[bool]string{true: "ending", false: "purgeable"}[k[0] == prefixExpiry], day)
	}
	return nil
}

func (v *verifier) checkAudit(k, val []byte) error {
	if len(k) != 1+seqSize {
		return store.ErrCorrupt
	}
	seq := binary.BigEndian.Uint64(k[1:])
	e, err := decodeAudit(val)
	if err != nil {
		return err
	}
	v.reg = e.Registration
	if !e.Youth.IsZero() {
		if found, err := v.exists(auditYouthKey(e.Youth, seq)); err != nil || !found {
			return orErr(err, fmt.Errorf("%w: the audit youth index entry is missing", errIndex))
		}
	}
	v.rep.AuditLast, v.rep.AuditLastAt = seq, e.At
	return nil
}

func checkTree(k, val []byte) error {
	if len(k) < 2 {
		return store.ErrCorrupt
	}
	var err error
	switch k[1] {
	case treeRoot:
		if len(k) != 2+seqSize || len(val) != 32 {
			err = store.ErrCorrupt
		}
	case treeState:
		_, _, err = decodeTreeState(val)
	case treeCheckpoint:
		_, err = decodeCheckpoint(val)
	case treeCut:
		_, err = decodeCut(val)
	default:
		err = store.ErrCorrupt
	}
	return err
}

func (v *verifier) checkFamily(k, val []byte) error {
	if len(k) != 1+youthSize+store.IDSize {
		return store.ErrCorrupt
	}
	key := parseYouth(k[1:])
	copy(v.reg[:], k[1+youthSize:])
	m, err := decodeFamily(val)
	if err != nil {
		return err
	}
	r, found, err := v.live(m.Youth, v.reg)
	if err != nil {
		return err
	}
	if !found || !slices.ContainsFunc(r.Relations, func(rel store.Relation) bool { return rel.Key == key }) {
		return fmt.Errorf("%w: no live registration with that relation", errIndex)
	}
	return nil
}

// get reads key; found is false if there is no record.
func (v *verifier) get(key []byte) (val []byte, found bool, err error) {
	b, closer, err := v.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading a record it names: %w", err)
	}
	defer closer.Close()
	return bytes.Clone(b), true, nil
}

func (v *verifier) exists(key []byte) (bool, error) {
	_, found, err := v.get(key)
	return found, err
}

// youth reads and decodes the youth record of p.
func (v *verifier) youth(p pseudonym.Pseudonym) (youthRecord, bool, error) {
	b, found, err := v.get(youthKey(p))
	if err != nil || !found {
		return youthRecord{}, false, err
	}
	y, err := decodeYouth(b)
	if err != nil {
		return youthRecord{}, false, fmt.Errorf("the youth record it names: %w", err)
	}
	return y, true, nil
}

// live returns the live registration id of youth p.
func (v *verifier) live(p pseudonym.Pseudonym, id store.ID) (store.Registration, bool, error) {
	y, found, err := v.youth(p)
	if err != nil || !found {
		return store.Registration{}, false, err
	}
	for _, r := range y.regs {
		if r.ID == id {
			return r, true, nil
		}
	}
	return store.Registration{}, false, nil
}

// readOnlyFS is the operating system's file system for Verify: every call
// that would create, change or remove a file or directory fails, and the
// lock is not taken (taking it would create the LOCK file).
type readOnlyFS struct{ vfs.FS }

var errReadOnly = errors.New("pebblestore: verify opens the store read-only")

func (readOnlyFS) Create(string, vfs.DiskWriteCategory) (vfs.File, error) { return nil, errReadOnly }
func (readOnlyFS) Link(string, string) error                              { return errReadOnly }
func (readOnlyFS) OpenReadWrite(string, vfs.DiskWriteCategory, ...vfs.OpenOption) (vfs.File, error) {
	return nil, errReadOnly
}
func (readOnlyFS) Remove(string) error                { return errReadOnly }
func (readOnlyFS) RemoveAll(string) error             { return errReadOnly }
func (readOnlyFS) Rename(string, string) error        { return errReadOnly }
func (readOnlyFS) MkdirAll(string, os.FileMode) error { return errReadOnly }
func (readOnlyFS) Lock(string) (io.Closer, error)     { return noLock{}, nil }
func (p readOnlyFS) Unwrap() vfs.FS                   { return p.FS }
func (readOnlyFS) ReuseForWrite(string, string, vfs.DiskWriteCategory) (vfs.File, error) {
	return nil, errReadOnly
}

type noLock struct{}

func (noLock) Close() error { return nil }
